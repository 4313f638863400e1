#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Checks the unit templates as they will be installed: systemd-analyze
# verify (syntax, dependencies, executables, man pages named in
# Documentation=) and the exposure score of the daemon's sandbox.
#   test-units.sh SRCDIR MANDIR FOTACTL [QUECTEL_FOTAD] [MAX_EXPOSURE]
set -eu
srcdir=$1
mandir=$2
fotactl=$3
daemon=${4:-}
max_exposure=${5:-15}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/sbin" "$tmp/bin" "$tmp/libexec" "$tmp/etc" "$tmp/units"

# ExecStart= must name an existing executable: the built ones (the daemon
# only exists once its branch is merged; /bin/true stands in until then).
ln -s "$fotactl" "$tmp/bin/fotactl"
ln -s "$srcdir/quectel-fotad-spool" "$tmp/libexec/quectel-fotad-spool"
ln -s "$srcdir/../client/fleet/swupdate/quectel-fota-hawkbit" "$tmp/bin/quectel-fota-hawkbit"
if [ -n "$daemon" ] && [ -x "$daemon" ]; then
	ln -s "$daemon" "$tmp/sbin/quectel-fotad"
else
	ln -s /bin/true "$tmp/sbin/quectel-fotad"
fi

# Documentation=man:... is checked with man(1): give it our pages.
for page in "$mandir"/*.[0-9]; do
	section=${page##*.}
	mkdir -p "$tmp/man/man$section"
	ln -s "$page" "$tmp/man/man$section/"
done
export MANPATH="$tmp/man"

# Only *.in files are configured by meson: a placeholder elsewhere would be
# installed as is.
for unit in "$srcdir"/*.timer "$srcdir"/*.path "$srcdir"/*.service; do
	if [ -e "$unit" ] && grep -n '@[a-z]*@' "$unit"; then
		echo "$unit is not a template (*.in) but has a placeholder"
		exit 1
	fi
done
for unit in "$srcdir"/*.service.in "$srcdir"/*.path.in "$srcdir"/*.timer; do
	name=$(basename "$unit" .in)
	sed -e "s|@sbindir@|$tmp/sbin|g" -e "s|@bindir@|$tmp/bin|g" \
		-e "s|@pkglibexecdir@|$tmp/libexec|g" -e "s|@spooldir@|$tmp/spool|g" \
		-e "s|@sysconfdir@|$tmp/etc|g" "$unit" >"$tmp/units/$name"
	if grep -n '@[a-z]*@' "$tmp/units/$name"; then
		echo "$name: a placeholder is left"
		exit 1
	fi
done

cd "$tmp/units"
# verify prints problems but does not always fail on them: any output is
# a failure.
if ! systemd-analyze verify --man=yes ./*.service ./*.timer ./*.path >"$tmp/verify.log" 2>&1 ||
	[ -s "$tmp/verify.log" ]; then
	echo "systemd-analyze verify:"
	cat "$tmp/verify.log"
	exit 1
fi
echo "systemd-analyze verify: clean"

# The exposure score must not creep up; systemd-analyze fails above it
# (the threshold is the score times ten: 15 is 1.5).
systemd-analyze security --offline=true --threshold="$max_exposure" \
	--no-pager quectel-fotad.service >"$tmp/security.log" 2>&1 || {
	cat "$tmp/security.log"
	echo "quectel-fotad.service exposure above $max_exposure"
	exit 1
}
grep -E 'Overall exposure' "$tmp/security.log"

#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Boots a Debian 12 container under systemd as PID 1 (systemd-nspawn), where
# inside.sh installs the freshly built .deb with apt and checks the daemon as
# a gateway runs it: service, D-Bus activation, bus policy, unattended
# update, sandbox, restart mid-job, exposure score, spool, purge.
#   run-boot-test.sh SRCDIR FOTA_MODEM_SIM OUTDIR
# The root tarball is cached in $FOTA_BOOT_CACHE (default /var/tmp), built
# with mmdebstrap when absent, while the package builds. Results:
# OUTDIR/results.
set -u
srcdir=$1
sim=$2
out=$3
here=$(dirname "$(readlink -f "$0")")
start=$SECONDS
elapsed() { echo "boot test: $*, elapsed $((SECONDS - start)) s"; }

for tool in systemd-nspawn mmdebstrap dpkg-buildpackage; do
	if ! command -v "$tool" >/dev/null; then
		echo "$tool is not installed (scripts/install-deps): skipping"
		exit 77
	fi
done
if [ "$(id -u)" -ne 0 ]; then
	echo "systemd-nspawn needs root: skipping"
	exit 77
fi
# The container's loopback and its units' PrivateNetwork= need CAP_NET_ADMIN,
# which a containerised CI may have dropped even for root: without it every
# network check would fail for the machine's sake, not the daemon's.
capeff=$(sed -n 's/^CapEff:[[:space:]]*//p' /proc/self/status)
if (((0x$capeff >> 12 & 1) == 0)); then
	echo "no CAP_NET_ADMIN (CapEff $capeff): the container could not bring up its network: skipping"
	exit 77
fi

root=$out/root
cleanup() { [ -d "$root" ] && rm -rf --one-file-system "$root"; }
trap cleanup EXIT
cleanup
rm -rf "$out"
mkdir -p "$out/results"

# The package's dependencies (its ${shlibs:Depends}: fotactl links
# json-glib) and the simulator's (libcurl4) go into the tarball, so that apt
# installs the .deb without the network.
"$here/make-rootfs.sh" "${FOTA_BOOT_CACHE:-/var/tmp}" libglib2.0-0 libjson-glib-1.0-0 \
	libsystemd0 libudev1 libcurl4 >"$out/rootfs.path" 2>"$out/rootfs.log" &
rootfs_job=$!
if ! deb=$("$here/build-deb.sh" "$srcdir" "$out/deb"); then
	wait "$rootfs_job"
	echo "FAIL: the package does not build"
	exit 1
fi
elapsed "package built"
if ! wait "$rootfs_job"; then
	cat "$out/rootfs.log"
	echo "FAIL: no root tarball"
	exit 1
fi
tarball=$(cat "$out/rootfs.path")
cat "$out/rootfs.log"
elapsed "root tarball $tarball ready"

mkdir -m 0755 "$root"
tar -C "$root" -xf "$tarball"
# dbus-daemon (user messagebus) must traverse /.
chmod 0755 "$root"
cp "$deb" "$root/root/"
install -m 0755 "$sim" "$root/usr/local/bin/fota-modem-sim"
install -D -m 0755 "$here/inside.sh" "$root/usr/local/lib/boot-test/inside.sh"
install -m 0644 "$here/check-lib.sh" "$root/usr/local/lib/boot-test/check-lib.sh"
install -m 0644 "$here/boot-test.service" "$root/etc/systemd/system/boot-test.service"
ln -s ../boot-test.service "$root/etc/systemd/system/multi-user.target.wants/boot-test.service"
mkdir -p "$root/var/log/journal"
echo boottest >"$root/etc/hostname"

# Unified cgroups and the bpf() call: in the hybrid mode DevicePolicy= and
# IPAddressDeny= are silently not enforced. A private network: the HTTP
# server inside listens on the container's own 127.0.0.1.
SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 timeout 540 systemd-nspawn -q -D "$root" \
	--register=no --keep-unit --boot --private-network --system-call-filter=bpf \
	--bind="$out/results:/results" </dev/null >"$out/console.log" 2>&1
rc=$?
elapsed "container powered off (systemd-nspawn exit status $rc)"

cat "$out/results/checks.log" 2>/dev/null || tail -n 50 "$out/console.log"
verdict=$(cat "$out/results/verdict" 2>/dev/null)
if [ "$verdict" != PASS ]; then
	# The container's journal, for the failure's story.
	journalctl -D "$root/var/log/journal" --no-pager -o short-monotonic 2>/dev/null |
		tail -n 80
	echo "boot test: ${verdict:-no verdict} (results in $out/results)"
	exit 1
fi
elapsed "PASS"

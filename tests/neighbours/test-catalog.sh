#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The journal catalog has exactly one section per MESSAGE_ID of job-journal.c,
# and journalctl compiles it. Usage: test-catalog.sh CATALOG JOB_JOURNAL_C
# Exit 0: both hold; 1: one does not; 77 (meson's skip): the sections match
# the code but journalctl is not installed, so the compilation was not checked.
set -eu
catalog=$1
source=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

grep -o '"[0-9a-f]\{32\}"' "$source" | tr -d '"' | sort >"$tmp/code"
sed -n 's/^-- \([0-9a-f]\{32\}\)$/\1/p' "$catalog" | sort >"$tmp/catalog"
[ -s "$tmp/code" ] || { echo "no MESSAGE_ID found in $source"; exit 1; }
if [ -n "$(uniq -d "$tmp/code")" ] || [ -n "$(uniq -d "$tmp/catalog")" ]; then
	echo "a MESSAGE_ID appears twice:"; uniq -d "$tmp/code"; uniq -d "$tmp/catalog"; exit 1
fi
if ! diff -u "$tmp/code" "$tmp/catalog"; then
	echo "MESSAGE_IDs in $source (-) and sections in $catalog (+) differ"
	exit 1
fi
echo "ok: $(wc -l <"$tmp/code") MESSAGE_IDs, one catalog section each"

if ! command -v journalctl >/dev/null; then
	echo "SKIP: journalctl not installed: the catalog's compilation is not checked"
	exit 77
fi
root=$tmp/root
mkdir -p "$root/usr/lib/systemd/catalog" "$root/var/lib/systemd/catalog"
cp "$catalog" "$root/usr/lib/systemd/catalog/"
journalctl --root="$root" --update-catalog
journalctl --root="$root" --list-catalog | sed -n 's/^\([0-9a-f]\{32\}\) quectel-fotad: .*/\1/p' |
	sort >"$tmp/compiled"
if ! diff -u "$tmp/code" "$tmp/compiled"; then
	echo "journalctl --list-catalog (+) lacks sections of the code (-): a section did not parse"
	exit 1
fi
echo "ok: journalctl compiled every section"

#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Prints the path of a Debian 12 root tarball for the boot test, building it
# with debootstrap when no cached one exists.
#   make-rootfs.sh CACHEDIR PACKAGE...
# The tarball holds minbase plus systemd, dbus and the given packages (the
# .deb's dependencies and the simulator's), so that apt installs the .deb
# inside without the network. Its name carries a hash of that list: a new
# dependency makes a new tarball instead of a failing install.
set -eu
cachedir=$1
shift
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

packages=$(printf '%s\n' systemd systemd-sysv dbus libnss-systemd python3 "$@" |
	sort -u | tr '\n' ',' | sed 's/,$//')
key=$(printf 'v1 %s %s\n' "$mirror" "$packages" | sha256sum | cut -c1-12)
tarball=$cachedir/quectel-fotad-boot-bookworm-$key.tar.gz
if [ -s "$tarball" ]; then
	echo "$tarball"
	exit 0
fi

mkdir -p "$cachedir"
work=$(mktemp -d "$cachedir/.rootfs.XXXXXX")
# --one-file-system: never into a /proc or /sys debootstrap left mounted.
trap 'rm -rf --one-file-system "$work"' EXIT
echo "make-rootfs: debootstrap bookworm from $mirror with $packages" >&2
if ! debootstrap --variant=minbase --include="$packages" bookworm "$work/root" "$mirror" \
	>"$work/debootstrap.log" 2>&1; then
	tail -n 20 "$work/debootstrap.log" >&2
	[ -f "$work/root/debootstrap/debootstrap.log" ] &&
		tail -n 20 "$work/root/debootstrap/debootstrap.log" >&2
	echo "make-rootfs: debootstrap failed (is $mirror reachable?)" >&2
	exit 1
fi
rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"*_Packages
# Written under a temporary name: a concurrent run never sees half a file.
tar -C "$work/root" --numeric-owner -czf "$work/rootfs.tar.gz" .
mv "$work/rootfs.tar.gz" "$tarball"
echo "$tarball"

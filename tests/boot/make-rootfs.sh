#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Prints the path of a Debian 12 root tarball for the boot test, building it
# with mmdebstrap when no cached one exists.
#   make-rootfs.sh [--arch ARCH] [--initramfs-modules "MODULE..."] CACHEDIR PACKAGE...
# --arch builds a foreign Debian architecture (tests/arm: armhf, arm64); its
# maintainer scripts then run under qemu-user through binfmt_misc, which the
# caller provides.
# --initramfs-modules: a kernel among the packages gets an initramfs with
# only these modules (MODULES=list): under qemu-user the default
# (MODULES=most: over 900 modules copied one by one) took over 25 minutes
# a run, and initramfs-tools runs twice (the kernel's postinst, then its
# trigger).
# The tarball holds minbase plus systemd, dbus, busybox (the HTTP server
# inside) and the given packages (the .deb's dependencies and the
# simulator's), so that apt installs the .deb inside without the network.
# Its name carries a hash of this script, the mirror and that list: a new
# dependency or a changed recipe makes a new tarball, never a stale reuse.
set -eu
arch=$(dpkg --print-architecture)
initramfs_modules=
while :; do
	case $1 in
	--arch) arch=$2 ;;
	--initramfs-modules) initramfs_modules=$2 ;;
	*) break ;;
	esac
	shift 2
done
cachedir=$1
shift
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

packages=$(printf '%s\n' systemd systemd-sysv dbus libnss-systemd busybox "$@" |
	sort -u | tr '\n' ',' | sed 's/,$//')
key=$({
	cat "$0"
	printf '%s %s %s %s\n' "$arch" "$mirror" "$packages" "$initramfs_modules"
} | sha256sum | cut -c1-12)
# Uncompressed: gzip alone took longer than mmdebstrap's whole build, and
# the cache is local.
tarball=$cachedir/quectel-fotad-boot-bookworm-$arch-$key.tar
if [ -s "$tarball" ]; then
	touch -a "$tarball"
	echo "$tarball"
	exit 0
fi

mkdir -p "$cachedir"
work=$(mktemp -d "$cachedir/.rootfs.XXXXXX")
# apt downloads as user _apt, which must reach the scratch root inside.
chmod 0755 "$work"
# --one-file-system: never into a /proc or /sys a killed build left mounted.
trap 'rm -rf --one-file-system "$work"' EXIT
began=$(date +%s)
echo "make-rootfs: mmdebstrap bookworm $arch from $mirror with $packages" >&2
# mmdebstrap installs with apt and dpkg in a few batched runs, not with
# debootstrap's package-by-package shell: ten minutes became about one. The
# hook makes /usr merged as debootstrap does (else apt pulls usrmerge and
# perl). TMPDIR: its scratch root lives beside the tarball, not in a /tmp
# that may be a small tmpfs.
# The essential hook runs before the kernel and initramfs-tools are
# installed: a conf.d file and a modules.d list are no package's conffiles.
hook=true
if [ -n "$initramfs_modules" ]; then
	hook="mkdir -p \"\$1/etc/initramfs-tools/conf.d\" \"\$1/usr/share/initramfs-tools/modules.d\" &&
		echo MODULES=list >\"\$1/etc/initramfs-tools/conf.d/fota-small\" &&
		printf '%s\\n' $initramfs_modules >\"\$1/usr/share/initramfs-tools/modules.d/fota-small\""
fi
if ! TMPDIR=$work mmdebstrap --variant=minbase --architectures="$arch" --include="$packages" \
	--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr --essential-hook="$hook" \
	bookworm "$work/rootfs.tar" "$mirror" >"$work/mmdebstrap.log" 2>&1; then
	tail -n 30 "$work/mmdebstrap.log" >&2
	echo "make-rootfs: mmdebstrap failed (is $mirror reachable?)" >&2
	exit 1
fi
# Built under a temporary name: a concurrent run never sees half a file.
mv "$work/rootfs.tar" "$tarball"
# Each recipe leaves a tarball of about 160 MB (400 with a kernel): the ones
# no run has used for a week go (a run of another branch still finds its own).
find "$cachedir" -maxdepth 1 -name 'quectel-fotad-boot-bookworm-*' ! -newer "$tarball" \
	-atime +7 -delete 2>/dev/null || true
echo "make-rootfs: built in $(($(date +%s) - began)) s" >&2
echo "$tarball"

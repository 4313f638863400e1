#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Prints the directory of a bootable Debian 12 ARM system for qemu-system:
# root.img (ext4, label fota-root), vmlinuz and initrd.img, taken from the
# root that tests/boot/make-rootfs.sh builds for ARCH (with Debian's kernel).
#   make-image.sh ARCH CACHEDIR
# The image is made without mounting anything (mke2fs -d) and cached beside
# the tarball, keyed by the tarball's name and this script. Foreign roots
# need binfmt_misc (binfmt.sh) when the tarball is not cached yet.
# The image boots to multi-user with arm-check.service, which runs
# /results/run from the disk labelled fota-results when there is one, and
# powers the machine off after it.
set -eu
arch=$1
cachedir=$2
here=$(dirname "$(readlink -f "$0")")

case $arch in
arm64) kernel=linux-image-arm64 ;;
# The LPAE flavour boots qemu's virt machine with more than 3 GiB of
# address space (its PCIe window lies above 4 GiB).
armhf) kernel=linux-image-armmp-lpae ;;
*)
	echo "make-image: no kernel known for $arch" >&2
	exit 2
	;;
esac
# The package's dependencies (its ${shlibs:Depends}) and the simulator's
# (libcurl4), so that apt installs the .deb without the network; udev, or
# systemd never sees the results disk appear.
# The initramfs needs only what finds and mounts the root: virtio on PCI
# (the host bridge is built in) and ext4.
tarball=$("$here/../boot/make-rootfs.sh" --arch "$arch" \
	--initramfs-modules "virtio_pci virtio_blk ext4 crc32c_generic" "$cachedir" libglib2.0-0 \
	libjson-glib-1.0-0 libsystemd0 libudev1 libcurl4 libnettle8 udev "$kernel")
key=$({
	cat "$0" "$here/arm-check.service"
	basename "$tarball"
} | sha256sum | cut -c1-12)
image=$cachedir/quectel-fotad-arm-$arch-$key
if [ -s "$image/root.img" ]; then
	touch -a "$image/root.img"
	echo "$image"
	exit 0
fi

began=$SECONDS
work=$(mktemp -d "$cachedir/.arm-image.XXXXXX")
trap 'rm -rf --one-file-system "$work"' EXIT
root=$work/root
mkdir -m 0755 "$root"
tar -C "$root" --numeric-owner -xpf "$tarball"
chmod 0755 "$root"

cp "$root"/boot/vmlinuz-* "$work/vmlinuz"
cp "$root"/boot/initrd.img-* "$work/initrd.img"
cat >"$root/etc/fstab" <<'FSTAB'
LABEL=fota-root / ext4 rw,errors=remount-ro 0 1
LABEL=fota-results /results ext4 rw,nofail,x-systemd.device-timeout=60s 0 2
FSTAB
mkdir -p "$root/results" "$root/var/log/journal"
echo fota-arm >"$root/etc/hostname"
install -m 0644 "$here/arm-check.service" "$root/etc/systemd/system/arm-check.service"
ln -s ../arm-check.service "$root/etc/systemd/system/multi-user.target.wants/arm-check.service"
# apt's daily jobs would take dpkg's lock from the check's apt-get.
for timer in apt-daily.timer apt-daily-upgrade.timer; do
	ln -sf /dev/null "$root/etc/systemd/system/$timer"
done

# Room for the package, the simulator's packages and the journal.
size=$(($(du -sm "$root" | cut -f1) + 384))
# mke2fs says "Creating regular file" on stdout even with -q: stdout is
# the image's path.
mke2fs -q -t ext4 -L fota-root -d "$root" "$work/root.img" "${size}M" >&2
rm -rf --one-file-system "$root"
# Built under a temporary name: a concurrent run never sees half a cache.
mv "$work" "$image"
trap - EXIT
# Each image takes about 1 GB: the ones no run has booted for a week go.
for old in "$cachedir"/quectel-fotad-arm-*/root.img; do
	if [ -n "$(find "$old" -atime +7)" ]; then rm -rf "${old%/root.img}"; fi
done
echo "make-image: $arch image made in $((SECONDS - began)) s" >&2
echo "$image"

# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by run-arm-check (bash). Lets this machine run armhf and arm64
# programs while the root images are built (mmdebstrap runs the foreign
# root's maintainer scripts): binfmt_enable registers qemu-user-static with
# binfmt_misc under names of its own, binfmt_disable removes them (and
# unmounts binfmt_misc when binfmt_enable mounted it), so the machine is
# left as it was found.

binfmt_dir=/proc/sys/fs/binfmt_misc
binfmt_mounted=
binfmt_registered=()

binfmt_enable() { # ARCH...: fails saying why when it cannot
	if [ ! -e "$binfmt_dir/register" ]; then
		if ! mount -t binfmt_misc binfmt_misc "$binfmt_dir" 2>/dev/null; then
			echo "binfmt_misc cannot be mounted here"
			return 1
		fi
		binfmt_mounted=1
	fi
	local arch qemu conf name
	for arch in "$@"; do
		# The kernel runs them already (a registration of the machine's own).
		if arch-test -n "$arch" >/dev/null 2>&1; then continue; fi
		case $arch in
		arm64) qemu=aarch64 ;;
		armhf) qemu=arm ;;
		esac
		conf=/usr/lib/binfmt.d/qemu-$qemu.conf
		if [ ! -x "/usr/libexec/qemu-binfmt/$qemu-binfmt-P" ] || [ ! -r "$conf" ] ||
			! command -v arch-test >/dev/null; then
			echo "qemu-user-static and arch-test are needed to build a $arch root"
			return 1
		fi
		# The package's own rule (magic, mask, flags), as systemd-binfmt would
		# register it, under a name of ours. Flag F: the interpreter is opened
		# now, so it runs inside mmdebstrap's chroot too.
		name=fota-arm-check-$qemu
		sed "s/^:qemu-$qemu:/:$name:/" "$conf" >"$binfmt_dir/register" || return 1
		binfmt_registered+=("$name")
	done
}

binfmt_disable() {
	local name
	for name in "${binfmt_registered[@]}"; do
		echo -1 >"$binfmt_dir/$name"
	done
	binfmt_registered=()
	if [ -n "$binfmt_mounted" ]; then umount "$binfmt_dir"; fi
	binfmt_mounted=
}

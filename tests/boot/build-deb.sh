#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds the Debian package from a copy of the source tree, so that
# dpkg-buildpackage writes its files (it writes beside the tree) inside
# OUTDIR, never beside the clone. Prints the path of the .deb.
#   build-deb.sh SRCDIR OUTDIR [ARCH]
# ARCH cross-builds for that Debian architecture (tests/arm).
set -eu
srcdir=$1
outdir=$2
arch=${3:-$(dpkg --print-architecture)}

rm -rf "$outdir"
mkdir -p "$outdir/src"
# The tree as it is, uncommitted changes included, without build dirs.
tar -C "$srcdir" --exclude='./build*' --exclude=./.git --exclude='./_build' -cf - . |
	tar -C "$outdir/src" -xf -
(cd "$outdir/src" && dpkg-buildpackage -a "$arch" -us -uc -b) >"$outdir/build.log" 2>&1 || {
	tail -n 40 "$outdir/build.log" >&2
	echo "build-deb: dpkg-buildpackage failed (log: $outdir/build.log)" >&2
	exit 1
}
ls "$outdir"/quectel-fotad_*_"$arch".deb

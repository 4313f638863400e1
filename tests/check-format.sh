#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fails when a C file of the tree is not formatted as .clang-format says.
# usage: check-format.sh SOURCE_ROOT
set -u
command -v clang-format >/dev/null 2>&1 || { echo "clang-format not installed"; exit 77; }
cd "$1" || exit 1
bad=0
for f in $(find daemon client dbus tests -name '*.[ch]' | sort); do
	if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
		echo "not clang-formatted: $f (run clang-format -i $f)"
		bad=1
	fi
done
exit $bad

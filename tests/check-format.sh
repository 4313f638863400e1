#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fails when a C file of the tree is not formatted as .clang-format says.
# usage: check-format.sh SOURCE_ROOT
set -u
command -v clang-format >/dev/null 2>&1 || { echo "clang-format not installed"; exit 77; }
cd "$1" || exit 1
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# One clang-format for all files: a process per file took most of a minute
# on a loaded machine. Its warnings name each file that differs.
# shellcheck disable=SC2046 # the tree's file names have no blanks
if clang-format --dry-run -Werror $(find daemon client dbus tests -name '*.[ch]' | sort) 2>"$log"; then
	exit 0
fi
sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error: code should be clang-formatted.*/\1/p' "$log" |
	sort -u | while read -r f; do echo "not clang-formatted: $f (run clang-format -i $f)"; done
exit 1

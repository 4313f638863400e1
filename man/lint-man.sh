#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Renders each page as man(1) does, with groff's warnings on; man exits 0
# on warnings, so any output on stderr is the failure.
set -u
failures=0
for page in "$@"; do
	if ! head -n 1 "$page" | grep -q 'SPDX-License-Identifier: LGPL-2.1-or-later'; then
		echo "FAIL: $page: no SPDX line on top"
		failures=$((failures + 1))
	fi
	warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null)
	if [ $? -ne 0 ] || [ -n "$warnings" ]; then
		echo "FAIL: $page"
		echo "$warnings"
		failures=$((failures + 1))
	else
		echo "ok: $page"
	fi
done
exit $((failures != 0))

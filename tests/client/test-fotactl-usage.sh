#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# fotactl's command line and exit codes where no daemon is needed.
set -u
fotactl=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

# expect CODE ARGS...: runs fotactl, checks the exit code.
expect() {
	want=$1
	shift
	"$fotactl" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	got=$?
	if [ "$got" -ne "$want" ]; then
		echo "FAIL: fotactl $* exited $got, want $want"
		sed 's/^/  stdout: /' "$tmp/out"
		sed 's/^/  stderr: /' "$tmp/err"
		failures=$((failures + 1))
	else
		echo "ok: fotactl $* -> $got"
	fi
}

# expect_json PATTERN: the last run printed exactly one line on stdout, a
# JSON object matching PATTERN (an extended regex), and nothing on stderr.
expect_json() {
	if [ "$(wc -l <"$tmp/out")" -ne 1 ] || ! grep -Eq "$1" "$tmp/out" || [ -s "$tmp/err" ]; then
		echo "FAIL: want one JSON line matching $1"
		sed 's/^/  stdout: /' "$tmp/out"
		sed 's/^/  stderr: /' "$tmp/err"
		failures=$((failures + 1))
	fi
}

# Never talk to a real bus from here.
export DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent/bus
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent/bus

expect 0 --help
grep -q 'Exit status' "$tmp/out" || { echo "FAIL: --help lacks the exit codes"; failures=$((failures + 1)); }
expect 0 --version
expect 2
expect 2 frobnicate
expect 2 --json frobnicate
expect_json '^\{"event":"error","error":"org\.quectel\.fotactl\.Error\.Usage","message":"unknown verb .*"\}$'
expect 2 --no-such-option status
expect 2 install
expect 2 install a b
expect 2 status extra
expect 2 install http://h/p.bin --mode 7
expect 2 install http://h/p.bin --mode ""
expect 2 install http://h/p.bin --mode -1
expect 2 install http://h/p.bin --download-urc-max 3
expect 2 install http://h/p.bin --update-urc-max 101
expect 2 install http://h/p.bin --cid 17 --apn internet
expect 2 install http://h/p.bin --expect-revision ""
expect 2 install http://h/p.bin --sha256 0123
expect 2 install http://h/p.bin --sha256 "$(printf '%064d' 0)"
expect 2 install http://h/p.bin --skip-if-current
expect 2 status --mode 1
expect 2 wait --timeout 0
: >"$tmp/pkg.bin"
expect 2 install "$tmp/pkg.bin" --cid 1 --apn internet
expect 2 install "$tmp/missing.bin"
expect 2 --json install "$tmp"
expect_json '"error":"org\.quectel\.fotactl\.Error\.File".*not a regular file'

# Options may come before or after the verb; both reach the bus (and fail
# there with 3).
expect 3 --session status
expect 3 status --session
expect 3 --session --json status
expect_json '^\{"event":"error","error":"org\.quectel\.fotactl\.Error\.Unreachable","message":".+"\}$'
expect 3 --session install http://h/p.bin --mode 0 --download-urc-max 50
expect 3 --session install "$tmp/pkg.bin" --sha256 "$(printf '%064d' 0)" --no-wait
expect 3 --session wait
expect 3 --session info
expect 3 --session cancel
expect 3 --session monitor
expect 3 status

if [ "$failures" -ne 0 ]; then
	echo "$failures failure(s)"
	exit 1
fi

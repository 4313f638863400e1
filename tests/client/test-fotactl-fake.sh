#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# fotactl against fake-fotad on a private session bus: following a job,
# exit codes, JSON events, a daemon that vanishes and comes back, Ctrl-C.
#   test-fotactl-fake.sh FOTACTL FAKE_FOTAD
set -u
fotactl=$1
fake=$2
tmp=$(mktemp -d)
bus_pid=
fake_pid=
failures=0

cleanup() {
	[ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null
	[ -n "$bus_pid" ] && kill "$bus_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

cat >"$tmp/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$tmp/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
CONF
dbus-daemon --config-file="$tmp/bus.conf" --nofork --print-address=1 >"$tmp/address" 2>/dev/null &
bus_pid=$!
while [ ! -s "$tmp/address" ]; do sleep 0.05; done
export DBUS_SESSION_BUS_ADDRESS="unix:path=$tmp/bus"
export LC_ALL=C.UTF-8

fail() {
	echo "FAIL: $*"
	sed 's/^/  stdout: /' "$tmp/out"
	sed 's/^/  stderr: /' "$tmp/err"
	failures=$((failures + 1))
}

start_fake() {
	[ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null && wait "$fake_pid" 2>/dev/null
	"$fake" "$1" &
	fake_pid=$!
	# Ready once it answers.
	i=0
	until "$fotactl" --session status >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -gt 100 ] && { echo "fake-fotad did not start"; exit 1; }
		sleep 0.05
	done
}

# run WANT ARGS...: fotactl with the outputs in $tmp/out and $tmp/err;
# killed after 30 s (exit 137) so that a hang fails instead of blocking.
run() {
	want=$1
	shift
	timeout -s KILL 30 "$fotactl" --session "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	got=$?
	if [ "$got" -ne "$want" ]; then
		fail "fotactl $* exited $got, want $want"
		return 1
	fi
	echo "ok: fotactl $* -> $got"
}

# json_check PYTHON_EXPR: every stdout line is a JSON object; the
# expression over `ev` (the list of objects) must hold.
json_check() {
	python3 - "$tmp/out" "$1" <<'PY' || fail "JSON check: $1"
import json, sys
ev = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
assert all(isinstance(e, dict) and "event" in e for e in ev), ev
assert eval(sys.argv[2]), ev
PY
}

# wait_for PATTERN FILE: bounded (10 s), so a bug fails instead of hanging.
wait_for() {
	i=0
	until grep -q -- "$1" "$2" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 200 ] && { echo "FAIL: '$1' never showed up in $2"; cat "$2"; exit 1; }
		sleep 0.05
	done
}

has() {
	grep -q -- "$1" "$tmp/out" || fail "no '$1' in the output"
}

# --- a URL job to success, plain lines
start_fake succeed
run 0 install http://h/p.bin --mode 1 &&
	has "downloading 40%" && has "updating 100%" && has "rebooting" &&
	has "Upgrade succeeded: EC200TCNDAR02A06M16 → EC200TCNDAR02A07M16 in "
if grep -q "$(printf '\r\033')" "$tmp/out"; then fail "control characters when not on a terminal"; fi

# --- the same in JSON; a FILE job
start_fake succeed
head -c 4096 /dev/zero >"$tmp/pkg.bin"
run 0 --json install "$tmp/pkg.bin" --sha256 "$(printf '%064d' 0)" &&
	json_check 'ev[0] == {"event": "started", "job": "0123456789abcdef0123456789abcdef"}' &&
	json_check 'ev[1]["event"] == "job" and ev[1]["source"] == "file:4096"' &&
	json_check '{"event": "progress", "job": ev[0]["job"], "state": "downloading", "percent": 40} in ev' &&
	json_check 'ev[-1] == {"event": "finished", "job": ev[0]["job"], "result": "succeeded", "error": "", "message": "", "from-revision": "EC200TCNDAR02A06M16", "to-revision": "EC200TCNDAR02A07M16"}'

# --- a finished job: wait reports it at once
run 0 wait && has "Upgrade succeeded: EC200TCNDAR02A06M16 → EC200TCNDAR02A07M16 in "
run 0 --json wait && json_check '[e["event"] for e in ev] == ["job", "finished"]'
run 0 --json status && json_check 'ev[0]["properties"]["State"] == "succeeded" and ev[0]["job"]["state"] == "succeeded"'
run 0 status && has "EC200TCNDAR02A07M16"
run 0 --json install http://h/p.bin --expect-revision EC200TCNDAR02A07M16 --skip-if-current &&
	json_check 'ev == [{"event": "skipped", "revision": "EC200TCNDAR02A07M16"}]'
run 2 --json install http://h/p.bin --cid 1 --apn internet --sha256 "$(printf '%064d' 0)"
run 2 --json cancel &&
	json_check 'ev == [{"event": "error", "error": "org.quectel.Fota1.Error.InvalidArgument", "message": "no job is running"}]'

# --- a failure: exit 1, the message escaped in JSON and made harmless on text
start_fake fail
run 1 --json install http://h/p.bin &&
	json_check 'ev[-1]["result"] == "failed" and ev[-1]["error"] == "org.quectel.Fota1.Error.DownloadFailed" and ev[-1]["message"] == "HTTP download failed: 714 (HTTP(S) DNS error) \"q\" \\ \x01\x1b[31m \u2713"'
run 1 wait && has 'Upgrade failed: HTTP download failed: 714 (HTTP(S) DNS error) "q" \\ ??\[31m ✓'

# --- Busy from the daemon: exit 1, no GDBus prefix in the message
start_fake busy
run 1 install http://h/p.bin && grep -q '^fotactl: a job is already running$' "$tmp/err" ||
	fail "Busy message"

# --- cancel: wait ends with 4
start_fake cancel
"$fotactl" --session --json install http://h/p.bin >"$tmp/cancel.out" 2>&1 &
waiter=$!
wait_for '"percent":40' "$tmp/cancel.out"
run 0 cancel && has "Cancel requested"
wait "$waiter"
rc=$?
cp "$tmp/cancel.out" "$tmp/out"
[ "$rc" -eq 4 ] || fail "install after cancel exited $rc, want 4"
json_check 'ev[-1]["result"] == "cancelled"'

# --- the daemon vanishes mid-job and comes back with the job failed
start_fake vanish
"$fotactl" --session --json install http://h/p.bin --timeout 10 >"$tmp/vanish.out" 2>&1 &
waiter=$!
wait "$fake_pid"
sleep 0.3
start_fake resumed
wait "$waiter"
rc=$?
cp "$tmp/vanish.out" "$tmp/out"
[ "$rc" -eq 1 ] || fail "install across a daemon restart exited $rc, want 1"
json_check '{"event": "daemon", "running": False} in ev and {"event": "daemon", "running": True} in ev'
json_check 'ev[-1]["result"] == "failed" and ev[-1]["error"] == "org.quectel.Fota1.Error.Timeout"'

# --- ... and does not come back
start_fake vanish
run 3 --json install http://h/p.bin --timeout 1 &&
	json_check 'ev[-1]["error"] == "org.quectel.fotactl.Error.Vanished"'
fake_pid=

# --- Ctrl-C stops waiting (130), monitor ends with 0
start_fake cancel
"$fotactl" --session install http://h/p.bin --no-wait >/dev/null
"$fotactl" --session wait >"$tmp/out" 2>"$tmp/err" &
waiter=$!
wait_for 'downloading 40%' "$tmp/out"
kill -INT "$waiter"
wait "$waiter"
rc=$?
[ "$rc" -eq 130 ] || fail "wait after SIGINT exited $rc, want 130"
grep -q 'the upgrade goes on' "$tmp/err" || fail "no word that the upgrade goes on"

"$fotactl" --session --json monitor >"$tmp/out" 2>"$tmp/err" &
waiter=$!
sleep 0.3
"$fotactl" --session cancel >/dev/null
wait_for '"finished"' "$tmp/out"
wait_for '"properties"' "$tmp/out"
kill -INT "$waiter"
wait "$waiter"
rc=$?
[ "$rc" -eq 0 ] || fail "monitor after SIGINT exited $rc, want 0"
json_check '"properties" in [e["event"] for e in ev] and [e["result"] for e in ev if e["event"] == "finished"] == ["cancelled"]'

# --- a FIFO is no package: refused at once, not a hang in open()
start_fake succeed
mkfifo "$tmp/pipe"
run 2 --json install "$tmp/pipe" &&
	json_check 'ev == [{"event": "error", "error": "org.quectel.fotactl.Error.File", "message": "\x27" + sys.argv[1].rsplit("/", 1)[0] + "/pipe\x27 is a FIFO, not a regular file: install FILE needs one"}]'

# --- file names are bytes: not UTF-8, and not ASCII under LC_ALL=C
odd="$tmp/pkg-$(printf '\377')-$(printf '\303\251').bin"
head -c 4096 /dev/zero >"$odd"
start_fake succeed
LC_ALL=C run 0 --json install "$odd" &&
	json_check 'ev[-1]["event"] == "finished" and ev[-1]["result"] == "succeeded"'
LC_ALL=C run 0 install "$odd" && has "Upgrade succeeded"
LC_ALL=C run 2 --json install "$odd.missing" &&
	json_check 'ev[0]["error"] == "org.quectel.fotactl.Error.File" and ev[0]["message"].startswith("cannot open \x27") and "/pkg-\ufffd-\u00e9.bin.missing\x27: No such file" in ev[0]["message"]'

export LC_ALL=C.UTF-8

# --- a second Ctrl-C ends fotactl even where the first cannot be served:
# blocked writing to a pipe that nobody reads.
start_fake chatty
"$fotactl" --session install http://h/p.bin --no-wait >/dev/null
mkfifo "$tmp/full"
exec 3<>"$tmp/full"
"$fotactl" --session --json wait >"$tmp/full" 2>"$tmp/err" &
waiter=$!
# Blocked once the pipe is nearly full: 64 KiB less what does not fill a
# page (bounded: 20 s).
python3 - <<'PY' || fail "the pipe never filled"
import array, fcntl, termios, time
end = time.monotonic() + 20
n = array.array("i", [0])
while time.monotonic() < end:
    fcntl.ioctl(3, termios.FIONREAD, n)
    if n[0] >= 60000:
        break
    time.sleep(0.05)
else:
    raise SystemExit(1)
PY
kill -INT "$waiter"
sleep 0.2
kill -INT "$waiter"
i=0
while kill -0 "$waiter" 2>/dev/null && [ $i -lt 100 ]; do
	i=$((i + 1))
	sleep 0.05
done
if kill -0 "$waiter" 2>/dev/null; then
	fail "fotactl still runs 5 s after a second Ctrl-C"
	kill -KILL "$waiter"
fi
wait "$waiter"
rc=$?
exec 3>&-
[ "$rc" -eq 130 ] || fail "wait after two SIGINTs exited $rc, want 130"

if [ "$failures" -ne 0 ]; then
	echo "$failures failure(s)"
	exit 1
fi
echo "all passed"

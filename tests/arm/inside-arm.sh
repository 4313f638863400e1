#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The ARM check's checks, run by arm-check.service (systemd as PID 1) on the
# qemu-system machine from the disk labelled fota-results (/results): the
# .deb built for this architecture installed with apt, the simulator built
# for it on a pty, and through the system bus a whole FILE upgrade, an HTTP
# upgrade and a SIGKILL of the daemon mid-job that the restarted daemon
# resumes to the true verdict. One "ok:"/"FAIL:" line per check and one
# "figure:" line per measure in /results/out/checks.log, PASS or FAIL in
# /results/out/verdict. Every wait is bounded.
set -u
export DEBIAN_FRONTEND=noninteractive
here=$(dirname "$0")
results=$here/out
mkdir -p "$results"
# note, ok, fail, check, wait_for, revision, state, start_sim, make_package
. "$here/check-lib.sh"

figure() { note "figure: $*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
# Long enough for TCG on two busy cores; only a failure waits this long.
upgrade_timeout=600
finished_as() { # RESULT: fotactl wait, until the job ends, says RESULT
	as fotamember timeout "$upgrade_timeout" fotactl --json wait |
		tee -a "$results/commands.log" | grep -q "\"result\":\"$1\""
}

read -r uptime _ </proc/uptime
# (systemd-analyze time has no answer yet: this check is part of the boot.)
figure "boot: ${uptime} s from the kernel's start to this check"
note "machine: $(dpkg --print-architecture), $(uname -r -m), $(grep -m1 -E '^(model name|CPU part)' /proc/cpuinfo)"

# ---- the package built for this architecture, and the simulator
install -m 0755 "$here/fota-modem-sim" "$sim"
check "the simulator built for this architecture runs" "$sim" --help
if apt-get install -y -q "$here"/quectel-fotad_*.deb >"$results/apt.log" 2>&1; then
	ok "apt installs the package: $(dpkg-query -W -f='${Package} ${Version} ${Architecture}' quectel-fotad)"
else
	fail "apt installs the package (see apt.log)"
	echo FAIL >"$results/verdict"
	exit 1
fi

# ---- the setup: pty access (test only), the port, a member, packages
mkdir -p /etc/systemd/system/quectel-fotad.service.d "$www"
printf '[Service]\nDeviceAllow=char-pts rw\n' \
	>/etc/systemd/system/quectel-fotad.service.d/test-pts.conf
printf '[modem]\nport=%s\n' "$link" >/etc/quectel-fotad/quectel-fotad.conf
systemctl daemon-reload
useradd -m -G quectel-fota fotamember || fail "useradd fotamember"
serve_packages "$R1" "$R2" "$R3" "$R4" || fail "the packages are served over HTTP"
start_sim "$R1" || fail "the simulator starts"

began=$(now)
check "systemctl start quectel-fotad" systemctl start quectel-fotad.service
figure "daemon start: $(since "$began") s"
check "READY=1: systemd got the daemon's STATUS=Ready" \
	sh -c '[ "$(systemctl show -P StatusText quectel-fotad)" = Ready ]'
check "fotactl info reads the modem's revision $R1" \
	sh -c "fotactl --json info | grep -q '\"revision\":\"$R1\"'"

# ---- a whole FILE upgrade: the package streamed over the port
cp "$www/a02.bin" /home/fotamember/ && chown fotamember /home/fotamember/a02.bin
began=$(now)
check "FILE upgrade $R1 -> $R2 succeeds" as fotamember timeout "$upgrade_timeout" \
	fotactl --json install /home/fotamember/a02.bin --expect-revision "$R2"
figure "FILE upgrade: $(since "$began") s"
check "the modem runs $R2 (read back on the bus)" test "$(revision)" = "$R2"

# ---- an HTTP upgrade: the modem downloads from busybox httpd
began=$(now)
check "HTTP upgrade $R2 -> $R3 succeeds" as fotamember timeout "$upgrade_timeout" \
	fotactl --json install "http://127.0.0.1:$http_port/a03.bin" --expect-revision "$R3"
figure "HTTP upgrade: $(since "$began") s"
check "the modem runs $R3 (read back on the bus)" test "$(revision)" = "$R3"
journalctl -u quectel-fotad -o short-monotonic --no-pager >"$results/upgrades-journal.txt"
check "sandbox: no SIGSYS, EPERM or denial in the daemon's journal" \
	sh -c "! grep -iE 'SIGSYS|status=31|EPERM|not permitted|denied' $results/upgrades-journal.txt"
check "the daemon never restarted" sh -c '[ "$(systemctl show -P NRestarts quectel-fotad)" = 0 ]'

# ---- SIGKILL mid-job: systemd restarts the daemon (Restart=on-failure),
# which resumes the job. The simulator's download lasts 8 s: the window.
systemctl stop quectel-fotad.service
start_sim "$R3" --download-ms 8000 || fail "the simulator starts again"
check "systemctl start quectel-fotad (again)" systemctl start quectel-fotad.service
began=$(now)
as fotamember fotactl --json install "http://127.0.0.1:$http_port/a04.bin" \
	--expect-revision "$R4" --no-wait >>"$results/commands.log" 2>&1
if wait_for 120 sh -c '[ "$(busctl get-property org.quectel.Fota1 /org/quectel/Fota1 org.quectel.Fota1 State)" = "s \"downloading\"" ]'; then
	ok "the HTTP job reached downloading"
else
	fail "the HTTP job reached downloading (State: $(state))"
fi
killed_pid=$(systemctl show -P MainPID quectel-fotad)
check "SIGKILL to the daemon (pid $killed_pid) while the modem downloads" \
	systemctl kill -s SIGKILL --kill-whom=main quectel-fotad.service
check "systemd restarts the daemon" wait_for 60 \
	sh -c "[ \"\$(systemctl show -P NRestarts quectel-fotad)\" = 1 ] && systemctl is-active -q quectel-fotad"
check "the restarted daemon resumes the job to succeeded" finished_as succeeded
figure "SIGKILL and resume: $(since "$began") s from the job's start to its verdict"
check "the modem runs $R4 (read back on the bus)" test "$(revision)" = "$R4"
check "the modem was asked once: resuming never downloads again" \
	test "$(grep '"event":"qfotadl"' "$results/sim.log" | grep -c a04.bin)" = 1

journalctl -b --no-pager -o short-monotonic >"$results/journal.txt"
systemctl stop quectel-fotad.service "fota-sim-$sims.service" fota-http.service
if ((failures == 0)); then echo PASS >"$results/verdict"; else echo FAIL >"$results/verdict"; fi
note "$failures failed"
exit $((failures != 0))

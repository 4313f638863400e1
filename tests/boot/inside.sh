#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The boot test's checks, run by boot-test.service inside the container
# (systemd as PID 1). Installs /root/quectel-fotad_*.deb with apt, runs the
# modem simulator on a pty, and writes one "ok:"/"FAIL:"/"SKIP:" line per
# check to /results/checks.log and PASS or FAIL to /results/verdict.
# Every wait is bounded.
set -u
export DEBIAN_FRONTEND=noninteractive
results=/results
# note, ok, fail, check, wait_for, revision, state, start_sim, make_package
. "$(dirname "$0")/check-lib.sh"

# ---- the package
if apt-get install -y -q /root/quectel-fotad_*.deb >"$results/apt.log" 2>&1; then
	ok "apt installs the package: $(dpkg-query -W -f='${Package} ${Version}' quectel-fotad)"
else
	fail "apt installs the package (see apt.log)"
	echo FAIL >"$results/verdict"
	exit 1
fi
check "group quectel-fota holds quectel-fota-update" \
	sh -c 'getent group quectel-fota | grep -q quectel-fota-update'
check "the /etc configuration is a conffile" \
	sh -c "dpkg-query -W -f='\${Conffiles}' quectel-fotad | grep -q /etc/quectel-fotad/quectel-fotad.conf"
check "the timer is enabled" systemctl is-enabled -q quectel-fotad-update.timer
check "nothing upgrades at install: the timer is not started" \
	sh -c '! systemctl is-active -q quectel-fotad-update.timer'
check "nothing runs the update service at install" \
	sh -c '[ "$(systemctl show -P ActiveEnterTimestampMonotonic quectel-fotad-update.service)" = 0 ]'
check "the daemon is not started at install" sh -c '! systemctl is-active -q quectel-fotad.service'
check "the spool's path unit watches" systemctl is-active -q quectel-fotad-spool.path
check "the spool exists, root:quectel-fota 2770" \
	sh -c '[ "$(stat -c %U:%G:%a /var/spool/quectel-fotad/incoming)" = root:quectel-fota:2770 ]'

# ---- the test setup: pty access (test only), the port, users, packages
mkdir -p /etc/systemd/system/quectel-fotad.service.d "$www"
printf '[Service]\nDeviceAllow=char-pts rw\n' \
	>/etc/systemd/system/quectel-fotad.service.d/test-pts.conf
printf '[modem]\nport=%s\n' "$link" >/etc/quectel-fotad/quectel-fotad.conf
systemctl daemon-reload
useradd -m tester || fail "useradd tester"
useradd -m -G quectel-fota fotamember || fail "useradd fotamember"
serve_packages "$R1" "$R2" "$R3" "$R4" "$R5" || fail "the packages are served over HTTP"
start_sim "$R1" || fail "the simulator starts"

# ---- service: active, READY=1 (STATUS=Ready reached systemd), clean status
if systemctl start quectel-fotad.service; then ok "systemctl start quectel-fotad"; else fail "systemctl start quectel-fotad"; fi
check "quectel-fotad is active (running)" \
	sh -c '[ "$(systemctl show -P ActiveState,SubState quectel-fotad | tr "\n" " ")" = "active running " ]'
check "READY=1: systemd got the daemon's STATUS=Ready" \
	sh -c '[ "$(systemctl show -P StatusText quectel-fotad)" = Ready ]'
systemctl status --no-pager -l quectel-fotad >"$results/status.txt" 2>&1
check "systemctl status is clean (no warning, error, denial)" \
	sh -c "! grep -iE 'warn|error|denied|fail' $results/status.txt"

# ---- policy: anyone reads, members of quectel-fota change
check "an ordinary user reads GetModemInfo ($R1)" \
	sh -c "runuser -u tester -- fotactl --json info | grep -q '\"revision\":\"$R1\"'"
check "an ordinary user calls GetJob (fotactl status)" as tester fotactl --json status
check "an ordinary user reads the properties" as tester busctl get-property "${bus[@]}" org.quectel.Fota1 State
check "an ordinary user reads them all (GetAll)" as tester busctl introspect "${bus[@]}" org.quectel.Fota1
denied() { # COMMAND...: fotactl must report AccessDenied
	runuser -u tester -- "$@" 2>&1 | grep -q org.freedesktop.DBus.Error.AccessDenied
}
cp "$www/a02.bin" /home/tester/ && chown tester /home/tester/a02.bin
check "an ordinary user is denied StartUrl" denied fotactl --json install "http://127.0.0.1:$http_port/a02.bin"
check "an ordinary user is denied StartFile" denied fotactl --json install /home/tester/a02.bin
check "an ordinary user is denied Cancel" denied fotactl --json cancel

# A member upgrades R1 -> R2 (FILE), right after the install: no reload.
cp "$www/a02.bin" /home/fotamember/ && chown fotamember /home/fotamember/a02.bin
check "a quectel-fota member starts a job and it succeeds ($R1 -> $R2)" \
	as fotamember timeout 180 fotactl --json install /home/fotamember/a02.bin --expect-revision "$R2"
check "the modem runs $R2" test "$(revision)" = "$R2"

# ---- D-Bus activation
systemctl stop quectel-fotad.service
start_sim "$R2"
check "the daemon is stopped" sh -c '! systemctl is-active -q quectel-fotad.service'
check "busctl call GetModemInfo activates the daemon" \
	as tester timeout 60 busctl call "${bus[@]}" org.quectel.Fota1 GetModemInfo
check "quectel-fotad is active again" systemctl is-active -q quectel-fotad.service

# ---- unattended update over HTTP under its sandbox, no denial anywhere
upgrade_from=$(cursor)
printf 'FOTA_URL=http://127.0.0.1:%s/a03.bin\nFOTA_EXPECT_REVISION=%s\n' "$http_port" "$R3" \
	>/etc/quectel-fotad/update.env
check "quectel-fotad-update.service succeeds" timeout 300 systemctl start quectel-fotad-update.service
check "the unattended update upgraded the modem to $R3" test "$(revision)" = "$R3"
check "fotactl ran as quectel-fota-update" \
	sh -c '[ "$(systemctl show -P User quectel-fotad-update.service)" = quectel-fota-update ]'
journalctl --after-cursor="$upgrade_from" -o short-monotonic --no-pager >"$results/upgrade-journal.txt"
check "sandbox: no SIGSYS, EPERM or denial in the journal over the whole upgrade" \
	sh -c "! grep -iE 'SIGSYS|status=31|EPERM|not permitted|denied|Unknown group' $results/upgrade-journal.txt"
check "sandbox: the daemon wrote its state" test -s /var/lib/quectel-fotad/job
check "sandbox: the daemon never restarted" \
	sh -c '[ "$(systemctl show -P NRestarts quectel-fotad)" = 0 ]'

# ---- restart mid-job resumes to a true verdict
as fotamember fotactl --json install "$www/a04.bin" --expect-revision "$R4" --no-wait >>"$results/commands.log" 2>&1
if wait_for 60 sh -c '[ "$(busctl get-property org.quectel.Fota1 /org/quectel/Fota1 org.quectel.Fota1 State)" = "s \"updating\"" ]'; then
	ok "the job reached updating"
else
	fail "the job reached updating (State: $(state))"
fi
check "systemctl restart quectel-fotad mid-job" systemctl restart quectel-fotad.service
check "the restarted daemon resumes the job to succeeded" \
	sh -c "runuser -u fotamember -- timeout 180 fotactl --json wait | tee -a $results/commands.log | grep -q '\"result\":\"succeeded\"'"
check "the modem runs $R4" test "$(revision)" = "$R4"

# ---- the spool: a complete drop is installed, a bad one fails
spool=/var/spool/quectel-fotad
drop() { # NAME PACKAGE REVISION HASH
	cp "$2" "$spool/incoming/$1"
	echo "$3" >"$spool/incoming/$1.revision"
	echo "$4  $1" >"$spool/incoming/.$1.sha256"
	mv "$spool/incoming/.$1.sha256" "$spool/incoming/$1.sha256"
}
drop bad.bin "$www/a05.bin" "$R5" 0000000000000000000000000000000000000000000000000000000000000000
check "spool: a drop with a wrong hash lands in failed/ with its result" \
	wait_for 120 grep -qx 'verdict: failed' "$spool/failed/bad.bin.result"
drop a05.bin "$www/a05.bin" "$R5" "$(sha256sum "$www/a05.bin" | cut -d' ' -f1)"
check "spool: a complete drop is installed and lands in done/" \
	wait_for 180 grep -qx 'verdict: done' "$spool/done/a05.bin.result"
check "spool: the modem runs $R5" test "$(revision)" = "$R5"
check "spool: incoming/ is empty" sh -c "[ -z \"\$(ls -A $spool/incoming)\" ]"
cp "$spool/done/a05.bin.result" "$spool/failed/bad.bin.result" "$results/" 2>/dev/null

# ---- journal events (MESSAGE_ID=, journalctl --catalog)
# The ids are daemon/neighbours/job-journal.c's; the catalog is the package's.
started=2f761a48f7f14ebd8cd98ab7a7eaaff8
succeeded=e56eab7643e04de8a65f254a2d4d44b4
check "journal: the jobs' starts under MESSAGE_ID=$started" \
	sh -c "journalctl -q -o cat MESSAGE_ID=$started | grep -q ."
check "journal: the successes under MESSAGE_ID=$succeeded, with their fields" \
	sh -c "journalctl -q -o verbose MESSAGE_ID=$succeeded | grep -q '^ *QUECTEL_FOTA_TO_REVISION=$R5'"
check "journal: the job id and port fields" \
	sh -c "journalctl -q -o verbose MESSAGE_ID=$succeeded | grep -q '^ *QUECTEL_FOTA_JOB_ID=' &&
	       journalctl -q -o verbose MESSAGE_ID=$succeeded | grep -q '^ *QUECTEL_FOTA_PORT='"
check "journalctl --catalog explains the success" \
	sh -c "journalctl -q -x MESSAGE_ID=$succeeded | grep -q 'Subject: Firmware upgrade job .* succeeded'"
journalctl -q -o verbose MESSAGE_ID=$succeeded >"$results/journal-succeeded.txt" 2>&1

# ---- the exposure score inside
score=$(systemd-analyze security --no-pager quectel-fotad.service 2>/dev/null |
	sed -n 's/.*Overall exposure level for quectel-fotad.service: \([0-9.]*\).*/\1/p')
if [ -n "$score" ] && awk "BEGIN { exit !($score <= 1.5) }"; then
	ok "systemd-analyze security quectel-fotad.service: $score <= 1.5"
else
	fail "systemd-analyze security quectel-fotad.service: '$score' > 1.5"
fi

# ---- purge removes the state
systemctl stop quectel-fotad.service "fota-sim-$sims.service"
rm -f /etc/quectel-fotad/update.env
check "apt purges the package" apt-get purge -y -q quectel-fotad
check "purge removed /var/lib/quectel-fotad" test ! -e /var/lib/quectel-fotad
check "purge removed /var/spool/quectel-fotad" test ! -e /var/spool/quectel-fotad
check "purge removed the timer's enablement" test ! -e /etc/systemd/system/timers.target.wants/quectel-fotad-update.timer

journalctl -b --no-pager -o short-monotonic >"$results/journal.txt"
if ((failures == 0)); then echo PASS >"$results/verdict"; else echo FAIL >"$results/verdict"; fi
note "$failures failed"
exit $((failures != 0))

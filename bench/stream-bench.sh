#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Streams a FILE-mode package into fota-modem-sim with the AT engine
# (fota-at-tool) and with a bare writer (cat, after the QFOTADL command sent
# by hand), alternating run by run, first on the machine as it is ("quiet")
# and then under a load the script makes itself (two busy loops), and
# reports for each phase:
#   - the median time from the first streamed byte to +QIND: "FOTA","FILEEND",0
#     of the engine and of cat, and their ratio (goal under load <= 1.05);
#   - the median CPU time (user+sys) of the engine's whole process and of cat,
#     and their ratio (goal <= 1.5);
# then the engine's peak RSS growth over its idle RSS (goal <= 1 MiB), and
# the paced mode's achieved rate vs its setting (goal within 5%) and, from
# strace, the largest write to the tty (must be <= 32 bytes).
# Every simulator is fresh and started with the same options. The engine is
# $FOTA_AT_TOOL or BUILDDIR's fota-at-tool. With -c, a second engine (another
# build's fota-at-tool) runs in each round too, right after the first, and
# each phase also reports the second's median time and CPU over the first's.
#
# usage: bench/stream-bench.sh [-b BUILDDIR] [-n REPS] [-s MIB] [-r PACED_RATE] [-p PACED_KIB] [-L] [-c TOOL]
#   -L: skip the loaded phase
#   -c: compare with this fota-at-tool
set -euo pipefail

builddir=build reps=5 size_mib=64 paced_rate=15360 paced_kib=150 loaded=1 other=
while getopts "b:n:s:r:p:Lc:" opt; do
	case $opt in
	b) builddir=$OPTARG ;;
	n) reps=$OPTARG ;;
	s) size_mib=$OPTARG ;;
	r) paced_rate=$OPTARG ;;
	p) paced_kib=$OPTARG ;;
	L) loaded=0 ;;
	c) other=$OPTARG ;;
	*) sed -n 's/^# usage: //p' "$0" >&2; exit 2 ;;
	esac
done

sim=${FOTA_MODEM_SIM:-$builddir/tests/modem-sim/fota-modem-sim}
tool=${FOTA_AT_TOOL:-$builddir/tests/engine/fota-at-tool}
for exe in "$sim" "$tool" ${other:+"$other"}; do
	[ -x "$exe" ] || { echo "missing $exe (build first, or set FOTA_MODEM_SIM/FOTA_AT_TOOL)" >&2; exit 1; }
done

from=EC200TCNDAR02A06M16 to=EC200TCNDAR02A07M16
tmp=$(mktemp -d /tmp/stream-bench.XXXXXX)
sim_pid=
reader_pid=
busy_pids=()
stop_load() {
	for pid in "${busy_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${busy_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	busy_pids=()
}
cleanup() {
	stop_load
	[ -n "$reader_pid" ] && kill "$reader_pid" 2>/dev/null || true
	[ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

start_load() {
	for _ in 1 2; do
		(while :; do :; done) &
		busy_pids+=($!)
	done
}

now() { date +%s.%N; }

start_sim() {
	rm -f "$tmp/link" "$tmp/ready"
	"$sim" --link "$tmp/link" --ready-file "$tmp/ready" --log "$tmp/sim.log" \
		--model EC200T --revision "$from" --update-ms 100 --reboot-ms 100 &
	sim_pid=$!
	for _ in $(seq 500); do [ -e "$tmp/ready" ] && return 0; sleep 0.01; done
	echo "simulator did not start" >&2
	exit 1
}

stop_sim() {
	kill "$sim_pid" 2>/dev/null || true
	wait "$sim_pid" 2>/dev/null || true
	sim_pid=
}

# Waits until $1 contains $2; fails after $3 seconds.
wait_for() {
	local deadline
	deadline=$(echo "$(now) + $3" | bc)
	until grep -q -- "$2" "$1" 2>/dev/null; do
		if (($(echo "$(now) > $deadline" | bc))); then
			echo "timed out waiting for '$2' in $1" >&2
			return 1
		fi
		sleep 0.002
	done
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# The engine ($2, else $tool): prints "<elapsed s> <cpu s> <rss growth KiB>".
run_engine() {
	local out=$tmp/engine.out
	start_sim
	"${2:-$tool}" --port "$tmp/link" stream "$1" --mode 1 --dl-max 50 >"$out"
	stop_sim
	grep -q '^result +QIND: "FOTA","FILEEND",0$' "$out" || { cat "$out" >&2; exit 1; }
	awk '/^elapsed/ { e = $2 } /^rss-idle-kib/ { i = $2 } /^hwm-kib/ { h = $2 } /^cpu-s/ { c = $2 }
	     END { g = h - i; print e, c, (g > 0 ? g : 0) }' "$out"
}

# Reads the tty for the bare writer: copies it to stdout and, on FILEEND,
# notes the wall-clock time in $1 and exits, so nothing polls meanwhile.
reader_py='
import os, sys, time
tail = b""
while True:
    data = os.read(0, 65536)
    if not data:
        break
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
    window = tail + data
    if b"\"FILEEND\"" in window:
        with open(sys.argv[1], "w") as f:
            f.write("%.6f\n" % time.time())
        break
    tail = window[-64:]
'

# The bare writer: the same commands by hand, then cat. Prints "<elapsed s> <cat cpu s>".
run_bare() {
	local pkg=$1 len out=$tmp/bare.out t0
	len=$(stat -c %s "$pkg")
	start_sim
	rm -f "$tmp/t1"
	exec 3<>"$tmp/link"
	stty raw -echo <&3
	/usr/bin/python3 -c "$reader_py" "$tmp/t1" <&3 >"$out" &
	reader_pid=$!
	printf 'AT+QCFG="usbifc",2,2\r' >&3
	wait_for "$out" OK 5
	printf 'AT+QFOTADL="FILE:%s",1,50\r' "$len" >&3
	wait_for "$out" FILESTART 10
	t0=$(now)
	# bash's time, not /usr/bin/time: its CPU times have 1 ms steps, where
	# GNU time's 10 ms steps were a seventh of cat's whole CPU time.
	local TIMEFORMAT='%3U %3S'
	{ time cat "$pkg" >&3; } 2>"$tmp/cat.time"
	wait "$reader_pid" || true
	reader_pid=
	exec 3>&-
	stop_sim
	grep -q '"FILEEND",0' "$out" || { echo "bare writer: no FILEEND,0" >&2; exit 1; }
	echo "$(echo "$(cat "$tmp/t1") - $t0" | bc -l)" "$(awk '{ print $1 + $2 }' "$tmp/cat.time")"
}

# One phase: $1 names it. Engine and cat alternate; prints the runs and the medians.
run_phase() {
	local phase=$1 e ec g b bc me mb mec mbc
	: >"$tmp/e.t"; : >"$tmp/e.c"; : >"$tmp/b.t"; : >"$tmp/b.c"; : >"$tmp/o.t"; : >"$tmp/o.c"
	echo "== $phase: $size_mib MiB, $reps runs each, engine and cat alternating (load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs)"
	for i in $(seq "$reps"); do
		read -r e ec g < <(run_engine "$tmp/pkg")
		read -r b bc < <(run_bare "$tmp/pkg")
		echo "$e" >>"$tmp/e.t"; echo "$ec" >>"$tmp/e.c"
		echo "$b" >>"$tmp/b.t"; echo "$bc" >>"$tmp/b.c"
		echo "$g" >>"$tmp/rss.growth"
		printf '  run %d: engine %.3f s (CPU %.3f s), cat %.3f s (CPU %.3f s), engine RSS growth %d KiB\n' \
			"$i" "$e" "$ec" "$b" "$bc" "$g"
		[ -n "$other" ] || continue
		read -r e ec g < <(run_engine "$tmp/pkg" "$other")
		echo "$e" >>"$tmp/o.t"; echo "$ec" >>"$tmp/o.c"
		printf '  run %d: other engine %.3f s (CPU %.3f s)\n' "$i" "$e" "$ec"
	done
	me=$(median <"$tmp/e.t"); mb=$(median <"$tmp/b.t")
	mec=$(median <"$tmp/e.c"); mbc=$(median <"$tmp/b.c")
	printf '%s: time  engine %.3f s, cat %.3f s, ratio %.3f%s\n' "$phase" "$me" "$mb" \
		"$(echo "$me / $mb" | bc -l)" "$([ "$phase" = loaded ] && echo ' (goal <= 1.05)')"
	printf '%s: CPU   engine %.3f s, cat %.3f s, ratio %.2f (goal <= 1.5)\n' "$phase" "$mec" "$mbc" \
		"$(echo "$mec / $mbc" | bc -l)"
	if [ -n "$other" ]; then
		local mo moc
		mo=$(median <"$tmp/o.t"); moc=$(median <"$tmp/o.c")
		printf '%s: other engine: time %.3f s, ratio to engine %.3f; CPU %.3f s, ratio to engine %.3f\n' \
			"$phase" "$mo" "$(echo "$mo / $me" | bc -l)" "$moc" "$(echo "$moc / $mec" | bc -l)"
	fi
	echo "$phase: load after: $(cut -d' ' -f1-3 /proc/loadavg)"
}

echo "engine: $tool${other:+, other engine: $other}"
"$sim" --make-package "$tmp/pkg" --from "$from" --to "$to" --model EC200T \
	--size $((size_mib * 1024 * 1024))
: >"$tmp/rss.growth"
run_phase quiet
if [ "$loaded" = 1 ]; then
	start_load
	run_phase loaded
	stop_load
fi
printf 'engine peak RSS growth over idle: %d KiB (goal <= 1024)\n' "$(sort -n "$tmp/rss.growth" | tail -1)"

echo "== paced stream: $paced_kib KiB at $paced_rate B/s without flow control"
head -c $((paced_kib * 1024)) "$tmp/pkg" >"$tmp/paced.pkg"
# Returns the achieved B/s of one paced run; $@ prefixes the tool (strace).
run_paced() {
	start_sim
	"$@" "$tool" --port "$tmp/link" --no-flow --paced-rate "$paced_rate" \
		stream "$tmp/paced.pkg" --mode 1 --dl-max 50 >"$tmp/paced.out"
	stop_sim
	grep -q '^result +QIND: "FOTA","FILEEND",0$' "$tmp/paced.out" || { cat "$tmp/paced.out" >&2; exit 1; }
	awk '/^stream / { print $(NF - 1) }' "$tmp/paced.out" | tr -d '('
}
achieved=$(run_paced)
traced=$(run_paced strace -f -y -e trace=write -o "$tmp/strace.log")
# Writes to the tty, whole or split by another thread's call:
#   "1234  write(3</dev/pts/7>, "..."..., 32) = 32"
#   "1235  write(8</dev/pts/7>, "..."..., 32 <unfinished ...>"
# The count asked for is the last argument.
read -r nwrites maxw < <(grep -E '^[0-9]+ +write\([0-9]+</dev/pts/' "$tmp/strace.log" |
	sed -E 's/.*, ([0-9]+)(\) += .*| <unfinished \.\.\.>)$/\1/' |
	awk '{ n++; if ($1 > m) m = $1 } END { print n, m }')
report_rate() {
	printf 'paced (%s): achieved %.0f B/s vs %d B/s set (%+.2f%%, goal within 5%%)\n' \
		"$1" "$2" "$paced_rate" "$(echo "($2 - $paced_rate) * 100 / $paced_rate" | bc -l)"
}
report_rate plain "$achieved"
report_rate "under strace" "$traced"
printf 'paced (under strace): %d writes to the tty, largest %d bytes (must be <= 32)\n' "$nwrites" "$maxw"

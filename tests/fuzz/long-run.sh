#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# long-run.sh BUILDDIR SECONDS [TARGET...]
# A long fuzz run on ONE core: for each target (default: all), SECONDS/5 with
# ASan+UBSan, then the rest with the faster UBSan-only build, one after the
# other, sharing BUILDDIR/fuzz-long/<target>/corpus. Prints per target the
# executions and libFuzzer's final coverage (cov, ft); crash files land in
# BUILDDIR/fuzz-long/<target>/. Needs
#   meson compile -C BUILDDIR tests/fuzz/fuzz-T tests/fuzz/fuzz-T-fast  (each T)
set -eu
build=$1 seconds=$2
shift 2
src=$(cd "$(dirname "$0")" && pwd)
targets=${*:-at state config dbus}
max_len() {
	case $1 in at) echo 8256 ;; dbus) echo 2048 ;; *) echo 4096 ;; esac
}
# Prints "execs cov ft" from a libFuzzer log.
stats() {
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$1" | tail -n 1)
	last=$(grep -E '^#[0-9]+' "$1" | grep -o 'cov: [0-9]* ft: [0-9]*' | tail -n 1)
	echo "${execs:-0} ${last:-cov: ? ft: ?}"
}
for t in $targets; do
	work=$build/fuzz-long/$t
	mkdir -p "$work/corpus"
	total=0
	for variant in asan fast; do
		exe=$build/tests/fuzz/fuzz-$t
		time=$((seconds / 5))
		if [ "$variant" = fast ]; then
			exe=$exe-fast
			time=$((seconds - seconds / 5))
		fi
		log=$work/$variant.log
		rc=0
		"$exe" -max_total_time="$time" -max_len="$(max_len "$t")" -jobs=1 -workers=1 \
			-print_final_stats=1 -artifact_prefix="$work/" \
			"$work/corpus" "$src/corpus/$t" >"$log" 2>&1 || rc=$?
		# -jobs=1 runs the fuzzer in a child that logs to fuzz-0.log.
		[ -f fuzz-0.log ] && mv fuzz-0.log "$log"
		set -- $(stats "$log")
		echo "$t $variant: exit $rc, $1 executions in ${time}s, $2 $3 $4 $5"
		total=$((total + $1))
	done
	echo "$t total: $total executions"
done

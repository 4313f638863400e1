#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# run-fuzz.sh FUZZER SEED_DIR WORK_DIR [libFuzzer options...]
# libFuzzer writes new inputs into its first corpus directory: keep that in
# the build tree so the seed corpus in the source tree stays as committed.
set -eu
fuzzer=$1 seeds=$2 work=$3
shift 3
mkdir -p "$work/corpus"
exec "$fuzzer" -artifact_prefix="$work/" "$@" "$work/corpus" "$seeds"

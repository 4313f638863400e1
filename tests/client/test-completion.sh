#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Sources the bash completion of fotactl and drives _fotactl as bash does
# (COMP_WORDS, COMP_CWORD), checking its answers; the verbs and options it
# offers must be exactly those of 'fotactl --help'.
#   test-completion.sh COMPLETION FOTACTL
set -u
completion=$1
fotactl=$2
# shellcheck source=/dev/null
source "$completion"

failures=0
# expect "ANSWERS" WORD...: completes the last WORD (COMP_CWORD points at
# it) and compares the sorted answers, space-separated.
expect() {
	local want=$1 got
	shift
	COMP_WORDS=("$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_fotactl
	got=$(printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort | tr '\n' ' ' | sed 's/ $//')
	want=$(printf '%s\n' $want | sort | tr '\n' ' ' | sed 's/ $//')
	if [[ $got != "$want" ]]; then
		echo "FAIL: '$*' -> '$got', want '$want'"
		failures=$((failures + 1))
	fi
}

help=$("$fotactl" --help) || {
	echo "FAIL: fotactl --help"
	exit 1
}
help_verbs=$(sed -n '/^Verbs:/,/^$/s/^  \([a-z]\+\) .*/\1/p' <<<"$help")
help_options=$(sed -n 's/^ \+\(-h, \)\?\(--[a-z0-9-]\+\).*/\2/p' <<<"$help")
[[ -n $help_verbs && -n $help_options ]] || {
	echo "FAIL: cannot read verbs and options from fotactl --help"
	exit 1
}

expect "$help_verbs" fotactl ''
expect "$help_options" fotactl install --
expect "$help_options" fotactl --
expect 'info install' fotactl in
expect 'status' fotactl --json st
expect '--mode' fotactl install --mo
expect '0 1' fotactl install --mode ''
expect '0 1' fotactl --mode = ''
expect '1' fotactl install --mode = 1
expect '1 10 11 12 13 14 15 16' fotactl install --cid 1
expect '' fotactl install --sha256 ''
expect '--session --json --timeout --version --help' fotactl status --
expect '--session --json --timeout --version --help' fotactl wait --timeout 5 --
expect '' fotactl status ''

# File names for install, also behind options and their values.
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
touch "$dir/EC200T-a.bin" "$dir/EC200T-b.bin" "$dir/other.txt"
expect "$dir/EC200T-a.bin $dir/EC200T-b.bin" fotactl install "$dir/EC200T"
expect "$dir/other.txt" fotactl --json install --sha256 abc --mode 0 "$dir/o"
expect "$dir/other.txt" fotactl --mode=0 install "$dir/o"
# One argument only: nothing after the package.
expect '' fotactl install "$dir/other.txt" ''

if ((failures > 0)); then
	echo "$failures completion checks failed"
	exit 1
fi
echo "bash completion: ok"

#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs quectel-fotad-spool against a fake fotactl on PATH: complete drops
# are installed and land in done/ or failed/ with a result file; partial
# drops (no .sha256 yet, dot-files) stay untouched until completed.
#   test-spool.sh HANDLER
set -eu
handler=$1

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
spool=$tmp/spool
mkdir -p "$tmp/bin" "$spool/incoming" "$spool/done" "$spool/failed"

# The fake logs its arguments, one call per line, and fails for packages
# whose name contains "bad", like fotactl for a failed upgrade.
cat >"$tmp/bin/fotactl" <<FAKE
#!/bin/sh
echo "\$*" >>"$tmp/calls"
case "\$3" in
*bad*) echo '{"event":"finished","result":"failed"}'; exit 1 ;;
esac
echo '{"event":"finished","result":"succeeded"}'
FAKE
chmod +x "$tmp/bin/fotactl"
PATH=$tmp/bin:$PATH
export PATH

fail() {
	echo "FAIL: $*"
	exit 1
}
expect_file() {
	[ -f "$1" ] || fail "$1 missing"
}
expect_absent() {
	[ ! -e "$1" ] || fail "$1 should not exist"
}
expect_line() { # FILE LINE
	grep -qxF -- "$2" "$1" || {
		cat "$1"
		fail "$1 lacks '$2'"
	}
}

in=$spool/incoming
hash=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
printf 'pkg' >"$in/good.bin"
echo EC200TCNDAR02A07M16 >"$in/good.bin.revision"
echo "$hash  good.bin" >"$in/good.bin.sha256"
printf 'pkg' >"$in/bad.bin"
echo "$hash" >"$in/bad.bin.sha256"
echo "$hash" >"$in/orphan.bin.sha256"
# Still being written: no .sha256 yet, or only its temporary dot-file.
printf 'half' >"$in/partial.bin"
printf 'half' >"$in/writing.bin"
echo "$hash" >"$in/.writing.bin.sha256"

"$handler" "$spool" >"$tmp/out" || {
	cat "$tmp/out"
	fail "handler exit status $?"
}

expect_line "$tmp/calls" \
	"--json install $in/good.bin --sha256 $hash --expect-revision EC200TCNDAR02A07M16 --skip-if-current"
expect_line "$tmp/calls" "--json install $in/bad.bin --sha256 $hash"
[ "$(wc -l <"$tmp/calls")" -eq 2 ] || fail "expected 2 fotactl calls: $(cat "$tmp/calls")"

for f in good.bin good.bin.revision good.bin.sha256 good.bin.result; do
	expect_file "$spool/done/$f"
done
expect_line "$spool/done/good.bin.result" "verdict: done"
expect_line "$spool/done/good.bin.result" "exit-status: 0"
expect_line "$spool/done/good.bin.result" '{"event":"finished","result":"succeeded"}'

for f in bad.bin bad.bin.sha256 bad.bin.result orphan.bin.sha256 orphan.bin.result; do
	expect_file "$spool/failed/$f"
done
expect_line "$spool/failed/bad.bin.result" "exit-status: 1"
expect_line "$spool/failed/bad.bin.result" '{"event":"finished","result":"failed"}'
expect_line "$spool/failed/orphan.bin.result" "verdict: failed"

for f in good.bin bad.bin orphan.bin.sha256; do
	expect_absent "$in/$f"
done
for f in partial.bin writing.bin .writing.bin.sha256; do
	expect_file "$in/$f"
done
[ -z "$(find "$in" -name '*.running')" ] || fail "a .running file was left behind"

# The writer finishes: the rename makes the drop complete, the next run
# installs it and nothing else.
mv "$in/.writing.bin.sha256" "$in/writing.bin.sha256"
: >"$tmp/calls"
"$handler" "$spool" >"$tmp/out" || fail "second run: exit status $?"
[ "$(cat "$tmp/calls")" = "--json install $in/writing.bin --sha256 $hash" ] ||
	fail "second run called: $(cat "$tmp/calls")"
expect_file "$spool/done/writing.bin.result"
expect_file "$in/partial.bin"

# Nothing complete left: no call at all.
: >"$tmp/calls"
"$handler" "$spool" >"$tmp/out" || fail "third run: exit status $?"
[ ! -s "$tmp/calls" ] || fail "third run called: $(cat "$tmp/calls")"
echo "spool handler: ok"

#!/usr/bin/env bash
# System: tern-logsum, the per-partition checksum tool the Raft tests compare
# replicas with, on a real broker's data directory. It counts what was
# acknowledged, is stable across runs and a restart, does not modify the
# directory (read-only, also on a running broker), and notices damage: a
# changed byte in a closed segment is reported "damaged" with exit 2, in the
# active segment as a "tail" (what recovery would cut); a changed byte
# anywhere changes the line.
set -uo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/integration/tern_fixture.sh
. tests/integration/tern_fixture.sh
LOGSUM="$BIN/tern-logsum"
[ -x "$LOGSUM" ] || { echo "tern-logsum not built" >&2; exit 1; }

# Small segments so queue 0 has closed segments too.
fixture_start --set segmentBytes=64k
export TERN_NAMESRV="$NS"
t_run 30 "$TERN" topic create --topic ls --queues 2 >/dev/null 2>&1
# Bodies padded with pseudo-random letters: libtern sends them in batches that
# the broker stores lz4-compressed, and repetitive bodies would then fit in
# fewer segments.
seq 1 3000 | awk 'BEGIN { srand(7) } { printf "ls-message-%d-", $1; for (i = 0; i < 40; i++) printf "%c", 97 + int(rand() * 26); print "" }' |
  t_run 60 "$TERN" produce --topic ls --queue 0 >/dev/null 2>"$TMP/p0.err"
seq 1 500 | sed 's/^/other-/' | t_run 60 "$TERN" produce --topic ls --queue 1 >/dev/null 2>"$TMP/p1.err"
check "sends acknowledged" bash -c "grep -q 'sent 3000 messages (0 failed)' '$TMP/p0.err' && grep -q 'sent 500 messages (0 failed)' '$TMP/p1.err'"

"$LOGSUM" "$TMP/broker" >"$TMP/live" 2>&1
check "runs alongside a running broker (exit 0)" test $? = 0
check "header line" bash -c "head -n 1 '$TMP/live' | grep -q '^TOPIC QUEUE MIN END COUNT UNITS LAST_SOURCE XXH3 STATE\$'"
check "queue 0: offsets 0..3000, 3000 messages, ok" grep -q '^ls 0 0 3000 3000 [0-9]* 0 [0-9a-f]\{16\} ok$' "$TMP/live"
check "queue 1: 500 messages, ok" grep -q '^ls 1 0 500 500 [0-9]* 0 [0-9a-f]\{16\} ok$' "$TMP/live"
nseg=$(ls "$TMP/broker/queues/ls/0/"*.log | wc -l)
check "queue 0 spans several segments ($nseg)" test "$nseg" -ge 3

# Stop cleanly; the sums are the same, and the same again after a restart.
for p in "${FIXTURE_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
for p in "${FIXTURE_PIDS[@]}"; do wait "$p" 2>/dev/null; done
FIXTURE_PIDS=()
"$LOGSUM" --no-header "$TMP/broker" >"$TMP/s1"
check "stopped broker: same lines as while running" bash -c "tail -n +2 '$TMP/live' | cmp -s - '$TMP/s1'"
(cd "$TMP/broker" && find . -type f -exec md5sum {} + | sort -k2) >"$TMP/md5.before"
"$LOGSUM" --no-header "$TMP/broker" >"$TMP/s2"
(cd "$TMP/broker" && find . -type f -exec md5sum {} + | sort -k2) >"$TMP/md5.after"
check "deterministic" cmp -s "$TMP/s1" "$TMP/s2"
check "read-only: no file of the data directory changed" cmp -s "$TMP/md5.before" "$TMP/md5.after"
check "the store root works as well as storePathRootDir" \
  bash -c "'$LOGSUM' --no-header '$TMP/broker/queues' | cmp -s - '$TMP/s1'"

# Damage: one byte in the middle of the first (closed) segment of queue 0.
cp -a "$TMP/broker" "$TMP/closed"
seg="$(ls "$TMP/closed/queues/ls/0/"*.log | head -n 1)"
printf '\x5a' | dd of="$seg" bs=1 seek=20000 conv=notrunc 2>/dev/null
"$LOGSUM" --no-header "$TMP/closed" >"$TMP/s3"
rc=$?
check "a bad byte in a closed segment: exit 2" test "$rc" = 2
check "... and queue 0 reported damaged" grep -q '^ls 0 .* damaged:' "$TMP/s3"
check "... queue 1 untouched" bash -c "grep '^ls 1 ' '$TMP/s1' | cmp -s - <(grep '^ls 1 ' '$TMP/s3')"

# Damage in the active (last) segment: a tail, as recovery would cut it.
cp -a "$TMP/broker" "$TMP/active"
seg="$(ls "$TMP/active/queues/ls/0/"*.log | tail -n 1)"
# Byte 100: inside the segment's first unit (the header is 32 bytes; the file
# may be preallocated past its data, so not "the middle of the file").
printf '\x5a' | dd of="$seg" bs=1 seek=100 conv=notrunc 2>/dev/null
"$LOGSUM" --no-header "$TMP/active" >"$TMP/s4"
rc=$?
check "a bad byte in the active segment: exit 0, state tail" bash -c "[ $rc = 0 ] && grep -q '^ls 0 .* tail\$' '$TMP/s4'"
check "... fewer messages counted than stored" bash -c "[ \$(awk '\$1 == \"ls\" && \$2 == 0 { print \$5 }' '$TMP/s4') -lt 3000 ]"

check "missing directory: exit 1" bash -c "'$LOGSUM' '$TMP/nope' >/dev/null 2>&1; [ \$? = 1 ]"
check "no argument: usage, exit 64" bash -c "'$LOGSUM' >/dev/null 2>&1; [ \$? = 64 ]"
fixture_finish

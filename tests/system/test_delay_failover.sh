#!/usr/bin/env bash
# System: delayed messages on a broker group of three Raft members
# (broker/DELAY.md). Two batches are sent with TIMER_DELIVER_MS: A due in 6 s,
# B due in 11 s. The leader is killed with kill -9 at A's due time; a new
# leader is elected. Every message of A and B is then delivered exactly once
# (none lost, none doubled), none before its due time, and both within a
# tolerance that covers the election; the killed member restarts and nothing
# is delivered again.
set -uo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/integration/tern_fixture.sh
. tests/integration/tern_fixture.sh
# shellcheck source=tests/system/raft_fixture.sh
. tests/system/raft_fixture.sh

N=300
TOPIC=delayed

raft_group
L1="$(raft_leader)"
check "a leader is elected and registered as brokerId 0" test -n "$L1"
t_run 30 "$TERN" topic create --topic "$TOPIC" --queues 2 >/dev/null 2>&1
sleep 1

now_ms() { date +%s%3N; }
T0=$(now_ms)
DUE_A=$((T0 + 6000))
DUE_B=$((T0 + 11000))
seq 1 "$N" | sed 's/^/a-/' | t_run 30 "$TERN" produce --topic "$TOPIC" --deliver-at "$DUE_A" --window 100 \
  >"$TMP/acks_a" 2>"$TMP/produce_a.err"
check "batch A ($N, due in 6 s) acknowledged" test "$(wc -l <"$TMP/acks_a")" = "$N"
seq 1 "$N" | sed 's/^/b-/' | t_run 30 "$TERN" produce --topic "$TOPIC" --deliver-at "$DUE_B" --window 100 \
  >"$TMP/acks_b" 2>"$TMP/produce_b.err"
check "batch B ($N, due in 11 s) acknowledged" test "$(wc -l <"$TMP/acks_b")" = "$N"
check "sending took less than 5 s (A still pending)" test $(($(now_ms) - T0)) -lt 5000

# kill -9 the leader just before A's due time: the new leader delivers A and B.
while [ "$(now_ms)" -lt $((DUE_A - 200)) ]; do sleep 0.02; done
K="$(raft_member_of "$L1")"
kill -9 "${BPID[$K]}"
L2="$(raft_leader "$L1")"
check "a new leader is elected after kill -9 of the old one" test -n "$L2"

# Wait for B's time, then consume everything.
while [ "$(now_ms)" -lt $((DUE_B + 2000)) ]; do sleep 0.1; done
t_run 120 "$TERN" consume --topic "$TOPIC" --group checker --from first --max 100000 --idle-exit 5 \
  --format json >"$TMP/got" 2>"$TMP/consume.err"
awk '{ s = $0; sub(/.*"storeTimestamp":/, "", s); sub(/,.*/, "", s)
       b = $0; sub(/.*"body":"/, "", b); sub(/"}$/, "", b)
       print b " " s }' "$TMP/got" >"$TMP/fields"
cut -d' ' -f1 "$TMP/fields" | sort >"$TMP/consumed"
{ seq 1 "$N" | sed 's/^/a-/'; seq 1 "$N" | sed 's/^/b-/'; } | sort >"$TMP/sent"
check "every delayed message delivered ($(sort -u "$TMP/consumed" | wc -l) of $((2 * N)))" \
  bash -c "[ -z \"\$(comm -23 '$TMP/sent' <(sort -u '$TMP/consumed'))\" ]"
dups=$(uniq -d "$TMP/consumed" | wc -l)
check "no message delivered twice ($dups doubled)" test "$dups" = 0
check "nothing delivered that was never sent" bash -c "[ -z \"\$(comm -13 '$TMP/sent' <(sort -u '$TMP/consumed'))\" ]"
early=$(awk -v a="$DUE_A" -v b="$DUE_B" '{ due = substr($1, 1, 1) == "a" ? a : b; if ($2 < due) n++ } END { print n + 0 }' "$TMP/fields")
check "none stored in its topic before its due time ($early early)" test "$early" = 0
lateA=$(awk -v a="$DUE_A" 'substr($1, 1, 1) == "a" { l = $2 - a; if (l > m) m = l } END { print m + 0 }' "$TMP/fields")
lateB=$(awk -v b="$DUE_B" 'substr($1, 1, 1) == "b" { l = $2 - b; if (l > m) m = l } END { print m + 0 }' "$TMP/fields")
echo "# latest delivery after due time: A ${lateA} ms (leader killed 200 ms before it), B ${lateB} ms"
check "A delivered within 8 s of its due time despite the failover" test "$lateA" -le 8000
check "B delivered within 3 s of its due time by the new leader" test "$lateB" -le 3000

# The killed member restarts and replays its log: still nothing doubled.
raft_start "$K"
sleep 4
t_run 120 "$TERN" consume --topic "$TOPIC" --group checker2 --from first --max 100000 --idle-exit 5 \
  --format json >"$TMP/got2" 2>"$TMP/consume2.err"
check "after the old leader restarts: still $((2 * N)) messages, once each" \
  test "$(sed 's/.*"body":"//' "$TMP/got2" | sort -u | wc -l)" = $((2 * N)) -a "$(wc -l <"$TMP/got2")" = $((2 * N))

for i in 1 2 3; do kill -TERM "${BPID[$i]}" 2>/dev/null; done
fixture_finish

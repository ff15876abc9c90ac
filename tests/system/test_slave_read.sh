#!/usr/bin/env bash
# System: slave reads (slaveReadEnable) on a 3-member Raft group. A consumer
# more than followerReadLag messages behind is sent to a follower by the
# pull answers (suggestWhichBrokerId) and libtern pulls from that member,
# then back to the master once it has caught up. Every message is consumed
# exactly once and in queue order, the offsets committed while pulling from
# followers reach the leader, and a consumer still reading from a follower
# carries on when that follower is killed (-9).
set -uo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/integration/tern_fixture.sh
. tests/integration/tern_fixture.sh
# shellcheck source=tests/system/raft_fixture.sh
. tests/system/raft_fixture.sh

N=6000
RAFT_OPTS=(--set slaveReadEnable=true --set followerReadLag=300)
raft_group
L="$(raft_leader)"
check "a leader is elected" test -n "$L"
check "topic routed" raft_topic "$RAFT_TOPIC" 2

seq 1 "$N" | sed 's/^/sr-/' | t_run 60 "$TERN" produce --topic "$RAFT_TOPIC" >/dev/null 2>"$TMP/p.err"
check "$N sends acknowledged" grep -q "sent $N messages (0 failed)" "$TMP/p.err"

# Small pulls and a slow callback-free drain: the consumer stays behind long
# enough to be sent to a follower.
TERN_LOG=info t_run 90 "$TERN" consume --topic "$RAFT_TOPIC" --group sr --from first --max "$N" \
  --idle-exit 5 --format json >"$TMP/c1.json" 2>"$TMP/c1.log"
check "all $N consumed" test "$(wc -l <"$TMP/c1.json")" -ge "$N"
sed 's/.*"queueId":\([0-9]*\),"queueOffset":\([0-9]*\),.*"body":"\([^"]*\)".*/\1 \2 \3/' "$TMP/c1.json" >"$TMP/c1"
check "each message exactly once" test "$(cut -d' ' -f3 "$TMP/c1" | sort -u | wc -l)" = "$N"
check "no message twice" test "$(wc -l <"$TMP/c1")" = "$N"
check "queue order kept" bash -c "awk '{ if ((\$1 in last) && \$2 != last[\$1] + 1) bad = 1; last[\$1] = \$2 } END { exit bad }' '$TMP/c1'"
check "pulls went to a follower" grep -q 'pulls go to member [123]' "$TMP/c1.log"
check "and back to the master once caught up" grep -q 'pulls go to the master' "$TMP/c1.log"

# Offsets committed while pulling from followers reached the leader.
committed_ok() {
  t_run 10 "$TERN" group offsets --group sr --topic "$RAFT_TOPIC" 2>/dev/null |
    awk -v n="$N" '$1 == "TOTAL" { ok = ($3 == n) } END { exit !ok }'
}
ok=1
for _ in $(seq 1 50); do committed_ok && { ok=0; break; }; sleep 0.2; done
check "the leader holds committed offsets for all $N" test "$ok" = 0

# A consumer sent to a follower that then dies carries on elsewhere.
seq 1 "$N" | sed 's/^/sr2-/' | t_run 60 "$TERN" produce --topic "$RAFT_TOPIC" >/dev/null 2>"$TMP/p2.err"
check "$N more acknowledged" grep -q "sent $N messages (0 failed)" "$TMP/p2.err"
TERN_LOG=info t_run 90 "$TERN" consume --topic "$RAFT_TOPIC" --group sr2 --from first --max $((2 * N)) \
  --idle-exit 8 --format json >"$TMP/c2.json" 2>"$TMP/c2.log" &
C2=$!
for _ in $(seq 1 100); do grep -q 'pulls go to member' "$TMP/c2.log" && break; sleep 0.05; done
victim="$(sed -n 's/.*pulls go to member \([123]\).*/\1/p' "$TMP/c2.log" | head -n 1)"
check "the second consumer reads from a follower" test -n "$victim"
[ -n "$victim" ] && kill -9 "${BPID[$victim]}"
wait "$C2"
sed 's/.*"body":"\([^"]*\)".*/\1/' "$TMP/c2.json" | sort -u >"$TMP/c2"
check "all $((2 * N)) consumed after the follower died" test "$(wc -l <"$TMP/c2")" = $((2 * N))
fixture_finish

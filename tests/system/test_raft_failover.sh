#!/usr/bin/env bash
# System: a broker group of three tern-broker processes replicated with Raft.
# A producer streams while the leader is killed with kill -9; a new leader is
# elected and registered as brokerId 0; every acknowledged message is then
# consumable, in order per queue; the killed member restarts and catches up,
# and all three replicas end byte-identical per partition.
set -uo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/integration/tern_fixture.sh
. tests/integration/tern_fixture.sh
# shellcheck source=tests/system/raft_fixture.sh
. tests/system/raft_fixture.sh

N=6000
TOPIC=failover

raft_group
L1="$(raft_leader)"
check "a leader is elected and registered as brokerId 0" test -n "$L1"
t_run 30 "$TERN" topic create --topic "$TOPIC" --queues 4 >/dev/null 2>&1
check "topic created through the replicated log" bash -c "t_run() { timeout 10 \"\$@\"; }; $TERN topic route --topic $TOPIC | grep -q broker-a"

# Stream N numbered lines; kill -9 the leader a moment after the start.
seq 1 "$N" | sed 's/^/msg-/' >"$TMP/in"
# One send at a time keeps the stream going for several seconds.
t_run 120 "$TERN" produce --topic "$TOPIC" --window 1 <"$TMP/in" >"$TMP/acks" 2>"$TMP/produce.err" &
PROD=$!
wait_lines "$TMP/acks" 100 60
K="$(raft_member_of "$L1")"
kill -9 "${BPID[$K]}"
acked_at_kill=$(wc -l <"$TMP/acks")
wait "$PROD"
check "the kill hit a running stream ($acked_at_kill of $N acknowledged before it)" \
  test "$acked_at_kill" -gt 0 -a "$acked_at_kill" -lt "$N"
L2="$(raft_leader "$L1")"
check "a new leader is elected after kill -9 of the old one" test -n "$L2"

# Acknowledged = input lines without a "line N:" error (results come in input order).
grep -o 'line [0-9]*' "$TMP/produce.err" | awk '{ print $2 }' | sort -n -u >"$TMP/failed_lines" || true
awk 'FILENAME == ARGV[1] { bad[$1] = 1; next } !(FNR in bad)' "$TMP/failed_lines" "$TMP/in" | sort >"$TMP/acked"
acked=$(wc -l <"$TMP/acked")
check "libtern followed the new leader: every send acknowledged ($acked of $N)" test "$acked" = "$N"
check "result lines = acknowledged sends" test "$(wc -l <"$TMP/acks")" = "$acked"

t_run 120 "$TERN" consume --topic "$TOPIC" --group checker --from first --max 100000 --idle-exit 5 \
  --format json >"$TMP/got" 2>"$TMP/consume.err"
awk '{ q = $0; sub(/.*"queueId":/, "", q); sub(/,.*/, "", q)
       o = $0; sub(/.*"queueOffset":/, "", o); sub(/,.*/, "", o)
       b = $0; sub(/.*"body":"/, "", b); sub(/"}$/, "", b)
       print q "|" o "|" b }' "$TMP/got" >"$TMP/fields"
cut -d'|' -f3 "$TMP/fields" | sort >"$TMP/consumed"
check "every acknowledged message is consumed" bash -c "[ -z \"\$(comm -23 '$TMP/acked' <(sort -u '$TMP/consumed'))\" ]"
dups=$(uniq -d "$TMP/consumed" | wc -l)
echo "# consumed $(wc -l <"$TMP/consumed") messages, $dups duplicated by producer retries (at-least-once)"
check "nothing consumed that was never sent" bash -c "[ -z \"\$(comm -13 <(sort -u '$TMP/in') <(sort -u '$TMP/consumed'))\" ]"
check "per queue: contiguous offsets, message numbers increasing (repeats of a retried send aside)" bash -c "
  sort -t'|' -k1,1n -k2,2n '$TMP/fields' | awk -F'|' '
    NR == 1 || \$1 != q { q = \$1; want = 0; last = -1 }
    { n = substr(\$3, 5) + 0
      if (\$2 + 0 != want) exit 1
      want++
      if (n in seen) next
      seen[n] = 1
      if (n <= last) exit 1
      last = n }'"

# The killed member restarts and catches up; replicas end byte-identical.
raft_start "$K"
check "after the restart all three replicas hold byte-identical partitions" raft_converge "$TOPIC" 4 100

# Clean shutdown of every member.
for i in 1 2 3; do kill -TERM "${BPID[$i]}" 2>/dev/null; done
clean=1
for i in 1 2 3; do
  if [ "$i" != "$K" ] || true; then
    wait "${BPID[$i]}" 2>/dev/null
    rc=$?
    [ "$i" = "$K" ] && continue
    [ "$rc" = 0 ] || clean=0
  fi
done
check "members exit cleanly on SIGTERM" test "$clean" = 1
fixture_finish

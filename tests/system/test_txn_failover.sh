#!/usr/bin/env bash
# System: transactional half messages on a broker group of three tern-broker
# processes replicated with Raft (broker/TRANSACTIONS.md §4). A burst of 20000
# commits all become visible (ENDs racing their half message's write wait
# for it). Before a kill -9
# of the leader: one transaction committed, one rolled back, one left unknown
# by a producer that exits. After the failover a new producer of the same
# group answers check-backs with commit. Proves: the committed message is
# visible exactly once (the new leader knows it was decided: a re-check would
# be committed again by the new producer), the rolled-back one never (same
# reason), and the undecided one is checked back by the new leader and then
# visible exactly once. The killed member restarts and rejoins.
set -uo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/integration/tern_fixture.sh
. tests/integration/tern_fixture.sh
# shellcheck source=tests/system/raft_fixture.sh
. tests/system/raft_fixture.sh

TOPIC=txnfail
GROUP=txn-failover-group

RAFT_OPTS=(--set transactionTimeOut=3s --set transactionCheckInterval=2s)
raft_group
L1="$(raft_leader)"
check "a leader is elected and registered as brokerId 0" test -n "$L1"
raft_topic "$TOPIC" 1 0.2

# A burst of commits: each END arrives right behind its half message's ack,
# often before the leader has written that half message (then it waits).
t_run 30 "$TERN" topic create --topic txnburst --queues 4 >/dev/null 2>&1
t_run 120 "$TERN" produce --topic txnburst --group "$GROUP" --txn commit --count 20000 --window 256 \
  >"$TMP/burst.out" 2>&1
burst=0
for _ in $(seq 1 100); do
  burst="$(t_run 10 "$TERN" group offsets --group none --topic txnburst 2>/dev/null | awk '$1 == "TOTAL" { print $4 }')"
  [ "${burst:-0}" = 20000 ] && break
  sleep 0.1
done
check "a burst of 20000 committed transactions: all 20000 visible ($burst)" test "${burst:-0}" = 20000
check "no END_TRANSACTION of the burst was refused" bash -c "! grep -q 'END_TRANSACTION refused' '$TMP'/b*.log"

echo committed-1 | t_run 30 "$TERN" produce --topic "$TOPIC" --group "$GROUP" --txn commit >"$TMP/c.out" 2>&1
check "committed transaction acknowledged" grep -q "msgId=" "$TMP/c.out"
echo rolled-1 | t_run 30 "$TERN" produce --topic "$TOPIC" --group "$GROUP" --txn rollback >"$TMP/r.out" 2>&1
check "rolled-back transaction acknowledged" grep -q "msgId=" "$TMP/r.out"
# Unknown, and the producer leaves at once: nobody can answer a check yet.
echo undecided-1 | t_run 30 "$TERN" produce --topic "$TOPIC" --group "$GROUP" --txn unknown --txn-wait 0 \
  >"$TMP/u.out" 2>&1
check "undecided half message acknowledged" grep -q "msgId=" "$TMP/u.out"

t_run 20 "$TERN" consume --topic "$TOPIC" --group before --from first --idle-exit 2 >"$TMP/before" 2>/dev/null
check "before the failover only the committed message is visible" \
  test "$(cat "$TMP/before")" = "committed-1"

K="$(raft_member_of "$L1")"
kill -9 "${BPID[$K]}"
L2="$(raft_leader "$L1")"
check "a new leader is elected after kill -9 of the old one" test -n "$L2"

# A new producer of the group; it answers every check-back with commit and
# stays until it answered one (or 25 s pass).
echo p2-own | t_run 60 "$TERN" produce --topic "$TOPIC" --group "$GROUP" --txn unknown --txn-wait 25000 \
  >"$TMP/p2.out" 2>"$TMP/p2.err"
check "the new producer answered a check-back from the new leader" grep -q "answered [1-9]" "$TMP/p2.err"

t_run 30 "$TERN" consume --topic "$TOPIC" --group after --from first --idle-exit 3 >"$TMP/after" 2>/dev/null
check "committed before the kill: visible exactly once after it" test "$(grep -c '^committed-1$' "$TMP/after")" = 1
check "rolled back before the kill: never visible" test "$(grep -c '^rolled-1$' "$TMP/after")" = 0
check "undecided at the kill: checked by the new leader, visible exactly once" \
  test "$(grep -c '^undecided-1$' "$TMP/after")" = 1
check "the new leader logged no malformed transaction command" \
  bash -c "! grep -q 'malformed .*\(PREPARE\|END\|CHECK\)' '$TMP'/b*.log"

# The killed member restarts from its log and rejoins.
raft_start "$K"
sleep 3
check "the killed member restarts and stays up" kill -0 "${BPID[$K]}"

for i in 1 2 3; do kill -TERM "${BPID[$i]}" 2>/dev/null; done
clean=1
for i in 1 2 3; do
  wait "${BPID[$i]}" 2>/dev/null
  rc=$?
  [ "$i" = "$K" ] || [ "$rc" = 0 ] || clean=0
done
check "members exit cleanly on SIGTERM" test "$clean" = 1
for i in 1 2 3; do
  check "member $i wrote its transaction table at shutdown" test -s "$TMP/b$i/txn.bin"
done

# Whole-group restart from the table files and the log: p2-own is still
# undecided (its producer left after one answer) and must be checked again.
for i in 1 2 3; do raft_start "$i"; done
L3="$(raft_leader)"
check "the group restarts and elects a leader" test -n "$L3"
check "every member loaded its transaction table" \
  bash -c "for i in 1 2 3; do tail -n 40 '$TMP'/b\$i.log | grep -q 'open transactions loaded' || exit 1; done"
echo p3-own | t_run 60 "$TERN" produce --topic "$TOPIC" --group "$GROUP" --txn commit >/dev/null 2>&1
echo p4-own | t_run 60 "$TERN" produce --topic "$TOPIC" --group "$GROUP" --txn unknown --txn-wait 25000 \
  >/dev/null 2>"$TMP/p4.err"
check "after the restart a check-back is answered" grep -q "answered [1-9]" "$TMP/p4.err"
t_run 30 "$TERN" consume --topic "$TOPIC" --group restarted --from first --idle-exit 3 >"$TMP/restarted" 2>/dev/null
check "after the restart: p2-own resolved by check-back, visible exactly once" \
  test "$(grep -c '^p2-own$' "$TMP/restarted")" = 1
check "after the restart: committed-1 and undecided-1 still exactly once, rolled-1 never" \
  test "$(grep -c '^committed-1$' "$TMP/restarted")$(grep -c '^undecided-1$' "$TMP/restarted")$(grep -c '^rolled-1$' "$TMP/restarted")" = 110
for i in 1 2 3; do kill -TERM "${BPID[$i]}" 2>/dev/null; done
for i in 1 2 3; do wait "${BPID[$i]}" 2>/dev/null; done
fixture_finish

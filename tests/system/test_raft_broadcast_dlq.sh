#!/usr/bin/env bash
# System: broadcasting and dead letters on a broker group of three tern-broker
# processes replicated with Raft (the single-broker versions are
# tests/integration/test_broadcast.sh and test_cli_retry.sh).
#  Broadcast: three subscribers of one group each receive every message once;
#  the leader is killed (-9) and more messages are produced through the
#  failover; each subscriber, restarted from its local offsets file, then gets
#  exactly the new messages once. The killed member rejoins.
#  Dead letters: a message failing on every delivery is sent back through the
#  new leader (CONSUMER_SEND_MSG_BACK, replicated), comes back from
#  %RETRY%<group> with reconsumeTimes 1..3, and lands in %DLQ%<group>, where a
#  consumer reads it; the group's offset moves past it and every member ends
#  with identical partition bytes.
set -uo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/integration/tern_fixture.sh
. tests/integration/tern_fixture.sh
# shellcheck source=tests/system/raft_fixture.sh
. tests/system/raft_fixture.sh

RAFT_OPTS=(--set "messageDelayLevel=1s 1s 1s 1s 1s")
raft_group
L1="$(raft_leader)"
check "a leader is elected and registered as brokerId 0" test -n "$L1"
raft_topic bcast 4
check "topic bcast routed" test $? = 0

member() { # member N output-file
  t_run 120 "$TERN" consume --topic bcast --group bg --broadcast --offsets-file "$TMP/off$1" \
    --from first --idle-exit 5 >"$2" 2>"$TMP/m$1.err"
}
seq 1 300 | sed 's/^/a-/' >"$TMP/first"
seq 1 200 | sed 's/^/b-/' >"$TMP/second"
t_run 60 "$TERN" produce --topic bcast <"$TMP/first" >/dev/null 2>"$TMP/p1.err"
check "300 messages produced" grep -q "sent 300 messages (0 failed)" "$TMP/p1.err"
for i in 1 2 3; do member "$i" "$TMP/got$i" & MPID[$i]=$!; done
for i in 1 2 3; do wait "${MPID[$i]}"; done
for i in 1 2 3; do
  check "subscriber $i received every message exactly once ($(wc -l <"$TMP/got$i") lines)" \
    cmp -s <(sort "$TMP/got$i") <(sort "$TMP/first")
done

# Kill the leader; the next 200 go through the failover (libtern retries).
K="$(raft_member_of "$L1")"
kill -9 "${BPID[$K]}"
wait "${BPID[$K]}" 2>/dev/null
t_run 90 "$TERN" produce --topic bcast <"$TMP/second" >/dev/null 2>"$TMP/p2.err"
check "200 more produced through the failover" grep -q "sent 200 messages (0 failed)" "$TMP/p2.err"
L2="$(raft_leader "$L1")"
check "a new leader ($L2) replaced the killed one ($L1)" test -n "$L2"
raft_start "$K"
for i in 1 2 3; do member "$i" "$TMP/again$i" & MPID[$i]=$!; done
for i in 1 2 3; do wait "${MPID[$i]}"; done
for i in 1 2 3; do
  check "subscriber $i resumed from its file: only the 200 new ones, each once ($(wc -l <"$TMP/again$i") lines)" \
    cmp -s <(sort "$TMP/again$i") <(sort "$TMP/second")
  check "subscriber $i's offsets file sums to 500" \
    test "$(awk '{ s += $4 } END { print s }' "$TMP/off$i" 2>/dev/null)" = 500
done

# ---- dead letters through the replicated send-back ------------------------------
raft_topic dlqt 1
printf 'good-1\n' | t_run 60 "$TERN" produce --topic dlqt --tag ok >/dev/null 2>&1
printf 'bad\n' | t_run 60 "$TERN" produce --topic dlqt --tag poison >/dev/null 2>&1
printf 'good-2\n' | t_run 60 "$TERN" produce --topic dlqt --tag ok >/dev/null 2>&1
t_run 90 "$TERN" consume --topic dlqt --group cg-poison --from first --format json \
  --fail-tag poison --max-reconsume 3 --idle-exit 8 >"$TMP/out1" 2>"$TMP/err1"
check "consume exits 0" test $? = 0
check "the good messages are printed once each" test "$(grep -c '"body":"good-' "$TMP/out1")" = 2
check "the poison message is never printed" bash -c "! grep -q '\"body\":\"bad\"' '$TMP/out1'"
check "it failed with reconsumeTimes 0,1,2,3" \
  test "$(grep -o "failing .* (topic [^,]*, reconsumeTimes [0-9]*)" "$TMP/err1" | sed 's/.*reconsumeTimes \([0-9]*\).*/\1/' | tr '\n' ',')" = "0,1,2,3,"
# As in RocketMQ the dead-letter topic is created write-only (perm 2); an
# operator makes it readable by updating the topic (mqadmin updateTopic -p 6).
t_run 30 "$TERN" topic create --topic "%DLQ%cg-poison" --queues 1 >/dev/null 2>&1
check "the dead-letter topic is made readable" test $? = 0
t_run 60 "$TERN" consume --topic "%DLQ%cg-poison" --group dlq-reader --from first --format json \
  --idle-exit 4 >"$TMP/dlq" 2>"$TMP/dlq.err"
check "the dead-letter queue holds the poison message once ($(grep -c '"body":"bad"' "$TMP/dlq") times)" \
  test "$(grep -c '"body":"bad"' "$TMP/dlq")" = 1
t_run 20 "$TERN" group offsets --group cg-poison --topic dlqt >"$TMP/offs" 2>&1
check "the group's offset moved past all three" grep -Eq '^broker-a +0 +3 +3 +0' "$TMP/offs"
check "all members hold the same bytes of the dead-letter topic" raft_converge "%DLQ%cg-poison" 1 100
for i in 1 2 3; do
  check "member $i stored the dead letter" \
    bash -c "cat '$TMP/b$i/queues/%DLQ%cg-poison/0/'*.log 2>/dev/null | tr -d '\\000' | grep -aq bad"
done
check "and of the retry topic" raft_converge "%RETRY%cg-poison" 1 100
fixture_finish

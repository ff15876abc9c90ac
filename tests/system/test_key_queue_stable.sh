#!/usr/bin/env bash
# System: a sharding key keeps its queue across failures. A topic spans a
# 3-member Raft group (broker-a) and a single broker (broker-b); keyed
# producers stream while broker-a's leader is killed (-9: its group has no
# master until a new leader registers) and then broker-b is killed and
# restarted (it leaves the route entirely). libtern hashes keys over the
# topic's queues whether or not their broker has a master now, and keeps a
# broker missing from the route in that list for a grace period, so a send
# whose queue has no master waits instead of moving to another queue (which
# would let a consumer see the key's messages out of order). Checks: nothing
# acknowledged is lost, and every key's messages are in exactly one queue.
set -uo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/integration/tern_fixture.sh
. tests/integration/tern_fixture.sh
# shellcheck source=tests/system/raft_fixture.sh
. tests/system/raft_fixture.sh

K=8
RAFT_OPTS=(--set registerNameServerPeriod=5s)
raft_group
check "broker-a elects a leader" raft_leader >/dev/null

BB_PORT="$(free_broker_port)"
start_bb() {
  "$BIN/tern-broker" --set brokerName=broker-b --set "listenPort=$BB_PORT" --set listenHost=127.0.0.1 \
    --set brokerIP1=127.0.0.1 --set "storePathRootDir=$TMP/bb" --set "namesrvAddr=$TERN_NAMESRV" \
    --set diskMinFreeBytes=0 --set registerNameServerPeriod=5s >>"$TMP/bb.log" 2>&1 &
  BB=$!
  FIXTURE_PIDS+=("$BB")
}
start_bb
for _ in $(seq 1 100); do
  t_run 5 "$TERN" cluster 2>/dev/null | grep -q broker-b && break
  sleep 0.2
done
t_run 30 "$TERN" topic create --topic "$RAFT_TOPIC" --queues 4 >/dev/null 2>&1
for _ in $(seq 1 100); do
  r="$(t_run 5 "$TERN" topic route --topic "$RAFT_TOPIC" 2>/dev/null)"
  grep -q broker-a <<<"$r" && grep -q broker-b <<<"$r" && break
  sleep 0.2
done
check "the topic spans both brokers" grep -q broker-b <<<"$r"

keyed_start "$K" "$RAFT_TOPIC" 0.02
wait_lines "$TMP/ack1" 50 30

# broker-a's routed master (raft_leader would list broker-b's too).
a_leader() {
  t_run 5 "$TERN" cluster 2>/dev/null | awk -v not="${1:-none}" '$2 == "broker-a" && $3 == 0 && $5 != not { print $5 }'
}
leader=""
for _ in $(seq 1 100); do leader="$(a_leader)"; [ -n "$leader" ] && break; sleep 0.1; done
m="$(raft_member_of "$leader")"
check "found broker-a's leader (member $m)" test -n "$m"
[ -n "$m" ] && kill -9 "${BPID[$m]}"
for _ in $(seq 1 150); do [ -n "$(a_leader "$leader")" ] && break; sleep 0.1; done
check "broker-a elected a new leader" test -n "$(a_leader "$leader")"
sleep 2
kill -9 "$BB"; wait "$BB" 2>/dev/null
sleep 3
start_bb
sleep 4
keyed_wait "$K"

t_run 120 "$TERN" consume --topic "$RAFT_TOPIC" --group stable --from first --idle-exit 5 \
  --format json >"$TMP/c.json" 2>"$TMP/c.err"
# body broker/queue
sed 's/.*"brokerName":"\([^"]*\)","queueId":\([0-9]*\),.*"body":"\([^"]*\)".*/\3 \1\/\2/' "$TMP/c.json" >"$TMP/got"
keyed_acked "$K" | sort -u >"$TMP/acked"
echo "# acknowledged $(wc -l <"$TMP/acked"), consumed $(wc -l <"$TMP/got"), refused $(cat "$TMP"/failed* | wc -l)"
check "some sends acknowledged after both faults" test "$(wc -l <"$TMP/acked")" -gt $((K * 200))
check "nothing acknowledged is lost" test -z "$(comm -23 "$TMP/acked" <(cut -d' ' -f1 "$TMP/got" | sort -u))"
awk '{ split($1, f, ":"); print f[1], $2 }' "$TMP/got" | sort -u | awk '{ n[$1]++ } END { for (k in n) print k, n[k] }' >"$TMP/queues_per_key"
check "every key's messages are in one queue" bash -c "awk '\$2 != 1 { bad = 1; print \"key \" \$1 \": \" \$2 \" queues\" > \"/dev/stderr\" } END { exit bad }' '$TMP/queues_per_key'"
check "all $K keys seen" test "$(wc -l <"$TMP/queues_per_key")" = "$K"
fixture_finish

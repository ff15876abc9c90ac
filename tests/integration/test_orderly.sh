#!/usr/bin/env bash
# Integration: orderly consumption on one broker with real processes.
# Producers send K keys x M numbered messages with `tern produce --key`
# (sharding key: one queue per key), one send at a time per key. An orderly
# consumer (`tern consume --orderly`) starts alone and owns all 8 queues; a
# second member joins mid-stream and the first must release half its queues
# within 5 s (NOTIFY_CONSUMER_IDS_CHANGED, not the 20 s timer); a third joins
# later (the same join reaction is then measured for a plain group). The checker (orderly_check.awk) asserts: every acknowledged message
# consumed, per-key order within each consumer, and - with no failure
# injected - no rewind and no duplicate (the offset commit precedes the
# unlock, so the next owner starts exactly after the last delivery).
set -uo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/integration/tern_fixture.sh
. tests/integration/tern_fixture.sh

K=16
M=200
TOPIC=ordered
GROUP=og
fixture_start
export TERN_NAMESRV="$NS"
t_run 20 "$TERN" topic create --topic "$TOPIC" --queues 8 >/dev/null 2>&1
check "topic with 8 queues" bash -c "'$TERN' topic route --topic $TOPIC | grep -q broker-a"

start_consumer() {
  TERN_LOG=info t_run 180 "$TERN" consume --topic "$TOPIC" --group "$GROUP" --orderly --from first \
    --idle-exit 10 --format json >"$TMP/c$1.json" 2>"$TMP/c$1.log" &
  CPID[$1]=$!
}
count() { grep -c "$1" "$2" 2>/dev/null || true; }
now_ms() { date +%s%3N; }

declare -a CPID
start_consumer 1
for _ in $(seq 1 100); do
  [ "$(count acquired "$TMP/c1.log")" -ge 8 ] && break
  sleep 0.1
done
check "the first member acquires all 8 queues" test "$(count acquired "$TMP/c1.log")" -ge 8

# Producers: one process per key, each waiting for every acknowledgement.
declare -a PPID_
for k in $(seq 1 "$K"); do
  seq 1 "$M" | sed "s/^/k$k:/" >"$TMP/in$k"
  # Paced (a line every ~25 ms) so members join while the stream runs.
  (while read -r l; do echo "$l"; sleep 0.025; done <"$TMP/in$k") |
    t_run 150 "$TERN" produce --topic "$TOPIC" --key "k$k" --window 1 >"$TMP/ack$k" 2>"$TMP/perr$k" &
  PPID_[$k]=$!
done
# Let the stream run, then a second member joins.
for _ in $(seq 1 100); do
  [ "$(wc -l <"$TMP/c1.json")" -ge $((K * M / 5)) ] && break
  sleep 0.05
done
check "the join happens mid-stream" test "$(wc -l <"$TMP/c1.json")" -lt $((K * M / 2))
t0=$(now_ms)
start_consumer 2
released=0
for _ in $(seq 1 100); do
  released=$(count released "$TMP/c1.log")
  [ "$released" -ge 4 ] && break
  sleep 0.05
done
t1=$(now_ms)
echo "# first member released $released queues $((t1 - t0)) ms after the second started"
check "the first member releases half its queues within 5 s of a join ($((t1 - t0)) ms)" \
  test "$released" -ge 4 -a $((t1 - t0)) -lt 5000
sleep 1
start_consumer 3
for k in $(seq 1 "$K"); do wait "${PPID_[$k]}"; done
for i in 1 2 3; do wait "${CPID[$i]}"; done

# Acknowledged: result lines of the produce runs (one per acknowledged line, in order).
acked=0
: >"$TMP/check.in"
for k in $(seq 1 "$K"); do
  n=$(grep -c '^broker=' "$TMP/ack$k" || true)
  acked=$((acked + n))
  head -n "$n" "$TMP/in$k" | awk -F: '{ print "ACK", $1, $2 }' >>"$TMP/check.in"
  check "key k$k: every send acknowledged" test "$n" = "$M" -a "$(grep -c 'line [0-9]*:' "$TMP/perr$k")" = 0
done
for i in 1 2 3; do
  sed 's/.*"queueId":\([0-9]*\),"queueOffset":\([0-9]*\),.*"body":"\([^"]*\)".*/\3 \1:\2/' "$TMP/c$i.json" |
    awk -v c="c$i" '{ split($1, f, ":"); print c, f[1], f[2], $2 }' >>"$TMP/check.in"
done
result="$(awk -f tests/integration/orderly_check.awk "$TMP/check.in")"
echo "# $result"
for i in 1 2 3; do echo "# consumer $i delivered $(wc -l <"$TMP/c$i.json")"; done
check "every acknowledged message consumed" grep -q "missing=0 " <<<"$result"
check "per-key order holds within every consumer" grep -q "violations=0 " <<<"$result"
check "no rewind and no duplicate without failures" grep -q "rewinds=0 duplicates=0 " <<<"$result"
check "nothing delivered that was not acknowledged" grep -q "unknown=0 " <<<"$result"
check "all three members consumed something" test -s "$TMP/c2.json" -a -s "$TMP/c3.json"

# The same reaction for a plain (clustering, not orderly) group.
plain() {
  TERN_LOG=info t_run 60 "$TERN" consume --topic "$TOPIC" --group plain --from first --idle-exit 4 \
    >/dev/null 2>"$TMP/p$1.log" &
  PLAIN[$1]=$!
}
declare -a PLAIN
plain 1
for _ in $(seq 1 100); do
  [ "$(count acquired "$TMP/p1.log")" -ge 8 ] && break
  sleep 0.1
done
t0=$(now_ms)
plain 2
released=0
for _ in $(seq 1 100); do
  released=$(count released "$TMP/p1.log")
  [ "$released" -ge 4 ] && break
  sleep 0.05
done
t1=$(now_ms)
echo "# plain group: first member released $released queues $((t1 - t0)) ms after the second started"
check "a plain group's first member also releases half its queues within 5 s ($((t1 - t0)) ms)" \
  test "$released" -ge 4 -a $((t1 - t0)) -lt 5000
wait "${PLAIN[1]}" "${PLAIN[2]}"
fixture_finish

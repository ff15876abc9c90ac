#!/usr/bin/env bash
# QUERY_MESSAGE by key and by message id, reset-offset with a running
# consumer, and exact tag filtering despite tag-hash collisions, against a
# real name server and broker (docs/CLI.md `tern query`, `tern group
# reset-offset`; broker/STORAGE.md §14). The broker is killed with -9 and
# restarted to show the key index is rebuilt from the partition logs.
set -uo pipefail
. "$(dirname "$0")/tern_fixture.sh"

fixture_start
echo "# name server $NS, broker $BROKER_ADDR, tmp $TMP"
export TERN_NAMESRV="$NS"
now_ms() { date +%s%3N; }

# ---- query by key and by id ---------------------------------------------------
t_run 30 "$TERN" topic create --topic qt --queues 4 >/dev/null 2>&1
seq 1 30 | sed 's/^/one-/' | t_run 30 "$TERN" produce --topic qt --key "order-1 common" --tag a >/dev/null 2>&1
seq 1 5 | sed 's/^/two-/' | t_run 30 "$TERN" produce --topic qt --key "order-2 common" --tag b >"$TMP/sent2" 2>/dev/null
seq 1 200 | t_run 30 "$TERN" produce --topic qt --key "noise" >/dev/null 2>&1
ID3="$(sed -n 3p "$TMP/sent2" | sed 's/.*msgId=//')"

query_checks() {
  local when="$1"
  t_run 30 "$TERN" query --topic qt --key order-2 --format json >"$TMP/q2" 2>/dev/null
  check "$when: key order-2 finds exactly its 5 messages" bash -c \
    "sed 's/.*\"body\":\"\\([^\"]*\\)\".*/\\1/' '$TMP/q2' | sort | cmp -s - <(seq 1 5 | sed 's/^/two-/' | sort)"
  check "$when: every hit carries the key" bash -c "test \$(grep -c '\"keys\":\"order-2 common\"' '$TMP/q2') = 5"
  t_run 30 "$TERN" query --topic qt --key order-1 --max 100 --format json >"$TMP/q1" 2>/dev/null
  check "$when: key order-1 finds its 30 messages" test "$(grep -c '"body":"one-' "$TMP/q1")" = 30
  check "$when: nothing else comes back for order-1" test "$(wc -l <"$TMP/q1")" = 30
  t_run 30 "$TERN" query --topic qt --key common --max 100 --format json >"$TMP/qc" 2>/dev/null
  check "$when: a second KEYS token finds both sets (35)" test "$(wc -l <"$TMP/qc")" = 35
  t_run 30 "$TERN" query --topic qt --key order-1 --max 7 --format json >"$TMP/q7" 2>/dev/null
  check "$when: --max 7 returns 7" test "$(wc -l <"$TMP/q7")" = 7
  t_run 30 "$TERN" query --topic qt --id "$ID3" --format json >"$TMP/qid" 2>/dev/null
  check "$when: --id finds exactly that message" bash -c \
    "test \$(wc -l <'$TMP/qid') = 1 && grep -q '\"msgId\":\"$ID3\".*\"body\":\"two-3\"' '$TMP/qid'"
  t_run 60 "$TERN" query --id "$ID3" --format json >"$TMP/qid2" 2>/dev/null
  check "$when: --id without --topic searches every topic" grep -q "\"msgId\":\"$ID3\"" "$TMP/qid2"
  OID="$(sed 's/.*"offsetMsgId":"\([0-9A-F]*\)".*/\1/' "$TMP/qid")"
  t_run 30 "$TERN" query --id "$OID" --format json >"$TMP/qoid" 2>/dev/null
  check "$when: an offsetMsgId finds the same message (VIEW_MESSAGE_BY_ID)" bash -c \
    "test \$(wc -l <'$TMP/qoid') = 1 && grep -q '\"msgId\":\"$ID3\".*\"body\":\"two-3\"' '$TMP/qoid'"
  t_run 30 "$TERN" query --topic qt --key "$ID3" >/dev/null 2>&1; rc=$?
  check "$when: a message id is not a KEYS token (exit 1)" test "$rc" = 1
  t_run 30 "$TERN" query --topic qt --key absent >/dev/null 2>"$TMP/err"; rc=$?
  check "$when: unknown key exits 1" test "$rc" = 1
  t_run 30 "$TERN" query --topic qt --key order-2 --end 1000 >/dev/null 2>&1; rc=$?
  check "$when: a time window before the messages finds nothing" test "$rc" = 1
}
# Sends are acknowledged after fsync and indexed when visible: no sleep needed.
query_checks "live"
check "query --help prints usage" bash -c "timeout 10 '$TERN' query --help | grep -q '^usage: tern query'"
t_run 10 "$TERN" query --topic qt >/dev/null 2>&1; rc=$?
check "query without --key or --id exits 2" test "$rc" = 2

# ---- restart (kill -9): the index comes back from the partition logs ----------
BPID="${FIXTURE_PIDS[1]}"
kill -9 "$BPID"
wait "$BPID" 2>/dev/null
BPORT="${BROKER_ADDR##*:}"
"$BIN/tern-broker" --set brokerName=broker-a --set brokerId=0 \
  --set "listenPort=$BPORT" --set listenHost=127.0.0.1 --set brokerIP1=127.0.0.1 \
  --set "namesrvAddr=$NS" --set "storePathRootDir=$TMP/broker" \
  --set autoCreateTopicEnable=true --set diskMinFreeBytes=0 >>"$TMP/broker.log" 2>&1 &
FIXTURE_PIDS+=($!)
for _ in $(seq 1 100); do
  t_run 5 "$TERN" topic route --topic qt 2>/dev/null | grep -q "$BROKER_ADDR" && break
  sleep 0.1
done
query_checks "after kill -9 and restart"
check "restart rebuilt the unsealed index files" grep -q "rebuilding key index file" "$TMP/broker.log"

# ---- reset-offset moves a running consumer back in time -----------------------
t_run 30 "$TERN" topic create --topic rt --queues 2 >/dev/null 2>&1
seq 1 20 | sed 's/^/early-/' | t_run 30 "$TERN" produce --topic rt >/dev/null 2>&1
sleep 1.1
T_MID="$(now_ms)"
sleep 0.1
seq 1 20 | sed 's/^/late-/' | t_run 30 "$TERN" produce --topic rt >/dev/null 2>&1
t_run 120 "$TERN" consume --topic rt --group gr --from first --idle-exit 12 >"$TMP/rc" 2>"$TMP/rc.err" &
CPID=$!
for _ in $(seq 1 100); do
  [ "$(wc -l <"$TMP/rc")" -ge 40 ] && break
  sleep 0.1
done
check "consumer got all 40 before the reset" test "$(wc -l <"$TMP/rc")" = 40
t_run 30 "$TERN" group reset-offset --group gr --topic rt --to-time "$T_MID" >"$TMP/reset" 2>&1; rc=$?
check "reset-offset exits 0" test "$rc" = 0
for _ in $(seq 1 100); do
  [ "$(wc -l <"$TMP/rc")" -ge 60 ] && break
  sleep 0.1
done
check "the running consumer received the 20 late messages again" bash -c \
  "grep '^late-' '$TMP/rc' | sort | uniq -c | awk '\$1 != 2 { exit 1 } END { exit NR != 20 }'"
check "and no early message again" test "$(grep -c '^early-' "$TMP/rc")" = 20
kill -0 "$CPID" 2>/dev/null
check "the consumer was not restarted (still the same process)" test $? = 0
wait "$CPID" 2>/dev/null
t_run 30 "$TERN" group offsets --group gr --topic rt >"$TMP/offs" 2>&1
check "committed offsets are back at the end after re-consuming" grep -Eq '^TOTAL +- +40 +40 +0$' "$TMP/offs"
t_run 30 "$TERN" group reset-offset --group gr --topic rt --to-offset earliest >/dev/null 2>&1
t_run 30 "$TERN" group offsets --group gr --topic rt >"$TMP/offs" 2>&1
check "--to-offset earliest commits 0 on every queue (offline group)" grep -Eq '^TOTAL +- +0 +40 +40$' "$TMP/offs"
t_run 30 "$TERN" group reset-offset --group gr --topic rt --to-offset latest >/dev/null 2>&1
t_run 30 "$TERN" group offsets --group gr --topic rt >"$TMP/offs" 2>&1
check "--to-offset latest commits the end" grep -Eq '^TOTAL +- +40 +40 +0$' "$TMP/offs"
t_run 10 "$TERN" group reset-offset --group gr --topic rt >/dev/null 2>&1; rc=$?
check "reset-offset without a target exits 2" test "$rc" = 2

# ---- tags: "Aa" and "BB" share Java's String.hashCode (2112) -------------------
t_run 30 "$TERN" topic create --topic coll --queues 2 >/dev/null 2>&1
for t in Aa BB C; do
  seq 1 25 | sed "s/^/$t-/" | t_run 30 "$TERN" produce --topic coll --tag "$t" >/dev/null 2>&1
done
t_run 60 "$TERN" consume --topic coll --group gc1 --from first --tags Aa --idle-exit 3 >"$TMP/c1" 2>/dev/null
check "--tags Aa gets exactly the 25 Aa messages (no BB despite the equal hash)" \
  bash -c "seq 1 25 | sed 's/^/Aa-/' | sort | cmp -s - <(sort '$TMP/c1')"
t_run 60 "$TERN" consume --topic coll --group gc2 --from first --tags 'BB||C' --idle-exit 3 >"$TMP/c2" 2>/dev/null
check "--tags 'BB||C' gets exactly BB and C (no Aa)" \
  bash -c "{ seq 1 25 | sed 's/^/BB-/'; seq 1 25 | sed 's/^/C-/'; } | sort | cmp -s - <(sort '$TMP/c2')"

fixture_finish

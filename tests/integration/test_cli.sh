#!/usr/bin/env bash
# The `tern` CLI contract against a real name server and broker (docs/CLI.md):
# help and usage errors, cluster, topic create/list/route, produce from stdin
# and with --count, consume back exactly with --max (also split across two
# runs of one group), --format json fields, --tags filtering, group offsets
# showing lag 0 after consumption. Free loopback ports, a temp dir, bounded.
set -uo pipefail
. "$(dirname "$0")/tern_fixture.sh"

fixture_start
echo "# name server $NS, broker $BROKER_ADDR, tmp $TMP"
export TERN_NAMESRV="$NS"

# ---- help and usage ---------------------------------------------------------
check "tern --help exits 0" bash -c "timeout 10 '$TERN' --help >/dev/null"
for c in "cluster" "topic create" "topic list" "topic route" "produce" "consume" "group offsets"; do
  # shellcheck disable=SC2086
  check "tern $c --help prints usage" bash -c "timeout 10 '$TERN' $c --help | grep -q '^usage: tern $c'"
done
t_run 10 "$TERN" produce --bogus >/dev/null 2>"$TMP/err"; rc=$?
check "unknown option exits 2" test "$rc" = 2
check "unknown option names it on stderr" grep -q -- "--bogus" "$TMP/err"
t_run 10 "$TERN" consume --topic x >/dev/null 2>"$TMP/err"; rc=$?
check "missing --group exits 2" test "$rc" = 2
t_run 10 "$TERN" nosuchcommand >/dev/null 2>&1; rc=$?
check "unknown command exits 2" test "$rc" = 2
t_run 20 "$TERN" topic list --namesrv 127.0.0.1:1 >/dev/null 2>"$TMP/err"; rc=$?
check "unreachable name server exits 1" test "$rc" = 1
check "unreachable name server explains on stderr" grep -q "tern: " "$TMP/err"

# ---- cluster -----------------------------------------------------------------
t_run 20 "$TERN" cluster >"$TMP/cluster" 2>&1; rc=$?
check "cluster exits 0" test "$rc" = 0
check "cluster lists broker-a id 0 master at its address" \
  grep -Eq "^DefaultCluster +broker-a +0 +master +$BROKER_ADDR\$" "$TMP/cluster"
check "cluster honours --namesrv over TERN_NAMESRV" \
  bash -c "TERN_NAMESRV=127.0.0.1:1 timeout 20 '$TERN' cluster --namesrv '$NS' | grep -q broker-a"

# ---- topics ------------------------------------------------------------------
T=clitest
t_run 30 "$TERN" topic create --topic "$T" --queues 4 >"$TMP/create" 2>&1; rc=$?
check "topic create exits 0" test "$rc" = 0
check "topic create reports 4 queues on broker-a" grep -q "4 queues on broker-a" "$TMP/create"
check "topic list shows the topic" bash -c "timeout 20 '$TERN' topic list | grep -qx '$T'"
t_run 20 "$TERN" topic route --topic "$T" >"$TMP/route" 2>&1
check "topic route shows broker-a with 4/4 queues, rw, master address" \
  grep -Eq "^broker-a +4 +4 +rw- +0 +master +$BROKER_ADDR\$" "$TMP/route"
t_run 20 "$TERN" topic route --topic no-such-topic-xyz >/dev/null 2>"$TMP/err"; rc=$?
check "route of an unknown topic exits 1" test "$rc" = 1
check "route of an unknown topic says so" grep -q "E_TOPIC_NOT_EXIST" "$TMP/err"
t_run 30 "$TERN" topic create --topic other --queues 2 --cluster NoSuchCluster --no-wait >/dev/null 2>&1; rc=$?
check "topic create on an unknown cluster fails" test "$rc" = 1

t_run 20 "$TERN" consume --topic no-such-topic-xyz --group gx --idle-exit 5 >/dev/null 2>"$TMP/err"; rc=$?
check "consume of an unknown topic exits 1 at once" test "$rc" = 1
check "consume of an unknown topic says so" grep -q "E_TOPIC_NOT_EXIST" "$TMP/err"

# ---- produce from stdin, consume back ----------------------------------------
N=500
seq 1 "$N" | sed 's/^/line-/' >"$TMP/in"
t_run 60 "$TERN" produce --topic "$T" <"$TMP/in" >"$TMP/sent" 2>"$TMP/produce.err"; rc=$?
check "produce from stdin exits 0" test "$rc" = 0
check "produce prints one result line per input line" test "$(wc -l <"$TMP/sent")" = "$N"
check "every result line has broker, queue, offset, msgId" \
  bash -c "! grep -Evq '^broker=broker-a queue=[0-3] offset=[0-9]+ msgId=[0-9A-F]{32}\$' '$TMP/sent'"
check "msgIds are unique" test "$(awk '{print $4}' "$TMP/sent" | sort -u | wc -l)" = "$N"
# Per queue, offsets are exactly 0..k-1.
check "queue offsets are dense from 0 in every queue" bash -c "
  for q in 0 1 2 3; do
    grep \"queue=\$q \" '$TMP/sent' | sed 's/.*offset=\([0-9]*\).*/\1/' | sort -n >'$TMP/offs'
    k=\$(wc -l <'$TMP/offs')
    [ \"\$k\" -gt 0 ] || exit 1
    seq 0 \$((k - 1)) | cmp -s - '$TMP/offs' || exit 1
  done"
# Messages from a piped (not regular-file) stdin too.
seq 1 20 | sed 's/^/pipe-/' | t_run 30 "$TERN" produce --topic "$T" >"$TMP/sent2" 2>/dev/null; rc=$?
check "produce from a pipe sends 20" test "$rc:$(wc -l <"$TMP/sent2")" = "0:20"
seq 1 20 | sed 's/^/pipe-/' >>"$TMP/in"
N=$((N + 20))

t_run 60 "$TERN" consume --topic "$T" --group g1 --from first --max "$N" >"$TMP/got" 2>"$TMP/consume.err"; rc=$?
check "consume --max exits 0" test "$rc" = 0
check "consume --max $N returns exactly the produced bodies" \
  bash -c "sort '$TMP/in' >'$TMP/a'; sort '$TMP/got' >'$TMP/b'; cmp -s '$TMP/a' '$TMP/b'"
check "consume prints a summary with the count to stderr" grep -q "consume: $N messages" "$TMP/consume.err"

# Offsets are committed when the consumer closes; lag must be 0.
lag_ok=1
for _ in $(seq 1 50); do
  t_run 20 "$TERN" group offsets --group g1 --topic "$T" >"$TMP/offsets" 2>&1
  if grep -Eq "^TOTAL +- +$N +$N +0\$" "$TMP/offsets"; then lag_ok=0; break; fi
  sleep 0.2
done
check "group offsets after consumption: committed = max = $N, lag 0" test "$lag_ok" = 0
check "group offsets has one row per queue" test "$(grep -c '^broker-a ' "$TMP/offsets")" = 4
t_run 30 "$TERN" consume --topic "$T" --group g1 --from first --idle-exit 2 >"$TMP/again" 2>/dev/null
check "the same group gets nothing more" test "$(wc -l <"$TMP/again")" = 0
t_run 20 "$TERN" group offsets --group never-consumed --topic "$T" >"$TMP/offsets2" 2>&1
check "group without commits shows '-' and full lag" grep -Eq "^TOTAL +- +0 +$N +$N\$" "$TMP/offsets2"
check "group without commits shows '-' per queue" \
  test "$(grep -Ec '^broker-a +[0-3] +- ' "$TMP/offsets2")" = 4

# --from last (the default): a new group sees only messages produced after it started.
t_run 30 "$TERN" consume --topic "$T" --group glast --idle-exit 2 >"$TMP/last0" 2>/dev/null
check "--from last on a new group replays nothing" test "$(wc -l <"$TMP/last0")" = 0
t_run 60 "$TERN" consume --topic "$T" --group glast2 --max 3 --idle-exit 30 >"$TMP/last" 2>/dev/null &
last_pid=$!
# The consumer first pins the group to the queue ends (committed offsets), so
# anything produced after that is after its start.
for _ in $(seq 1 100); do
  t_run 20 "$TERN" group offsets --group glast2 --topic "$T" 2>/dev/null | grep -Eq "^TOTAL +- +$N " && break
  sleep 0.1
done
printf 'late-1\nlate-2\nlate-3\n' | t_run 30 "$TERN" produce --topic "$T" >/dev/null 2>&1
wait "$last_pid"
check "--from last gets exactly the 3 later messages" \
  bash -c "printf 'late-1\nlate-2\nlate-3\n' | cmp -s - <(sort '$TMP/last')"
N=$((N + 3))
printf 'late-1\nlate-2\nlate-3\n' >>"$TMP/in"

# --max is exact: two runs of one group split the messages without loss or duplicates.
sort "$TMP/in" >"$TMP/a"
t_run 60 "$TERN" consume --topic "$T" --group g2 --from first --max 100 >"$TMP/p1" 2>/dev/null
t_run 60 "$TERN" consume --topic "$T" --group g2 --from first --max $((N - 100)) >"$TMP/p2" 2>/dev/null
check "--max 100 prints 100" test "$(wc -l <"$TMP/p1")" = 100
check "a second run continues with the rest, no duplicates" \
  bash -c "sort '$TMP/p1' '$TMP/p2' >'$TMP/b'; cmp -s '$TMP/a' '$TMP/b'"

# ---- produce --count ---------------------------------------------------------
C=3000
t_run 30 "$TERN" topic create --topic counted --queues 4 >/dev/null 2>&1
t_run 120 "$TERN" produce --topic counted --count "$C" --size 100 --window 200 >"$TMP/sum" 2>&1; rc=$?
check "produce --count exits 0" test "$rc" = 0
check "produce --count summary: count, msgs/s, MB/s, p50/p99" \
  grep -Eq "^sent $C messages of 100 bytes to counted in [0-9.]+ s: [0-9]+ msgs/s, [0-9.]+ MB/s; send latency p50 [0-9.]+ ms, p99 [0-9.]+ ms.*; 0 failed\$" "$TMP/sum"
t_run 60 "$TERN" consume --topic counted --group gc --from first --max "$C" >"$TMP/gotc" 2>/dev/null
check "consume gets all $C generated messages, each 100 bytes, sequence numbers unique" bash -c "
  [ \$(wc -l <'$TMP/gotc') = $C ] &&
  [ \$(awk 'length(\$0) != 100' '$TMP/gotc' | wc -l) = 0 ] &&
  cut -c1-10 '$TMP/gotc' | sort -u | awk '{ if (\$1 + 0 != NR - 1) exit 1 } END { exit NR != $C }'"

# ---- --format json -----------------------------------------------------------
t_run 30 "$TERN" topic create --topic jsontest --queues 1 >/dev/null 2>&1
printf '%s\n' 'plain' 'he said "hi" \ ok' >"$TMP/jin"
t_run 30 "$TERN" produce --topic jsontest --key order-7 --tag tA <"$TMP/jin" >"$TMP/jsent" 2>/dev/null
t_run 60 "$TERN" consume --topic jsontest --group gj --from first --max 2 --format json >"$TMP/json" 2>/dev/null
check "json: two lines" test "$(wc -l <"$TMP/json")" = 2
check "json: first object has every field" grep -Eq \
  '^\{"topic":"jsontest","brokerName":"broker-a","queueId":0,"queueOffset":0,"msgId":"[0-9A-F]{32}","keys":"order-7","tags":"tA",.*"body":"plain"\}$' "$TMP/json"
check "json: second is queueOffset 1 with escaped body" grep -Fq \
  '"queueOffset":1,' "$TMP/json"
check "json: quotes and backslash escaped" grep -Fq '"body":"he said \"hi\" \\ ok"}' "$TMP/json"
check "json: msgId matches the one produce printed" \
  grep -q "\"msgId\":\"$(head -n 1 "$TMP/jsent" | sed 's/.*msgId=//')\"" "$TMP/json"
if command -v python3 >/dev/null 2>&1; then
  check "json: every line parses" python3 -c '
import json, sys
for line in open(sys.argv[1]):
    o = json.loads(line)
    assert set(["topic","queueId","queueOffset","msgId","keys","tags","body"]) <= set(o)
' "$TMP/json"
fi

# ---- --tags filtering --------------------------------------------------------
t_run 30 "$TERN" topic create --topic tagged --queues 2 >/dev/null 2>&1
for t in A B C; do
  seq 1 40 | sed "s/^/$t-/" | t_run 30 "$TERN" produce --topic tagged --tag "tag$t" >/dev/null 2>&1
done
t_run 60 "$TERN" consume --topic tagged --group gt --from first --tags 'tagA||tagC' --idle-exit 3 >"$TMP/tags" 2>/dev/null
check "--tags 'tagA||tagC' gets 80 messages" test "$(wc -l <"$TMP/tags")" = 80
check "--tags gets exactly the A and C messages" bash -c "
  { seq 1 40 | sed 's/^/A-/'; seq 1 40 | sed 's/^/C-/'; } | sort >'$TMP/a2'
  sort '$TMP/tags' | cmp -s - '$TMP/a2'"
t_run 60 "$TERN" consume --topic tagged --group gt2 --from first --tags tagB --max 40 >"$TMP/tagsb" 2>/dev/null
check "--tags tagB gets exactly the B messages" \
  bash -c "seq 1 40 | sed 's/^/B-/' | sort | cmp -s - <(sort '$TMP/tagsb')"

fixture_finish

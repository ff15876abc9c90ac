#!/usr/bin/env bash
# System: a member that caught up by snapshot + segment fetch carries the
# transaction table and the delay lanes' cursors and index (REPLICATION.md
# §7, TRANSACTIONS.md, DELAY.md §6), so it can lead. Three members with
# raftSnapshotBytes=16k. Before follower F stops: a delayed batch Z (due
# while F is down) and an undecided transaction u0, both applied on F. While
# F is down: Z is delivered, u0 is checked back and committed by a producer,
# batch A is due and delivered, batch B (due ~25 s later) stays pending,
# transactions are committed, rolled back and one (u1) is left undecided,
# filler traffic makes the leader compact. F restarts (catch-up done), is
# made leader, and must: deliver B exactly once at or after its due time,
# not deliver Z or A again, check u1 back and commit it, not commit u0 again;
# a restart of F then keeps its own state (nothing replaced or rebuilt).
set -uo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/integration/tern_fixture.sh
. tests/integration/tern_fixture.sh

DTOPIC=snapdelay
TTOPIC=snaptxn
GROUP=snapgap-txn
NZ=40
NA=40
NB=100
FILL=${SNAPGAP_FILL:-3000}

"$BIN/tern-namesrv" --port 0 >"$TMP/namesrv.log" 2>&1 &
FIXTURE_PIDS+=($!)
for _ in $(seq 1 100); do
  nsport="$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$TMP/namesrv.log" | head -n 1)"
  [ -n "$nsport" ] && break
  sleep 0.1
done
export TERN_NAMESRV="127.0.0.1:$nsport"

declare -a BPORT RPORT BPID
for i in 1 2 3; do
  BPORT[$i]="$(free_broker_port)"
  RPORT[$i]=$((BPORT[$i] + 1))
done
PEERS="1@127.0.0.1:${RPORT[1]};2@127.0.0.1:${RPORT[2]};3@127.0.0.1:${RPORT[3]}"
start_member() {
  local i=$1
  "$BIN/tern-broker" --set "listenPort=${BPORT[$i]}" --set listenHost=127.0.0.1 --set brokerIP1=127.0.0.1 \
    --set "storePathRootDir=$TMP/b$i" --set "namesrvAddr=$TERN_NAMESRV" --set diskMinFreeBytes=0 \
    --set "raftId=$i" --set "raftAddress=127.0.0.1:${RPORT[$i]}" --set "raftPeers=$PEERS" \
    --set raftSnapshotBytes=16k --set raftCatchupTimeout=60s \
    --set transactionTimeOut=2s --set transactionCheckInterval=2s --set transactionCheckMax=1000 \
    >>"$TMP/b$i.log" 2>&1 &
  BPID[$i]=$!
  FIXTURE_PIDS+=("${BPID[$i]}")
}
for i in 1 2 3; do start_member "$i"; done

leader_addr() {
  local not="${1:-none}" a
  for _ in $(seq 1 150); do
    a="$(t_run 5 "$TERN" cluster 2>/dev/null | awk '$3 == 0 { print $5 }')"
    if [ -n "$a" ] && [ "$a" != "$not" ]; then
      echo "$a"
      return 0
    fi
    sleep 0.1
  done
  return 1
}
now_ms() { date +%s%3N; }
L="$(leader_addr)"
check "a leader is elected and registered as brokerId 0" test -n "$L"
t_run 30 "$TERN" topic create --topic "$DTOPIC" --queues 2 >/dev/null 2>&1
t_run 30 "$TERN" topic create --topic "$TTOPIC" --queues 1 >/dev/null 2>&1
t_run 30 "$TERN" topic create --topic filler --queues 2 >/dev/null 2>&1
sleep 1

F=""
for i in 1 2 3; do
  [ "127.0.0.1:${BPORT[$i]}" != "$L" ] && F=$i
done

# ---- applied on F before it stops --------------------------------------------
T0=$(now_ms)
DUE_Z=$((T0 + 4000))
seq 1 "$NZ" | sed 's/^/z-/' | t_run 30 "$TERN" produce --topic "$DTOPIC" --deliver-at "$DUE_Z" --window 50 \
  >"$TMP/acks_z" 2>&1
check "batch Z ($NZ, due in 4 s) acknowledged" test "$(grep -c msgId= "$TMP/acks_z")" = "$NZ"
echo u0 | t_run 30 "$TERN" produce --topic "$TTOPIC" --group "$GROUP" --txn unknown --txn-wait 0 >"$TMP/u0.out" 2>&1
check "undecided transaction u0 acknowledged" grep -q msgId= "$TMP/u0.out"
sleep 1 # F applies both
kill -9 "${BPID[$F]}"
wait "${BPID[$F]}" 2>/dev/null

# ---- while F is down ---------------------------------------------------------
DUE_A=$((T0 + 5000))
seq 1 "$NA" | sed 's/^/a-/' | t_run 30 "$TERN" produce --topic "$DTOPIC" --deliver-at "$DUE_A" --window 50 \
  >"$TMP/acks_a" 2>&1
check "batch A ($NA, due in 5 s) acknowledged" test "$(grep -c msgId= "$TMP/acks_a")" = "$NA"
# answer_until BODY TAG: a producer of the group answers one check-back with
# commit and leaves (tern produce --txn unknown); its own half message stays
# open. Repeated until BODY is visible (the broker checks the oldest first,
# but another open one may come first), at most 6 times.
answer_until() {
  local k
  for k in 1 2 3 4 5 6; do
    echo "$2-$k" | t_run 60 "$TERN" produce --topic "$TTOPIC" --group "$GROUP" --txn unknown --txn-wait 8000 \
      >"$TMP/$2.out" 2>"$TMP/$2.err"
    grep -q "answered [1-9]" "$TMP/$2.err" || return 1
    t_run 20 "$TERN" consume --topic "$TTOPIC" --group "probe-$2-$k" --from first --idle-exit 2 >"$TMP/$2.probe" 2>/dev/null
    grep -q "^$1\$" "$TMP/$2.probe" && return 0
  done
  return 1
}
# u0 is checked back (every 2 s) by the old leader and committed.
answer_until u0 p1
check "u0 was checked back, answered and committed while F was down" grep -q '^u0$' "$TMP/p1.probe"
for k in 1 2 3; do
  echo "c$k" | t_run 30 "$TERN" produce --topic "$TTOPIC" --group "$GROUP" --txn commit >/dev/null 2>&1
  echo "r$k" | t_run 30 "$TERN" produce --topic "$TTOPIC" --group "$GROUP" --txn rollback >/dev/null 2>&1
done
echo u1 | t_run 30 "$TERN" produce --topic "$TTOPIC" --group "$GROUP" --txn unknown --txn-wait 0 >"$TMP/u1.out" 2>&1
check "undecided transaction u1 acknowledged" grep -q msgId= "$TMP/u1.out"
while [ "$(now_ms)" -lt $((DUE_A + 1500)) ]; do sleep 0.1; done
T1=$(now_ms)
DUE_B=$((T1 + 25000))
seq 1 "$NB" | sed 's/^/b-/' | t_run 30 "$TERN" produce --topic "$DTOPIC" --deliver-at "$DUE_B" --window 50 \
  >"$TMP/acks_b" 2>&1
check "batch B ($NB, due in 25 s) acknowledged" test "$(grep -c msgId= "$TMP/acks_b")" = "$NB"
t_run 20 "$TERN" consume --topic "$DTOPIC" --group early --from first --idle-exit 2 >"$TMP/early" 2>/dev/null
check "Z and A were delivered while F was down ($(grep -c '^[za]-' "$TMP/early") of $((NZ + NA)))" \
  test "$(grep -c '^[za]-' "$TMP/early")" = $((NZ + NA))
seq 1 "$FILL" | sed 's/^/f-/' | t_run 180 "$TERN" produce --topic filler --window 8 >"$TMP/acks_f" 2>&1
check "$FILL filler sends acknowledged" test "$(grep -c msgId= "$TMP/acks_f")" = "$FILL"

# ---- F catches up by snapshot, then leads --------------------------------------
start_member "$F"
done_line=""
for _ in $(seq 1 300); do
  done_line="$(grep -m1 'catch-up done' "$TMP/b$F.log" || true)"
  [ -n "$done_line" ] && break
  kill -0 "${BPID[$F]}" 2>/dev/null || break
  sleep 0.1
done
echo "# follower $F: $done_line"
check "the restarted follower caught up by snapshot + segment fetch" test -n "$done_line"
check "it took the transaction table from the snapshot" grep -q "transaction table from the snapshot" "$TMP/b$F.log"
check "it rebuilt the delay lane index from the snapshot" grep -q "index rebuilt from the snapshot" "$TMP/b$F.log"
grep -h "transaction table from the snapshot\|index rebuilt from the snapshot" "$TMP/b$F.log" | sed 's/^/# /'
sleep 1
t_run 30 "$TERN" group transfer-leader --broker "$L" --to "$F" >"$TMP/transfer.out" 2>&1
cat "$TMP/transfer.out" | sed 's/^/# /'
check "leadership moved to the caught-up member $F" grep -q "leader is now raft member $F " "$TMP/transfer.out"
NL="$(leader_addr "$L")"
check "the name server routes to member $F as brokerId 0" test "$NL" = "127.0.0.1:${BPORT[$F]}"
check "B still pending when F took over (the new leader delivers it)" test "$(now_ms)" -lt "$DUE_B"

# u1 is checked back by F (now the leader: the only member that checks) and
# committed.
answer_until u1 p2
check "the new leader checked u1 back and it was committed" grep -q '^u1$' "$TMP/p2.probe"

while [ "$(now_ms)" -lt $((DUE_B + 3000)) ]; do sleep 0.2; done
check "member $F is still the leader" test "$(leader_addr)" = "127.0.0.1:${BPORT[$F]}"
t_run 120 "$TERN" consume --topic "$DTOPIC" --group checker --from first --max 100000 --idle-exit 4 \
  --format json >"$TMP/got" 2>"$TMP/consume.err"
awk '{ s = $0; sub(/.*"storeTimestamp":/, "", s); sub(/,.*/, "", s)
       b = $0; sub(/.*"body":"/, "", b); sub(/"}$/, "", b)
       print b " " s }' "$TMP/got" >"$TMP/fields"
cut -d' ' -f1 "$TMP/fields" | sort >"$TMP/consumed"
{ seq 1 "$NZ" | sed 's/^/z-/'; seq 1 "$NA" | sed 's/^/a-/'; seq 1 "$NB" | sed 's/^/b-/'; } | sort >"$TMP/sent"
check "every delayed message delivered ($(sort -u "$TMP/consumed" | wc -l) of $((NZ + NA + NB)))" \
  bash -c "[ -z \"\$(comm -23 '$TMP/sent' <(sort -u '$TMP/consumed'))\" ]"
dups=$(uniq -d "$TMP/consumed" | wc -l)
check "no delayed message delivered twice ($dups doubled)" test "$dups" = 0
check "nothing delivered that was never sent" bash -c "[ -z \"\$(comm -13 '$TMP/sent' <(sort -u '$TMP/consumed'))\" ]"
early=$(awk -v z="$DUE_Z" -v a="$DUE_A" -v b="$DUE_B" '{ c = substr($1, 1, 1); due = c == "z" ? z : c == "a" ? a : b
  if ($2 < due) n++ } END { print n + 0 }' "$TMP/fields")
check "none stored in its topic before its due time ($early early)" test "$early" = 0
lateB=$(awk -v b="$DUE_B" 'substr($1, 1, 1) == "b" { l = $2 - b; if (l > m) m = l } END { print m + 0 }' "$TMP/fields")
echo "# B delivered by the new leader at most ${lateB} ms after its due time"
check "B delivered within 3 s of its due time" test "$lateB" -le 3000

t_run 30 "$TERN" consume --topic "$TTOPIC" --group txncheck --from first --idle-exit 3 >"$TMP/txn" 2>/dev/null
sort "$TMP/txn" | uniq -c | sed 's/^/# txn topic: /'
check "u0 (decided while F was down) committed exactly once" test "$(grep -c '^u0$' "$TMP/txn")" = 1
check "u1 (undecided at the snapshot) committed exactly once, by the new leader" test "$(grep -c '^u1$' "$TMP/txn")" = 1
check "commits visible once each" test "$(grep -c '^c[123]$' "$TMP/txn")" = 3
check "no transaction committed twice (answering producers' own included)" test "$(sort "$TMP/txn" | uniq -d | wc -l)" = 0
check "rollbacks never visible" test "$(grep -c '^r[123]$' "$TMP/txn")" = 0
check "no snapshot restore error on F" bash -c "! grep -q 'raft snapshot at index .*:' '$TMP/b$F.log'"

# A restart of F restores the snapshot it installed from its own disk: its
# txn.bin and lane index are at or past it, so nothing is replaced or rebuilt.
kill -TERM "${BPID[$F]}"
wait "${BPID[$F]}" 2>/dev/null
start_member "$F"
for _ in $(seq 1 100); do
  grep -q "raft snapshot at index .* restored\|catch-up done" <(tail -n 20 "$TMP/b$F.log") && break
  sleep 0.1
done
sleep 1
check "F restarts and stays up" kill -0 "${BPID[$F]}"
check "the restart kept F's transaction table (one replacement in its log)" \
  test "$(grep -c 'transaction table from the snapshot' "$TMP/b$F.log")" = 1
check "the restart kept F's delay index (one rebuild in its log)" \
  test "$(grep -c 'index rebuilt from the snapshot' "$TMP/b$F.log")" = 1
check "no snapshot restore error on F after its restart" bash -c "! grep -q 'raft snapshot at index .*:' '$TMP/b$F.log'"

for i in 1 2 3; do kill -TERM "${BPID[$i]}" 2>/dev/null; done
for i in 1 2 3; do wait "${BPID[$i]}" 2>/dev/null; done
fixture_finish

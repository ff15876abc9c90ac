#!/usr/bin/env bash
# Transactional send+commit rate against plain send rate on one local broker
# (or a local 3-member Raft group), with the CLI: N messages of SIZE bytes, window W, once
# plain and once with --txn commit. The transactional figure counts a message
# only when it is visible in its topic: the clock stops when the topic's
# queues hold all N (END_TRANSACTION is oneway, so acks alone would flatter
# it). Usage: [REPLICAS=3] bench/txn_vs_plain.sh [N] [SIZE] [WINDOW]
# (TERN_BIN_DIR=build/bin; REPLICAS=3 runs a Raft group of three local members).
set -uo pipefail
cd "$(dirname "$0")/.."
. tests/integration/tern_fixture.sh
N="${1:-20000}"
SIZE="${2:-128}"
W="${3:-256}"
if [ "${REPLICAS:-1}" = 3 ]; then
  # A Raft group of three members (as tests/system/test_raft_failover.sh).
  "$BIN/tern-namesrv" --port 0 >"$TMP/namesrv.log" 2>&1 &
  FIXTURE_PIDS+=($!)
  for _ in $(seq 1 100); do
    nsport="$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$TMP/namesrv.log" | head -n 1)"
    [ -n "$nsport" ] && break
    sleep 0.1
  done
  NS="127.0.0.1:$nsport"
  declare -a BPORT RPORT
  for i in 1 2 3; do BPORT[$i]="$(free_broker_port)"; RPORT[$i]=$((BPORT[$i] + 1)); done
  PEERS="1@127.0.0.1:${RPORT[1]};2@127.0.0.1:${RPORT[2]};3@127.0.0.1:${RPORT[3]}"
  for i in 1 2 3; do
    "$BIN/tern-broker" --set "listenPort=${BPORT[$i]}" --set listenHost=127.0.0.1 --set brokerIP1=127.0.0.1 \
      --set "storePathRootDir=$TMP/b$i" --set "namesrvAddr=$NS" --set diskMinFreeBytes=0 \
      --set "raftId=$i" --set "raftAddress=127.0.0.1:${RPORT[$i]}" --set "raftPeers=$PEERS" >"$TMP/b$i.log" 2>&1 &
    FIXTURE_PIDS+=($!)
  done
  for _ in $(seq 1 150); do
    t_run 5 "$TERN" cluster --namesrv "$NS" 2>/dev/null | awk '$3 == 0' | grep -q . && break
    sleep 0.1
  done
else
  fixture_start
fi
echo "# ${REPLICAS:-1} broker(s), $N messages of $SIZE bytes, window $W, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
visible() { # sum of the max offsets of topic $1's queues
  t_run 10 "$TERN" group offsets --namesrv "$NS" --group bench-none --topic "$1" 2>/dev/null |
    awk 'NR > 1 && $1 != "TOTAL" && $4 ~ /^[0-9]+$/ { s += $4 } END { print s + 0 }'
}
run() { # $1 topic, rest: extra produce options; prints msgs/s to full visibility
  local topic=$1 t0 t1 v
  shift
  t_run 30 "$TERN" topic create --namesrv "$NS" --topic "$topic" --queues 4 >/dev/null 2>&1
  t0=$(date +%s.%N)
  t_run 300 "$TERN" produce --namesrv "$NS" --topic "$topic" --count "$N" --size "$SIZE" --window "$W" "$@" \
    >"$TMP/$topic.out" 2>&1
  for _ in $(seq 1 600); do
    v=$(visible "$topic")
    [ "$v" -ge "$N" ] && break
    sleep 0.05
  done
  t1=$(date +%s.%N)
  awk -v n="$N" -v a="$t0" -v b="$t1" -v v="$v" -v t="$topic" \
    'BEGIN { printf "%-10s %d visible of %d in %.3f s: %.0f msgs/s\n", t, v, n, b - a, v / (b - a) }'
  grep -o 'in [0-9.]* s: [0-9]* msgs/s' "$TMP/$topic.out" | sed "s/^/           produce summary (acks): /"
}
run plain
run txn --txn commit

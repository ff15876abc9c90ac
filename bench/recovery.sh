#!/usr/bin/env bash
# Recovery time of a broker holding several GB after kill -9.
#
#   bench/recovery.sh [--gb N | --mb N] [--bin DIR]
#
# Starts a name server and one broker on free ports in a fresh temp dir,
# fills the broker with N GiB (default 3) of 1 KiB messages in 16 queues
# (random base64 lines through tern produce), kills the broker with kill -9 while another producer is
# sending, restarts it, and
# prints:
#   - the time from restart to the port accepting connections,
#   - the time from restart to the first acknowledged send,
#   - what the recovery log says (segments scanned, tails cut).
# Everything is stopped and removed at the end.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${TERN_BIN_DIR:-$ROOT/build/bin}"
gb=3
mb=""
while [ $# -gt 0 ]; do
  case "$1" in
    --gb) gb="$2"; shift 2 ;;
    --mb) mb="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    *) echo "usage: $0 [--gb N] [--bin DIR]" >&2; exit 2 ;;
  esac
done
bin="$(cd "$bin" && pwd)"
data="$(mktemp -d "${TMPDIR:-/tmp}/tern-recovery.XXXXXX")"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$data"
}
trap cleanup EXIT

port_busy() { ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }
pick_port() {
  local p
  while :; do
    p=$((20002 + RANDOM % 12000))
    port_busy "$p" || port_busy $((p - 2)) || { echo "$p"; return; }
  done
}
nsport=$(pick_port)
bport=$(pick_port)
"$bin/tern-namesrv" --port "$nsport" >"$data/ns.log" 2>&1 &
pids+=($!)
start_broker() {
  "$bin/tern-broker" --set "listenPort=$bport" --set listenHost=127.0.0.1 --set brokerIP1=127.0.0.1 \
    --set "storePathRootDir=$data/broker" --set "namesrvAddr=127.0.0.1:$nsport" --set diskMinFreeBytes=0 \
    >>"$data/broker.log" 2>&1 &
  BPID=$!
  pids+=("$BPID")
}
wait_port() { for _ in $(seq 1 600); do port_busy "$1" && return 0; sleep 0.05; done; return 1; }
start_broker
wait_port "$bport"
sleep 2 # registration

count=$((gb * 1024 * 1024))
[ -n "$mb" ] && count=$((mb * 1024))
export TERN_NAMESRV="127.0.0.1:$nsport"
"$bin/tern" topic create --topic recovery --queues 16 >/dev/null
t0=$SECONDS
# Fill with 1 KiB messages, then keep a second producer running and kill the
# broker under its load.
# Random base64 lines: incompressible by the broker's lz4 batch units, so the
# data directory really holds about N GiB.
head -c $((count * 768)) /dev/urandom | base64 -w 1024 |
  "$bin/tern" produce --topic recovery --window 512 >/dev/null 2>"$data/fill.log"
echo "filled $((count / 1024)) MiB of message bodies ($count x 1 KiB, $(du -sh "$data/broker" | cut -f1) on disk) in $((SECONDS - t0)) s"
"$bin/tern" produce --topic recovery --count 10000000 --size 1k --window 512 >/dev/null 2>&1 &
bench=$!
pids+=("$bench")
sleep 2
echo "kill -9 of the broker under load"
kill -9 "$BPID"
kill -9 "$bench" 2>/dev/null || true
wait "$BPID" 2>/dev/null || true
wait "$bench" 2>/dev/null || true
sync
echo 3 >/proc/sys/vm/drop_caches 2>/dev/null && echo "(page cache dropped: cold start)" || echo "(page cache kept: warm start)"

mark=$(wc -l <"$data/broker.log")
start_ns=$(date +%s%N)
start_broker
wait_port "$bport"
up_ns=$(date +%s%N)
until echo recovered | "$bin/tern" produce --topic recovery >/dev/null 2>&1; do sleep 0.05; done
sent_ns=$(date +%s%N)
echo "restart -> port accepting connections: $(( (up_ns - start_ns) / 1000000 )) ms"
echo "restart -> first acknowledged send:   $(( (sent_ns - start_ns) / 1000000 )) ms"
echo "recovery log:"
tail -n +"$((mark + 1))" "$data/broker.log" | grep -iE "recover|cut|torn|corrupt|segment" | head -n 10 | sed 's/^/  /'

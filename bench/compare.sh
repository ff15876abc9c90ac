#!/usr/bin/env bash
# Tern against its peers in one run, on this machine, everything on loopback:
#   tern-r3          Tern, one broker group of 3 Raft replicas (bench/run.sh --replicas 3)
#   nats-r1, nats-r3 NATS JetStream (nats-server), file storage, 1 / 3 replicas
#   redis-everysec, redis-always   Redis Streams, AOF appendfsync everysec / always
# Every server is started here on free ports with a temporary directory and
# stopped at the end. Workloads (bench/workloads/): max-rate at 100 B and 1 KiB,
# and the 100 B workload at a fixed rate (default 5,000 msg/s) for latency.
# Prints a markdown table with Tern's ratio to each peer. Run by hand, never by
# CI; takes a few minutes. Needs nats-server, redis-server and the peer drivers
# (deploy/install-deps.sh --bench, then rebuild).
#
#   bench/compare.sh [options]
#     --bin DIR        tern-*, nats-bench, redis-bench (default $TERN_BIN_DIR or ./build/bin)
#     --duration S     measured seconds per run (default 10)
#     --warmup S       peers' warm-up seconds (default 2)
#     --rate R         the fixed rate of the latency run (default 5000)
#     --only LIST      comma-separated systems to run (default all five)
#     --out DIR        keep every run's JSON and output in DIR (default: a temp dir, removed)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; }
bin="${TERN_BIN_DIR:-$ROOT/build/bin}"
duration=10 warmup=2 rate=5000 out="" only="tern-r3,nats-r1,nats-r3,redis-everysec,redis-always"
need() { [ $# -ge 2 ] || { echo "compare.sh: $1 needs a value" >&2; exit 2; }; }
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) need "$@"; bin="$2"; shift 2 ;;
    --duration) need "$@"; duration="$2"; shift 2 ;;
    --warmup) need "$@"; warmup="$2"; shift 2 ;;
    --rate) need "$@"; rate="$2"; shift 2 ;;
    --only) need "$@"; only="$2"; shift 2 ;;
    --out) need "$@"; out="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
command -v jq >/dev/null || { echo "compare.sh: needs jq" >&2; exit 1; }
bin="$(cd "$bin" && pwd)"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/tern-compare.XXXXXX")"
[ -n "$out" ] || out="$tmp/out"
mkdir -p "$out"
pids=()
cleanup() {
  for p in ${pids[@]+"${pids[@]}"}; do kill "$p" 2>/dev/null || true; done
  for p in ${pids[@]+"${pids[@]}"}; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  pids=()
}
trap 'cleanup; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

W100="$ROOT/bench/workloads/max-rate-1-topic-16-partitions-100b.conf"
W1K="$ROOT/bench/workloads/max-rate-1-topic-16-partitions-1kb.conf"
WFIX="$ROOT/bench/workloads/1-topic-16-partitions-100b.conf"
runs=("max100:$W100:0" "max1k:$W1K:0" "fixed:$WFIX:$rate")

port_busy() { ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }
# A free port below the ephemeral range, and the next two free as well.
free_port() {
  local p
  while :; do
    p=$((20002 + RANDOM % 12000))
    port_busy "$p" || port_busy $((p + 1)) || port_busy $((p + 2)) || { echo "$p"; return; }
  done
}
wait_port() {
  for _ in $(seq 100); do port_busy "$1" && return 0; sleep 0.1; done
  echo "compare.sh: nothing listens on port $1" >&2; return 1
}

start_nats() { # N -> sets url
  local n="$1" base cbase i routes=""
  base=$(free_port) cbase=$(free_port)
  for ((i = 0; i < n; i++)); do routes+="nats-route://127.0.0.1:$((cbase + i)),"; done
  for ((i = 0; i < n; i++)); do
    mkdir -p "$tmp/nats$i"
    {
      echo "server_name: n$i"
      echo "listen: 127.0.0.1:$((base + i))"
      echo "jetstream { store_dir: \"$tmp/nats$i\" }"
      if [ "$n" -gt 1 ]; then
        echo "cluster { name: bench, listen: 127.0.0.1:$((cbase + i)), routes: [${routes%,}] }"
      fi
    } >"$tmp/nats$i.conf"
    nats-server -c "$tmp/nats$i.conf" >"$out/nats-r$n-$i.log" 2>&1 &
    pids+=($!)
  done
  wait_port "$base"
  url="nats://127.0.0.1:$base"
}
start_redis() { # everysec|always -> sets url
  local port; port=$(free_port)
  mkdir -p "$tmp/redis"
  redis-server --bind 127.0.0.1 --port "$port" --dir "$tmp/redis" --save "" --appendonly yes \
    --appendfsync "$1" --protected-mode no --daemonize no >"$out/redis-$1.log" 2>&1 &
  pids+=($!)
  wait_port "$port"
  url="127.0.0.1:$port"
}

ack_of() {
  case "$1" in
    tern-r3) echo "written and fsynced on a majority (2 of 3 Raft replicas)" ;;
    nats-r1) echo "stored by 1 server, not fsynced (JetStream syncs files every 2 min by default)" ;;
    nats-r3) echo "stored on a quorum (2 of 3), not fsynced (default sync_interval 2 min)" ;;
    redis-everysec) echo "appended to the AOF of 1 server, not fsynced (fsync once a second)" ;;
    redis-always) echo "appended and fsynced on 1 server (AOF appendfsync always)" ;;
  esac
}

run_one() { # system run-spec
  local sys="$1" name wl r rc=0
  IFS=: read -r name wl r <<<"$2"
  local json="$out/$sys-$name.json" log="$out/$sys-$name.out"
  echo "compare.sh: $sys $name ($(basename "$wl" .conf), rate ${r/#0/max})" >&2
  case "$sys" in
    tern-r3)
      timeout 600 bash "$ROOT/bench/run.sh" "$wl" --bin "$bin" --replicas 3 --duration "$duration" \
        --rate "$r" --json "$json" --timeout 300 >"$log" 2>"$log.err" || rc=$? ;;
    nats-*)
      timeout 300 "$bin/nats-bench" --url "$url" --workload "$wl" --duration "$duration" \
        --warmup "$warmup" --rate "$r" --replicas "${sys#nats-r}" --label "$sys" \
        --ack "$(ack_of "$sys")" --json "$json" >"$log" 2>&1 || rc=$? ;;
    redis-*)
      timeout 300 "$bin/redis-bench" --url "$url" --workload "$wl" --duration "$duration" \
        --warmup "$warmup" --rate "$r" --label "$sys" --ack "$(ack_of "$sys")" --json "$json" \
        >"$log" 2>&1 || rc=$? ;;
  esac
  [ "$rc" = 0 ] || { echo "compare.sh: $sys $name exited $rc (see $log)" >&2; rm -f "$json"; }
}

IFS=, read -ra systems <<<"$only"
for sys in "${systems[@]}"; do
  case "$sys" in
    tern-r3) ;;
    nats-r1|nats-r3)
      [ -x "$bin/nats-bench" ] && command -v nats-server >/dev/null ||
        { echo "compare.sh: skip $sys: nats-server or $bin/nats-bench missing" >&2; continue; }
      start_nats "${sys#nats-r}" ;;
    redis-everysec|redis-always)
      [ -x "$bin/redis-bench" ] && command -v redis-server >/dev/null ||
        { echo "compare.sh: skip $sys: redis-server or $bin/redis-bench missing" >&2; continue; }
      start_redis "${sys#redis-}" ;;
    *) echo "compare.sh: unknown system $sys" >&2; exit 2 ;;
  esac
  for spec in "${runs[@]}"; do run_one "$sys" "$spec"; done
  cleanup
  rm -rf "$tmp"/nats* "$tmp"/redis
done

# ---- the table ----------------------------------------------------------------
val() { # file jq-expr
  [ -f "$1" ] && jq -r "$2 // empty" "$1" 2>/dev/null || true
}
ratio() { # a b -> a/b with 2 decimals, or "n/a"
  awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'
}
fmt() { [ -n "$1" ] && printf "%.${2}f" "$1" || echo "n/a"; }
t100=$(val "$out/tern-r3-max100.json" .publish.rate)
t1k=$(val "$out/tern-r3-max1k.json" .publish.rate)
tp99=$(val "$out/tern-r3-fixed.json" '.consume.e2e_latency_ms.p99')
echo
echo "## Tern vs peers ($(date -u +%F), $(nproc) cores, $(uname -r); everything on loopback on one machine)"
echo
echo "Measured ${duration} s per run. Rates are acknowledged publishes/s; \"x Tern\" is Tern's rate ÷ the peer's"
echo "(above 1: Tern faster) and for latency the peer's p99 ÷ Tern's (above 1: Tern lower)."
echo "Tern's max-rate is tern-bench's ramp (highest rate sustained with bounded backlog);"
echo "the peers' is closed-loop with producerWindow sends in flight."
echo
echo "| system | an acknowledgement means | max-rate 100 B msg/s | x Tern | max-rate 1 KiB msg/s | x Tern | e2e p99 at ${rate}/s (ms) | x Tern |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
for sys in "${systems[@]}"; do
  r100=$(val "$out/$sys-max100.json" .publish.rate)
  r1k=$(val "$out/$sys-max1k.json" .publish.rate)
  p99=$(val "$out/$sys-fixed.json" '.consume.e2e_latency_ms.p99')
  if [ "$sys" = tern-r3 ]; then x1="" x2="" x3=""; else
    x1=$(ratio "$t100" "$r100") x2=$(ratio "$t1k" "$r1k") x3=$(ratio "$p99" "$tp99"); fi
  echo "| $sys | $(ack_of "$sys") | $(fmt "$r100" 0) | $x1 | $(fmt "$r1k" 0) | $x2 | $(fmt "$p99" 2) | $x3 |"
done
echo
echo "JSON of every run: $out$( [ "$out" = "$tmp/out" ] && echo " (removed on exit; use --out DIR to keep)")"

#!/usr/bin/env bash
# Run one tern-bench workload against a private local cluster.
#
#   bench/run.sh WORKLOAD [options] [-- extra tern-bench options]
#
# WORKLOAD is a name from bench/workloads/ (e.g. max-rate-1-topic-16-partitions-1kb)
# or a path to a workload file. The script starts a name server and a broker with
# deploy/cluster.sh in a fresh temporary data directory on free random ports, runs
# tern-bench, and always stops the cluster and removes the directory.
#
# Options:
#   --duration S     measured seconds (tern-bench --duration)
#   --rate R         msgs/s (tern-bench --rate; 0 = max-rate)
#   --json FILE      write the result JSON to FILE
#   --bin DIR        directory with tern-namesrv, tern-broker, tern, tern-bench
#                    [TERN_BIN_DIR] (default ./build/bin)
#   --timeout S      kill tern-bench after S seconds (default 300)
#   --brokers N      broker groups in the cluster (default 1)
#   --replicas N     members per broker group: 1 (default), 3 or 5 (a Raft group;
#                    sends are acknowledged after a majority has the entry on disk)
#   --keep-logs DIR  copy the cluster's logs to DIR before removing the data
#   --set key=value  broker configuration override (repeatable; deploy/cluster.sh --set)
#
# Exit status: tern-bench's (0 the run completed; see its verdict line), 124 on
# timeout, 1 if the cluster did not start, 2 usage.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; }

[ $# -ge 1 ] || { usage >&2; exit 2; }
case "$1" in -h|--help) usage; exit 0 ;; esac
workload="$1"; shift
bin="${TERN_BIN_DIR:-$ROOT/build/bin}"
timeout_s=300
keep_logs=""
brokers=1
replicas=1
bench_args=()
broker_sets=()
need() { [ $# -ge 2 ] || { echo "run.sh: $1 needs a value" >&2; exit 2; }; }
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) need "$@"; bench_args+=(--duration "$2"); shift 2 ;;
    --rate) need "$@"; bench_args+=(--rate "$2"); shift 2 ;;
    --json) need "$@"; bench_args+=(--json "$2"); shift 2 ;;
    --bin) need "$@"; bin="$2"; shift 2 ;;
    --timeout) need "$@"; timeout_s="$2"; shift 2 ;;
    --keep-logs) need "$@"; keep_logs="$2"; shift 2 ;;
    --brokers) need "$@"; brokers="$2"; shift 2 ;;
    --replicas) need "$@"; replicas="$2"; shift 2 ;;
    --set) need "$@"; broker_sets+=(--set "$2"); shift 2 ;;
    --) shift; bench_args+=("$@"); break ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

if [ ! -f "$workload" ]; then
  if [ -f "$ROOT/bench/workloads/$workload.conf" ]; then
    workload="$ROOT/bench/workloads/$workload.conf"
  else
    echo "run.sh: no workload '$workload' (bench/workloads/ has: $(cd "$ROOT/bench/workloads" && ls *.conf | sed 's/\.conf$//' | tr '\n' ' '))" >&2
    exit 2
  fi
fi
for b in tern-namesrv tern-broker tern tern-bench; do
  [ -x "$bin/$b" ] || { echo "run.sh: $bin/$b is missing (build first, or --bin DIR)" >&2; exit 1; }
done
bin="$(cd "$bin" && pwd)"

data="$(mktemp -d "${TMPDIR:-/tmp}/tern-bench.XXXXXX")"
cleanup() {
  bash "$ROOT/deploy/cluster.sh" down --data "$data" >/dev/null 2>&1 || true
  if [ -n "$keep_logs" ] && [ -d "$data/logs" ]; then
    mkdir -p "$keep_logs" && cp "$data"/logs/*.log "$keep_logs"/ 2>/dev/null || true
  fi
  rm -rf "$data"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_busy() { ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }

# Free random ports, so runs do not collide with a cluster on the defaults or
# with other engineers' tests.
started=0
for attempt in 1 2 3 4 5; do
  # Below the ephemeral range (32768+), so outgoing connections never take them.
  ns_port=$((20000 + RANDOM % 6000))
  broker_port=$((26002 + RANDOM % 6000))
  busy=0
  port_busy "$ns_port" && busy=1
  for ((i = 0; i < brokers * replicas; i++)); do
    port_busy $((broker_port + 10 * i)) && busy=1
    port_busy $((broker_port + 10 * i - 2)) && busy=1
    port_busy $((broker_port + 10 * i + 1)) && busy=1
  done
  [ "$busy" = 0 ] || continue
  if bash "$ROOT/deploy/cluster.sh" up --data "$data" --bin "$bin" --brokers "$brokers" --replicas "$replicas" \
       --namesrv-port "$ns_port" --broker-port "$broker_port" --timeout 30 \
       ${broker_sets[@]+"${broker_sets[@]}"} >"$data/cluster-up.log" 2>&1; then
    started=1
    break
  fi
  bash "$ROOT/deploy/cluster.sh" down --data "$data" >/dev/null 2>&1 || true
done
if [ "$started" != 1 ]; then
  echo "run.sh: the cluster did not start:" >&2
  cat "$data/cluster-up.log" >&2 || true
  exit 1
fi
# shellcheck disable=SC1091
. "$data/cluster.env"
echo "run.sh: cluster up at $TERN_NAMESRV (data $data); workload $(basename "$workload")" >&2

# tern-bench samples these brokers' VmRSS (delay-burst reports the peak).
TERN_BENCH_BROKER_PIDS="$(cat "$data"/pids/broker-*.pid 2>/dev/null | tr '\n' ' ')"
export TERN_BENCH_BROKER_PIDS

rc=0
timeout -s INT -k 15 "$timeout_s" "$bin/tern-bench" --namesrv "$TERN_NAMESRV" \
  --workload "$workload" ${bench_args[@]+"${bench_args[@]}"} || rc=$?
if [ "$rc" = 124 ]; then
  echo "run.sh: tern-bench did not finish within ${timeout_s}s" >&2
fi
exit "$rc"

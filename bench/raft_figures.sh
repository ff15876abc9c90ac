#!/usr/bin/env bash
# Raft figures beside bench/failover.sh:
#  1. produce throughput of a broker group of 3 Raft members against a single
#     broker: the same tern-bench max-rate workload on each (deploy/cluster.sh
#     --replicas 1 and 3), and their ratio; leader elections during the
#     3-member run are counted from the logs (should be 1: the first);
#  2. consume rate from a follower against the leader of the same group:
#     tern-follower-read reads a topic of --messages 1 KiB messages (16
#     queues) from each address.
#
#   bash bench/raft_figures.sh [--duration S] [--messages N] [--workload NAME] [--set key=value ...]
#
# Runs on private clusters (random ports, a temp dir), stopped at the end.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${TERN_BIN_DIR:-$ROOT/build/bin}"
duration=10
messages=200000
workload=max-rate-1-topic-16-partitions-1kb
sets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration="$2"; shift 2 ;;
    --messages) messages="$2"; shift 2 ;;
    --workload) workload="$2"; shift 2 ;;
    --set) sets+=(--set "$2"); shift 2 ;;
    *) echo "usage: bash bench/raft_figures.sh [--duration S] [--messages N] [--workload NAME] [--set k=v ...]" >&2
       exit 2 ;;
  esac
done
for b in tern-namesrv tern-broker tern tern-bench tern-follower-read tern-logsum; do
  [ -x "$bin/$b" ] || { echo "raft_figures.sh: $bin/$b missing (build first)" >&2; exit 1; }
done
tmp="$(mktemp -d "${TMPDIR:-/tmp}/tern-raftfig.XXXXXX")"
data=""
cleanup() {
  [ -n "$data" ] && bash "$ROOT/deploy/cluster.sh" down --data "$data" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

up() { # replicas
  local r=$1 try ns_port broker_port
  for try in 1 2 3 4 5; do
    ns_port=$((20000 + RANDOM % 6000))
    broker_port=$((26002 + RANDOM % 5000))
    data="$tmp/r$r-$try"
    if bash "$ROOT/deploy/cluster.sh" up --data "$data" --bin "$bin" --replicas "$r" \
         --namesrv-port "$ns_port" --broker-port "$broker_port" --timeout 30 ${sets[@]+"${sets[@]}"} \
         >"$tmp/up.log" 2>&1; then
      # shellcheck disable=SC1091
      . "$data/cluster.env"
      export TERN_NAMESRV
      return 0
    fi
    bash "$ROOT/deploy/cluster.sh" down --data "$data" >/dev/null 2>&1 || true
  done
  cat "$tmp/up.log" >&2
  return 1
}
down() {
  bash "$ROOT/deploy/cluster.sh" down --data "$data" >/dev/null 2>&1 || true
  data=""
}

bench_rate() { # label -> prints "ramp published"
  local out="$tmp/bench-$1.txt"
  timeout -s INT -k 15 300 "$bin/tern-bench" --namesrv "$TERN_NAMESRV" \
    --workload "$ROOT/bench/workloads/$workload.conf" --duration "$duration" >"$out" 2>&1 || true
  local ramp pub
  ramp="$(sed -n 's/.*ramp found \([0-9]*\) msgs\/s.*/\1/p' "$out" | head -n 1)"
  pub="$(awk '$1 == "publish" && $2 == "(acknowledged)" { print $3 }' "$out" | head -n 1)"
  echo "${ramp:-?} ${pub:-?}"
}

echo "== produce throughput, workload $workload, --duration $duration (tern-bench)"
up 1
read -r ramp1 pub1 < <(bench_rate 1)
down
echo "1 replica : ramp found $ramp1 msgs/s, measured publish $pub1 msgs/s"
up 3
t_start="$(date -u +%Y-%m-%dT%H:%M:%S)"
read -r ramp3 pub3 < <(bench_rate 3)
elections="$(cat "$data"/logs/broker-a-*.log | grep -c 'raft: leader.*(ready)' || true)"
echo "3 replicas: ramp found $ramp3 msgs/s, measured publish $pub3 msgs/s (leader elections in the logs: $elections)"
awk -v a="$ramp3" -v b="$ramp1" -v c="$pub3" -v d="$pub1" 'BEGIN {
  if (b > 0) printf "ratio 3/1: ramp %.2f", a / b; if (d > 0) printf ", measured publish %.2f", c / d; print "" }'

echo "== consume rate from a follower vs the leader (tern-follower-read, $messages x 1 KiB, 16 queues)"
t_run() { timeout -k 5 "$@"; }
t_run 60 "$bin/tern" topic create --topic raftfig --queues 16 >/dev/null
t_run 300 "$bin/tern" produce --topic raftfig --count "$messages" --size 1k >"$tmp/produce.txt" 2>&1 ||
  { cat "$tmp/produce.txt" >&2; exit 1; }
# Wait until every member has applied everything (tern-logsum, read-only).
for _ in $(seq 1 300); do
  n1="$("$bin/tern-logsum" --no-header "$data/broker-a-1" | awk '$1 == "raftfig" { n += $5 } END { print n + 0 }')"
  n2="$("$bin/tern-logsum" --no-header "$data/broker-a-2" | awk '$1 == "raftfig" { n += $5 } END { print n + 0 }')"
  n3="$("$bin/tern-logsum" --no-header "$data/broker-a-3" | awk '$1 == "raftfig" { n += $5 } END { print n + 0 }')"
  [ "$n1" -ge "$messages" ] && [ "$n2" -ge "$messages" ] && [ "$n3" -ge "$messages" ] && break
  sleep 0.2
done
"$bin/tern" cluster >"$tmp/cluster.txt"
leader="$(awk '$2 == "broker-a" && $3 == 0 { print $5 }' "$tmp/cluster.txt")"
follower="$(awk '$2 == "broker-a" && $3 != 0 && $3 != "ID" { print $5; exit }' "$tmp/cluster.txt")"
for role in follower leader follower leader; do
  a="$leader"
  [ "$role" = follower ] && a="$follower"
  printf '%-8s %-22s ' "$role" "$a"
  "$bin/tern-follower-read" --addr "$a" --topic raftfig --queues 16
done
down

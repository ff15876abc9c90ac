#!/usr/bin/env bash
# Tern's main job, live: install, build, start a local cluster (a name server
# and one broker group of three Raft replicas, deploy/cluster.sh's default), then create a
# topic, produce messages with `tern produce --count`, consume them back with a
# consumer group, and check that every message arrived.
#
#   bash deploy/demo.sh [--count N] [--size BYTES] [--stop-after] [--skip-build]
#
#   --count N      messages to produce and consume (default 100000)
#   --size BYTES   body size of each message (default 128)
#   --stop-after   stop the cluster at the end (default: leave it running)
#   --skip-build   use the existing build/ (no dependency install, no cmake)
#
# Environment: TERN_DATA (data dir, default ./data), TERN_NAMESRV_PORT (9876),
# TERN_BROKER_PORT (10911). Exits non-zero if any step fails or the consumed
# count differs from the produced count. Every step is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"

count=100000
size=128
stop_after=0
skip_build=0
while [ $# -gt 0 ]; do
  case "$1" in
    --count) count="${2:?--count needs a value}"; shift 2 ;;
    --size) size="${2:?--size needs a value}"; shift 2 ;;
    --stop-after) stop_after=1; shift ;;
    --skip-build) skip_build=1; shift ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ "$count" =~ ^[0-9]+$ ]] && [ "$count" -gt 0 ] || { echo "demo.sh: --count wants a positive number" >&2; exit 2; }
[[ "$size" =~ ^[0-9]+$ ]] || { echo "demo.sh: --size wants a number" >&2; exit 2; }

data="${TERN_DATA:-$ROOT/data}"
export TERN_DATA="$data"
BIN="$ROOT/build/bin"
TERN="$BIN/tern"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
die() { echo "demo.sh: FAILED: $*" >&2; exit 1; }

if [ "$skip_build" = 0 ]; then
  step "Installing dependencies (deploy/install-deps.sh)"
  bash deploy/install-deps.sh

  # Only the three programs the demo runs: faster than the whole tree with its
  # tests (deploy/test.sh builds and runs those).
  step "Building tern-namesrv, tern-broker and tern (Release)"
  mkdir -p "$data"
  if ! { cmake -S . -B build -DCMAKE_BUILD_TYPE=Release &&
         cmake --build build -j"$(nproc 2>/dev/null || echo 2)" --target tern-namesrv tern-broker tern; } \
       >"$data/build.log" 2>&1; then
    tail -n 30 "$data/build.log" >&2
    die "build failed (full log: $data/build.log)"
  fi
  tail -n 1 "$data/build.log"
fi
for b in tern tern-namesrv tern-broker; do
  [ -x "$BIN/$b" ] || die "$BIN/$b is missing (build failed?)"
done

step "Starting a local cluster (deploy/cluster.sh up)"
# A cluster left running by an earlier demo is restarted; its data is kept.
bash deploy/cluster.sh down --data "$data" >/dev/null 2>&1 || true
timeout 60 bash deploy/cluster.sh up --data "$data" --bin "$BIN" || die "cluster did not start"
# shellcheck disable=SC1091
. "$data/cluster.env"
export TERN_NAMESRV
cleanup() {
  if [ "$stop_after" = 1 ]; then
    step "Stopping the cluster (--stop-after)"
    bash deploy/cluster.sh down --data "$data" || true
  fi
}
trap cleanup EXIT

run_id="$(date +%Y%m%d-%H%M%S)"
topic="demo-$run_id"
group="demo-group-$run_id"

step "Creating topic $topic with 8 queues"
echo "\$ tern topic create --topic $topic --queues 8"
timeout 20 "$TERN" topic create --topic "$topic" --queues 8 || die "topic create"
timeout 20 "$TERN" topic route --topic "$topic" || die "topic route"

step "Producing $count messages of $size bytes"
echo "\$ tern produce --topic $topic --count $count --size $size"
timeout 120 "$TERN" produce --topic "$topic" --count "$count" --size "$size" || die "produce"

step "Consuming them with consumer group $group"
echo "\$ tern consume --topic $topic --group $group --from first --max $count --idle-exit 15 >/dev/null"
out="$data/demo-consumed.txt"
timeout 120 "$TERN" consume --topic "$topic" --group "$group" --from first \
  --max "$count" --idle-exit 15 >"$out" || die "consume"
got="$(wc -l <"$out" | tr -d ' ')"
rm -f "$out"
echo "consumed $got of $count messages"
[ "$got" = "$count" ] || die "consumed $got messages, produced $count"

step "Committed offsets of $group (lag 0 = everything consumed)"
# Consumers commit asynchronously; give the last commit a moment to land.
for _ in $(seq 1 20); do
  offs="$(timeout 10 "$TERN" group offsets --group "$group" --topic "$topic" || true)"
  if [ -n "$offs" ] && ! awk 'NR>1 && $NF ~ /^[0-9]+$/ && $NF != 0 {bad=1} END {exit !bad}' <<<"$offs"; then
    break
  fi
  sleep 0.5
done
echo "$offs"

leader="$(timeout 10 "$TERN" cluster 2>/dev/null | awk '$1 != "CLUSTER" && $3 == 0 { print $5; exit }' || true)"
step "Demo passed: $count messages produced and consumed"
cat <<EOF

The cluster is $( [ "$stop_after" = 1 ] && echo "being stopped (start it again: bash deploy/cluster.sh up)" || echo "still running"). Try next:

  export PATH="$BIN:\$PATH" TERN_NAMESRV=$TERN_NAMESRV
  tern cluster                                   # brokers, roles, addresses, raft group state
  tern topic list
  tern topic create --topic orders --queues 4
  echo hello | tern produce --topic orders --tag new --key order-1
  tern consume --topic orders --group g1 --from first --idle-exit 3 --format json
  tern group offsets --group g1 --topic orders
  tern produce --help
  tern group transfer-leader --broker ${leader:-LEADER_ADDRESS}   # move raft leadership

  bash deploy/cluster.sh status                  # processes, pids
  bash deploy/cluster.sh down                    # stop the cluster
EOF

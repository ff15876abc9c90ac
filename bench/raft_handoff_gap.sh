#!/usr/bin/env bash
# Client-visible unavailability when a broker group's raft leader stops: a
# `tern produce --window 1` stream (libtern, retries on the new leader) runs
# against a 3-replica deploy/cluster.sh cluster; 1.5 s in, the leader gets
# SIGTERM (hand-off to the most up-to-date follower) or SIGKILL (election);
# prints the longest gap between two consecutive acknowledgements and the
# number of failed sends. Not a test: timings depend on the host.
#
#   bash bench/raft_handoff_gap.sh [--runs N] [--signal TERM|KILL] [--count N]
#
# Uses ports 25876 (name server) and 25911.. (brokers) and a temp data dir.
set -u
cd "$(dirname "$0")/.."
runs=5 sig=TERM count=12000
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --signal) sig="$2"; shift 2 ;;
    --count) count="$2"; shift 2 ;;
    *) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
done
B=build/bin
D="$(mktemp -d "${TMPDIR:-/tmp}/tern-gap.XXXXXX")"
export TERN_NAMESRV=127.0.0.1:25876
trap 'bash deploy/cluster.sh down --data "$D/c" >/dev/null 2>&1; rm -rf "$D"' EXIT
for r in $(seq 1 "$runs"); do
  rm -rf "$D/c"
  timeout 60 bash deploy/cluster.sh up --data "$D/c" --namesrv-port 25876 --broker-port 25911 >/dev/null 2>&1 ||
    { echo "cluster.sh up failed" >&2; exit 1; }
  timeout 30 "$B/tern" topic create --topic gap --queues 4 >/dev/null 2>&1
  leader="$(timeout 10 "$B/tern" cluster | awk '$1 == "DefaultCluster" && $3 == 0 { print $5 }')"
  # One timestamp (µs) per acknowledgement, without a fork per line.
  seq 1 "$count" | timeout 120 "$B/tern" produce --topic gap --window 1 2>"$D/err" |
    while read -r _; do echo "${EPOCHREALTIME/./}"; done >"$D/ts" &
  p=$!
  sleep 1.5
  for f in "$D"/c/pids/broker-a-*.pid; do
    m="$(basename "$f" .pid)"
    [ "127.0.0.1:$((25911 + 10 * (${m##*-} - 1)))" = "$leader" ] && kill "-$sig" "$(cat "$f")"
  done
  wait "$p"
  failed="$(grep -c '^tern: .*line [0-9]' "$D/err")"
  awk -v r="$r" -v s="$sig" -v f="$failed" 'NR > 1 { g = $1 - p; if (g > m) m = g } { p = $1 }
    END { printf "run %d SIG%s: longest gap between acks %.0f ms; %d acks, %d failed sends\n", r, s, m / 1e3, NR, f }' "$D/ts"
  bash deploy/cluster.sh down --data "$D/c" >/dev/null 2>&1
done

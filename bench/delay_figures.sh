#!/usr/bin/env bash
# Delayed-message figures on one broker without replication (broker/DELAY.md §5):
#  1. lateness: RATE_N sends one at a time with --delay-ms 2000; lateness of each
#     = storeTimestamp in its topic - (bornTimestamp + 2000). bornTimestamp is the
#     producer's clock just before the send, so the figure includes the send's
#     network and commit time (same machine: same clock).
#  2. memory: broker RSS before and after PENDING messages delayed by one hour.
# The burst figure (N messages due at one millisecond) is tern-bench's
# delay-burst workload: bench/run.sh delay-burst [--replicas 3].
# Usage: bench/delay_figures.sh [RATE_N] [PENDING]   (TERN_BIN_DIR=build/bin)
set -uo pipefail
cd "$(dirname "$0")/.."
export TERN_BIN_DIR="${TERN_BIN_DIR:-$PWD/build/bin}"
# shellcheck source=tests/integration/tern_fixture.sh
. tests/integration/tern_fixture.sh
RATE_N="${1:-2000}"
PENDING="${2:-200000}"
fixture_start
export TERN_NAMESRV="$NS"
bpid="${FIXTURE_PIDS[1]}"
rss() { awk '/VmRSS/ { print $2 }' "/proc/$bpid/status"; }

t_run 60 "$TERN" topic create --topic late --queues 1 >/dev/null
seq 1 "$RATE_N" | t_run 300 "$TERN" produce --topic late --delay-ms 2000 --window 1 >/dev/null
sleep 3
t_run 120 "$TERN" consume --topic late --group g --from first --max "$RATE_N" --idle-exit 3 --format json |
  awk '{ s = $0; sub(/.*"storeTimestamp":/, "", s); sub(/,.*/, "", s)
         b = $0; sub(/.*"bornTimestamp":/, "", b); sub(/,.*/, "", b)
         print s - b - 2000 }' | sort -n >"$TMP/late"
n=$(wc -l <"$TMP/late")
p() { awk -v q="$1" -v n="$n" 'NR == int((n - 1) * q) + 1 { print; exit }' "$TMP/late"; }
echo "lateness over $n messages (ms): min $(head -1 "$TMP/late") p50 $(p 0.5) p99 $(p 0.99) max $(tail -1 "$TMP/late")"

t_run 60 "$TERN" topic create --topic pend --queues 4 >/dev/null
echo "# measuring RSS of pid $bpid: $(tr "\0" " " </proc/$bpid/cmdline | cut -c1-60)"
before=$(rss)
t_run 600 "$TERN" produce --topic pend --count "$PENDING" --size 128 --delay-ms 3600000 --window 1000 | tail -1
sleep 2
after=$(rss)
echo "broker RSS: $before kB before, $after kB with $PENDING pending delayed messages (+$((after - before)) kB)"
du -sh "$TMP/broker/delay" "$TMP/broker/queues/SCHEDULE_TOPIC_XXXX" 2>/dev/null

fixture_finish

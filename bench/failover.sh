#!/usr/bin/env bash
# Failover time of a three-member Raft broker group: kill -9 of the leader to
# the first send acknowledged through libtern (tern-failover-probe), RUNS times
# (default 10) on a fresh local cluster each, printing each run and the median.
#
#   bash bench/failover.sh [--runs N] [--set key=value ...]
#
# --set options go to every tern-broker (e.g. --set raftElectionTimeout=500ms).
# For each run the members' logs split the time: "first candidate" is when a
# surviving member's election timer fired (failure detection), "ready" when
# the new leader's post-election barrier applied and it took writes; the rest
# is registration with the name server plus libtern's route refresh and retry
# (relative to the kill, from wall-clock log stamps, so a few ms coarse).
set -uo pipefail
cd "$(dirname "$0")/.."
RUNS=10
SETS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS="$2"; shift 2 ;;
    --set) SETS+=(--set "$2"); shift 2 ;;
    *) echo "usage: bash bench/failover.sh [--runs N] [--set key=value ...]" >&2; exit 64 ;;
  esac
done
export TERN_BIN_DIR="${TERN_BIN_DIR:-$(pwd)/build/bin}"
# shellcheck source=tests/integration/tern_fixture.sh
. tests/integration/tern_fixture.sh
# shellcheck source=tests/system/raft_fixture.sh
. tests/system/raft_fixture.sh
PROBE="$BIN/tern-failover-probe"
[ -x "$PROBE" ] || { echo "build tern-failover-probe first" >&2; exit 1; }

# Wall-clock ms of day (UTC) of the first line matching $3 in files $4...
# stamped at or after ms $2 (log lines start "YYYY-MM-DDTHH:MM:SS.mmmZ").
log_ms_after() {
  local after="$1" pat="$2"
  shift 2
  cat "$@" | awk -v after="$after" -v pat="$pat" '
    $0 ~ pat { split($1, a, /[-T:.Z]/)
      ms = ((a[4] * 60 + a[5]) * 60 + a[6]) * 1000 + a[7]
      if (ms >= after && (best == "" || ms < best)) best = ms }
    END { if (best != "") print best }'
}

results=()
for run in $(seq 1 "$RUNS"); do
  for p in "${FIXTURE_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done 2>/dev/null
  FIXTURE_PIDS=()
  rm -rf "$TMP"/b1 "$TMP"/b2 "$TMP"/b3 "$TMP"/*.log
  raft_namesrv
  raft_ports
  for i in 1 2 3; do raft_start "$i" "${SETS[@]}"; done
  L="$(raft_leader)" || { echo "run $run: no leader" >&2; exit 1; }
  t_run 30 "$TERN" topic create --topic fo --queues 4 >/dev/null 2>&1
  K="$(raft_member_of "$L")"
  out="$(t_run 60 "$PROBE" --namesrv "$TERN_NAMESRV" --topic fo --kill "${BPID[$K]}" --warm-ms 500)" || {
    echo "run $run: probe failed" >&2
    exit 1
  }
  kill_ms=$(( $(echo "$out" | sed -n 's/.*kill_at_ms=\([0-9]*\).*/\1/p') % 86400000 ))
  ms="$(echo "$out" | sed -n 's/.*failover_ms=\([0-9.]*\).*/\1/p')"
  N="$(raft_leader "$L")"
  NK="$(raft_member_of "$N")"
  others=()
  for i in 1 2 3; do [ "$i" != "$K" ] && others+=("$TMP/b$i.log"); done
  cand="$(log_ms_after "$kill_ms" "raft: candidate" "${others[@]}")"
  ready="$(log_ms_after "$kill_ms" "raft: leader.*[(]ready[)]" "$TMP/b$NK.log")"
  rel() { [ -n "$1" ] && echo "+$(($1 - kill_ms))" || echo "?"; }
  printf 'run %2d: failover %7.1f ms  (first candidate %s ms, new leader ready %s ms; %s)\n' "$run" "$ms" \
    "$(rel "$cand")" "$(rel "$ready")" "$out"
  results+=("$ms")
done
median="$(printf '%s\n' "${results[@]}" | sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }')"
printf 'median failover over %d runs: %s ms (min %s, max %s)\n' "$RUNS" "$median" \
  "$(printf '%s\n' "${results[@]}" | sort -n | head -n 1)" "$(printf '%s\n' "${results[@]}" | sort -n | tail -n 1)"

#!/usr/bin/env bash
# CI smoke run of tern-bench (under a minute): start a private cluster, run the
# small keyed fixed-rate workload bench/workloads/smoke.conf for a few seconds
# (then smoke-txn, smoke-delay-burst and smoke-backlog briefly, each in its own cluster),
# and check that the benchmark ran and its JSON is sane. Not a performance test:
# it asserts that numbers exist and agree with each other, never that they are
# fast. Exit 0 on success, 1 with the reason otherwise.
#
#   bench/smoke.sh [--bin DIR]     (default $TERN_BIN_DIR or ./build/bin)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${TERN_BIN_DIR:-$ROOT/build/bin}"
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "smoke.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

out="$(mktemp -d "${TMPDIR:-/tmp}/tern-bench-smoke.XXXXXX")"
trap 'rm -rf "$out"' EXIT

fail() { echo "smoke.sh: FAIL: $*" >&2; exit 1; }

"$bin/tern-bench" --help | grep -q -- '--workload' || fail "tern-bench --help does not document --workload"
"$bin/tern-bench" --print-workload | grep -q '^partitionsPerTopic = ' || fail "--print-workload lacks partitionsPerTopic"

start=$SECONDS
rc=0
bash "$ROOT/bench/run.sh" smoke --bin "$bin" --duration 5 --json "$out/result.json" \
  --timeout 45 >"$out/stdout" 2>"$out/stderr" || rc=$?
cat "$out/stdout"
if [ "$rc" != 0 ]; then
  tail -n 30 "$out/stderr" >&2
  fail "run.sh exited $rc"
fi
grep -q '^\[ *[0-9.]*s\] measure ' "$out/stderr" || { cat "$out/stderr" >&2; fail "no progress lines while measuring"; }
grep -Eq '^(OK|NOT REACHED):' "$out/stdout" || fail "no verdict line in the table"

# The JSON: parsed with jq if present, else python3.
check() {
  local expr="$1" what="$2"
  if command -v jq >/dev/null 2>&1; then
    jq -e "$expr" "$out/result.json" >/dev/null || fail "$what ($expr)"
  elif command -v python3 >/dev/null 2>&1; then
    python3 - "$out/result.json" "$expr" <<'PY' || fail "$what"
import json, sys
d = json.load(open(sys.argv[1]))
p, c, t = d["publish"], d["consume"], d["totals"]
checks = {
  "tool": d["tool"] == "tern-bench",
  "published": p["count"] > 0 and p["rate"] > 0,
  "consumed": c["count"] > 0 and c["rate"] > 0,
  "latency": 0 < p["latency_ms"]["p50"] <= p["latency_ms"]["p99"] <= p["latency_ms"]["p99.9"] <= p["latency_ms"]["max"],
  "e2e": 0 < c["e2e_latency_ms"]["p50"] <= c["e2e_latency_ms"]["p99"] <= c["e2e_latency_ms"]["p99.9"] <= c["e2e_latency_ms"]["max"],
  "totals": t["acknowledged"] <= t["sent"] and t["not_consumed"] == 0 and t["not_acked"] == 0,
  "rate": 0.5 * d["target_rate"] <= p["rate"] <= 1.5 * d["target_rate"],
}
sys.exit(0 if all(checks.values()) else print({k: v for k, v in checks.items() if not v}) or 1)
PY
  else
    fail "neither jq nor python3 is installed to check the JSON"
  fi
}
if command -v jq >/dev/null 2>&1; then
  check '.tool == "tern-bench" and .mode == "fixed-rate" and .workload.name == "smoke"' "identity"
  check '.publish.count > 0 and .publish.rate > 0 and .measured_s >= 4' "messages were published"
  check '.consume.count > 0 and .consume.rate > 0' "messages were consumed"
  check '.publish.latency_ms | .count > 0 and 0 < .p50 and .p50 <= .p99 and .p99 <= ."p99.9" and ."p99.9" <= .max' "publish percentiles ordered"
  check '.consume.e2e_latency_ms | .count > 0 and 0 < .p50 and .p50 <= .p99 and .p99 <= ."p99.9" and ."p99.9" <= .max' "end-to-end percentiles ordered"
  check '.publish.rate >= 0.5 * .target_rate and .publish.rate <= 1.5 * .target_rate' "publish rate near the target"
  check '.publish.count <= .publish.intended + .publish.backlog_end + 1000' "not more acknowledged than due"
  check '.totals | .acknowledged <= .sent and .not_acked == 0 and .not_consumed == 0' "every send answered and consumed"
  check '.totals.order_violations == 0' "keys consumed in order"
  check '(.target_reached | type) == "boolean" and (.verdict | length) > 0' "verdict present"
else
  check all "JSON checks"
fi
echo "smoke.sh: OK in $((SECONDS - start)) s: $(grep -E '^(OK|NOT REACHED):' "$out/stdout")"

# run_workload NAME [run.sh options]: run bench/run.sh on workload NAME into
# $out/NAME.{json,stdout,stderr}; fail if it does not complete.
run_workload() {
  local name=$1 rc=0
  shift
  start=$SECONDS
  bash "$ROOT/bench/run.sh" "$name" --bin "$bin" --json "$out/$name.json" --timeout 45 "$@" \
    >"$out/$name.stdout" 2>"$out/$name.stderr" || rc=$?
  if [ "$rc" != 0 ]; then
    tail -n 30 "$out/$name.stderr" >&2
    fail "run.sh $name exited $rc"
  fi
}
# json_check NAME WHAT PYTHON-EXPR: the expression over d (the result JSON),
# t (its totals) must hold; then print the verdict line.
json_check() {
  local name=$1 what=$2 expr=$3
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); t=d["totals"]; sys.exit(0 if eval(sys.argv[2]) else 1)' \
    "$out/$name.json" "$expr" || { cat "$out/$name.stdout" >&2; fail "$name: $what"; }
  echo "smoke.sh: $name OK in $((SECONDS - start)) s: $(grep -E '^(OK|NOT REACHED):' "$out/$name.stdout")"
}

# The transactional workload (half message + commit per message), briefly:
# every message published is committed and consumed.
run_workload smoke-txn --duration 3
json_check smoke-txn "not every transactional message was committed and consumed" \
  'd["workload"]["transactional"] and d["publish"]["count"] > 0 and d["consume"]["count"] > 0 and t["errors"] == 0 and t["not_acked"] == 0 and t["not_consumed"] == 0'

# The delay-burst workload: 2,000 messages due 2 s ahead; tern-bench's own
# check (all acknowledged and delivered, none early) decides the verdict.
run_workload smoke-delay-burst
grep -q '^OK: delay-burst passed' "$out/smoke-delay-burst.stdout" || { cat "$out/smoke-delay-burst.stdout" >&2; fail "smoke-delay-burst: verdict not passed"; }
json_check smoke-delay-burst "JSON counts do not match" \
  'd["delay_burst"]["received"] == d["delay_burst"]["messages"] == 2000 and d["delay_burst"]["early"] == 0 and t["errors"] == 0 and len(d["delay_burst"]["broker_rss_peak_kb"]) >= 1 and min(d["delay_burst"]["broker_rss_peak_kb"]) > 0'

# The backlog workload: 5 MB built with no consumer, then drained while
# producing; tern-bench's own check (drained, nothing lost) decides.
run_workload smoke-backlog
grep -q '^OK: backlog passed' "$out/smoke-backlog.stdout" || { cat "$out/smoke-backlog.stdout" >&2; fail "smoke-backlog: verdict not passed"; }
json_check smoke-backlog "JSON counts do not match" \
  'd["backlog"]["drained"] and d["backlog"]["bytes"] >= 5 * 1024 * 1024 and d["backlog"]["drain_rate"] > 0 and t["errors"] == 0 and t["not_acked"] == 0 and t["not_consumed"] == 0 and t["consumed"] >= d["backlog"]["messages"] and d["backlog"]["live_consumed"] > 0 and d["backlog"]["live_e2e_latency_ms"]["count"] > 0'

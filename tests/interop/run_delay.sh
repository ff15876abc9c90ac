#!/usr/bin/env bash
# Interoperability of delays, retries and dead letters with ali-ons (see
# ons_delay.js): delay level and __STARTDELIVERTIME delivered not before their
# time; a failing handler sends messages back (CONSUMER_SEND_MSG_BACK) and they
# return from %RETRY%<group> with growing reconsumeTimes; after
# maxReconsumeTimes the message lands in %DLQ%<group>.
# Uses the npm cache of run.sh. Exit 0 pass, 1 fail, 77 skipped (no node/npm
# or ali-ons not installable).
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/npm_env.sh"

. "$HERE/../integration/tern_fixture.sh"
fixture_start --set "messageDelayLevel=1s 2s 3s"
export TERN_NAMESRV="$NS"
G=ons_delay_group
t_run 30 "$TERN" topic create --topic ons_delay --queues 2 >/dev/null 2>"$TMP/err" || cat "$TMP/err"
t_run 90 node "$HERE/ons_delay.js" "$NS" ons_delay "$G" 40000 >"$TMP/got" 2>"$TMP/ons.err"
check "ali-ons delay script ran" test $? = 0
count() { grep -c "\"body\":\"$1\"" "$TMP/got"; }
lat() { awk -v b="$1" -v d="$2" 'index($0, "\"body\":\"" b "\"") {
          at = $0; sub(/.*"at":/, "", at); sub(/,.*/, "", at)
          s = $0; sub(/.*"sentAt":/, "", s); sub(/,.*/, "", s)
          print at - s - d; exit }' "$TMP/got"; }
check "delay level 2 delivered once" test "$(count level2)" = 1
l=$(lat level2 2000)
check "delay level 2 (2 s) not early, within 1.6 s late (late by $l ms)" test "${l:-x}" -ge 0 -a "${l:-99999}" -le 1600
check "__STARTDELIVERTIME delivered once" test "$(count ons)" = 1
l=$(lat ons 2500)
check "__STARTDELIVERTIME (+2.5 s) not early, within 1.6 s late (late by $l ms)" test "${l:-x}" -ge 0 -a "${l:-99999}" -le 1600
check "a message retried twice comes back with reconsumeTimes 0, 1, 2" \
  test "$(grep '"body":"retry"' "$TMP/got" | sed 's/.*"reconsumeTimes":\([0-9]*\).*/\1/' | tr -d '\n')" = 012
check "a message failing every time is delivered 1 + maxReconsumeTimes (2) times" test "$(count dead)" = 3
dlq=""
for _ in $(seq 1 20); do
  dlq="$(t_run 20 "$TERN" group offsets --group "$G" --topic "%DLQ%$G" 2>/dev/null | awk '$1 == "TOTAL" { print $4 }')"
  [ "$dlq" = 1 ] && break
  sleep 0.3
done
check "it then lands in %DLQ%$G (1 message there: $dlq)" test "$dlq" = 1
[ "$FIXTURE_FAILS" = 0 ] || { cat "$TMP/got"; tail -n 20 "$TMP/ons.err"; t_run 20 "$TERN" group offsets --group "$G" --topic "%DLQ%$G"; }
fixture_finish

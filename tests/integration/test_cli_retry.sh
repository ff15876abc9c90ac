#!/usr/bin/env bash
# `tern consume` retries through the broker (client/retryback.c): with
# --fail-tag a message tagged "poison" is failed on every delivery, comes back
# from %RETRY%<group> under its original topic with reconsumeTimes 1..3 and
# then lands in %DLQ%<group> (--max-reconsume 3); with --fail-times 1 every
# message fails once and is printed once, with reconsumeTimes 1. Broker with
# messageDelayLevel all 1 s.
set -u
. "$(dirname "$0")/tern_fixture.sh"
fixture_start --set "messageDelayLevel=1s 1s 1s 1s 1s"
export TERN_NAMESRV="$NS"

T=RetryCli
t_run 30 "$TERN" topic create --topic "$T" --queues 1 >/dev/null 2>"$TMP/create.err"
check "topic created" test $? = 0
printf 'good-1\n' | t_run 30 "$TERN" produce --topic "$T" --tag ok >/dev/null 2>&1
printf 'bad\n' | t_run 30 "$TERN" produce --topic "$T" --tag poison >/dev/null 2>&1
printf 'good-2\n' | t_run 30 "$TERN" produce --topic "$T" --tag ok >/dev/null 2>&1

# ---- always failing: 4 deliveries (reconsumeTimes 0..3), then the DLQ ----------
t_run 60 "$TERN" consume --topic "$T" --group cg-poison --from first --format json \
  --fail-tag poison --max-reconsume 3 --idle-exit 8 >"$TMP/out1" 2>"$TMP/err1"
check "consume exits 0" test $? = 0
check "the good messages are printed once each" \
  test "$(grep -c '"body":"good-' "$TMP/out1")" = 2
check "the poison message is never printed" bash -c "! grep -q '\"body\":\"bad\"' '$TMP/out1'"
check "it failed with reconsumeTimes 0,1,2,3, always under its own topic" \
  test "$(grep -o "failing .* (topic [^,]*, reconsumeTimes [0-9]*)" "$TMP/err1" | sed 's/.*(\(.*\))/\1/' | tr '\n' ';')" \
  = "topic $T, reconsumeTimes 0;topic $T, reconsumeTimes 1;topic $T, reconsumeTimes 2;topic $T, reconsumeTimes 3;"
t_run 20 "$TERN" topic route --topic "%DLQ%cg-poison" >"$TMP/dlq" 2>&1
check "the dead-letter topic exists" test $? = 0
t_run 20 "$TERN" group offsets --group cg-poison --topic "$T" >"$TMP/offs" 2>&1
check "the group's offset moved past all three" grep -Eq '^broker-a +0 +3 +3 +0' "$TMP/offs"

# ---- failing once: each printed once, from the retry topic ---------------------
t_run 60 "$TERN" consume --topic "$T" --group cg-once --from first --format json \
  --fail-times 1 --max 3 --idle-exit 15 >"$TMP/out2" 2>"$TMP/err2"
check "consume --fail-times 1 exits 0" test $? = 0
check "three messages printed" test "$(wc -l <"$TMP/out2")" = 3
check "all with reconsumeTimes 1 and the original topic" \
  test "$(grep -c "\"topic\":\"$T\".*\"reconsumeTimes\":1," "$TMP/out2")" = 3

fixture_finish

#!/usr/bin/env bash
# System: QUERY_MESSAGE and reset-offset on a Raft group of three brokers.
# Every member builds the key index from what it applies; after kill -9 of
# the leader the new leader answers the same queries, and a group's offsets
# reset through the leader (replicated OFFSET commands) survive the failover.
set -uo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/integration/tern_fixture.sh
. tests/integration/tern_fixture.sh
# shellcheck source=tests/system/raft_fixture.sh
. tests/system/raft_fixture.sh

TOPIC=qfail
raft_group
L1="$(raft_leader)"
check "a leader is elected" test -n "$L1"
raft_topic "$TOPIC" 4 0.1

seq 1 40 | sed 's/^/k1-/' | t_run 60 "$TERN" produce --topic "$TOPIC" --key "fk-1 shared" >/dev/null 2>&1
seq 1 10 | sed 's/^/k2-/' | t_run 60 "$TERN" produce --topic "$TOPIC" --key "fk-2 shared" >"$TMP/sent2" 2>/dev/null
ID="$(sed -n 4p "$TMP/sent2" | sed 's/.*msgId=//')"

queries() {
  local when="$1"
  t_run 30 "$TERN" query --topic "$TOPIC" --key fk-2 --format json >"$TMP/q2" 2>"$TMP/q.err"
  check "$when: key fk-2 finds exactly its 10 messages" bash -c \
    "sed 's/.*\"body\":\"\\([^\"]*\\)\".*/\\1/' '$TMP/q2' | sort | cmp -s - <(seq 1 10 | sed 's/^/k2-/' | sort)"
  t_run 30 "$TERN" query --topic "$TOPIC" --key shared --max 100 --format json >"$TMP/qs" 2>/dev/null
  check "$when: key shared finds all 50" test "$(wc -l <"$TMP/qs")" = 50
  t_run 30 "$TERN" query --topic "$TOPIC" --id "$ID" --format json >"$TMP/qid" 2>/dev/null
  check "$when: the message id finds k2-4 only" bash -c \
    "test \$(wc -l <'$TMP/qid') = 1 && grep -q '\"body\":\"k2-4\"' '$TMP/qid'"
}
queries "on the first leader"
t_run 30 "$TERN" group reset-offset --group gq --topic "$TOPIC" --to-offset latest >/dev/null 2>&1; rc=$?
check "reset-offset through the leader exits 0" test "$rc" = 0
t_run 30 "$TERN" group offsets --group gq --topic "$TOPIC" >"$TMP/offs1" 2>&1
check "the group's offsets are at the end (lag 0)" grep -Eq '^TOTAL +- +50 +50 +0$' "$TMP/offs1"
# Followers index what they apply: their index files hold entries (not just
# a header) before anyone queried them. 150 keys x 32-byte entries.
idx_members=0
for i in 1 2 3; do
  nz=$(cat "$TMP/b$i/msgindex/"*/*.kidx 2>/dev/null | tr -d '\000' | wc -c)
  [ "$nz" -gt 2000 ] && idx_members=$((idx_members + 1))
done
check "every member filled its own key index as it applied" test "$idx_members" = 3

K="$(raft_member_of "$L1")"
kill -9 "${BPID[$K]}"
wait "${BPID[$K]}" 2>/dev/null
L2="$(raft_leader "$L1")"
check "a new leader after kill -9 of the old one" test -n "$L2"
queries "on the new leader"
t_run 30 "$TERN" group offsets --group gq --topic "$TOPIC" >"$TMP/offs2" 2>&1
check "the reset offsets survived the failover" grep -Eq '^TOTAL +- +50 +50 +0$' "$TMP/offs2"
t_run 30 "$TERN" group reset-offset --group gq --topic "$TOPIC" --to-offset earliest >/dev/null 2>&1; rc=$?
t_run 30 "$TERN" group offsets --group gq --topic "$TOPIC" >"$TMP/offs3" 2>&1
check "reset-offset works on the new leader" bash -c "test $rc = 0 && grep -Eq '^TOTAL +- +0 +50 +50$' '$TMP/offs3'"

for i in 1 2 3; do [ "$i" != "$K" ] && kill -TERM "${BPID[$i]}" 2>/dev/null; done
fixture_finish

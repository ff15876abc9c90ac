#!/usr/bin/env bash
# Integration: broadcasting consumption with the CLI (`tern consume
# --broadcast`, libtern TERN_BROADCASTING). Three members of one group each
# receive every message; each keeps its offsets in its own local file
# (written periodically and on close). A member restarted with its file
# resumes where it stopped: with --from first it still gets only the messages
# produced after it stopped, exactly once.
set -uo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/integration/tern_fixture.sh
. tests/integration/tern_fixture.sh

TOPIC=bcast
GROUP=bg
fixture_start
export TERN_NAMESRV="$NS"
t_run 20 "$TERN" topic create --topic "$TOPIC" --queues 4 >/dev/null 2>&1

member() { # member N output-file
  t_run 120 "$TERN" consume --topic "$TOPIC" --group "$GROUP" --broadcast --offsets-file "$TMP/off$1" \
    --from first --idle-exit 4 >"$2" 2>"$TMP/m$1.err"
}
seq 1 300 | sed 's/^/a-/' >"$TMP/first"
seq 1 200 | sed 's/^/b-/' >"$TMP/second"
t_run 60 "$TERN" produce --topic "$TOPIC" <"$TMP/first" >/dev/null 2>"$TMP/p1.err"
check "300 messages produced" grep -q "sent 300 messages (0 failed)" "$TMP/p1.err"

for i in 1 2 3; do member "$i" "$TMP/got$i" & PIDS[$i]=$!; done
for i in 1 2 3; do wait "${PIDS[$i]}"; done
for i in 1 2 3; do
  check "member $i received every message exactly once ($(wc -l <"$TMP/got$i") lines)" \
    cmp -s <(sort "$TMP/got$i") <(sort "$TMP/first")
  check "member $i wrote its offsets file (4 queues summing to 300)" \
    test "$(awk '{ s += $4; n++ } END { print n "/" s }' "$TMP/off$i" 2>/dev/null)" = "4/300"
done

# Member 2 restarts after more messages: it resumes from its file.
t_run 60 "$TERN" produce --topic "$TOPIC" <"$TMP/second" >/dev/null 2>"$TMP/p2.err"
member 2 "$TMP/again2"
check "the restarted member got only the new messages, each once ($(wc -l <"$TMP/again2") lines)" \
  cmp -s <(sort "$TMP/again2") <(sort "$TMP/second")
check "its offsets file advanced to 500" test "$(awk '{ s += $4 } END { print s }' "$TMP/off2")" = 500
fixture_finish

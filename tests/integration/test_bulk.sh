#!/usr/bin/env bash
# Integration: 100,000 messages through real tern-namesrv and tern-broker
# processes with the CLI: every message is consumed exactly once with its
# exact content, and within each queue the messages come back in the order
# they were produced, at contiguous offsets.
set -uo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/integration/tern_fixture.sh
. tests/integration/tern_fixture.sh

N=100000
fixture_start
export TERN_NAMESRV="$NS"
t_run 30 "$TERN" topic create --topic bulk --queues 4 >/dev/null 2>&1
t_run 300 "$TERN" produce --topic bulk --count "$N" --size 100 >"$TMP/sum" 2>&1
check "produce $N exits 0 with 0 failed" grep -q " 0 failed\$" "$TMP/sum"
t_run 300 "$TERN" consume --topic bulk --group bulk-g --from first --max "$N" --format json \
  >"$TMP/got" 2>"$TMP/consume.err"
check "consumed exactly $N lines" test "$(wc -l <"$TMP/got")" = "$N"

# queueId, queueOffset and body of every message, one per line.
awk '{
  q = $0; sub(/.*"queueId":/, "", q); sub(/,.*/, "", q)
  o = $0; sub(/.*"queueOffset":/, "", o); sub(/,.*/, "", o)
  b = $0; sub(/.*"body":"/, "", b); sub(/"}$/, "", b)
  print q "|" o "|" b
}' "$TMP/got" >"$TMP/fields"
filler="$(printf 'x%.0s' $(seq 1 89))"
check "every body is its 10-digit sequence number, a space and 89 filler bytes" \
  awk -F'|' -v tail=" $filler" 'length($3) != 100 || substr($3, 11) != tail || substr($3, 1, 10) !~ /^[0-9]+$/ { bad = 1 }
    END { exit bad }' "$TMP/fields"
check "sequence numbers 0..$((N - 1)) each exactly once" bash -c "
  cut -d'|' -f3 '$TMP/fields' | cut -c1-10 | sort -u | awk '{ if (\$1 + 0 != NR - 1) exit 1 } END { exit NR != $N }'"
check "per queue: offsets contiguous from 0 and sequence numbers increasing with the offset" bash -c "
  sort -t'|' -k1,1n -k2,2n '$TMP/fields' | awk -F'|' '
    NR == 1 || \$1 != q { q = \$1; want = 0; last = -1 }
    { seq = substr(\$3, 1, 10) + 0
      if (\$2 + 0 != want || seq <= last) exit 1
      want++; last = seq }'"
check "four queues were used" test "$(cut -d'|' -f1 "$TMP/fields" | sort -u | wc -l)" = 4
fixture_finish

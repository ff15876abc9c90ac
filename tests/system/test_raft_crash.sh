#!/usr/bin/env bash
# System: crashes and restarts of a three-member Raft broker group.
#  (2) kill -9 the leader during a numbered stream, restart it: every
#      acknowledged message is consumable, each stored offset is delivered
#      once, in send order per queue; after a clean stop all three data dirs
#      give identical tern-logsum lines (byte-identical partitions). A send
#      whose answer died with the leader is retried by libtern and may be
#      stored twice (at-least-once: there is no producer deduplication); with
#      one send in flight that is at most one message per failover.
#  (5) kill -9 all three members during a stream and restart them: nothing
#      acknowledged is lost.
#  (6) a restart re-applies nothing twice: tern-logsum before and after a
#      clean restart of all members is identical, and a fresh consumer group
#      reads exactly the stored count.
set -uo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/integration/tern_fixture.sh
. tests/integration/tern_fixture.sh
# shellcheck source=tests/system/raft_fixture.sh
. tests/system/raft_fixture.sh
[ -x "$LOGSUM" ] || { echo "tern-logsum not built" >&2; exit 1; }

raft_namesrv
raft_ports
for i in 1 2 3; do raft_start "$i"; done
L1="$(raft_leader)"
check "a leader is elected and registered as brokerId 0" test -n "$L1"
t_run 30 "$TERN" topic create --topic "$RAFT_TOPIC" --queues 4 >/dev/null 2>&1

# --- (2) kill -9 the leader mid-stream, restart it.
raft_produce a 3000
wait_lines "$TMP/acks.a" 100 60
K="$(raft_member_of "$L1")"
kill -9 "${BPID[$K]}"
at_kill=$(wc -l <"$TMP/acks.a")
wait "$PROD"
raft_acked a
check "(2) the kill hit a running stream ($at_kill of 3000 acknowledged before it)" \
  test "$at_kill" -gt 0 -a "$at_kill" -lt 3000
check "(2) every send acknowledged through the failover ($(wc -l <"$TMP/acked.a") of 3000)" \
  test "$(wc -l <"$TMP/acked.a")" = 3000
L2="$(raft_leader "$L1")"
check "(2) a new leader took over" test -n "$L2"
raft_start "$K"
# The restarted member catches up; the running replicas converge (read-only sums).
conv=0
for _ in $(seq 1 100); do
  raft_sums "$TMP/live"
  if raft_sums_equal "$TMP/live" && [ "$(raft_sum_count "$TMP/live.1")" -ge 3000 ]; then
    conv=1
    break
  fi
  sleep 0.2
done
check "(2) the restarted member caught up (tern-logsum equal on the running members)" test "$conv" = 1
raft_consume c2 "$TMP/got2"
check "(2) every acknowledged message is consumed" raft_all_present "$TMP/acked.a" "$TMP/got2"
check "(2) each stored offset delivered once, contiguous, in send order per queue" raft_in_order "$TMP/got2"
dups2=$(raft_dups "$TMP/got2")
# One send in flight (--window 1): a failover can store at most that one twice
# (committed, but its answer lost with the leader; libtern then retries it).
check "(2) at most one body stored twice, by the retry of the send in flight at the kill ($dups2)" test "$dups2" -le 1

# --- (5) kill -9 all three during a stream, restart them.
raft_produce b 4000
wait_lines "$TMP/acks.b" 100 60
for i in 1 2 3; do kill -9 "${BPID[$i]}" 2>/dev/null; done
for i in 1 2 3; do wait "${BPID[$i]}" 2>/dev/null; done
at_kill=$(wc -l <"$TMP/acks.b")
for i in 1 2 3; do raft_start "$i"; done
wait "$PROD"
raft_acked b
check "(5) the kill hit a running stream ($at_kill of 4000 acknowledged before it)" \
  test "$at_kill" -gt 0 -a "$at_kill" -lt 4000
echo "# (5) $(wc -l <"$TMP/acked.b") of 4000 sends acknowledged in all (the producer retries for 10 s)"
L3="$(raft_leader)"
check "(5) a leader is elected after the restart of all three" test -n "$L3"
raft_consume c5 "$TMP/got5"
check "(5) every message acknowledged before and during the crash is consumed" \
  bash -c "$(declare -f raft_all_present); raft_all_present '$TMP/acked.a' '$TMP/got5' && raft_all_present '$TMP/acked.b' '$TMP/got5'"
check "(5) each stored offset delivered once, contiguous, in send order per queue" raft_in_order "$TMP/got5"
dups5=$(raft_dups "$TMP/got5")
check "(5) at most one more body stored twice by the crash of all three ($dups5 in all)" test "$dups5" -le $((dups2 + 1))

# --- (6) clean stop, sums, clean restart, same sums.
clean=1
for i in 1 2 3; do raft_stop "$i" || clean=0; done
check "members exit 0 on SIGTERM" test "$clean" = 1
raft_sums "$TMP/s1"
check "(2) after a clean stop all three data dirs give identical tern-logsum lines" raft_sums_equal "$TMP/s1"
check "tern-logsum reports every partition ok" bash -c "[ \$(grep -c ' ok\$' '$TMP/s1.1') = 4 ]"
stored=$(raft_sum_count "$TMP/s1.1")
check "(6) stored count = messages a fresh group consumed ($stored)" test "$stored" = "$(wc -l <"$TMP/got5")"
for i in 1 2 3; do raft_start "$i"; done
L4="$(raft_leader)"
check "(6) a leader is elected after a clean restart" test -n "$L4"
raft_consume c6 "$TMP/got6"
check "(6) a fresh group reads the same count after the restart" test "$(wc -l <"$TMP/got6")" = "$stored"
check "(6) and the same messages at the same offsets" \
  bash -c "cmp -s <(sort '$TMP/got5') <(sort '$TMP/got6')"
clean=1
for i in 1 2 3; do raft_stop "$i" || clean=0; done
check "members exit 0 on SIGTERM after the restart" test "$clean" = 1
raft_sums "$TMP/s2"
check "(6) tern-logsum identical before and after the restart on every member" \
  bash -c "cmp -s '$TMP/s1.1' '$TMP/s2.1' && cmp -s '$TMP/s1.2' '$TMP/s2.2' && cmp -s '$TMP/s1.3' '$TMP/s2.3'"
fixture_finish

#!/usr/bin/env bash
# System: raft group operations on a broker group of three tern-broker
# processes on loopback (broker/REPLICATION.md §6, docs/CLI.md "tern group").
#   1. `tern group transfer-leader` while a producer streams: leadership moves
#      (to the most up-to-date follower, then to a named member), the new
#      leader registers as brokerId 0, and every send is acknowledged; a
#      follower refuses the operation and names the leader.
#   2. SIGTERM of the leader under load: it hands leadership over before it
#      exits (no election timeout), exits 0, and no acknowledged message is
#      lost; it restarts cleanly and catches up.
#   3. `tern group add-replica` of a 4th member started with its own config:
#      it joins as a non-voter, catches up byte-identical and becomes a voter
#      that can lead and take writes; `tern group remove-replica` takes it out
#      again, the removal survives a leader change and the group keeps taking
#      writes. Bad requests get clear refusals.
set -uo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/integration/tern_fixture.sh
. tests/integration/tern_fixture.sh
# shellcheck source=tests/system/raft_fixture.sh
. tests/system/raft_fixture.sh

TOPIC=ops
GROUP=broker-a

raft_namesrv

for i in 1 2 3 4; do
  RHOST[$i]=127.0.0.1
  while :; do
    BPORT[$i]="$(free_broker_port)"
    dup=0
    for ((k = 1; k < i; k++)); do
      [ $((BPORT[$i] - BPORT[$k])) -ge -3 ] && [ $((BPORT[$i] - BPORT[$k])) -le 3 ] && dup=1
    done
    [ "$dup" = 0 ] && break
  done
  RPORT[$i]=$((BPORT[$i] + 1)) # free_broker_port checked port+1 too
done
# Members 1-3 form the group; member 4 joins later with the same raftPeers
# (which do not list it: a member not listed does not bootstrap, it waits to
# be added).
PEERS="1@127.0.0.1:${RPORT[1]};2@127.0.0.1:${RPORT[2]};3@127.0.0.1:${RPORT[3]}"
RAFT_OPTS=(--set brokerName=$GROUP --set raftSnapshotBytes=16k)
# The leader's client address as routed: brokerId 0 of DefaultCluster.
RAFT_CLUSTER=DefaultCluster
# The raft section of `tern cluster` (member lines of the group).
raft_members() { t_run 20 "$TERN" cluster 2>/dev/null | sed -n '/^RAFT GROUP/,$p' | awk '$1 ~ /^[0-9]+$/'; }

# Stream $1 numbered lines with prefix $2 through libtern (one send at a
# time, so the stream lasts through the operation); results in $TMP/$2.*.
stream_start() {
  seq 1 "$1" | sed "s/^/$2-/" >"$TMP/$2.in"
  t_run 120 "$TERN" produce --topic "$TOPIC" --window 1 <"$TMP/$2.in" >"$TMP/$2.acks" 2>"$TMP/$2.err" &
  STREAM=$!
}
# After the stream ended: acknowledged = input lines without a "line N:" error.
stream_acked() {
  grep -o 'line [0-9]*' "$TMP/$1.err" | awk '{ print $2 }' | sort -n -u >"$TMP/$1.failed" || true
  awk 'FILENAME == ARGV[1] { bad[$1] = 1; next } !(FNR in bad)' "$TMP/$1.failed" "$TMP/$1.in" | sort >"$TMP/$1.acked"
  wc -l <"$TMP/$1.acked"
}
# Wait until the members given hold byte-identical partitions of $TOPIC.
identical() {
  local i q s first
  for _ in $(seq 1 150); do
    first=""
    local same=1
    for i in "$@"; do
      s=""
      for q in 0 1 2 3; do
        s="$s $(cat "$TMP/b$i/queues/$TOPIC/$q/"*.log 2>/dev/null | md5sum | cut -c1-12)"
      done
      if [ -z "$first" ]; then first="$s"; elif [ "$s" != "$first" ]; then same=0; fi
    done
    [ "$same" = 1 ] && return 0
    sleep 0.2
  done
  return 1
}

for i in 1 2 3; do raft_start "$i"; done
L1="$(raft_leader)"
check "a leader is elected and registered as brokerId 0" test -n "$L1"
t_run 30 "$TERN" topic create --topic "$TOPIC" --queues 4 >/dev/null 2>&1
check "topic created through the replicated log" bash -c "timeout 10 $TERN topic route --topic $TOPIC | grep -q $GROUP"
raft_members >"$TMP/members0"
check "tern cluster shows the raft group: 3 voters, one leader" \
  test "$(awk '$2 == "voter"' "$TMP/members0" | wc -l)" = 3 -a "$(awk '$3 == "leader"' "$TMP/members0" | wc -l)" = 1
check "tern cluster shows per member applied index, match index and lag" \
  test "$(awk '$6 ~ /^[0-9]+$/ && $7 ~ /^[0-9]+$/ && $8 ~ /^[0-9]+$/' "$TMP/members0" | wc -l)" = 3

# ---- 1. transfer-leader ------------------------------------------------------
K1="$(raft_member_of "$L1")"
F1=$((K1 % 3 + 1)) # a follower
t_run 20 "$TERN" group transfer-leader --broker "127.0.0.1:${BPORT[$F1]}" >"$TMP/refuse.out" 2>"$TMP/refuse.err"
rc=$?
check "a follower refuses transfer-leader (exit 1) and names the leader" \
  bash -c "[ $rc = 1 ] && grep -q 'not the leader' '$TMP/refuse.err' && grep -q 'the leader is raft member $K1 at raft address 127.0.0.1:${RPORT[$K1]}' '$TMP/refuse.err'"
check "the refusal hints at the leader's client address from the name server" \
  grep -q -- "--broker $L1" "$TMP/refuse.err"

stream_start 4000 t1
wait_lines "$TMP/t1.acks" 100 60
at_op=$(wc -l <"$TMP/t1.acks")
t0=$(date +%s%N)
t_run 30 "$TERN" group transfer-leader --broker "$L1" >"$TMP/transfer.out" 2>"$TMP/transfer.err"
rc=$?
t1=$(date +%s%N)
echo "# transfer-leader answered in $(((t1 - t0) / 1000000)) ms: $(cat "$TMP/transfer.out" "$TMP/transfer.err")"
K2="$(sed -n 's/.*leader is now raft member \([0-9]*\).*/\1/p' "$TMP/transfer.out")"
check "transfer-leader succeeds and reports the new leader" bash -c "[ $rc = 0 ] && [ -n '$K2' ] && [ '$K2' != '$K1' ]"
L2="$(raft_leader "$L1")"
check "the new leader registers as brokerId 0 (raft member $K2)" test "$L2" = "127.0.0.1:${BPORT[$K2]:-0}"
# Then to a named member: the remaining one.
for i in 1 2 3; do [ "$i" != "$K1" ] && [ "$i" != "$K2" ] && K3=$i; done
t_run 30 "$TERN" group transfer-leader --broker "$L2" --to "$K3" >"$TMP/transfer2.out" 2>&1
check "transfer-leader --to $K3 moves leadership to member $K3" grep -q "leader is now raft member $K3 " "$TMP/transfer2.out"
L3="$(raft_leader "$L2")"
check "member $K3 registers as brokerId 0" test "$L3" = "127.0.0.1:${BPORT[$K3]}"
wait "$STREAM"
acked="$(stream_acked t1)"
check "the transfer hit a running stream ($at_op of 4000 acknowledged before it)" test "$at_op" -gt 0 -a "$at_op" -lt 4000
check "sends kept working through two transfers: every send acknowledged ($acked of 4000)" test "$acked" = 4000

# ---- 2. SIGTERM of the leader ------------------------------------------------
stream_start 4000 t2
wait_lines "$TMP/t2.acks" 100 60
at_op=$(wc -l <"$TMP/t2.acks")
kill -TERM "${BPID[$K3]}"
wait "${BPID[$K3]}"
rc=$?
check "the SIGTERM'd leader exits 0" test "$rc" = 0
check "it handed leadership over before exiting (no election timeout)" \
  grep -q "shutdown hand-off: leadership moved to member" "$TMP/b$K3.log"
sig_ms="$(awk '/signal 15: shutting down/ { split($1, t, "T"); s = t[2] } /hand-off: leadership moved/ { split($1, t, "T"); e = t[2] }
  END { split(s, a, ":"); split(e, b, ":"); printf "%d", ((b[1] * 60 + b[2]) * 60 + b[3] - ((a[1] * 60 + a[2]) * 60 + a[3])) * 1000 }' "$TMP/b$K3.log")"
echo "# SIGTERM to leadership moved (leader's log): ${sig_ms} ms"
L4="$(raft_leader "$L3")"
check "a new leader registers as brokerId 0" test -n "$L4"
wait "$STREAM"
acked="$(stream_acked t2)"
check "the SIGTERM hit a running stream ($at_op of 4000 acknowledged before it)" test "$at_op" -gt 0 -a "$at_op" -lt 4000
check "every send acknowledged through the leader's SIGTERM ($acked of 4000)" test "$acked" = 4000
raft_members >"$TMP/members_down"
check "tern cluster shows the stopped member $K3 as unreachable, with the leader's match index and a lag" \
  awk -v k="$K3" '$1 == k && $2 == "voter" && $3 == "unreachable" && $7 ~ /^[0-9]+$/ && $8 ~ /^[0-9]+$/ { ok = 1 } END { exit !ok }' "$TMP/members_down"
raft_start "$K3"
check "the stopped member restarts cleanly and catches up byte-identical" identical 1 2 3

# ---- 3. add-replica and remove-replica ---------------------------------------
KL="$(raft_member_of "$L4")"
seq 1 2000 | sed 's/^/pre-/' | t_run 60 "$TERN" produce --topic "$TOPIC" >/dev/null 2>&1
raft_start 4
sleep 0.5
check "a member not in raftPeers waits to be added instead of bootstrapping" \
  grep -q "not in the initial configuration: joining" "$TMP/b4.log"
t_run 20 "$TERN" group add-replica --broker "$L4" --id 4 --address 127.0.0.1 >/dev/null 2>"$TMP/bad.err"
check "add-replica with a bad address is refused" grep -q "raftAddress must be IPv4" "$TMP/bad.err"
t_run 20 "$TERN" group add-replica --broker "$L4" --id "$K3" --address "127.0.0.1:${RPORT[4]}" >/dev/null 2>"$TMP/dup.err"
check "add-replica of an existing member id is refused" grep -q "already a member" "$TMP/dup.err"
t_run 20 "$TERN" group remove-replica --broker "$L4" --id "$KL" >/dev/null 2>"$TMP/rmlead.err"
check "remove-replica of the leader itself is refused" grep -q "transfer leadership first" "$TMP/rmlead.err"

stream_start 4000 t3
sleep 0.5
at_op=$(wc -l <"$TMP/t3.acks")
t_run 120 "$TERN" group add-replica --broker "$L4" --id 4 --address "127.0.0.1:${RPORT[4]}" >"$TMP/add.out" 2>"$TMP/add.err"
rc=$?
check "add-replica of member 4 succeeds" bash -c "[ $rc = 0 ] && grep -q 'raft member 4 .* added and promoted to voter' '$TMP/add.out'"
check "the leader promoted member 4 (a standby until then) to voter once caught up (leader's log)" \
  grep -q "promoting 4 to voter (caught up)" "$TMP/b$KL.log"
raft_members >"$TMP/members4"
check "tern cluster lists member 4 as a voter of the group" awk '$1 == 4 && $2 == "voter" { ok = 1 } END { exit !ok }' "$TMP/members4"
wait "$STREAM"
acked="$(stream_acked t3)"
check "member 4 joined during a running stream ($at_op of 4000 acknowledged before)" test "$at_op" -gt 0 -a "$at_op" -lt 4000
check "sends kept working while member 4 joined ($acked of 4000)" test "$acked" = 4000
check "member 4 caught up: all four members hold byte-identical partitions" identical 1 2 3 4
# raftSnapshotBytes=16k: the leader's log was compacted long before member 4
# joined, so it was sent a snapshot and fetched the partitions (REPLICATION.md §7).
check "member 4 joined after log compaction: snapshot installed, partitions fetched" \
  grep -q "catch-up done" "$TMP/b4.log"
check "member 4 registered with the name server as brokerId 4" \
  bash -c "timeout 10 $TERN cluster | awk '\$1 == \"DefaultCluster\" && \$3 == 4 && \$5 == \"127.0.0.1:${BPORT[4]}\" { ok = 1 } END { exit !ok }'"

# A real voter with the whole log: it can lead and take writes.
t_run 30 "$TERN" group transfer-leader --broker "$L4" --to 4 >"$TMP/to4.out" 2>&1
check "transfer-leader --to 4: the new member leads" grep -q "leader is now raft member 4 " "$TMP/to4.out"
check "member 4 registers as brokerId 0" test "$(raft_leader "$L4")" = "127.0.0.1:${BPORT[4]}"
seq 1 300 | sed 's/^/led4-/' | t_run 60 "$TERN" produce --topic "$TOPIC" >/dev/null 2>"$TMP/led4.err"
check "sends succeed with member 4 leading" grep -q "sent 300 messages (0 failed)" "$TMP/led4.err"
t_run 30 "$TERN" group transfer-leader --broker "127.0.0.1:${BPORT[4]}" --to "$KL" >/dev/null 2>&1
L4="$(raft_leader "127.0.0.1:${BPORT[4]}")"
check "leadership back on member $KL" test "$L4" = "127.0.0.1:${BPORT[$KL]}"

t_run 30 "$TERN" group remove-replica --broker "$L4" --id 4 >"$TMP/rm.out" 2>"$TMP/rm.err"
rc=$?
check "remove-replica of member 4 succeeds" bash -c "[ $rc = 0 ] && grep -q 'raft member 4 removed' '$TMP/rm.out'"
kill -TERM "${BPID[4]}"
wait "${BPID[4]}"
raft_members >"$TMP/members5"
check "member 4 is no longer in the leader's configuration" \
  bash -c "[ \$(awk '\$2 == \"voter\"' '$TMP/members5' | wc -l) = 3 ] && ! awk '\$1 == 4 && \$2 != \"(none)\" { f = 1 } END { exit !f }' '$TMP/members5'"
seq 1 500 | sed 's/^/post-/' | t_run 60 "$TERN" produce --topic "$TOPIC" >/dev/null 2>"$TMP/post.err"
check "the three-member group still takes writes" grep -q "sent 500 messages (0 failed)" "$TMP/post.err"
# The removal is in the replicated log: after a leader change the new
# leader's configuration still has three voters and no member 4.
t_run 30 "$TERN" group transfer-leader --broker "$L4" >/dev/null 2>&1
L5="$(raft_leader "$L4")"
raft_members >"$TMP/members6"
check "after another leader change the configuration still has 3 voters, without member 4" \
  bash -c "[ -n '$L5' ] && [ \$(awk '\$2 == \"voter\"' '$TMP/members6' | wc -l) = 3 ] && ! awk '\$1 == 4 && \$2 != \"(none)\" { f = 1 } END { exit !f }' '$TMP/members6'"

# Every acknowledged message of the streams is consumable.
cat "$TMP"/t?.acked | sort >"$TMP/all.acked"
t_run 120 "$TERN" consume --topic "$TOPIC" --group checker --from first --max 100000 --idle-exit 5 \
  --format json >"$TMP/got" 2>"$TMP/consume.err"
sed 's/.*"body":"//; s/"}$//' "$TMP/got" | sort -u >"$TMP/consumed"
check "no acknowledged message lost ($(wc -l <"$TMP/all.acked") acknowledged across the operations)" \
  bash -c "[ -z \"\$(comm -23 '$TMP/all.acked' '$TMP/consumed')\" ]"

for i in 1 2 3; do kill -TERM "${BPID[$i]}" 2>/dev/null; done
clean=1
for i in 1 2 3; do
  wait "${BPID[$i]}" 2>/dev/null || clean=0
done
check "every member exits 0 on SIGTERM" test "$clean" = 1
fixture_finish

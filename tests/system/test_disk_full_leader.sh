#!/usr/bin/env bash
# System: a Raft leader whose data disk fills hands leadership to a member
# with space, so the group keeps taking sends; the full member carries on as
# a follower and catches up once space is freed. Member 1's data dir is a
# 256 MB tmpfs (root only: exit 77, skipped, otherwise).
set -uo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/integration/tern_fixture.sh
. tests/integration/tern_fixture.sh
# shellcheck source=tests/system/raft_fixture.sh
. tests/system/raft_fixture.sh

[ "$(id -u)" = 0 ] || { echo "skipped: mounting a tmpfs needs root"; exit 77; }
mkdir -p "$TMP/b1"
mount -t tmpfs -o size=256m tmpfs "$TMP/b1" || { echo "skipped: cannot mount a tmpfs"; exit 77; }
cleanup() {
  FIXTURE_KEEP=1 fixture_cleanup 2>/dev/null
  umount -l "$TMP/b1" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

raft_namesrv
raft_ports
raft_start 1 --set diskMinFreeBytes=32m
raft_start 2
raft_start 3
L="$(raft_leader)"
check "a leader is elected" test -n "$L"
check "topic routed" raft_topic "$RAFT_TOPIC" 4

# Member 1 leads.
for _ in $(seq 1 10); do
  [ "$(raft_member_of "$(raft_leader)")" = 1 ] && break
  t_run 15 "$TERN" group transfer-leader --broker "$(raft_leader)" --to 1 >/dev/null 2>&1
  sleep 0.5
done
check "member 1 leads" test "$(raft_member_of "$(raft_leader)")" = 1
seq 1 200 | sed 's/^/before-/' | t_run 60 "$TERN" produce --topic "$RAFT_TOPIC" >/dev/null 2>"$TMP/p1.err"
check "200 sends acknowledged" grep -q "sent 200 messages (0 failed)" "$TMP/p1.err"

# Fill member 1's disk (below diskMinFreeBytes; the raft segment already
# allocated keeps its log writable for a while).
avail=$(df --output=avail -B1 "$TMP/b1" | tail -n 1)
dd if=/dev/zero of="$TMP/b1/filler" bs=1M count=$(((avail - 16 * 1024 * 1024) / 1048576)) 2>/dev/null
echo "# member 1: $(df --output=avail -B1 "$TMP/b1" | tail -n 1) bytes free"
moved=1
for _ in $(seq 1 100); do
  l="$(raft_member_of "$(raft_leader)")"
  [ -n "$l" ] && [ "$l" != 1 ] && { moved=0; break; }
  sleep 0.1
done
check "leadership left the full member" test "$moved" = 0
check "the full member logged why" grep -q "data disk full: leadership handed" "$TMP/b1.log"
seq 1 200 | sed 's/^/during-/' | t_run 60 "$TERN" produce --topic "$RAFT_TOPIC" >/dev/null 2>"$TMP/p2.err"
check "the group takes sends while member 1's disk is full" grep -q "sent 200 messages (0 failed)" "$TMP/p2.err"

rm -f "$TMP/b1/filler"
seq 1 200 | sed 's/^/after-/' | t_run 60 "$TERN" produce --topic "$RAFT_TOPIC" >/dev/null 2>"$TMP/p3.err"
check "sends after space returns" grep -q "sent 200 messages (0 failed)" "$TMP/p3.err"
check "member 1 catches up: members byte-identical" raft_converge "$RAFT_TOPIC" 4 150
check "member 1 is still running" kill -0 "${BPID[1]}"
fixture_finish

#!/usr/bin/env bash
# System: a far-behind follower catches up by snapshot + segment fetch
# (broker/REPLICATION.md §7). Three tern-broker members with a tiny snapshot
# budget; one follower is killed; the others take enough traffic that the
# leader snapshots and compacts its raft log past the follower; the follower
# restarts, receives InstallSnapshot, fetches the partition units it lacks
# with FETCH_SEGMENT, then applies later entries normally. All members are
# then stopped and every partition is compared byte for byte offline.
set -uo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/integration/tern_fixture.sh
. tests/integration/tern_fixture.sh
# shellcheck source=tests/system/raft_fixture.sh
. tests/system/raft_fixture.sh

TOPIC=catchup
QUEUES=4
N1=200   # before the follower stops
N2=${CATCHUP_N2:-3000} # while it is down: far more than threshold + trailing entries
PAD=${CATCHUP_PAD:-0}   # extra body bytes per message (for a memory figure by hand)
N3=200   # after it caught up
N4=100   # after it restarted once more

# raftSnapshotBytes=16k: a snapshot every ~16 KiB of log (at least 16
# entries), and only that much kept behind it.
RAFT_OPTS=(--set raftSnapshotBytes=16k --set raftCatchupTimeout=60s)
raft_group
L="$(raft_leader)"
check "a leader is elected and registered as brokerId 0" test -n "$L"
t_run 30 "$TERN" topic create --topic "$TOPIC" --queues "$QUEUES" >/dev/null 2>&1

produce() { # first count
  if [ "$PAD" -gt 0 ]; then # incompressible padding
    paste -d - <(seq "$1" $(($1 + $2 - 1)) | sed 's/^/msg-/') <(base64 -w "$PAD" </dev/urandom | head -n "$2") >"$TMP/in.$1"
  else
    seq "$1" $(($1 + $2 - 1)) | sed 's/^/msg-/' >"$TMP/in.$1"
  fi
  t_run 180 "$TERN" produce --topic "$TOPIC" --window 8 <"$TMP/in.$1" >"$TMP/acks.$1" 2>"$TMP/produce.$1.err"
  wc -l <"$TMP/acks.$1"
}
acked=$(produce 1 "$N1")
check "first $N1 sends acknowledged with all three members up ($acked)" test "$acked" = "$N1"

# Stop one follower (kill -9: no goodbye).
F=""
for i in 1 2 3; do
  [ "127.0.0.1:${BPORT[$i]}" != "$L" ] && F=$i
done
kill -9 "${BPID[$F]}"
wait "${BPID[$F]}" 2>/dev/null
acked=$(produce $((N1 + 1)) "$N2")
check "$N2 sends acknowledged by the two remaining members ($acked)" test "$acked" = "$N2"

# The leader compacted past the follower: its raft directory holds a
# snapshot far beyond the follower's last index.
snaps="$(ls "$TMP"/b*/raft/snapshot-*.meta 2>/dev/null | wc -l)"
check "snapshots were taken while the follower was down ($snaps snapshot files)" test "$snaps" -gt 0

raft_start "$F"
done_line=""
for _ in $(seq 1 300); do
  done_line="$(grep -m1 'catch-up done' "$TMP/b$F.log" || true)"
  [ -n "$done_line" ] && break
  kill -0 "${BPID[$F]}" 2>/dev/null || break
  sleep 0.1
done
echo "# follower $F: $done_line"
echo "# follower $F peak RSS after catch-up: $(awk '/VmHWM/ { print $2, $3 }' "/proc/${BPID[$F]}/status" 2>/dev/null)"
check "the restarted follower caught up by snapshot + segment fetch" test -n "$done_line"
fetched="$(echo "$done_line" | sed -n 's/.* \([0-9][0-9]*\) messages.*/\1/p')"
check "it fetched messages it missed (${fetched:-0}, at most $N2 + $N1)" \
  test "${fetched:-0}" -gt 0 -a "${fetched:-0}" -le $((N1 + N2))
check "no fetch errors on the follower" bash -c "! grep -q 'catch-up.*retrying\|cannot catch up' '$TMP/b$F.log'"
check "the leader served FETCH_SEGMENT without errors" bash -c "! grep -q 'FETCH_SEGMENT' '$TMP'/b[123].log"

# Later entries apply normally on top of the fetched units.
acked=$(produce $((N1 + N2 + 1)) "$N3")
check "$N3 more sends acknowledged after the catch-up ($acked)" test "$acked" = "$N3"

# A restart of the caught-up member restores the installed snapshot from its
# own disk: its partitions are complete, so nothing is fetched again.
kill -TERM "${BPID[$F]}"
wait "${BPID[$F]}" 2>/dev/null
rc=$?
check "the caught-up member stops cleanly ($rc)" test "$rc" = 0
raft_start "$F"
acked=$(produce $((N1 + N2 + N3 + 1)) "$N4")
check "$N4 sends acknowledged after its restart ($acked)" test "$acked" = "$N4"
check "the restart fetched nothing again (one catch-up in its log)" \
  test "$(grep -c 'catch-up done' "$TMP/b$F.log")" = 1
check "no snapshot restore error on the follower" bash -c "! grep -q 'raft snapshot at index .*:' '$TMP/b$F.log'"

# Wait until the follower has applied everything (its partition ends match
# the leader's), then stop every member and compare offline.
ends() { # member
  local s=""
  for q in $(seq 0 $((QUEUES - 1))); do
    s="$s $(cat "$TMP/b$1/queues/$TOPIC/$q/"*.log 2>/dev/null | perl -0777 -pe 's/\0+\z//' | wc -c)"
  done
  echo "$s"
}
LI=""
LI="$(raft_member_of "$L")"
for _ in $(seq 1 100); do
  [ "$(ends "$F")" = "$(ends "$LI")" ] && break
  sleep 0.2
done
for i in 1 2 3; do kill -TERM "${BPID[$i]}" 2>/dev/null; done
for i in 1 2 3; do wait "${BPID[$i]}" 2>/dev/null; done

# Per partition: every segment file's data (trailing preallocated zeros cut),
# in name order. Segment names are base offsets, so this is the whole log.
digest() { # member queue
  local d="$TMP/b$1/queues/$TOPIC/$2" f
  for f in $(ls "$d"/*.log 2>/dev/null | sort); do
    echo "$(basename "$f") $(perl -0777 -pe 's/\0+\z//' "$f" | md5sum | cut -c1-32)"
  done | md5sum | cut -c1-32
}
same=1
total=0
for q in $(seq 0 $((QUEUES - 1))); do
  a="$(digest 1 "$q")"
  b="$(digest 2 "$q")"
  c="$(digest 3 "$q")"
  echo "# queue $q: $a $b $c"
  [ "$a" = "$b" ] && [ "$a" = "$c" ] || same=0
done
check "all three members hold byte-identical partitions (segment files, offline)" test "$same" = 1
for i in 1 2 3; do "$BIN/tern-logsum" --no-header "$TMP/b$i" >"$TMP/sum.$i" 2>&1; done
check "tern-logsum gives identical lines for the three members" \
  bash -c "cmp -s '$TMP/sum.1' '$TMP/sum.2' && cmp -s '$TMP/sum.1' '$TMP/sum.3' && grep -q '^$TOPIC ' '$TMP/sum.1'"
# The content is everything acknowledged: count messages on the caught-up
# member by the unit headers' counts (STORAGE.md §3: count at bytes 40..43).
count="$(for q in $(seq 0 $((QUEUES - 1))); do
  for f in $(ls "$TMP/b$F/queues/$TOPIC/$q/"*.log | sort); do
    perl -0777 -ne '$p = 32; while ($p + 64 <= length) { ($l) = unpack("V", substr($_, $p, 4)); last if !$l;
      $n += unpack("V", substr($_, $p + 40, 4)); $p += $l } END { print $n + 0, "\n" }' "$f"
  done
done | awk '{ s += $1 } END { print s }')"
check "the caught-up member holds every acknowledged message ($count of $((N1 + N2 + N3 + N4)), retries may add)" \
  test "$count" -ge $((N1 + N2 + N3 + N4))
fixture_finish

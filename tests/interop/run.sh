#!/usr/bin/env bash
# Interoperability with ali-ons, a stock RocketMQ client for Node
# (tests/interop/package.json pins the version):
#   (a) an ali-ons producer sends messages with tags and keys (some above
#       4 KiB, zlib-compressed by ali-ons); `tern consume` with --tags receives
#       exactly the matching ones (body, tags, keys), and with '*' all of them
#       at the queue offsets ali-ons was told;
#   (b) `tern produce` writes messages with two tags; an ali-ons push-consumer
#       group subscribed to one tag receives exactly those, and its committed
#       offsets end with lag 0;
#   (c) an ali-ons producer stores a transactional half message (TRAN_MSG,
#       PGROUP; ali-ons has no END_TRANSACTION or check API); it stays
#       invisible until a live producer of the group (`tern produce --txn
#       unknown`) answers the broker's check-back with commit, then it is
#       consumed once with ali-ons' body, tags and keys.
#   (d) broadcasting: two ali-ons consumers (isBroadcast) and one
#       `tern consume --broadcast` in the same group each receive every message.
# Installs the npm dependencies into a cache dir ($TERN_INTEROP_CACHE, default
# ~/.cache/tern-interop/<lock hash>), starts a name server and a broker on free
# loopback ports with a temp dir, and stops them on exit. Bounded (< 3 min).
# Exit 0 pass, 1 fail, 77 skipped (no node/npm or the registry unreachable).
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/npm_env.sh"

. "$HERE/../integration/tern_fixture.sh"
fixture_start
echo "# name server $NS, broker $BROKER_ADDR, tmp $TMP"
export TERN_NAMESRV="$NS"
js() { t_run "$1" node "$HERE/$2" "${@:3}"; }

# ---- (a) ali-ons producer -> tern consume --tags -----------------------------
N=60
t_run 30 "$TERN" topic create --topic ons_a --queues 4 >/dev/null 2>"$TMP/err" || cat "$TMP/err"
js 60 ons_produce.js "$NS" ons_a "$N" >"$TMP/a_sent" 2>"$TMP/a_produce.err"; rc=$?
check "(a) ali-ons producer sent $N messages" test "$rc:$(wc -l <"$TMP/a_sent")" = "0:$N"
[ "$rc" = 0 ] || cat "$TMP/a_produce.err"
grep '"tags":"red"' "$TMP/a_sent" >"$TMP/a_red"
t_run 60 "$TERN" consume --topic ons_a --group tern_red --from first --tags red \
  --format json --idle-exit 3 >"$TMP/a_got_red" 2>"$TMP/a_consume.err"
check "(a) tern consume --tags red gets exactly the $((N / 2)) red messages (body, tags, keys)" \
  js 20 compare.js "$TMP/a_red" "$TMP/a_got_red"
t_run 60 "$TERN" consume --topic ons_a --group tern_all --from first \
  --format json --max "$N" >"$TMP/a_got_all" 2>>"$TMP/a_consume.err"
check "(a) tern consume '*' gets all $N (body, tags, keys)" \
  js 20 compare.js "$TMP/a_sent" "$TMP/a_got_all"
check "(a) every message is at the queue/offset the ali-ons producer was told" \
  js 20 same_positions.js "$TMP/a_sent" "$TMP/a_got_all"

# ---- (b) tern produce -> ali-ons consumer group on one tag --------------------
M=40
t_run 30 "$TERN" topic create --topic ons_b --queues 4 >/dev/null 2>"$TMP/err" || cat "$TMP/err"
seq 1 "$M" | sed 's/^/alpha-/' >"$TMP/b_alpha"
# One body above 4 KiB: tern produce sends it uncompressed by default (ali-ons
# decodes zlib only, not libtern's lz4).
{ printf 'alpha-big-'; head -c 6000 /dev/zero | tr '\0' q; echo; } >>"$TMP/b_alpha"
seq 1 "$M" | sed 's/^/beta-/' >"$TMP/b_beta"
t_run 30 "$TERN" produce --topic ons_b --tag alpha --key ka <"$TMP/b_alpha" >/dev/null 2>"$TMP/b_produce.err"; rc1=$?
t_run 30 "$TERN" produce --topic ons_b --tag beta --key kb <"$TMP/b_beta" >/dev/null 2>>"$TMP/b_produce.err"; rc2=$?
check "(b) tern produce sent $((M + 1)) alpha and $M beta" test "$rc1$rc2" = 00
sed 's/.*/{"body":"&","tags":"alpha","keys":"ka"}/' "$TMP/b_alpha" >"$TMP/b_expected"
js 90 ons_consume.js "$NS" ons_b ons_group_b alpha "$((M + 1))" 60000 2500 >"$TMP/b_got" 2>"$TMP/b_consume.err"; rc=$?
check "(b) ali-ons consumer ran" test "$rc" = 0
check "(b) ali-ons consumer on tag alpha got exactly the $((M + 1)) alpha messages (body, tags, keys)" \
  js 20 compare.js "$TMP/b_expected" "$TMP/b_got"
lag_ok=1
for _ in $(seq 1 25); do
  t_run 20 "$TERN" group offsets --group ons_group_b --topic ons_b >"$TMP/b_offsets" 2>&1
  if grep -Eq "^TOTAL +- +$((2 * M + 1)) +$((2 * M + 1)) +0\$" "$TMP/b_offsets"; then lag_ok=0; break; fi
  sleep 0.2
done
check "(b) ali-ons committed offsets reach the end of every queue (lag 0)" test "$lag_ok" = 0
[ "$lag_ok" = 0 ] || cat "$TMP/b_offsets"

# ---- (c) ali-ons half message, decided by a check-back -------------------------
t_run 30 "$TERN" topic create --topic ons_c --queues 2 >/dev/null 2>"$TMP/err" || cat "$TMP/err"
js 60 ons_txn_half.js "$NS" ons_c ons_txn_group >"$TMP/c_sent" 2>"$TMP/c_produce.err"; rc=$?
check "(c) ali-ons stored a half message (TRAN_MSG, PGROUP)" test "$rc:$(wc -l <"$TMP/c_sent")" = "0:1"
t_run 30 "$TERN" consume --topic ons_c --group tern_c1 --from first --format json --idle-exit 2 \
  >"$TMP/c_before" 2>>"$TMP/c_consume.err"
check "(c) the half message is invisible while undecided" test ! -s "$TMP/c_before"
# A live producer of the group answers the broker's check-back with commit.
echo tern-own | t_run 60 "$TERN" produce --topic ons_c --group ons_txn_group --txn unknown --txn-wait 30000 \
  >/dev/null 2>"$TMP/c_check.err"
check "(c) the broker checked the half message back with a live producer" grep -q "answered [1-9]" "$TMP/c_check.err"
t_run 30 "$TERN" consume --topic ons_c --group tern_c2 --from first --format json --idle-exit 3 \
  >"$TMP/c_got" 2>>"$TMP/c_consume.err"
check "(c) committed by the check-back: visible once with ali-ons' body, tags and keys" \
  js 20 compare.js "$TMP/c_sent" "$TMP/c_got"
# ---- (d) broadcasting: ali-ons and tern members of one group each get all -----
B=30
t_run 30 "$TERN" topic create --topic ons_d --queues 4 >/dev/null 2>"$TMP/err" || cat "$TMP/err"
seq 1 "$B" | sed 's/^/gamma-/' >"$TMP/d_in"
t_run 30 "$TERN" produce --topic ons_d --tag gamma --key kc <"$TMP/d_in" >/dev/null 2>"$TMP/d_produce.err"
check "(d) tern produce sent $B messages" grep -q "sent $B messages (0 failed)" "$TMP/d_produce.err"
sed 's/.*/{"body":"&","tags":"gamma","keys":"kc"}/' "$TMP/d_in" >"$TMP/d_expected"
for i in 1 2; do
  ONS_BROADCAST=1 js 90 ons_consume.js "$NS" ons_d ons_group_d '*' "$B" 60000 2500 >"$TMP/d_got$i" 2>"$TMP/d_consume$i.err" &
  CP[$i]=$!
done
t_run 60 "$TERN" consume --topic ons_d --group ons_group_d --broadcast --offsets-file "$TMP/d_offsets" \
  --from first --format json --idle-exit 5 >"$TMP/d_got_tern" 2>"$TMP/d_tern.err"
wait "${CP[1]}"; rc1=$?
wait "${CP[2]}"; rc2=$?
check "(d) both ali-ons broadcasting consumers ran" test "$rc1$rc2" = 00
check "(d) ali-ons broadcasting consumer 1 got all $B" js 20 compare.js "$TMP/d_expected" "$TMP/d_got1"
check "(d) ali-ons broadcasting consumer 2 got all $B" js 20 compare.js "$TMP/d_expected" "$TMP/d_got2"
check "(d) tern consume --broadcast in the same group got all $B" js 20 compare.js "$TMP/d_expected" "$TMP/d_got_tern"

if [ "$FIXTURE_FAILS" -ne 0 ]; then
  for f in "$TMP"/*.err; do
    echo "--- $f"
    tail -n 20 "$f"
  done
fi
fixture_finish

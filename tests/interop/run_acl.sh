#!/usr/bin/env bash
# Interoperability of access control with ali-ons (docs/ACL.md): a broker with
# aclEnable. ali-ons with the right AccessKey/SecretKey signs every request
# (AccessKey, OnsChannel, Signature over the sorted extFields and the body):
# its producer's sends are accepted and `tern consume`, signed through
# TERN_ACCESS_KEY, reads them back; its push consumer (heartbeat, pulls,
# offset commits) receives them; with a wrong secret every send is refused
# and the broker logs why. Exit 0 pass, 1 fail, 77 skipped (no node/npm or
# ali-ons not installable).
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/npm_env.sh"
. "$HERE/../integration/tern_fixture.sh"

cat >"$TMP/plain_acl.yml" <<YML
accounts:
  - accessKey: ons-app
    secretKey: ons-app-secret
    defaultTopicPerm: DENY
    defaultGroupPerm: DENY
    topicPerms:
      - ons_acl=PUB|SUB
    groupPerms:
      - ons_acl_group=SUB
      - tern_acl_group=SUB
  - accessKey: ops
    secretKey: ops-secret
    admin: true
YML
fixture_start --set aclEnable=true --set "aclFile=$TMP/plain_acl.yml"
export TERN_NAMESRV="$NS"
js() { t_run "$1" node "$HERE/$2" "${@:3}"; }
N=20

TERN_ACCESS_KEY=ops TERN_SECRET_KEY=ops-secret t_run 30 "$TERN" topic create --topic ons_acl --queues 2 \
  >/dev/null 2>"$TMP/err" || cat "$TMP/err"

TERN_INTEROP_AK=ons-app TERN_INTEROP_SK=ons-app-secret js 60 ons_produce.js "$NS" ons_acl "$N" \
  >"$TMP/sent" 2>"$TMP/produce.err"
rc=$?
check "ali-ons producer with the right secret: all $N sends accepted" test "$rc:$(wc -l <"$TMP/sent")" = "0:$N"
[ "$rc" = 0 ] || tail -n 5 "$TMP/produce.err"

TERN_ACCESS_KEY=ons-app TERN_SECRET_KEY=ons-app-secret t_run 60 "$TERN" consume --topic ons_acl \
  --group tern_acl_group --from first --format json --max "$N" >"$TMP/got_tern" 2>"$TMP/consume.err"
check "signed tern consume reads back exactly what ali-ons sent" js 20 compare.js "$TMP/sent" "$TMP/got_tern"

TERN_INTEROP_AK=ons-app TERN_INTEROP_SK=ons-app-secret js 90 ons_consume.js "$NS" ons_acl ons_acl_group '*' \
  "$N" 60000 1500 >"$TMP/got_ons" 2>"$TMP/ons_consume.err"
check "ali-ons push consumer (signed heartbeat, pulls, commits) receives all $N" \
  js 20 compare.js "$TMP/sent" "$TMP/got_ons"

TERN_INTEROP_AK=ons-app TERN_INTEROP_SK=not-the-secret js 60 ons_produce.js "$NS" ons_acl 3 \
  >"$TMP/sent_bad" 2>"$TMP/produce_bad.err"
rc=$?
check "ali-ons with a wrong secret: no send accepted" test "$rc" != 0 -a ! -s "$TMP/sent_bad"
check "the broker logs the refused signature" grep -q "Check signature failed for accessKey=ons-app" "$TMP/broker.log"

if [ "$FIXTURE_FAILS" -ne 0 ]; then
  for f in "$TMP"/*.err; do echo "--- $f"; tail -n 20 "$f"; done
fi
fixture_finish

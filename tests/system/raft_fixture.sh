# shellcheck shell=bash
# Helpers for the Raft system tests: a name server and a three-member broker
# group (brokerName broker-a) on real processes, numbered producers, and the
# checks every scenario shares. Source after tests/integration/tern_fixture.sh.
#
#   raft_namesrv [host]             start a name server; sets TERN_NAMESRV
#   raft_ports [host...]            pick broker/raft ports; RHOST[i] = host of member i
#   raft_start i [--set k=v ...]    start member i (BPID[i]) with RAFT_OPTS; logs to $TMP/b$i.log
#   raft_group                      raft_namesrv, raft_ports and raft_start 1 2 3
#   raft_topic topic queues [pause] create a topic, poll (50 x pause s) until routed to broker-a
#   raft_stop i                     SIGTERM member i and wait; 0 if it exited 0
#   raft_leader [not]               routed brokerId-0 address (not $1), polled up to 15 s;
#                                   only in cluster $RAFT_CLUSTER if that is set
#   raft_member_of addr             member number (any BPORT index) listening on addr
#   raft_produce tag n [args]       send tag-1..tag-n one at a time in the background (PROD)
#   raft_acked tag                  after the producer ended: acknowledged lines -> $TMP/acked.tag
#   raft_consume group out          consume everything from the first offset: queue|offset|body lines
#   raft_converge topic queues tries [members]  poll (tries x 0.2 s) until the members
#                                   (default "1 2 3") hold the same partition bytes of
#                                   topic (NUL padding ignored)
#   raft_sums out                   tern-logsum of every member's data dir: $out.1..3
#   keyed_start k topic pause       K keyed producers (key k1..kK, one send at a time,
#                                   a line "k<i>:<seq>" every pause s) until $TMP/run goes;
#                                   KPID[i]; files $TMP/in<i>, ack<i>, perr<i>
#   keyed_wait k                    wait (60 s each) for the keyed producers to end
#   keyed_acked k                   acknowledged lines "k<i>:<seq>" of all of them
RAFT_TOPIC="${RAFT_TOPIC:-rt}"
LOGSUM="$BIN/tern-logsum"
declare -a BPORT RPORT BPID RHOST RNS KPID
# Extra tern-broker options every raft_start passes (a test's own settings).
declare -a RAFT_OPTS

raft_namesrv() {
  local host="${1:-127.0.0.1}" nsport=""
  "$BIN/tern-namesrv" --port 0 --set listenHost=0.0.0.0 >"$TMP/namesrv.log" 2>&1 &
  FIXTURE_PIDS+=($!)
  for _ in $(seq 1 100); do
    nsport="$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$TMP/namesrv.log" | head -n 1)"
    [ -n "$nsport" ] && break
    sleep 0.1
  done
  [ -n "$nsport" ] || { echo "name server did not start" >&2; cat "$TMP/namesrv.log" >&2; exit 1; }
  export TERN_NAMESRV="$host:$nsport"
}

raft_ports() {
  local i
  for i in 1 2 3; do
    RHOST[$i]="${1:-127.0.0.1}"
    [ $# -gt 1 ] && shift
    # free_broker_port checks port and port+1 only when called: keep every
    # member's pair apart from the pairs already chosen (a member's client
    # port once equalled another's raft port).
    local p j clash
    for _ in $(seq 1 50); do
      p="$(free_broker_port)"
      clash=0
      for ((j = 1; j < i; j++)); do
        [ $((p - BPORT[j])) -ge -1 ] && [ $((p - BPORT[j])) -le 1 ] && clash=1
      done
      [ "$clash" = 0 ] && break
    done
    BPORT[$i]="$p"
    RPORT[$i]=$((BPORT[$i] + 1))
  done
  PEERS="1@${RHOST[1]}:${RPORT[1]};2@${RHOST[2]}:${RPORT[2]};3@${RHOST[3]}:${RPORT[3]}"
}

# RNS[i], if set, is a command prefix (e.g. "ip netns exec ns1") for member i.
raft_start() {
  local i=$1
  shift
  ${RNS[$i]:-} "$BIN/tern-broker" --set "listenPort=${BPORT[$i]}" --set "listenHost=${RHOST[$i]}" \
    --set "brokerIP1=${RHOST[$i]}" --set "storePathRootDir=$TMP/b$i" --set "namesrvAddr=$TERN_NAMESRV" \
    --set diskMinFreeBytes=0 --set "raftId=$i" --set "raftAddress=${RHOST[$i]}:${RPORT[$i]}" \
    --set "raftPeers=$PEERS" ${RAFT_OPTS[@]+"${RAFT_OPTS[@]}"} "$@" >>"$TMP/b$i.log" 2>&1 &
  BPID[$i]=$!
  FIXTURE_PIDS+=("${BPID[$i]}")
}

# The usual set-up: a name server on loopback and members 1-3 on loopback.
raft_group() {
  local i
  raft_namesrv
  raft_ports
  for i in 1 2 3; do raft_start "$i"; done
}

# The topic is created through the replicated log; wait until the name server
# routes it (the create itself may answer before the route is registered).
raft_topic() {
  local topic=$1 queues=$2 pause=${3:-0.2}
  t_run 30 "$TERN" topic create --topic "$topic" --queues "$queues" >/dev/null 2>&1
  for _ in $(seq 1 50); do
    t_run 10 "$TERN" topic route --topic "$topic" 2>/dev/null | grep -q broker-a && return 0
    sleep "$pause"
  done
  return 1
}

raft_stop() {
  local i=$1 rc
  kill -TERM "${BPID[$i]}" 2>/dev/null || return 1
  wait "${BPID[$i]}" 2>/dev/null
  rc=$?
  return $rc
}

raft_leader() {
  local not="${1:-none}" a
  for _ in $(seq 1 150); do
    a="$(t_run 5 "$TERN" cluster 2>/dev/null | awk -v c="${RAFT_CLUSTER:-}" '(c == "" || $1 == c) && $3 == 0 { print $5 }')"
    if [ -n "$a" ] && [ "$a" != "$not" ]; then
      echo "$a"
      return 0
    fi
    sleep 0.1
  done
  return 1
}

raft_member_of() {
  local i
  for i in "${!BPORT[@]}"; do
    [ "${RHOST[$i]}:${BPORT[$i]}" = "$1" ] && echo "$i" && return 0
  done
  return 1
}

# Numbered bodies "tag-N": the number gives the send order for the checks.
raft_produce() {
  local tag=$1 n=$2
  shift 2
  seq 1 "$n" | sed "s/^/$tag-/" >"$TMP/in.$tag"
  t_run 120 "$TERN" produce --topic "$RAFT_TOPIC" --window 1 "$@" <"$TMP/in.$tag" >"$TMP/acks.$tag" \
    2>"$TMP/produce.$tag.err" &
  PROD=$!
}

# Results come in input order; a failed send is reported as "line N: ...".
raft_acked() {
  local tag=$1
  grep -o 'line [0-9]*' "$TMP/produce.$tag.err" | awk '{ print $2 }' | sort -n -u >"$TMP/failed.$tag" || true
  awk 'FILENAME == ARGV[1] { bad[$1] = 1; next } !(FNR in bad)' "$TMP/failed.$tag" "$TMP/in.$tag" \
    | sort >"$TMP/acked.$tag"
}

raft_consume() {
  local group=$1 out=$2
  t_run 120 "$TERN" consume --topic "$RAFT_TOPIC" --group "$group" --from first --max 1000000 --idle-exit 5 \
    --format json >"$out.json" 2>"$out.err"
  awk '{ q = $0; sub(/.*"queueId":/, "", q); sub(/,.*/, "", q)
         o = $0; sub(/.*"queueOffset":/, "", o); sub(/,.*/, "", o)
         b = $0; sub(/.*"body":"/, "", b); sub(/"}$/, "", b)
         print q "|" o "|" b }' "$out.json" >"$out"
}

# Every acknowledged line of $1 (sorted) is among the consumed bodies of $2.
raft_all_present() {
  [ -z "$(comm -23 "$1" <(cut -d'|' -f3 "$2" | sort -u))" ]
}

# Each stored offset delivered exactly once, offsets per queue contiguous from
# 0, and within one producer tag the numbers increase per queue (a repeat of a
# send retried after a failover aside: its first copy counts).
raft_in_order() {
  sort -t'|' -k1,1n -k2,2n "$1" | awk -F'|' '
    NR == 1 || $1 != q { q = $1; want = 0; delete last }
    { if ($2 + 0 != want) { print "queue " q ": offset " $2 " where " want " expected" > "/dev/stderr"; exit 1 }
      want++
      t = $3; sub(/-[0-9]+$/, "", t); n = substr($3, length(t) + 2) + 0
      if ($3 in seen) next
      seen[$3] = 1
      if ((t in last) && n <= last[t]) { print "queue " q ": " $3 " after " t "-" last[t] > "/dev/stderr"; exit 1 }
      last[t] = n }'
}

# Bodies stored more than once (producer retries across a failover).
raft_dups() {
  cut -d'|' -f3 "$1" | sort | uniq -d | wc -l
}

raft_converge() {
  local topic=$1 queues=$2 tries=$3 members="${4:-1 2 3}" i q s sums
  for _ in $(seq 1 "$tries"); do
    sums=""
    for i in $members; do
      s=""
      for ((q = 0; q < queues; q++)); do
        s="$s $(cat "$TMP/b$i/queues/$topic/$q/"*.log 2>/dev/null | tr -d '\000' | md5sum | cut -c1-12)"
      done
      sums="$sums$s"$'\n'
    done
    [ "$(sort -u <<<"$sums" | grep -c .)" = 1 ] && return 0
    sleep 0.2
  done
  return 1
}

raft_sums() {
  local i
  for i in 1 2 3; do
    "$LOGSUM" --no-header "$TMP/b$i" >"$1.$i" 2>&1 || echo "tern-logsum exit $?" >>"$1.$i"
  done
}

raft_sums_equal() {
  cmp -s "$1.1" "$1.2" && cmp -s "$1.1" "$1.3"
}

# Total messages in a tern-logsum output.
raft_sum_count() {
  awk '{ n += $5 } END { print n + 0 }' "$1"
}

keyed_start() {
  local n=$1 topic=$2 pause=$3 k
  touch "$TMP/run"
  for k in $(seq 1 "$n"); do
    (s=0
     while [ -e "$TMP/run" ]; do s=$((s + 1)); echo "k$k:$s"; sleep "$pause"; done) | tee "$TMP/in$k" |
      "$TERN" produce --topic "$topic" --key "k$k" --window 1 >"$TMP/ack$k" 2>"$TMP/perr$k" &
    KPID[$k]=$!
    FIXTURE_PIDS+=("${KPID[$k]}")
  done
}

keyed_wait() {
  local k
  rm -f "$TMP/run"
  for k in $(seq 1 "$1"); do t_run 60 tail --pid="${KPID[$k]}" -f /dev/null; done
}

# The producer answers input lines in order: a result line for each
# acknowledged one, a "line N:" error for each refused one (listed in
# $TMP/failed<i>). Lines past those were never sent (still in the pipe).
keyed_acked() {
  local k n_done
  for k in $(seq 1 "$1"); do
    grep -o 'line [0-9]*' "$TMP/perr$k" | awk '{ print $2 }' | sort -n -u >"$TMP/failed$k" || true
    n_done=$(($(wc -l <"$TMP/ack$k") + $(wc -l <"$TMP/failed$k")))
    awk -v n="$n_done" 'FILENAME == ARGV[1] { bad[$1] = 1; next } FNR <= n && !(FNR in bad)' \
      "$TMP/failed$k" "$TMP/in$k"
  done
}

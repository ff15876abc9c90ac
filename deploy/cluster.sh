#!/usr/bin/env bash
# A local Tern cluster: one name server and N broker groups on this machine.
#
#   deploy/cluster.sh up     [options]   start (builds the binaries if missing)
#   deploy/cluster.sh down   [options]   stop exactly the processes `up` started
#   deploy/cluster.sh status [options]   show them (and `tern cluster` if up)
#
# Options (also from the environment in brackets):
#   --brokers N        broker groups: broker-a, broker-b, ... (default 1)
#   --replicas N       members per group: 1, 3 (default) or 5. With more than 1 the
#                      members of a group form a Raft group (raftId 1..N); member m
#                      of all groups counted together uses port P + 10*m and Raft
#                      port P + 10*m + 1
#   --namesrv-port P   name-server port [TERN_NAMESRV_PORT] (default 9876)
#   --broker-port P    first broker's listenPort [TERN_BROKER_PORT] (default 10911);
#                      broker process m uses P + 10*m, and also listens on port-2
#   --data DIR         data, logs and pid files [TERN_DATA] (default ./data)
#   --conf FILE        broker configuration template (default deploy/conf/broker-dev.conf)
#   --cluster NAME     brokerClusterName (default DefaultCluster)
#   --set key=value    extra broker configuration override (repeatable)
#   --bin DIR          directory with tern-namesrv, tern-broker, tern [TERN_BIN_DIR]
#                      (default ./build/bin; built with cmake into ./build if missing)
#   --timeout S        seconds to wait for every broker to register (default 30)
#
# `up` prints the name-server address (also written to DIR/cluster.env) and exits
# 0 once every broker appears in `tern cluster`; on failure it stops what it
# started, shows the log tails and exits 1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() { sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

cmd="${1:-}"
case "$cmd" in
  up|down|status) shift ;;
  -h|--help|help) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
esac

brokers=1
replicas=3
ns_port="${TERN_NAMESRV_PORT:-9876}"
broker_port="${TERN_BROKER_PORT:-10911}"
data="${TERN_DATA:-./data}"
conf="$ROOT/deploy/conf/broker-dev.conf"
cluster=DefaultCluster
bin="${TERN_BIN_DIR:-}"
timeout_s=30
extra_sets=()

need() { [ $# -ge 2 ] || { echo "cluster.sh: $1 needs a value" >&2; exit 2; }; }
while [ $# -gt 0 ]; do
  case "$1" in
    --brokers) need "$@"; brokers="$2"; shift 2 ;;
    --replicas) need "$@"; replicas="$2"; shift 2 ;;
    --namesrv-port) need "$@"; ns_port="$2"; shift 2 ;;
    --broker-port) need "$@"; broker_port="$2"; shift 2 ;;
    --data) need "$@"; data="$2"; shift 2 ;;
    --conf) need "$@"; conf="$2"; shift 2 ;;
    --cluster) need "$@"; cluster="$2"; shift 2 ;;
    --set) need "$@"; extra_sets+=(--set "$2"); shift 2 ;;
    --bin) need "$@"; bin="$2"; shift 2 ;;
    --timeout) need "$@"; timeout_s="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "cluster.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

isnum() { [[ "$1" =~ ^[0-9]+$ ]]; }
for v in "$brokers" "$replicas" "$ns_port" "$broker_port" "$timeout_s"; do
  isnum "$v" || { echo "cluster.sh: not a number: $v" >&2; exit 2; }
done
if [ "$replicas" -ne 1 ] && [ "$replicas" -ne 3 ] && [ "$replicas" -ne 5 ]; then
  echo "cluster.sh: --replicas must be 1, 3 or 5" >&2
  exit 2
fi
if [ "$brokers" -lt 1 ] || [ "$brokers" -gt 26 ]; then
  echo "cluster.sh: --brokers must be 1..26" >&2
  exit 2
fi

mkdir -p "$data"
data="$(cd "$data" && pwd)"
piddir="$data/pids"
logdir="$data/logs"
ns_addr="127.0.0.1:$ns_port"

if [ -z "$bin" ]; then
  bin="$ROOT/build/bin"
fi

LETTERS=abcdefghijklmnopqrstuvwxyz
broker_name() { printf 'broker-%s' "${LETTERS:$1:1}"; }

# A pid file holds "PID"; the process is ours only if it still runs a tern binary.
pid_alive() {
  local f="$1" pid
  [ -f "$f" ] || return 1
  pid="$(cat "$f" 2>/dev/null)" || return 1
  isnum "$pid" || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'tern-' || return 1
  echo "$pid"
}

# During start-up the pid is ours for sure (we just forked it, maybe before
# its exec), so only liveness counts.
started_alive() {
  local pid
  pid="$(cat "$1" 2>/dev/null)" || return 1
  kill -0 "$pid" 2>/dev/null
}

stop_one() {
  local f="$1" name pid i
  name="$(basename "$f" .pid)"
  if pid="$(pid_alive "$f")"; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "cluster.sh: $name (pid $pid) did not stop in 10 s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    echo "stopped $name (pid $pid)"
  fi
  rm -f "$f"
}

do_down() {
  local f found=0
  [ -d "$piddir" ] || { echo "cluster.sh: nothing started under $data"; return 0; }
  # Brokers first so they do not log a lost name server.
  for f in "$piddir"/broker-*.pid "$piddir"/namesrv.pid; do
    [ -e "$f" ] || continue
    found=1
    stop_one "$f"
  done
  [ "$found" = 1 ] || echo "cluster.sh: nothing started under $data"
  rm -f "$data/cluster.env"
}

tern_cli() { "$bin/tern" "$@"; }

do_status() {
  local f pid any=0
  if [ -f "$data/cluster.env" ]; then
    # shellcheck disable=SC1091
    . "$data/cluster.env"
    ns_addr="${TERN_NAMESRV:-$ns_addr}"
  fi
  for f in "$piddir"/namesrv.pid "$piddir"/broker-*.pid; do
    [ -e "$f" ] || continue
    any=1
    if pid="$(pid_alive "$f")"; then
      printf '%-12s running  pid %s\n' "$(basename "$f" .pid)" "$pid"
    else
      printf '%-12s stopped  (stale pid file)\n' "$(basename "$f" .pid)"
    fi
  done
  if [ "$any" = 0 ]; then
    echo "no cluster started under $data"
    return 1
  fi
  echo "name server: $ns_addr   data: $data"
  if [ -x "$bin/tern" ] && pid_alive "$piddir/namesrv.pid" >/dev/null; then
    tern_cli cluster --namesrv "$ns_addr" || true
  fi
}

port_busy() {
  if command -v ss >/dev/null 2>&1; then
    ss -Htln "sport = :$1" 2>/dev/null | grep -q .
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}

ensure_binaries() {
  if [ -x "$bin/tern-namesrv" ] && [ -x "$bin/tern-broker" ] && [ -x "$bin/tern" ]; then
    return 0
  fi
  if [ "$bin" != "$ROOT/build/bin" ]; then
    echo "cluster.sh: $bin lacks tern-namesrv, tern-broker or tern" >&2
    exit 1
  fi
  echo "cluster.sh: building into $ROOT/build"
  cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$ROOT/build" -j"$(nproc 2>/dev/null || echo 2)" --target tern-namesrv tern-broker tern
}

fail_up() {
  local f
  echo "cluster.sh: $1" >&2
  for f in "$logdir"/*.log; do
    [ -e "$f" ] || continue
    echo "--- tail of $f" >&2
    tail -n 15 "$f" >&2
  done
  do_down >&2
  exit 1
}

do_up() {
  local i name port f
  ensure_binaries
  for f in "$piddir"/*.pid; do
    [ -e "$f" ] || continue
    if pid_alive "$f" >/dev/null; then
      echo "cluster.sh: already running under $data ($(basename "$f" .pid)); run 'cluster.sh down${data:+ --data $data}' first" >&2
      exit 1
    fi
    rm -f "$f"
  done
  mkdir -p "$piddir" "$logdir"

  port_busy "$ns_port" && { echo "cluster.sh: port $ns_port is in use (--namesrv-port)" >&2; exit 1; }
  for ((i = 0; i < brokers * replicas; i++)); do
    port=$((broker_port + 10 * i))
    for p in "$port" $((port - 2)) $((port + 1)); do
      port_busy "$p" && { echo "cluster.sh: port $p is in use (--broker-port)" >&2; exit 1; }
    done
  done

  nohup "$bin/tern-namesrv" -c "$ROOT/deploy/conf/namesrv.conf" --port "$ns_port" \
    >"$logdir/namesrv.log" 2>&1 </dev/null &
  echo $! >"$piddir/namesrv.pid"
  # Brokers register at start-up and then only every registerNameServerPeriod,
  # so the name server must be listening before they start.
  local ns_deadline=$((SECONDS + 10))
  until port_busy "$ns_port"; do
    started_alive "$piddir/namesrv.pid" || fail_up "the name server exited during start-up"
    [ "$SECONDS" -lt "$ns_deadline" ] || fail_up "the name server did not listen on $ns_port within 10s"
    sleep 0.1
  done

  local j m peers member raft_sets
  for ((i = 0; i < brokers; i++)); do
    name="$(broker_name "$i")"
    peers=""
    for ((j = 1; j <= replicas; j++)); do
      m=$((i * replicas + j - 1))
      peers="$peers${peers:+;}$j@127.0.0.1:$((broker_port + 10 * m + 1))"
    done
    for ((j = 1; j <= replicas; j++)); do
      m=$((i * replicas + j - 1))
      port=$((broker_port + 10 * m))
      member="$name"
      raft_sets=()
      if [ "$replicas" -gt 1 ]; then
        member="$name-$j"
        raft_sets=(--set "raftId=$j" --set "raftAddress=127.0.0.1:$((port + 1))" --set "raftPeers=$peers")
      fi
      mkdir -p "$data/$member"
      nohup "$bin/tern-broker" -c "$conf" \
        --set "brokerClusterName=$cluster" --set "brokerName=$name" --set brokerId=0 \
        --set "listenPort=$port" --set "namesrvAddr=$ns_addr" --set brokerIP1=127.0.0.1 \
        --set "storePathRootDir=$data/$member" ${raft_sets[@]+"${raft_sets[@]}"} \
        ${extra_sets[@]+"${extra_sets[@]}"} >"$logdir/$member.log" 2>&1 </dev/null &
      echo $! >"$piddir/$member.pid"
    done
  done

  # Wait until every broker is registered with the name server.
  local deadline=$((SECONDS + timeout_s)) out missing
  while :; do
    for f in "$piddir"/*.pid; do
      started_alive "$f" || fail_up "$(basename "$f" .pid) exited during start-up"
    done
    missing=0
    if out="$(tern_cli cluster --namesrv "$ns_addr" 2>/dev/null)"; then
      # Every group has a member registered as brokerId 0 (its leader).
      for ((i = 0; i < brokers; i++)); do
        awk -v n="$(broker_name "$i")" '$2 == n && $3 == 0 { ok = 1 } END { exit !ok }' <<<"$out" || missing=1
      done
    else
      missing=1
    fi
    [ "$missing" = 0 ] && break
    [ "$SECONDS" -lt "$deadline" ] || fail_up "brokers did not register within ${timeout_s}s"
    sleep 0.2
  done

  printf 'TERN_NAMESRV=%s\n' "$ns_addr" >"$data/cluster.env"
  echo "$out"
  echo "cluster up: $brokers broker group(s) of $replicas member(s), data and logs in $data"
  echo "name server: $ns_addr    (export TERN_NAMESRV=$ns_addr)"
  echo "stop with:   bash deploy/cluster.sh down --data $data"
}

case "$cmd" in
  up) do_up ;;
  down) do_down ;;
  status) do_status ;;
esac

# shellcheck shell=bash
# Shell fixture for tests that run the real binaries: a name server and one
# broker on free loopback ports with a fresh temp dir, stopped by an EXIT
# trap. Source it, then call fixture_start. Needs TERN_BIN_DIR (ctest sets
# it; default ./build/bin).
#
#   fixture_start [broker --set key=value ...]   starts both, waits for registration
#   NS            name-server address "127.0.0.1:PORT"
#   BROKER_ADDR   broker address; BIN, TMP, TERN (the CLI) also set
#   t_run SECS cmd...   run a command bounded in time
#   check DESC cond-command...   record a pass/fail; fixture_finish exits with the result
#   wait_lines FILE N SECS       poll until FILE has N lines

BIN="${TERN_BIN_DIR:-$(pwd)/build/bin}"
TERN="$BIN/tern"
FIXTURE_FAILS=0
FIXTURE_CHECKS=0
FIXTURE_PIDS=()

for _b in tern tern-namesrv tern-broker; do
  if [ ! -x "$BIN/$_b" ]; then
    echo "fixture: $BIN/$_b not found (set TERN_BIN_DIR)" >&2
    exit 1
  fi
done

[ -n "${TERN_TEST_TMPDIR:-}" ] && mkdir -p "$TERN_TEST_TMPDIR"
TMP="$(mktemp -d "${TERN_TEST_TMPDIR:-${TMPDIR:-/tmp}}/tern-sh.XXXXXX" 2>/dev/null || mktemp -d)"

fixture_cleanup() {
  local p
  for p in "${FIXTURE_PIDS[@]}"; do
    kill -TERM "$p" 2>/dev/null || true
  done
  for p in "${FIXTURE_PIDS[@]}"; do
    for _ in $(seq 1 50); do
      kill -0 "$p" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  FIXTURE_PIDS=()
  if [ "${FIXTURE_KEEP:-0}" = 1 ]; then
    echo "fixture: kept $TMP" >&2
  else
    rm -rf "$TMP"
  fi
}
trap fixture_cleanup EXIT
trap 'exit 130' INT TERM

t_run() {
  local secs="$1"
  shift
  timeout -k 5 "$secs" "$@"
}

# wait_lines FILE N SECS: poll until FILE has at least N lines (0) or SECS pass (1).
# A fault injected "a moment after a stream starts" waits for this rather than
# a fixed sleep, so it hits a running stream on slow and fast machines alike.
wait_lines() {
  local file=$1 n=$2 secs=$3 i
  for ((i = 0; i < secs * 20; i++)); do
    [ "$(wc -l <"$file" 2>/dev/null || echo 0)" -ge "$n" ] && return 0
    sleep 0.05
  done
  return 1
}

check() {
  local desc="$1"
  shift
  FIXTURE_CHECKS=$((FIXTURE_CHECKS + 1))
  if "$@"; then
    echo "ok   - $desc"
  else
    echo "FAIL - $desc"
    FIXTURE_FAILS=$((FIXTURE_FAILS + 1))
  fi
}

fixture_finish() {
  echo "# $((FIXTURE_CHECKS - FIXTURE_FAILS))/$FIXTURE_CHECKS checks passed"
  if [ "$FIXTURE_FAILS" -ne 0 ]; then
    local f
    for f in "$TMP"/*.log; do
      [ -e "$f" ] || continue
      echo "--- tail of $f"
      tail -n 20 "$f"
    done
    exit 1
  fi
  exit 0
}

port_listening() {
  if command -v ss >/dev/null 2>&1; then
    ss -Htln "sport = :$1" 2>/dev/null | grep -q .
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}

# A port P with P and P-2 free (the broker listens on both), below Linux's
# ephemeral range (32768+) so outgoing connections cannot take it meanwhile.
free_broker_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20002 + (RANDOM * 32768 + RANDOM) % 12000))
    if ! port_listening "$p" && ! port_listening $((p - 2)) && ! port_listening $((p + 1)); then
      echo "$p"
      return 0
    fi
  done
  return 1
}

fixture_start() {
  local port
  "$BIN/tern-namesrv" --port 0 >"$TMP/namesrv.log" 2>&1 &
  FIXTURE_PIDS+=($!)
  port=""
  for _ in $(seq 1 100); do
    port="$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$TMP/namesrv.log" | head -n 1)"
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { echo "fixture: name server did not start" >&2; cat "$TMP/namesrv.log" >&2; exit 1; }
  NS="127.0.0.1:$port"

  local bport _try
  for _try in 1 2 3; do
    bport="$(free_broker_port)" || { echo "fixture: no free port" >&2; exit 1; }
    mkdir -p "$TMP/broker"
    "$BIN/tern-broker" --set brokerName=broker-a --set brokerId=0 \
      --set "listenPort=$bport" --set listenHost=127.0.0.1 --set brokerIP1=127.0.0.1 \
      --set "namesrvAddr=$NS" --set "storePathRootDir=$TMP/broker" \
      --set autoCreateTopicEnable=true --set diskMinFreeBytes=0 "$@" \
      >"$TMP/broker.log" 2>&1 &
    local bpid=$!
    FIXTURE_PIDS+=("$bpid")
    BROKER_ADDR="127.0.0.1:$bport"
    for _ in $(seq 1 150); do
      kill -0 "$bpid" 2>/dev/null || break
      if "$TERN" cluster --namesrv "$NS" 2>/dev/null | grep -q "$BROKER_ADDR"; then
        return 0
      fi
      sleep 0.1
    done
    kill -0 "$bpid" 2>/dev/null && { echo "fixture: broker did not register" >&2; cat "$TMP/broker.log" >&2; exit 1; }
    # Lost a race for the port: try another.
    wait "$bpid" 2>/dev/null || true
  done
  echo "fixture: broker did not start" >&2
  cat "$TMP/broker.log" >&2
  exit 1
}

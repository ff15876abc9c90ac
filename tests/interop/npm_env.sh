# shellcheck shell=bash
# Shared set-up of the ali-ons interoperability scripts (source it with HERE
# set to tests/interop): TERN_BIN_DIR, node and npm (exit 77 without them),
# the npm dependencies installed into a cache dir keyed by the lock file
# ($TERN_INTEROP_CACHE, default ~/.cache/tern-interop/<lock hash>; exit 77 if
# the registry cannot be reached), NODE_PATH.
: "${TERN_BIN_DIR:=$HERE/../../build/bin}"
export TERN_BIN_DIR

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "interop: SKIP: node and npm are needed" >&2
  exit 77
fi

# ---- npm dependencies, cached by lock-file hash -------------------------------
lockhash="$(cat "$HERE/package.json" "$HERE/package-lock.json" 2>/dev/null | sha256sum | cut -c1-16)"
cache="${TERN_INTEROP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tern-interop/$lockhash}"
if [ ! -f "$cache/node_modules/ali-ons/package.json" ]; then
  mkdir -p "$cache"
  cp "$HERE/package.json" "$cache/"
  [ -f "$HERE/package-lock.json" ] && cp "$HERE/package-lock.json" "$cache/"
  echo "# installing npm dependencies into $cache"
  if [ -f "$cache/package-lock.json" ]; then npm_cmd=(npm ci); else npm_cmd=(npm install); fi
  if ! (cd "$cache" && timeout 120 "${npm_cmd[@]}" --no-audit --no-fund --loglevel=error >"$cache/npm.log" 2>&1); then
    echo "interop: SKIP: npm install failed (registry unreachable?):" >&2
    tail -n 5 "$cache/npm.log" >&2
    exit 77
  fi
fi
export NODE_PATH="$cache/node_modules"
echo "# ali-ons $(node -p "require('$cache/node_modules/ali-ons/package.json').version"), node $(node --version)"

#!/usr/bin/env bash
# Install Tern's build and test dependencies on Debian 12, idempotently.
# Run as root (or with sudo available). Skips packages already installed.
# --bench adds the peer servers and client libraries of bench/compare.sh.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config git
  libuv1-dev libraft-dev liblz4-dev libxxhash-dev libjansson-dev zlib1g-dev
  libcmocka-dev uthash-dev
  nettle-dev libyaml-dev     # ACL: HMAC-SHA1 signatures, plain_acl.yml
  clang libclang-rt-14-dev   # libFuzzer and sanitizer runtimes for the fuzz targets
  iproute2 procps            # network namespaces and process tools for system tests
  jq python3                  # JSON checks in the benchmark smoke run
)
# --bench: also the peers of bench/compare.sh (run by hand, not needed by CI):
# the servers and the client libraries of the optional peer drivers.
if [ "${1:-}" = "--bench" ]; then
  PACKAGES+=(nats-server libnats-dev redis-server libhiredis-dev)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"

#!/usr/bin/env bash
# Build every libFuzzer target with clang + ASan/UBSan and run each for a bounded time.
#   tests/fuzz/run.sh [SECONDS_PER_TARGET]   (default 8)
# Seeds come from tests/fuzz/corpus/<target>/; new inputs go to a scratch copy,
# so the repository is never modified. Exits non-zero on the first crash.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-8}
dir=build-fuzz
cmake -S . -B "$dir" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DTERN_FUZZ=ON -DTERN_TESTS=ON >/dev/null
targets=()
for src in tests/fuzz/fuzz_*.c; do
  [ -e "$src" ] || continue
  targets+=("$(basename "$src" .c)")
done
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz: no targets" >&2
  exit 1
fi
cmake --build "$dir" -j"$(nproc)" --target "${targets[@]}"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in "${targets[@]}"; do
  name=${t#fuzz_}
  mkdir -p "$scratch/$name"
  if [ -d "tests/fuzz/corpus/$name" ]; then
    cp -r "tests/fuzz/corpus/$name/." "$scratch/$name/"
  fi
  echo "fuzz: $t for ${secs}s"
  "$dir/tests/fuzz/$t" -max_total_time="$secs" -rss_limit_mb=1024 -timeout=10 \
    -artifact_prefix="$scratch/" -print_final_stats=1 "$scratch/$name" 2>"$scratch/$t.log" || {
    tail -50 "$scratch/$t.log"
    echo "fuzz: $t FAILED" >&2
    exit 1
  }
  grep -E 'stat::number_of_executed_units' "$scratch/$t.log" | sed "s/^/fuzz: $t /"
done
echo "fuzz: ${#targets[@]} targets clean"

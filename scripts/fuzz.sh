#!/usr/bin/env bash
# Runs the libFuzzer targets (tests/fuzz) for as long as asked, one after
# another, on the asan preset's build (clang, ASan + UBSan).
#
#   bash scripts/fuzz.sh                 # every target, 60 s each
#   bash scripts/fuzz.sh 1800            # every target, 30 minutes each
#   bash scripts/fuzz.sh 600 redaction   # one target
#
# New interesting inputs go to build/asan/tests/fuzz/found/<target>/ (keep
# the ones worth keeping by copying them into tests/fuzz/corpus/<target>/);
# a crash is written to build/fuzz-crashes/<target>/ and ends that target's
# run. The last line says how many CPU-seconds ran and how many crashes.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true

bash scripts/deps.sh || exit 1
cmake --preset asan >/dev/null || exit 1
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  mapfile -t targets < <(sed -n 's/^polku_add_fuzzer(\([a-z_]*\).*/\1/p' tests/fuzz/CMakeLists.txt)
fi
cmake --build --preset asan -j "${POLKU_JOBS:-2}" --target "${targets[@]}" || exit 1

crashes=0
for target in "${targets[@]}"; do
  found="build/asan/tests/fuzz/found/$target"
  artifacts="build/fuzz-crashes/$target"
  mkdir -p "$found" "$artifacts"
  dict=()
  [[ -f "tests/fuzz/$target.dict" ]] && dict=("-dict=tests/fuzz/$target.dict")
  echo "==> $target for $seconds s"
  if ! "build/asan/bin/$target" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" \
      "${dict[@]}" "$found" "tests/fuzz/corpus/$target" 2>&1 |
      grep -E '^(Done [0-9]+ runs|#[0-9]+ *DONE|stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY|Test unit written)'; then
    :
  fi
  if compgen -G "$artifacts/crash-*" >/dev/null || compgen -G "$artifacts/leak-*" >/dev/null ||
     compgen -G "$artifacts/timeout-*" >/dev/null || compgen -G "$artifacts/oom-*" >/dev/null; then
    echo "==> $target: FOUND $(ls "$artifacts" | wc -l) input(s) in $artifacts"
    crashes=$((crashes + 1))
  fi
done
echo "fuzz.sh: ${#targets[@]} target(s), $((seconds * ${#targets[@]})) CPU-seconds, $crashes with crashes"
[[ $crashes -eq 0 ]]

#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: the `release` preset,
# then the `asan` preset (AddressSanitizer + UndefinedBehaviorSanitizer).
# Exits non-zero on any failure; the last line says what happened.
set -uo pipefail

cd "$(dirname "$0")/.."
JOBS=${POLKU_JOBS:-2}
failed=()

step() {  # step NAME COMMAND…: runs it, remembers a failure
  local name=$1
  shift
  echo "==> $name"
  if ! "$@"; then
    echo "==> FAILED: $name"
    failed+=("$name")
    return 1
  fi
}

step "install dependencies" bash scripts/deps.sh || {
  echo "test.sh: FAILED (dependencies could not be installed)"
  exit 1
}

for preset in release asan; do
  step "configure $preset" cmake --preset "$preset" &&
    step "build $preset" cmake --build --preset "$preset" -j "$JOBS" &&
    step "test $preset" ctest --preset "$preset" --output-on-failure -j "$JOBS"
done

# A failed test's output is far up in a long log; what CI shows of it is the
# end. So the end names every failed test, and runs each once more alone, with
# its output: that tells a flake under load from a steady failure (the run
# stays failed either way).
for preset in release asan; do
  list="build/$preset/Testing/Temporary/LastTestsFailed.log"
  [[ " ${failed[*]} " == *" test $preset "* && -s "$list" ]] || continue
  echo "==> failed in $preset: $(cut -d: -f2- "$list" | paste -sd, - | sed 's/,/, /g')"
  echo "==> each of them again, alone ($preset):"
  ctest --preset "$preset" --rerun-failed --output-on-failure -j 1 | tail -n 200
done

if [[ ${#failed[@]} -eq 0 ]]; then
  echo "test.sh: PASSED (release and asan: build and every test)"
  exit 0
fi
echo "test.sh: FAILED: $(IFS=,; echo "${failed[*]}" | sed 's/,/, /g')"
exit 1

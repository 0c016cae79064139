#!/usr/bin/env bash
# The crash campaign: many SIGKILL cycles of polku-feedback while channel
# clients stream with retries, in rounds of tests/crash/crash_test.cc (each
# round a fresh suite and seed; after each round every invariant is
# checked: every acknowledged event stored exactly once, under its
# acknowledged sequence and with the content sent, nothing stored that was
# not sent, SQLite's integrity check passes). CI runs one round of 50 kills
# (ctest CrashTest.*).
#
#   bash scripts/crash-campaign.sh              # 1,000 kills, rounds of 100
#   bash scripts/crash-campaign.sh 300 50       # 300 kills, rounds of 50
#   POLKU_CRASH_SEED=42 bash scripts/crash-campaign.sh 200
#
# Runs at the lowest priority (nice 19) on the release build; stops at the
# first failed round and prints its seed (POLKU_CRASH_SEED=<seed>
# POLKU_CRASH_KILLS=<n> repeats it). The last line sums up the campaign.
set -uo pipefail
cd "$(dirname "$0")/.."
kills=${1:-1000}
round=${2:-100}
seed=${POLKU_CRASH_SEED:-$(date +%s)}
build=${POLKU_BUILD_DIR:-build/release}
log=${POLKU_CRASH_LOG:-$build/crash-campaign.log}

if [[ ! -x "$build/bin/polku_crash_test" ]]; then
  cmake --preset release >/dev/null || exit 1
  cmake --build "$build" -j "${POLKU_JOBS:-2}" \
    --target polku_crash_test polku-keys polku-journey polku-feedback polku-insight polku-gateway || exit 1
fi

: > "$log"
done_kills=0
rounds=0
started=$(date +%s)
while (( done_kills < kills )); do
  n=$(( kills - done_kills < round ? kills - done_kills : round ))
  round_seed=$(( seed + rounds ))
  echo "round $((rounds + 1)): POLKU_CRASH_SEED=$round_seed POLKU_CRASH_KILLS=$n" | tee -a "$log"
  if ! POLKU_BIN_DIR="$build/bin" POLKU_CRASH_SEED=$round_seed POLKU_CRASH_KILLS=$n \
       nice -n 19 "$build/bin/polku_crash_test" --gtest_filter='CrashTest.*' > "$log.round" 2>&1; then
    grep -v '^{"ts"' "$log.round" | tail -40
    cat "$log.round" >> "$log"
    echo "crash campaign: FAILED in round $((rounds + 1)) (POLKU_CRASH_SEED=$round_seed" \
         "POLKU_CRASH_KILLS=$n) after $done_kills kills; log: $log"
    exit 1
  fi
  grep '^crash test:' "$log.round" | tee -a "$log"
  done_kills=$(( done_kills + n ))
  rounds=$(( rounds + 1 ))
done
rm -f "$log.round"
echo "crash campaign: $done_kills SIGKILLs of polku-feedback in $rounds rounds" \
     "(seeds $seed..$(( seed + rounds - 1 ))), $(( $(date +%s) - started )) s, every invariant held"

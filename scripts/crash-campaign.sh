#!/usr/bin/env bash
# The crash campaign: many SIGKILL cycles of polku-feedback, polku-insight and
# polku-cases while channel clients stream with retries, in rounds of
# tests/crash/crash_test.cc, on SQLite and on PostgreSQL (each round a fresh
# suite and seed; after each round every invariant is checked: every
# acknowledged event in the feed exactly once, under its acknowledged
# sequence and with the content sent, nothing stored that was not sent,
# polku-insight's scorecard equal to a recount, polku-cases' cases exactly one
# per (customer, rule, period) of the acknowledged detractors, and on SQLite
# the databases' integrity checks). CI runs one short round per database (ctest
# Backends/CrashTest.*).
#
#   bash scripts/crash-campaign.sh              # 1,000 kills per database, rounds of 100
#   bash scripts/crash-campaign.sh 300 50       # 300 kills per database, rounds of 50
#   POLKU_CRASH_DATABASES=SQLite POLKU_CRASH_SEED=42 bash scripts/crash-campaign.sh 200
#   POLKU_CRASH_TARGETS=polku-insight bash scripts/crash-campaign.sh 100
#
# Runs at the lowest priority (nice 19; POLKU_CRASH_NICE overrides it: on a
# machine busy with other work nice 19 can starve a restart past the test's
# one-minute readiness bound) on the release build; stops at the
# first failed round and prints its seed (POLKU_CRASH_SEED=<seed>
# POLKU_CRASH_KILLS=<n> with --gtest_filter=Backends/CrashTest.*/<database>
# repeats it). The last line sums up the campaign.
set -uo pipefail
cd "$(dirname "$0")/.."
kills=${1:-1000}
round=${2:-100}
seed=${POLKU_CRASH_SEED:-$(date +%s)}
databases=${POLKU_CRASH_DATABASES:-SQLite PostgreSQL}
build=${POLKU_BUILD_DIR:-build/release}
log=${POLKU_CRASH_LOG:-$build/crash-campaign.log}

if [[ ! -x "$build/bin/polku_crash_test" ]]; then
  cmake --preset release >/dev/null || exit 1
  cmake --build "$build" -j "${POLKU_JOBS:-2}" \
    --target polku_crash_test polku-keys polku-journey polku-feedback polku-insight polku-cases \
    polku-gateway || exit 1
fi

: > "$log"
rounds=0
total=0
started=$(date +%s)
for database in $databases; do
  done_kills=0
  while (( done_kills < kills )); do
    n=$(( kills - done_kills < round ? kills - done_kills : round ))
    round_seed=$(( seed + rounds ))
    echo "round $((rounds + 1)), $database: POLKU_CRASH_SEED=$round_seed POLKU_CRASH_KILLS=$n" | tee -a "$log"
    if ! POLKU_BIN_DIR="$build/bin" POLKU_CRASH_SEED=$round_seed POLKU_CRASH_KILLS=$n \
         nice -n "${POLKU_CRASH_NICE:-19}" "$build/bin/polku_crash_test" --gtest_filter="Backends/CrashTest.*/$database" \
         > "$log.round" 2>&1; then
      grep -v '^{"ts"' "$log.round" | tail -40
      cat "$log.round" >> "$log"
      echo "crash campaign: FAILED in round $((rounds + 1)) on $database (POLKU_CRASH_SEED=$round_seed" \
           "POLKU_CRASH_KILLS=$n) after $total kills; log: $log"
      exit 1
    fi
    if ! grep -q '^\[  PASSED  \] 1 test' "$log.round"; then
      echo "crash campaign: round $((rounds + 1)) ran no test for $database; log: $log.round"
      exit 1
    fi
    grep '^crash test:' "$log.round" | tee -a "$log"
    done_kills=$(( done_kills + n ))
    total=$(( total + n ))
    rounds=$(( rounds + 1 ))
  done
done
rm -f "$log.round"
echo "crash campaign: $total SIGKILLs of ${POLKU_CRASH_TARGETS:-polku-feedback, polku-insight and polku-cases}" \
     "on $databases in $rounds rounds (seeds $seed..$(( seed + rounds - 1 )))," \
     "$(( $(date +%s) - started )) s, every invariant held"

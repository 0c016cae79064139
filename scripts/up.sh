#!/usr/bin/env bash
# Brings the whole Polku suite up on SQLite with a demo tenant, the example
# journeys and simulated feedback, then waits. Ctrl-C or SIGTERM stops the
# four processes cleanly (SIGTERM, then waits for each) and exits 0.
#
# Environment: POLKU_DATA_DIR (default .polku), POLKU_SIM_CUSTOMERS (1000),
# POLKU_JOBS (build parallelism, 2).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
JOBS=${POLKU_JOBS:-2}
DATA_DIR=${POLKU_DATA_DIR:-.polku}
CUSTOMERS=${POLKU_SIM_CUSTOMERS:-1000}
BIN="$ROOT/build/release/bin"
PY=/usr/bin/python3

JOURNEY_ADDR=127.0.0.1:7102
FEEDBACK_ADDR=127.0.0.1:7101
INSIGHT_ADDR=127.0.0.1:7103
GATEWAY_GRPC=127.0.0.1:7070
GATEWAY_HTTP=127.0.0.1:8080

say() { echo "up: $*"; }

bash scripts/deps.sh
say "building (release preset)"
cmake --preset release >/dev/null
cmake --build --preset release -j "$JOBS"

mkdir -p "$DATA_DIR/logs"
DATA_DIR=$(cd "$DATA_DIR" && pwd)
LOGS="$DATA_DIR/logs"
# The demo tenant's keys, issued by the gateway's key store (gateway.db) before
# the gateway starts; the gateway adds the super-admin key at first start.
"$BIN/polku-keys" init --data_dir="$DATA_DIR" --tenant=demo --channels=shop,phone,web,email,field_service

names=()
pids=()
stopping=0

stop_all() {
  stopping=1
  trap '' INT TERM
  say "stopping"
  local i code
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null || true
  done
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    code=0
    wait "${pids[i]}" 2>/dev/null || code=$?
    say "${names[i]} exited ($code)"
  done
}

on_signal() {
  stop_all
  exit 0
}
trap on_signal INT TERM

start() {  # start NAME ARGS…
  local name=$1
  shift
  "$BIN/$name" "$@" >>"$LOGS/$name.log" 2>&1 &
  names+=("$name")
  pids+=($!)
  say "started $name (pid $!, log $LOGS/$name.log)"
}

fail() {
  echo "up: $*" >&2
  stop_all
  exit 1
}

start polku-journey --listen=$JOURNEY_ADDR --data_dir="$DATA_DIR"
start polku-feedback --listen=$FEEDBACK_ADDR --data_dir="$DATA_DIR" --journey_address=$JOURNEY_ADDR
start polku-insight --listen=$INSIGHT_ADDR --data_dir="$DATA_DIR" --feedback_address=$FEEDBACK_ADDR \
  --journey_address=$JOURNEY_ADDR
start polku-gateway --grpc_listen=$GATEWAY_GRPC --http_listen=$GATEWAY_HTTP --data_dir="$DATA_DIR" \
  --journey_address=$JOURNEY_ADDR --feedback_address=$FEEDBACK_ADDR --insight_address=$INSIGHT_ADDR

# Readiness: gRPC health of every backend (polku-feedback's service turns
# SERVING once its touchpoint index is loaded) and the gateway's /healthz.
all_running() {
  local i
  for i in "${!pids[@]}"; do
    kill -0 "${pids[i]}" 2>/dev/null || { echo "${names[i]}"; return 1; }
  done
}
healthy() {
  "$PY" - "$@" <<'PYEOF' 2>/dev/null
import sys, grpc
for target in sys.argv[1:]:
    address, _, service = target.partition("/")
    request = (b"\x0a" + bytes([len(service)]) + service.encode()) if service else b""
    with grpc.insecure_channel(address) as channel:
        try:
            if channel.unary_unary("/grpc.health.v1.Health/Check")(request, timeout=1) != b"\x08\x01":
                sys.exit(1)
        except grpc.RpcError:
            sys.exit(1)
PYEOF
}
deadline=$((SECONDS + 60))
until healthy $JOURNEY_ADDR $FEEDBACK_ADDR/polku.v1.FeedbackService $INSIGHT_ADDR $GATEWAY_GRPC &&
  curl -sf "http://$GATEWAY_HTTP/healthz" >/dev/null; do
  dead=$(all_running) || fail "$dead exited during start-up; see $LOGS/$dead.log"
  ((SECONDS < deadline)) || fail "not ready within 60 s; see $LOGS/"
  sleep 0.2
done
say "all four processes are serving"

CREDENTIALS="$DATA_DIR/credentials.json"
shopt -s nullglob
journey_files=(examples/journeys/*.json)
shopt -u nullglob
if ((${#journey_files[@]} > 0)); then
  "$BIN/polku-journeys" import --gateway=$GATEWAY_GRPC --credentials="$CREDENTIALS" \
    "${journey_files[@]}" || fail "importing the example journeys failed"
  "$BIN/polku-sim" --gateway=$GATEWAY_GRPC --credentials="$CREDENTIALS" --seed=1 \
    --customers="$CUSTOMERS" --days=28 ||
    say "WARNING: polku-sim reported problems (see above); the suite keeps running"
  first_journey=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["key"])' \
    "${journey_files[0]}")
else
  say "WARNING: no examples/journeys/*.json to import"
  first_journey=JOURNEY_KEY
fi

cat <<EOM

Polku is up.
  gateway gRPC   $GATEWAY_GRPC
  gateway HTTP   http://$GATEWAY_HTTP
  credentials    $CREDENTIALS   (tenant, admin key, insights key, one key per channel)
  super-admin    $DATA_DIR/superadmin.key   (creates tenants: polku-keys --data_dir=$DATA_DIR list-tenants)
  logs           $LOGS/

Scorecard by stage:
  curl -s -H "Authorization: Bearer \$($PY -c 'import json;print(json.load(open("$CREDENTIALS"))["admin_key"])')" \\
    "http://$GATEWAY_HTTP/v1/scorecard?journey=$first_journey&group_by=stage"

Ctrl-C stops everything.
EOM

# Wait until a signal arrives or a process dies on its own.
while ((stopping == 0)); do
  dead=$(all_running) || fail "$dead exited unexpectedly; see $LOGS/$dead.log"
  sleep 1 &
  wait $! || true
done

#!/usr/bin/env bash
# Brings the whole Polku suite up on SQLite with a demo tenant, the example
# journeys and simulated feedback, then waits. Ctrl-C or SIGTERM stops the
# five processes cleanly (SIGTERM, then waits for each) and exits 0.
#
# Environment: POLKU_DATA_DIR (default .polku), POLKU_SIM_CUSTOMERS (4000),
# POLKU_JOBS (build parallelism, 2).
#
# PostgreSQL instead of SQLite: `scripts/up.sh --postgres`. Every service
# then keeps its data in a database of its own (polku_journey, polku_feedback,
# polku_insight, polku_cases, and polku_gateway: tenants and key hashes) on the server POLKU_POSTGRES names (a URL without a
# database, e.g. postgres://polku:secret@db.example:5432; the databases are
# created if missing), or, without POLKU_POSTGRES, on a local server this
# script starts and stops with the suite (Debian's postgresql, Unix socket
# only; its data is kept across runs under the data directory, or as root
# under /var/lib/postgresql/polku-up/).
set -euo pipefail

BACKEND=sqlite
for arg in "$@"; do
  case $arg in
    --postgres) BACKEND=postgres ;;
    *) echo "usage: scripts/up.sh [--postgres]" >&2; exit 2 ;;
  esac
done

cd "$(dirname "$0")/.."
ROOT=$(pwd)
JOBS=${POLKU_JOBS:-2}
DATA_DIR=${POLKU_DATA_DIR:-.polku}
# 4000: each of the three example journeys then has enough raters per
# touchpoint (100) for the Critical touchpoints view.
CUSTOMERS=${POLKU_SIM_CUSTOMERS:-4000}
BIN="$ROOT/build/release/bin"
PY=/usr/bin/python3

JOURNEY_ADDR=127.0.0.1:7102
FEEDBACK_ADDR=127.0.0.1:7101
INSIGHT_ADDR=127.0.0.1:7103
CASES_ADDR=127.0.0.1:7104
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

names=()
pids=()
stopping=0
PG_DATA=""
DB_URL_journey=""
DB_URL_feedback=""
DB_URL_insight=""
DB_URL_cases=""
DB_URL_gateway=""

# Runs a PostgreSQL tool as the server's owner (PostgreSQL refuses root).
as_pg_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Creates database $2 unless it exists, connecting with the libpq URL $1.
ensure_database() {
  local exists
  exists=$(psql "$1" -tAq -c "SELECT count(*) FROM pg_database WHERE datname = '$2'") ||
    return 1
  [[ $exists == 1 ]] || psql "$1" -q -c "CREATE DATABASE $2"
}

start_postgres() {
  local server=${POLKU_POSTGRES:-} db base query
  if [[ -z $server ]]; then
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [[ -x $bin/initdb ]] || { echo "up: no PostgreSQL server found (install postgresql)" >&2; exit 1; }
    # As root the server runs as `postgres`, which must reach its directory:
    # keep it under postgres's home then, else under the data directory.
    if [[ $(id -u) -eq 0 ]]; then
      PG_DATA=/var/lib/postgresql/polku-up/$(echo -n "$DATA_DIR" | sha1sum | cut -c1-12)
      mkdir -p "$PG_DATA" && chown postgres:postgres "$(dirname "$PG_DATA")" "$PG_DATA"
    else
      PG_DATA=$DATA_DIR/postgres
      mkdir -p "$PG_DATA"
    fi
    chmod 700 "$PG_DATA"
    if [[ ! -f $PG_DATA/data/PG_VERSION ]]; then
      say "initialising PostgreSQL in $PG_DATA"
      as_pg_owner "$bin/initdb" -A trust -U polku -D "$PG_DATA/data" >"$LOGS/postgres-initdb.log" 2>&1 ||
        { echo "up: initdb failed; see $LOGS/postgres-initdb.log" >&2; exit 1; }
    fi
    # A server left running by an earlier, interrupted run is reused.
    if ! as_pg_owner "$bin/pg_ctl" -D "$PG_DATA/data" status >/dev/null 2>&1; then
      as_pg_owner "$bin/pg_ctl" -w -t 60 -D "$PG_DATA/data" -l "$PG_DATA/server.log" \
        -o "-k $PG_DATA -c listen_addresses='' -c synchronous_commit=on" start >/dev/null ||
        { echo "up: PostgreSQL did not start; see $PG_DATA/server.log" >&2; exit 1; }
    fi
    PG_CTL=$bin/pg_ctl
    trap stop_postgres EXIT
    say "PostgreSQL is up (socket in $PG_DATA, log $PG_DATA/server.log)"
    base=postgresql://
    query="?host=$PG_DATA&user=polku"
    for db in journey feedback insight cases gateway; do
      ensure_database "$base/postgres$query" "polku_$db" ||
        { echo "up: cannot create database polku_$db" >&2; exit 1; }
    done
  else
    # postgres://user:password@host:port[?options]: the databases go between.
    base=${server%%\?*}
    query=${server#"$base"}
    base=${base%/}
    for db in journey feedback insight cases gateway; do
      ensure_database "$base/postgres$query" "polku_$db" ||
        { echo "up: cannot create database polku_$db on ${base#*@}" >&2; exit 1; }
    done
    say "using PostgreSQL at ${base#*@}"
  fi
  DB_URL_journey="$base/polku_journey$query"
  DB_URL_feedback="$base/polku_feedback$query"
  DB_URL_insight="$base/polku_insight$query"
  DB_URL_cases="$base/polku_cases$query"
  DB_URL_gateway="$base/polku_gateway$query"
}

stop_postgres() {
  [[ -n $PG_DATA ]] || return 0
  as_pg_owner "$PG_CTL" -w -D "$PG_DATA/data" stop -m fast >/dev/null 2>&1 || true
  PG_DATA=""
  say "PostgreSQL stopped"
}

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
  stop_postgres
}

on_signal() {
  stop_all
  exit 0
}
trap on_signal INT TERM

start() {  # start NAME ARGS…
  local name=$1
  shift
  # On PostgreSQL the service's URL goes in its environment, not on the
  # command line where `ps` would show the password.
  local url_var="DB_URL_${name#polku-}"
  (
    [[ -n ${!url_var:-} ]] && export POLKU_DATABASE_URL=${!url_var}
    exec "$BIN/$name" "$@"
  ) >>"$LOGS/$name.log" 2>&1 &
  names+=("$name")
  pids+=($!)
  say "started $name (pid $!, log $LOGS/$name.log)"
}

fail() {
  echo "up: $*" >&2
  stop_all
  exit 1
}

[[ $BACKEND == postgres ]] && start_postgres
# The demo tenant's keys, issued by the gateway's key store (gateway.db, or on
# PostgreSQL the gateway's database) before the gateway starts; the gateway
# adds the super-admin key at first start.
(
  [[ -n $DB_URL_gateway ]] && export POLKU_DATABASE_URL=$DB_URL_gateway
  exec "$BIN/polku-keys" init --data_dir="$DATA_DIR" --tenant=demo \
    --channels=shop,phone,web,email,field_service,chat,mobile,outdoor,tv
) || fail "polku-keys init failed"
start polku-journey --listen=$JOURNEY_ADDR --data_dir="$DATA_DIR"
start polku-feedback --listen=$FEEDBACK_ADDR --data_dir="$DATA_DIR" --journey_address=$JOURNEY_ADDR \
  --erasure_readers=polku-insight,polku-cases
start polku-insight --listen=$INSIGHT_ADDR --data_dir="$DATA_DIR" --feedback_address=$FEEDBACK_ADDR \
  --journey_address=$JOURNEY_ADDR
start polku-cases --listen=$CASES_ADDR --data_dir="$DATA_DIR" --feedback_address=$FEEDBACK_ADDR \
  --journey_address=$JOURNEY_ADDR
start polku-gateway --grpc_listen=$GATEWAY_GRPC --http_listen=$GATEWAY_HTTP --data_dir="$DATA_DIR" \
  --journey_address=$JOURNEY_ADDR --feedback_address=$FEEDBACK_ADDR --insight_address=$INSIGHT_ADDR \
  --cases_address=$CASES_ADDR

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
until healthy $JOURNEY_ADDR $FEEDBACK_ADDR/polku.v1.FeedbackService $INSIGHT_ADDR $CASES_ADDR \
  $GATEWAY_GRPC &&
  curl -sf "http://$GATEWAY_HTTP/healthz" >/dev/null; do
  dead=$(all_running) || fail "$dead exited during start-up; see $LOGS/$dead.log"
  ((SECONDS < deadline)) || fail "not ready within 60 s; see $LOGS/"
  sleep 0.2
done
say "all five processes are serving"

CREDENTIALS="$DATA_DIR/credentials.json"
shopt -s nullglob
journey_files=(examples/journeys/*.json)
shopt -u nullglob
if ((${#journey_files[@]} > 0)); then
  "$BIN/polku-journeys" import --gateway=$GATEWAY_GRPC --credentials="$CREDENTIALS" \
    "${journey_files[@]}" || fail "importing the example journeys failed"
  first_journey=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["key"])' \
    "${journey_files[0]}")
  # A planted change for the dashboard to show: the first touchpoint of the
  # first journey gets much worse six days ago, so the last week differs
  # from the week before (polku-insight's default alert windows).
  planted_touchpoint=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["touchpoints"][0]["key"])' \
    "${journey_files[0]}")
  planted_day=$(date -u -d '6 days ago' +%F)
  # Follow-up rules (docs/cases.md), before the feedback: the simulated
  # detractors then open cases in polku-cases.
  journey_keys=$("$PY" -c 'import json,sys; print(" ".join(json.load(open(f))["key"] for f in sys.argv[1:]))' \
    "${journey_files[@]}")
  # shellcheck disable=SC2086 # one argument per journey key
  "$PY" scripts/demo-cases.py "http://$GATEWAY_HTTP" "$CREDENTIALS" "$DATA_DIR/cases.key" $journey_keys ||
    fail "creating the demo's follow-up rules failed"
  # Planted key drivers of the generic journey's relationship NPS, for the
  # "Critical touchpoints" view: the sales chat matters most
  # (tests/drivers/drivers_suite_test.cc reads this line).
  PLANTED_DRIVERS=sales_chat:1.0,website_visit:0.5,checkout:0.3
  # Funnel truths (docs/funnels.md): few go on into the first journey's
  # fourth stage (the bottleneck), its second stage comes about a day after
  # the first, and a fifth of customers call right after their first web visit.
  funnel_stages=$("$PY" -c 'import json,sys; s=[x["key"] for x in json.load(open(sys.argv[1]))["stages"]]; print(s[1], s[min(3, len(s) - 1)])' \
    "${journey_files[0]}")
  read -r funnel_second funnel_bottleneck <<<"$funnel_stages"
  # Comment themes (docs/themes.md, "Planted themes in polku-sim"): late
  # deliveries in the relationship survey, in Finnish, and wrong invoices in
  # the renovation survey, in Swedish, each in several inflected forms. The
  # surveys have the most comments (a few hundred each with 4000 customers);
  # Swedish is made common enough for its theme to show.
  PLANTED_THEMES=relationship_survey:fi:toimitus:0.35,renovation_survey:sv:faktura:0.5
  "$BIN/polku-sim" --gateway=$GATEWAY_GRPC --credentials="$CREDENTIALS" --seed=1 \
    --customers="$CUSTOMERS" --days=28 \
    --plant_change="$planted_touchpoint:$planted_day:-0.9" \
    --plant_drop_off="$first_journey/$funnel_bottleneck:0.4" \
    --plant_stage_time="$first_journey/$funnel_second:24" \
    --plant_switch=web:phone:0.2:48 \
    --plant_driver="$PLANTED_DRIVERS" \
    --comment_languages=fi:0.5,sv:0.3,en:0.2 \
    --plant_theme="$PLANTED_THEMES" \
    --truths_file="$DATA_DIR/planted-truths.json" ||
    say "WARNING: polku-sim reported problems (see above); the suite keeps running"
  # Some of the cases the detractors opened, assigned, contacted, resolved.
  "$PY" scripts/demo-cases.py --work "http://$GATEWAY_HTTP" "$DATA_DIR/cases.key" ||
    say "WARNING: working the demo's cases failed (see above); the suite keeps running"
else
  say "WARNING: no examples/journeys/*.json to import"
  first_journey=JOURNEY_KEY
fi

# The dashboard's key reads insights and cases (every view, Follow-up too); the
# insights key if it cannot be issued.
dashboard_key=$("$PY" scripts/demo-cases.py --dashboard-key "http://$GATEWAY_HTTP" "$CREDENTIALS" \
  "$DATA_DIR/dashboard.key") ||
  dashboard_key=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["insights_key"])' \
    "$CREDENTIALS")

cat <<EOM

Polku is up.
  gateway gRPC   $GATEWAY_GRPC
  gateway HTTP   http://$GATEWAY_HTTP
  credentials    $CREDENTIALS   (tenant, admin key, insights key, one key per channel)
  cases key      $DATA_DIR/cases.key   (cases:read + cases:write; polku-cases at $CASES_ADDR)
  super-admin    $DATA_DIR/superadmin.key   (creates tenants: polku-keys --data_dir=$DATA_DIR list-tenants)
  logs           $LOGS/

Dashboard (the key reads insights and cases: insights:read + cases:read; it stays
in the URL fragment, which the browser never sends):
  http://$GATEWAY_HTTP/?journey=$first_journey#key=$dashboard_key
  planted change: ${planted_touchpoint:-none} from ${planted_day:-–} (truths: $DATA_DIR/planted-truths.json)
  planted drivers: ${PLANTED_DRIVERS:-none} (Critical touchpoints: &view=drivers)
  planted funnel: bottleneck into ${funnel_bottleneck:-–}, ~24 h to ${funnel_second:-–}, web → phone 20 % (view "Funnel and paths")
  planted themes: ${PLANTED_THEMES:-none} (comments in fi, sv, en; view "Pain points")
  follow-up cases: opened by the demo's rules from the detractors, some worked (view "Follow-up")

Scorecard by stage:
  curl -s -H "Authorization: Bearer \$($PY -c 'import json;print(json.load(open("$CREDENTIALS"))["admin_key"])')" \\
    "http://$GATEWAY_HTTP/v1/scorecard?journey=$first_journey&group_by=stage"

Follow-up cases opened by the demo's rules (newest first):
  curl -s -H "Authorization: Bearer \$(cat $DATA_DIR/cases.key)" "http://$GATEWAY_HTTP/v1/cases?pageSize=5"

Ctrl-C stops everything.
EOM

# Wait until a signal arrives or a process dies on its own.
while ((stopping == 0)); do
  dead=$(all_running) || fail "$dead exited unexpectedly; see $LOGS/$dead.log"
  sleep 1 &
  wait $! || true
done

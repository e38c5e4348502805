#!/usr/bin/env bash
# `npm start`: the main job on the local stack, from a fresh clone, in one command:
#   1. npm dependencies, the native stack (installing what is missing), pgferry built
#   2. `pgferry demo setup`: the sample tables on the source (idempotent; seeds only empty tables)
#   3. `pgferry schema-sync --tables <the demo tables>`: the target tables, before replication
#   4. `pgferry connector apply`: the Debezium connector registered and RUNNING
#   5. `pgferry demo load` in the background: PGFERRY_DEMO_RATE rows/s (default 50) for
#      PGFERRY_DEMO_DURATION seconds (default: until Ctrl-C); its lines go to PGFERRY_DEMO_LOG
#      (default .stack/logs/demo-load.log), so they do not garble pgferry's live view
#   6. `pgferry run` (source -> Debezium -> Kafka -> pgferry -> target) until Ctrl-C, its metrics
#      on the port Prometheus scrapes
# Ctrl-C stops the load and pgferry cleanly (exit 0); the stack stays up (`npm run stack:down`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The tables `pgferry demo setup` creates (DEMO_TABLES in migrate/demo/demo-schema.ts). The connector's
# publication is every table in the source's public schema; schema-sync does just these.
DEMO_TABLES=users,products,orders,order_items
demo_rate=${PGFERRY_DEMO_RATE:-50}
demo_duration=${PGFERRY_DEMO_DURATION:-}
is_seconds() { [[ $1 =~ ^[0-9]*\.?[0-9]+$ ]] && [[ ! $1 =~ ^0*\.?0*$ ]]; }
is_seconds "$demo_rate" || { echo "PGFERRY_DEMO_RATE must be rows per second > 0, not '$demo_rate'" >&2; exit 2; }
if [[ -n $demo_duration ]] && ! is_seconds "$demo_duration"; then
  echo "PGFERRY_DEMO_DURATION must be seconds > 0 (or unset: until Ctrl-C), not '$demo_duration'" >&2
  exit 2
fi

bash stack/ensure-node-deps.sh
bash stack/stack.sh up >&2
npm run --silent build
eval "$(bash stack/stack.sh env)"
pgferry=(node bin/pgferry.js)

echo "[start] sample tables on the source: pgferry demo setup" >&2
"${pgferry[@]}" demo setup >&2
echo "[start] target schema: pgferry schema-sync --tables $DEMO_TABLES" >&2
set +e
"${pgferry[@]}" schema-sync --tables "$DEMO_TABLES" >&2
rc=$?
set -e
if ((rc == 3)); then
  # A target table left over in another shape: pgferry run still applies what fits.
  echo "[start] warning: schema-sync reported differences (above); carrying on" >&2
elif ((rc != 0)); then
  exit "$rc"
fi
echo "[start] Debezium connector: pgferry connector apply" >&2
"${pgferry[@]}" connector apply >&2

demo_log=${PGFERRY_DEMO_LOG:-$PGFERRY_STACK_DIR/logs/demo-load.log}
mkdir -p "$(dirname "$demo_log")"
load_args=(--rate "$demo_rate")
[[ -z $demo_duration ]] || load_args+=(--duration "$demo_duration")
# Started directly (not through a function or subshell) so that $! is node's own pid.
node bin/pgferry.js demo load "${load_args[@]}" >"$demo_log" 2>&1 &
load_pid=$!

# The load stops after its transaction in flight; its summary is the last thing printed.
stop_load() {
  [[ -n ${load_pid:-} ]] || return 0
  kill -TERM "$load_pid" 2>/dev/null || true
  local load_rc=0
  wait "$load_pid" 2>/dev/null || load_rc=$?
  load_pid=
  if ((load_rc == 0)) && grep -q '^demo load: done' "$demo_log"; then
    grep '^demo load: done' "$demo_log" | tail -n 1 >&2
  else
    echo "[start] the demo load failed (exit $load_rc); the end of $demo_log:" >&2
    tail -n 5 "$demo_log" >&2
  fi
}
trap stop_load EXIT

duration_text=${demo_duration:+for $demo_duration s}
cat >&2 <<MSG

pgferry local stack is up; the demo load writes ${demo_rate} rows/s ${duration_text:-until Ctrl-C} to the source's
sample tables ($DEMO_TABLES) and pgferry run replicates them to the target.
Ctrl-C stops both cleanly; the stack stays up (stop it with: npm run stack:down).
  source PostgreSQL   psql "\$SOURCE_DATABASE_URL"   (after the eval below; URLs with passwords are not printed)
  target PostgreSQL   psql "\$TARGET_DATABASE_URL"
  Kafka               $KAFKA_BOOTSTRAP
  schema registry     $SCHEMA_REGISTRY_URL
  Kafka Connect       $CONNECT_URL
  Prometheus          $PROMETHEUS_URL
  pgferry metrics     http://127.0.0.1:$METRICS_PORT/metrics
  demo load log       tail -f $demo_log
Where to look, in another terminal (after: eval "\$(npm run --silent stack:env)"):
  psql "\$TARGET_DATABASE_URL" -c 'SELECT count(*) FROM orders'   # grows with the source's
  psql "\$SOURCE_DATABASE_URL" -c 'SELECT count(*) FROM orders'
  npx pgferry status                                             # lag per partition and table
  npx pgferry verify --tables $DEMO_TABLES          # source = target?
  $PROMETHEUS_URL/graph?g0.expr=sum%20by%20(table)%20(rate(pgferry_changes_applied_total%5B1m%5D))&g0.tab=0
      rows applied per second by table: sum by (table) (rate(pgferry_changes_applied_total[1m]))
Every table in the source's public schema is captured to topic cdc.public.<table> and applied to
the same table in the target.

MSG

# pgferry runs as a child we wait for, not via exec: the EXIT trap must still stop the load. Ctrl-C
# reaches pgferry (and the load) from the terminal; a SIGTERM sent to this script alone (e.g. by
# `npm start` execs this script, so npm's SIGTERM lands here). SIGINT is not passed on: pgferry would
# get it twice and the second would kill it.
# The heap limit that bounds pgferry's memory by BATCH_MAX_BYTES (core/heap-limit.ts; 16 MiB
# batches by default). A NODE_OPTIONS of your own wins.
NODE_OPTIONS=${NODE_OPTIONS:---max-old-space-size=192} "${pgferry[@]}" run &
run_pid=$!
trap 'kill -TERM "$run_pid" 2>/dev/null || true' TERM
trap ':' INT
run_rc=
# A load that fails early (source down, a bad setting) must not go unnoticed behind an idle view.
(
  while kill -0 "$run_pid" 2>/dev/null; do
    sleep 5
    if [[ -n $load_pid ]] && ! kill -0 "$load_pid" 2>/dev/null && ! grep -q '^demo load: done' "$demo_log"; then
      echo "[start] warning: the demo load stopped early; see $demo_log" >&2
      tail -n 3 "$demo_log" >&2
      break
    fi
  done
) &
watch_pid=$!
while [[ -z $run_rc ]]; do
  wait "$run_pid" && rc=0 || rc=$?
  if ((rc <= 128)); then
    run_rc=$rc
  elif ! kill -0 "$run_pid" 2>/dev/null; then
    # pgferry died of a signal, or a trap interrupted `wait` just as it exited: ask once more
    # (127: already collected, so rc was its status).
    wait "$run_pid" && run_rc=0 || { rc2=$?; run_rc=$((rc2 == 127 ? rc : rc2)); }
  fi
  # Otherwise a trapped signal interrupted `wait` while pgferry is still finishing its batch.
done
trap - TERM INT
kill "$watch_pid" 2>/dev/null || true
exit "$run_rc"

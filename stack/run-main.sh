#!/usr/bin/env bash
# `npm start`: the main job on the local stack, from a fresh clone, in one command — the fast path
# of a migration (initial load by COPY, then the stream):
#   1. npm dependencies, the native stack (installing what is missing), pgferry built
#   2. `pgferry demo setup`: the sample tables on the source (idempotent; seeds only empty tables)
#   3. `pgferry schema-sync --tables <the demo tables>`: the target tables, before anything is copied
#   4. `pgferry connector apply --snapshot-mode no_data`: the Debezium connector RUNNING, its slot
#      created, no Debezium snapshot (every change from the slot's start on goes to Kafka)
#   5. `pgferry demo load` in the background: PGFERRY_DEMO_RATE rows/s (default 50) for
#      PGFERRY_DEMO_DURATION seconds (default: until Ctrl-C); its lines go to PGFERRY_DEMO_LOG
#      (default .stack/logs/demo-load.log), so they do not garble the live views. It starts before
#      the copy on purpose: the copy runs while the source is written, the stream catches the rest
#   6. `pgferry copy --tables <the demo tables>`: the initial load at COPY speed from a snapshot
#      taken after the slot exists, its progress on the terminal, then its report. On a second run
#      the tables are already copied and it just reports them; a target loaded by an older
#      `npm start` (Debezium's snapshot, no copy bookkeeping) is refused (exit 3): noted, skipped
#   7. `pgferry run` (source -> Debezium -> Kafka -> pgferry -> target) until Ctrl-C, its metrics
#      on the port Prometheus scrapes: the changes made since the slot's start, over the copy
# Ctrl-C stops the load and pgferry cleanly (exit 0), during the copy too (it stops after the
# chunks in flight; the next `npm start` resumes it); the stack stays up (`npm run stack:down`).
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
echo "[start] Debezium connector, no snapshot (pgferry copy loads the rows): pgferry connector apply --snapshot-mode no_data" >&2
"${pgferry[@]}" connector apply --snapshot-mode no_data >&2

demo_log=${PGFERRY_DEMO_LOG:-$PGFERRY_STACK_DIR/logs/demo-load.log}
mkdir -p "$(dirname "$demo_log")"
load_args=(--rate "$demo_rate")
[[ -z $demo_duration ]] || load_args+=(--duration "$demo_duration")
echo "[start] write load on the source, in the background: pgferry demo load ${load_args[*]} (log: $demo_log)" >&2
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

# Runs a pgferry command as a child we wait for, not in the foreground and not via exec: the EXIT
# trap must still stop the load. Ctrl-C reaches the child (and the load) from the terminal; a
# SIGTERM sent to this script alone (e.g. by `npm start`, which execs this script, so npm's
# SIGTERM lands here) is passed on. SIGINT is not passed on: the child would get it twice and the
# second would kill it. Sets child_rc (the child's exit status) and stopped (1 if a signal came).
# `env` execs node, so $! is node's own pid.
child_rc=
stopped=0
run_child() {
  env "$@" &
  local pid=$!
  trap 'stopped=1; kill -TERM "'"$pid"'" 2>/dev/null || true' TERM
  trap 'stopped=1' INT
  child_rc=
  local rc rc2
  while [[ -z $child_rc ]]; do
    wait "$pid" && rc=0 || rc=$?
    if ((rc <= 128)); then
      child_rc=$rc
    elif ! kill -0 "$pid" 2>/dev/null; then
      # The child died of a signal, or a trap interrupted `wait` just as it exited: ask once more
      # (127: already collected, so rc was its status).
      wait "$pid" && child_rc=0 || { rc2=$?; child_rc=$((rc2 == 127 ? rc : rc2)); }
    fi
    # Otherwise a trapped signal interrupted `wait` while the child is still finishing its work.
  done
  trap - TERM INT
}

# The initial load. 25,000-row chunks (the default is 100,000) so that the demo's tables show
# their chunks going by; a real migration keeps the default.
copy_args=(copy --tables "$DEMO_TABLES" --chunk-rows 25000)
echo "[start] initial load: pgferry ${copy_args[*]}" >&2
run_child "${pgferry[@]}" "${copy_args[@]}" >&2
loaded_by="pgferry copy loaded them into the target"
if ((stopped)); then
  echo "[start] stopped during the copy (exit $child_rc); run npm start again to resume it (the chunks done are kept)" >&2
  exit "$child_rc"
elif ((child_rc == 3)); then
  # Refused before copying anything (the reasons above). The usual one here: the target tables were
  # loaded by an earlier `npm start` of the old path (Debezium's own snapshot, so no copy
  # bookkeeping) and `pgferry run` replicates them already: its stream carries on from there.
  cat >&2 <<MSG
[start] note: pgferry copy refused (above), most likely because the target was already loaded by an
        earlier run (pgferry run replicates these tables); skipping the copy, pgferry run carries on.
        To copy them afresh instead: stop this, then npx pgferry copy --restart --tables $DEMO_TABLES
MSG
  loaded_by="an earlier run loaded them into the target"
elif ((child_rc != 0)); then
  echo "[start] pgferry copy failed (exit $child_rc, above); fix the cause and run npm start again: it resumes the copy" >&2
  exit "$child_rc"
fi

duration_text=${demo_duration:+for $demo_duration s}
cat >&2 <<MSG

pgferry local stack is up; the demo load writes ${demo_rate} rows/s ${duration_text:-until Ctrl-C} to the source's
sample tables ($DEMO_TABLES), $loaded_by, and pgferry run now
applies every change made since the replication slot's start (the rest of the load, live).
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
  npx pgferry status                                             # copy phase, lag per partition and table
  npx pgferry verify --tables $DEMO_TABLES          # source = target?
  $PROMETHEUS_URL/graph?g0.expr=sum%20by%20(table)%20(rate(pgferry_changes_applied_total%5B1m%5D))&g0.tab=0
      rows applied per second by table: sum by (table) (rate(pgferry_changes_applied_total[1m]))
Every table in the source's public schema is captured to topic cdc.public.<table> and applied to
the same table in the target. npm start copies only the demo tables and the connector takes no
snapshot, so another table gets the changes made since the slot's start; its earlier rows need
npx pgferry copy --tables <it> (with --restart once pgferry run has applied changes to it).

MSG

# A load that fails early (source down, a bad setting) must not go unnoticed behind an idle view.
(
  while kill -0 "$$" 2>/dev/null; do
    sleep 5
    if [[ -n $load_pid ]] && ! kill -0 "$load_pid" 2>/dev/null && ! grep -q '^demo load: done' "$demo_log"; then
      echo "[start] warning: the demo load stopped early; see $demo_log" >&2
      tail -n 3 "$demo_log" >&2
      break
    fi
  done
) &
watch_pid=$!
# The heap limit that bounds pgferry's memory by BATCH_MAX_BYTES (core/heap-limit.ts; 16 MiB
# batches by default). A NODE_OPTIONS of your own wins.
run_child NODE_OPTIONS="${NODE_OPTIONS:---max-old-space-size=192}" "${pgferry[@]}" run
kill "$watch_pid" 2>/dev/null || true
exit "$child_rc"

#!/usr/bin/env bash
# `npm start`: the main job on the local stack, from a fresh clone: npm dependencies, the native
# stack (installing what is missing), pgferry built, the Debezium connector registered and
# RUNNING, then `pgferry run` in the foreground (source -> Debezium -> Kafka -> pgferry -> target),
# its metrics on the port Prometheus scrapes. Ctrl-C stops pgferry cleanly; the stack stays up
# (`npm run stack:down` stops it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash stack/ensure-node-deps.sh
bash stack/stack.sh up >&2
npm run --silent build
eval "$(bash stack/stack.sh env)"
node bin/pgferry.js connector apply >&2

cat >&2 <<MSG

pgferry local stack is up; starting pgferry run (Ctrl-C stops it, the stack stays up).
  source PostgreSQL   psql "$SOURCE_DATABASE_URL"
  target PostgreSQL   psql "$TARGET_DATABASE_URL"
  Kafka               $KAFKA_BOOTSTRAP
  schema registry     $SCHEMA_REGISTRY_URL
  Kafka Connect       $CONNECT_URL
  Prometheus          $PROMETHEUS_URL
  pgferry metrics     http://127.0.0.1:$METRICS_PORT/metrics
Every table in the source's public schema is captured to topic cdc.public.<table> and applied to
the same table in the target. Stop the stack with: npm run stack:down
MSG
exec node bin/pgferry.js run

#!/usr/bin/env bash
# `npm start`: the main job on the local stack, from a fresh clone: npm dependencies, the native
# stack (installing what is missing), pgferry built, the Debezium connector registered and
# RUNNING. The stack stays up afterwards: `npm run stack:down` stops it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash stack/ensure-node-deps.sh
bash stack/stack.sh up >&2
npm run --silent build
eval "$(bash stack/stack.sh env)"
node bin/pgferry.js connector apply
node bin/pgferry.js connector status

cat >&2 <<MSG

pgferry local stack is up.
  source PostgreSQL   psql "$SOURCE_DATABASE_URL"
  target PostgreSQL   psql "$TARGET_DATABASE_URL"
  Kafka               $KAFKA_BOOTSTRAP
  schema registry     $SCHEMA_REGISTRY_URL
  Kafka Connect       $CONNECT_URL
  Prometheus          $PROMETHEUS_URL
Every table created in the source's public schema is captured to Kafka topic cdc.public.<table>.
Stop everything with: npm run stack:down
MSG

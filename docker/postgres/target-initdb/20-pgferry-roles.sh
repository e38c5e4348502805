#!/usr/bin/env bash
# pgferry's least-privilege role on the compose target database, from the native stack's own
# stack/sql/target-bootstrap.sql (mounted at /pgferry/sql, outside the init folder). Run by the
# postgres image's entrypoint on the first start of an empty data volume.
psql -X -q -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v app_user="$PGFERRY_TARGET_USER" -v app_pw="$PGFERRY_TARGET_PASSWORD" -v db="$POSTGRES_DB" \
  -v dbz_user="$PGFERRY_DEBEZIUM_USER" -v dbz_pw="$PGFERRY_DEBEZIUM_PASSWORD" \
  -f /pgferry/sql/target-bootstrap.sql

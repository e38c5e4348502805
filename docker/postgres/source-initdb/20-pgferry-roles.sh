#!/usr/bin/env bash
# Debezium's and pgferry's roles and the publication on the compose source database, from the
# native stack's own stack/sql/source-bootstrap.sql (mounted at /pgferry/sql, outside the init
# folder, so the entrypoint never runs it without its variables). Run by the postgres image's
# entrypoint on the first start of an empty data volume; a failure stops the container.
psql -X -q -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v dbz_user="$PGFERRY_DEBEZIUM_USER" -v dbz_pw="$PGFERRY_DEBEZIUM_PASSWORD" \
  -v rd_user="$PGFERRY_SOURCE_READER_USER" -v rd_pw="$PGFERRY_SOURCE_READER_PASSWORD" \
  -v rb_user="$PGFERRY_ROLLBACK_USER" -v rb_pw="$PGFERRY_ROLLBACK_PASSWORD" \
  -v pub="$PGFERRY_PUBLICATION" -v db="$POSTGRES_DB" -v schemas="${PGFERRY_SOURCE_SCHEMAS:-public}" \
  -f /pgferry/sql/source-bootstrap.sql

-- pgferry's least-privilege role on the TARGET database, and the Debezium role that reads it for
-- the rollback plan (reverse replication). Idempotent; run by the native stack on every `up` and by
-- docker-compose's target init script. psql variables: app_user, app_pw, dbz_user, dbz_pw, db.
-- Run as a superuser connected to the target database.
SELECT format('CREATE ROLE %I LOGIN', :'app_user')
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'app_user') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD %L', :'app_user', :'app_pw') \gexec
-- pgferry creates its bookkeeping schema and the replicated tables, and nothing else.
SELECT format('GRANT CONNECT, CREATE, TEMPORARY ON DATABASE %I TO %I', :'db', :'app_user') \gexec
SELECT format('GRANT USAGE, CREATE ON SCHEMA public TO %I', :'app_user') \gexec
-- Reverse replication (pgferry rollback prepare): Debezium streams the tables pgferry owns here.
SELECT format('CREATE ROLE %I LOGIN', :'dbz_user')
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'dbz_user') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN REPLICATION PASSWORD %L', :'dbz_user', :'dbz_pw') \gexec
SELECT format('GRANT CONNECT ON DATABASE %I TO %I', :'db', :'dbz_user') \gexec
SELECT format('GRANT USAGE ON SCHEMA public TO %I', :'dbz_user') \gexec
SELECT format('GRANT SELECT ON ALL TABLES IN SCHEMA public TO %I', :'dbz_user') \gexec
SELECT format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public GRANT SELECT ON TABLES TO %I', :'app_user', :'dbz_user') \gexec

-- Roles and the publication on the SOURCE database. Idempotent; run by the native stack on every
-- `up` and by docker-compose's source init script. psql variables: dbz_user, dbz_pw, rd_user,
-- rd_pw, rb_user, rb_pw, pub, db. Run as a superuser connected to the source database.
SELECT format('CREATE ROLE %I LOGIN', :'dbz_user')
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'dbz_user') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN REPLICATION PASSWORD %L', :'dbz_user', :'dbz_pw') \gexec
SELECT format('CREATE ROLE %I LOGIN', :'rd_user')
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'rd_user') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN NOREPLICATION PASSWORD %L', :'rd_user', :'rd_pw') \gexec
-- Debezium reads the captured schema (snapshot) and streams it; pgferry's reader only reads.
SELECT format('GRANT CONNECT ON DATABASE %I TO %I, %I', :'db', :'dbz_user', :'rd_user') \gexec
SELECT format('GRANT USAGE ON SCHEMA public TO %I, %I', :'dbz_user', :'rd_user') \gexec
SELECT format('GRANT SELECT ON ALL TABLES IN SCHEMA public TO %I, %I', :'dbz_user', :'rd_user') \gexec
SELECT format('GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO %I', :'rd_user') \gexec
SELECT format('ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT SELECT ON TABLES TO %I, %I', :'dbz_user', :'rd_user') \gexec
SELECT format('ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT SELECT ON SEQUENCES TO %I', :'rd_user') \gexec
SELECT format('GRANT pg_monitor TO %I', :'rd_user') \gexec
-- The rollback plan's writer: the reverse pgferry applies writes made on the target after cutover
-- back into these tables (and keeps its bookkeeping schema here). A source frozen for cutover with
-- ALTER DATABASE ... SET default_transaction_read_only = on must still accept those writes.
SELECT format('CREATE ROLE %I LOGIN', :'rb_user')
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'rb_user') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN NOSUPERUSER NOREPLICATION PASSWORD %L', :'rb_user', :'rb_pw') \gexec
SELECT format('ALTER ROLE %I SET default_transaction_read_only = off', :'rb_user') \gexec
SELECT format('GRANT CONNECT, CREATE, TEMPORARY ON DATABASE %I TO %I', :'db', :'rb_user') \gexec
SELECT format('GRANT USAGE ON SCHEMA public TO %I', :'rb_user') \gexec
SELECT format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %I', :'rb_user') \gexec
SELECT format('GRANT SELECT, UPDATE, USAGE ON ALL SEQUENCES IN SCHEMA public TO %I', :'rb_user') \gexec
SELECT format('ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I', :'rb_user') \gexec
SELECT format('ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT SELECT, UPDATE, USAGE ON SEQUENCES TO %I', :'rb_user') \gexec
-- One publication for the whole schema, so tables created later are captured without a
-- connector restart (the connector runs with publication.autocreate.mode=disabled).
-- publish_via_partition_root: a partitioned table's changes are published as its root's (one
-- topic per logical table, a row moving between partitions stays on it, in order); an existing
-- publication is switched too.
SELECT format('CREATE PUBLICATION %I FOR TABLES IN SCHEMA public WITH (publish_via_partition_root = true)', :'pub')
  WHERE NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = :'pub') \gexec
SELECT format('ALTER PUBLICATION %I SET (publish_via_partition_root = true)', :'pub')
  WHERE EXISTS (SELECT 1 FROM pg_publication WHERE pubname = :'pub' AND NOT pubviaroot) \gexec

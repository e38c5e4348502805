-- Roles and the publication on the SOURCE database. Idempotent; run by the native stack on every
-- `up` and by docker-compose's source init script. psql variables: dbz_user, dbz_pw, rd_user,
-- rd_pw, rb_user, rb_pw, pub, db, and schemas (SOURCE_SCHEMAS: comma-separated, default public).
-- Run as a superuser connected to the source database.
\if :{?schemas}
\else
\set schemas public
\endif
-- The source schemas that exist (one listed before it is created is taken on the next run):
-- every grant below and the publication cover each of them.
CREATE TEMP VIEW pgferry_source_schemas AS
  SELECT DISTINCT btrim(s) AS name FROM unnest(string_to_array(:'schemas', ',')) AS s
   WHERE EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = btrim(s));
SELECT format('CREATE ROLE %I LOGIN', :'dbz_user')
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'dbz_user') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN REPLICATION PASSWORD %L', :'dbz_user', :'dbz_pw') \gexec
SELECT format('CREATE ROLE %I LOGIN', :'rd_user')
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'rd_user') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN NOREPLICATION PASSWORD %L', :'rd_user', :'rd_pw') \gexec
-- Row-level security must not filter what is read: pgferry copy, verify and Debezium's own
-- snapshot read every row (the WAL the stream comes from is never filtered).
SELECT format('ALTER ROLE %I WITH BYPASSRLS', r) FROM unnest(ARRAY[:'dbz_user', :'rd_user']) AS r \gexec
-- Debezium reads the captured schema (snapshot) and streams it; pgferry's reader only reads.
SELECT format('GRANT CONNECT ON DATABASE %I TO %I, %I', :'db', :'dbz_user', :'rd_user') \gexec
SELECT format('GRANT USAGE ON SCHEMA %I TO %I, %I', name, :'dbz_user', :'rd_user') FROM pgferry_source_schemas \gexec
SELECT format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO %I, %I', name, :'dbz_user', :'rd_user') FROM pgferry_source_schemas \gexec
SELECT format('GRANT SELECT ON ALL SEQUENCES IN SCHEMA %I TO %I', name, :'rd_user') FROM pgferry_source_schemas \gexec
SELECT format('ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA %I GRANT SELECT ON TABLES TO %I, %I', name, :'dbz_user', :'rd_user') FROM pgferry_source_schemas \gexec
SELECT format('ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA %I GRANT SELECT ON SEQUENCES TO %I', name, :'rd_user') FROM pgferry_source_schemas \gexec
SELECT format('GRANT pg_monitor TO %I', :'rd_user') \gexec
-- The rollback plan's writer: the reverse pgferry applies writes made on the target after cutover
-- back into these tables (and keeps its bookkeeping schema here). A source frozen for cutover with
-- ALTER DATABASE ... SET default_transaction_read_only = on must still accept those writes.
SELECT format('CREATE ROLE %I LOGIN', :'rb_user')
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'rb_user') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN NOSUPERUSER NOREPLICATION PASSWORD %L', :'rb_user', :'rb_pw') \gexec
SELECT format('ALTER ROLE %I SET default_transaction_read_only = off', :'rb_user') \gexec
SELECT format('GRANT CONNECT, CREATE, TEMPORARY ON DATABASE %I TO %I', :'db', :'rb_user') \gexec
SELECT format('GRANT USAGE ON SCHEMA %I TO %I', name, :'rb_user') FROM pgferry_source_schemas \gexec
SELECT format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO %I', name, :'rb_user') FROM pgferry_source_schemas \gexec
SELECT format('GRANT SELECT, UPDATE, USAGE ON ALL SEQUENCES IN SCHEMA %I TO %I', name, :'rb_user') FROM pgferry_source_schemas \gexec
SELECT format('ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I', name, :'rb_user') FROM pgferry_source_schemas \gexec
SELECT format('ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA %I GRANT SELECT, UPDATE, USAGE ON SEQUENCES TO %I', name, :'rb_user') FROM pgferry_source_schemas \gexec
-- One publication of the whole source schemas, so tables created later are captured without a
-- connector restart (the connector runs with publication.autocreate.mode=disabled); a schema added
-- to SOURCE_SCHEMAS is added to an existing publication.
-- publish_via_partition_root: a partitioned table's changes are published as its root's (one
-- topic per logical table, a row moving between partitions stays on it, in order); an existing
-- publication is switched too.
SELECT format('CREATE PUBLICATION %I FOR TABLES IN SCHEMA %s WITH (publish_via_partition_root = true)', :'pub',
              string_agg(quote_ident(name), ', ' ORDER BY name))
  FROM pgferry_source_schemas
HAVING count(*) > 0 AND NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = :'pub') \gexec
SELECT format('ALTER PUBLICATION %I ADD TABLES IN SCHEMA %I', :'pub', s.name)
  FROM pgferry_source_schemas s JOIN pg_publication p ON p.pubname = :'pub' AND NOT p.puballtables
 WHERE NOT EXISTS (SELECT 1 FROM pg_publication_namespace pn JOIN pg_namespace n ON n.oid = pn.pnnspid
                    WHERE pn.pnpubid = p.oid AND n.nspname = s.name) \gexec
SELECT format('ALTER PUBLICATION %I SET (publish_via_partition_root = true)', :'pub')
  WHERE EXISTS (SELECT 1 FROM pg_publication WHERE pubname = :'pub' AND NOT pubviaroot) \gexec

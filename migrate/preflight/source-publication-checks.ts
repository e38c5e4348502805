// Preflight check of the publication on the source: it exists and publishes every captured
// table, or the connector can create it (publication.autocreate.mode and the role's rights).
import { quoteIdent } from '../../core/sql-identifier.js';
import { formatTableName, type MigrationTable } from '../migration-tables.js';
import {
  type CheckVerdict,
  fail,
  type PreflightContext,
  pass,
  type SourceFacts,
  warn,
} from './preflight-check.js';
import { qualifyTable, requireCapturedTables, toTableArrays } from './source-facts.js';
import { resolveConnectorUser } from './source-role-checks.js';

export async function checkPublication(
  facts: SourceFacts,
  context: PreflightContext,
): Promise<CheckVerdict> {
  const name = context.config.replication.publication;
  const tables = requireCapturedTables(facts);
  const found = await facts.client.query<{ all_tables: boolean; via_root: boolean }>(
    'SELECT puballtables AS all_tables, pubviaroot AS via_root FROM pg_publication WHERE pubname = $1',
    [name],
  );
  const partitioned = await findPartitionedTables(facts, tables);
  const published = found.rows[0];
  if (published) {
    // Checked first: without it the publication lists the partitions instead of their roots.
    if (partitioned.length > 0 && !published.via_root) {
      return fail(
        `${name} publishes partition changes under each partition's name (publish_via_partition_root is off), so Debezium would write one topic per partition and never the partitioned table's: ALTER PUBLICATION ${quoteIdent(name)} SET (publish_via_partition_root = true)`,
        partitioned.map(formatTableName),
      );
    }
    const missing = await facts.client.query<{ schema: string; name: string }>(
      `SELECT t.schema, t.name FROM unnest($2::text[], $3::text[]) AS t(schema, name)
        WHERE NOT EXISTS (SELECT 1 FROM pg_publication_tables p
                           WHERE p.pubname = $1 AND p.schemaname = t.schema AND p.tablename = t.name)`,
      [name, ...toTableArrays(tables)],
    );
    if (missing.rows.length > 0) {
      return fail(
        `${name} does not publish ${missing.rows.length} captured table(s), Debezium would never see their changes: ALTER PUBLICATION ${quoteIdent(name)} ADD TABLE ${missing.rows.map(qualifyTable).join(', ')}`,
        missing.rows.map(formatTableName),
      );
    }
    return pass(`${name} exists and publishes all ${tables.length} captured table(s)`);
  }

  const viaRoot = partitioned.length > 0 ? ' WITH (publish_via_partition_root = true)' : '';
  const create = `CREATE PUBLICATION ${quoteIdent(name)} FOR TABLE ${tables.map(qualifyTable).join(', ') || '...'}${viaRoot}`;
  const reading = await context.connector;
  const mode = reading.config?.['publication.autocreate.mode'];
  if (mode === 'disabled') {
    return fail(
      `${name} does not exist and the connector does not create it (publication.autocreate.mode = disabled): as the tables' owner, ${create}`,
    );
  }
  if (partitioned.length > 0 && reading.config?.['publish.via.partition.root'] !== 'true') {
    return fail(
      `${name} does not exist, and the connector would create it publishing partition changes under each partition's name: set publish.via.partition.root = true in the connector config, or ${create}`,
      partitioned.map(formatTableName),
    );
  }
  const resolved = resolveConnectorUser(
    reading,
    context.options.connectorUser,
    context.config.connect.connectorName,
  );
  if ('unknown' in resolved) {
    return warn(
      `${name} does not exist; cannot tell whether the connector may create it (${resolved.unknown}): create it as the tables' owner: ${create}`,
    );
  }
  const can = await facts.client.query<{ super: boolean; create_db: boolean; owns_all: boolean }>(
    `SELECT r.rolsuper AS super,
            has_database_privilege(r.rolname, current_database(), 'CREATE') AS create_db,
            coalesce((SELECT bool_and(pg_has_role(r.rolname, c.relowner, 'USAGE'))
                        FROM unnest($2::text[], $3::text[]) AS t(schema, name)
                        JOIN pg_namespace n ON n.nspname = t.schema
                        JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.name), true) AS owns_all
       FROM pg_roles r WHERE r.rolname = $1`,
    [resolved.user, ...toTableArrays(tables)],
  );
  const row = can.rows[0];
  if (row?.super) {
    return pass(`${name} does not exist yet; ${resolved.user} is a superuser and can create it`);
  }
  if (row?.create_db && row.owns_all) {
    // FOR ALL TABLES (Debezium's default mode, all_tables) needs a superuser; filtered does not.
    if (mode === 'filtered') {
      return pass(
        `${name} does not exist yet; ${resolved.user} owns the tables and may create it (publication.autocreate.mode = filtered)`,
      );
    }
    return warn(
      `${name} does not exist; ${resolved.user} may create it for these tables but not FOR ALL TABLES (publication.autocreate.mode = ${mode ?? 'all_tables, the default'}): set publication.autocreate.mode = filtered, or ${create}`,
    );
  }
  return warn(
    `${name} does not exist and ${resolved.user} cannot create it (needs CREATE on the database and ownership of the tables, or superuser): as the tables' owner, ${create}`,
  );
}

/**
 * The captured tables that are partitioned, or partitions: their changes reach the publication's
 * subscriber under the root's name only with publish_via_partition_root.
 */
async function findPartitionedTables(
  facts: SourceFacts,
  tables: readonly MigrationTable[],
): Promise<{ schema: string; name: string }[]> {
  const found = await facts.client.query<{ schema: string; name: string }>(
    `SELECT t.schema, t.name FROM unnest($1::text[], $2::text[]) AS t(schema, name)
       JOIN pg_namespace n ON n.nspname = t.schema
       JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.name
      WHERE c.relkind = 'p' OR c.relispartition
      ORDER BY t.schema, t.name`,
    toTableArrays(tables),
  );
  return found.rows;
}

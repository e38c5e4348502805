// Preflight check that the publication publishes every source schema (SOURCE_SCHEMAS, default
// public) as a whole — FOR TABLES IN SCHEMA or FOR ALL TABLES — so that a table created there
// later is captured without touching the connector; else the exact ALTER PUBLICATION that fixes it.
// Named SOURCE_SCHEMAS left out is a FAIL (their tables would be missed); the default public only
// a WARN (a publication listing tables one by one keeps working for those tables).
import type pg from 'pg';
import { quoteIdent } from '../../core/sql-identifier.js';
import { SchemaMapping } from '../../pipeline/routing/schema-mapping.js';
import {
  type CheckVerdict,
  fail,
  type PreflightContext,
  pass,
  type SourceFacts,
  skip,
  warn,
} from './preflight-check.js';

export async function checkPublicationSchemas(
  facts: SourceFacts,
  context: PreflightContext,
): Promise<CheckVerdict> {
  const name = context.config.replication.publication;
  const schemas = SchemaMapping.fromSettings(context.config.mapping).sourceSchemas;
  const unpublished = await findSchemasNotPublished(facts.client, name, schemas);
  if (unpublished === 'no publication') {
    return skip(`${name} does not exist (see publication)`);
  }
  if (unpublished === 'before 15') {
    return warn(
      `PostgreSQL ${facts.serverVersion} has no schema publications: a table created later in ${schemas.join(', ')} must be added to ${name} by hand`,
    );
  }
  if (unpublished.length > 0) {
    const verdict = context.config.mapping.sourceSchemas === undefined ? warn : fail;
    return verdict(
      `${name} does not publish schema(s) ${unpublished.join(', ')} as a whole: their tables created later (or not listed) are never captured; as a superuser: ${formatAddSchemasFix(name, unpublished)}`,
      unpublished,
    );
  }
  return pass(`${name} publishes every source schema as a whole (${schemas.join(', ')})`);
}

/**
 * The source schemas `publication` does not publish as a whole; [] for FOR ALL TABLES. Before
 * PostgreSQL 15 there are no schema publications.
 */
export async function findSchemasNotPublished(
  client: pg.ClientBase,
  publication: string,
  schemas: readonly string[],
): Promise<string[] | 'no publication' | 'before 15'> {
  const about = await client.query<{ all_tables: boolean; version: number }>(
    `SELECT puballtables AS all_tables, current_setting('server_version_num')::int AS version
       FROM pg_publication WHERE pubname = $1`,
    [publication],
  );
  const row = about.rows[0];
  if (row === undefined) return 'no publication';
  if (row.version < 150000) return 'before 15';
  if (row.all_tables) return [];
  const missing = await client.query<{ schema: string }>(
    `SELECT s.schema FROM unnest($2::text[]) WITH ORDINALITY AS s(schema, n)
      WHERE NOT EXISTS (SELECT 1 FROM pg_publication_namespace pn
                          JOIN pg_publication p ON p.oid = pn.pnpubid
                          JOIN pg_namespace ns ON ns.oid = pn.pnnspid
                         WHERE p.pubname = $1 AND ns.nspname = s.schema)
      ORDER BY s.n`,
    [publication, schemas],
  );
  return missing.rows.map((r) => r.schema);
}

/** The statement that adds `schemas` to `publication` (FOR TABLES IN SCHEMA needs a superuser). */
export function formatAddSchemasFix(publication: string, schemas: readonly string[]): string {
  return `ALTER PUBLICATION ${quoteIdent(publication)} ADD TABLES IN SCHEMA ${schemas.map(quoteIdent).join(', ')}`;
}

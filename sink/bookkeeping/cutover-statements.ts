// pgferry.cutover_statements: what schema-sync left for cutover because it would reject valid
// out-of-order applies during replication (foreign keys: added NOT VALID, then validated),
// GENERATED ALWAYS (replication must write the source's ids) and FORCE ROW LEVEL SECURITY (it
// would apply the policies to the role replication writes with). Cutover's gate 4 runs each
// pending entry's statements and stamps applied_at; schema-sync records an entry again only while
// the target still lacks the object.
import type pg from 'pg';
import { qualifiedName, quoteIdent } from '../../core/sql-identifier.js';
import { BOOKKEEPING_SCHEMA, hasBookkeepingTable } from './bookkeeping-schema.js';

export interface CutoverStatement {
  schema: string;
  table: string;
  /** What the statements create or change, e.g. `app.film film_language_id_fkey`. */
  object: string;
  kind: string;
  statements: string[];
  appliedAt: Date | null;
}

export const cutoverStatementsTable = (): string =>
  qualifiedName(BOOKKEEPING_SCHEMA, 'cutover_statements');

/** Records what cutover must apply; an entry recorded again is pending again with its statements. */
export async function recordCutoverStatements(
  client: pg.ClientBase,
  entries: readonly Omit<CutoverStatement, 'appliedAt'>[],
): Promise<void> {
  if (entries.length === 0) return;
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(BOOKKEEPING_SCHEMA)}`);
  await client.query(`CREATE TABLE IF NOT EXISTS ${cutoverStatementsTable()} (
      table_schema text NOT NULL,
      table_name text NOT NULL,
      object text NOT NULL,
      kind text NOT NULL,
      statements text[] NOT NULL,
      recorded_at timestamptz NOT NULL DEFAULT now(),
      applied_at timestamptz,
      PRIMARY KEY (table_schema, table_name, object))`);
  for (const e of entries) {
    await client.query(
      `INSERT INTO ${cutoverStatementsTable()} (table_schema, table_name, object, kind, statements)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (table_schema, table_name, object) DO UPDATE
          SET kind = excluded.kind, statements = excluded.statements, recorded_at = now(),
              applied_at = NULL`,
      [e.schema, e.table, e.object, e.kind, e.statements],
    );
  }
}

/** The pending entries of these target tables, in the order they were recorded. */
export async function readPendingCutoverStatements(
  client: pg.ClientBase,
  tables: readonly { schema: string; name: string }[],
): Promise<CutoverStatement[]> {
  if (!(await hasBookkeepingTable(client, 'cutover_statements'))) return [];
  const result = await client.query<{
    table_schema: string;
    table_name: string;
    object: string;
    kind: string;
    statements: string[];
  }>(
    `SELECT s.table_schema, s.table_name, s.object, s.kind, s.statements
       FROM ${cutoverStatementsTable()} s
       JOIN unnest($1::text[], $2::text[]) AS t(schema, name)
         ON t.schema = s.table_schema AND t.name = s.table_name
      WHERE s.applied_at IS NULL
      -- Identity and row security before the foreign keys, whose validation reads the rows.
      ORDER BY s.kind = 'foreign-key', s.recorded_at, s.table_schema, s.table_name, s.object`,
    [tables.map((t) => t.schema), tables.map((t) => t.name)],
  );
  return result.rows.map((r) => ({
    schema: r.table_schema,
    table: r.table_name,
    object: r.object,
    kind: r.kind,
    statements: r.statements,
    appliedAt: null,
  }));
}

export async function markCutoverStatementApplied(
  client: pg.ClientBase,
  entry: Pick<CutoverStatement, 'schema' | 'table' | 'object'>,
): Promise<void> {
  await client.query(
    `UPDATE ${cutoverStatementsTable()} SET applied_at = now()
      WHERE table_schema = $1 AND table_name = $2 AND object = $3`,
    [entry.schema, entry.table, entry.object],
  );
}

// Which source tables a migration command works on: the ones named with --tables (checked against
// the catalog), else the tables of the Debezium publication, else every table of the source schemas
// (SOURCE_SCHEMAS, default public); less the tables pgferry run never writes.
import type pg from 'pg';
import { PgferryError } from '../core/errors.js';
import {
  TableSelection,
  type TableSelectionSettings,
} from '../pipeline/routing/table-selection.js';

export interface MigrationTable {
  schema: string;
  name: string;
}

export const formatTableName = (t: MigrationTable): string => `${t.schema}.${t.name}`;

/** Parses "schema.table" or "table" (schema public); quotes are not needed nor accepted. */
export function parseTableName(text: string): MigrationTable {
  const trimmed = text.trim();
  const dot = trimmed.indexOf('.');
  const table =
    dot < 0
      ? { schema: 'public', name: trimmed }
      : { schema: trimmed.slice(0, dot), name: trimmed.slice(dot + 1) };
  if (table.schema === '' || table.name === '' || table.name.includes('.')) {
    throw new PgferryError(`invalid table name "${text}": expected schema.table or table`, {
      retriable: false,
    });
  }
  return table;
}

/** Splits a --tables value ("a,public.b") into table names. */
export function parseTableList(text: string): MigrationTable[] {
  return text
    .split(',')
    .filter((part) => part.trim() !== '')
    .map(parseTableName);
}

/**
 * The tables a command works on, in a stable order (schema, name): those named (`--tables`, taken
 * as given; each must exist, the error lists every one that does not), else the publication's
 * (else the source schemas') less what SOURCE_SCHEMAS and TABLES_INCLUDE / TABLES_EXCLUDE leave
 * out of `pgferry run`: a table run never writes is neither copied, verified nor cut over.
 */
export async function resolveMigrationTables(
  client: pg.ClientBase,
  options: {
    tables?: readonly MigrationTable[];
    publication?: string;
    /** A config's `mapping`: SOURCE_SCHEMAS, TABLES_INCLUDE, TABLES_EXCLUDE. */
    selection?: TableSelectionSettings;
  },
): Promise<MigrationTable[]> {
  const named = options.tables !== undefined && options.tables.length > 0;
  const tables = await listMigrationTables(client, options);
  if (named || options.selection === undefined) return tables;
  const selection = TableSelection.fromSettings(options.selection);
  return tables.filter((t) => selection.exclusionOf(t) === undefined);
}

async function listMigrationTables(
  client: pg.ClientBase,
  options: {
    tables?: readonly MigrationTable[];
    publication?: string;
    selection?: TableSelectionSettings;
  },
): Promise<MigrationTable[]> {
  if (options.tables !== undefined && options.tables.length > 0) {
    const found = await client.query<{ schema: string; name: string }>(
      `SELECT n.nspname AS schema, c.relname AS name
         FROM unnest($1::text[], $2::text[]) AS want(schema, name)
         JOIN pg_namespace n ON n.nspname = want.schema
         JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = want.name
        WHERE c.relkind IN ('r', 'p')`,
      [options.tables.map((t) => t.schema), options.tables.map((t) => t.name)],
    );
    const have = new Set(found.rows.map((r) => `${r.schema}.${r.name}`));
    const missing = options.tables.map(formatTableName).filter((t) => !have.has(t));
    if (missing.length > 0) {
      throw new PgferryError(`no such table on the source: ${missing.join(', ')}`, {
        retriable: false,
      });
    }
    return sortTables(found.rows);
  }
  if (options.publication !== undefined) {
    const pub = await client.query<{ schema: string; name: string }>(
      `SELECT schemaname AS schema, tablename AS name FROM pg_publication_tables WHERE pubname = $1`,
      [options.publication],
    );
    const exists = await client.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [
      options.publication,
    ]);
    if (exists.rowCount) return sortTables(pub.rows);
  }
  const all = await client.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p') AND NOT c.relispartition`,
    [options.selection?.sourceSchemas ?? ['public']],
  );
  return sortTables(all.rows);
}

function sortTables(rows: readonly MigrationTable[]): MigrationTable[] {
  return rows
    .map((r) => ({ schema: r.schema, name: r.name }))
    .sort((a, b) => (a.schema === b.schema ? cmp(a.name, b.name) : cmp(a.schema, b.schema)));
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

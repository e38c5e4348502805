// pgferry.deferred_indexes: the secondary indexes `schema-sync --defer-indexes` left out of the
// target tables so the initial copy writes no index entries row by row; `pgferry copy` builds each
// once its table's rows are in (one CREATE INDEX over the whole table is cheaper), and cutover
// refuses while any is still pending.
import type pg from 'pg';
import { deferredIndexesTable, hasBookkeepingTable } from './bookkeeping-schema.js';

export interface DeferredIndex {
  schema: string;
  table: string;
  index: string;
  /** The whole CREATE INDEX IF NOT EXISTS statement, target names mapped and quoted. */
  statement: string;
  builtAt: Date | null;
  buildSeconds: number | null;
  lastError: string | null;
}

/**
 * Records indexes to build after the copy; a row already recorded gets the new statement and is
 * pending again unless it was built (an index that exists is not re-created by schema-sync).
 */
export async function recordDeferredIndexes(
  client: pg.ClientBase,
  indexes: readonly Pick<DeferredIndex, 'schema' | 'table' | 'index' | 'statement'>[],
): Promise<void> {
  for (const i of indexes) {
    await client.query(
      `INSERT INTO ${deferredIndexesTable()} (table_schema, table_name, index_name, statement)
       VALUES ($1, $2, $3, $4)
       ON CONFLICT (table_schema, index_name) DO UPDATE
          SET table_name = excluded.table_name, statement = excluded.statement,
              deferred_at = now(), built_at = NULL, build_seconds = NULL, last_error = NULL`,
      [i.schema, i.table, i.index, i.statement],
    );
  }
}

/** The deferred indexes of these tables (all tables without a filter), built or not. */
export async function readDeferredIndexes(
  client: pg.ClientBase,
  tables?: readonly { schema: string; name: string }[],
): Promise<DeferredIndex[]> {
  if (!(await hasBookkeepingTable(client, 'deferred_indexes'))) return [];
  const result = await client.query<{
    table_schema: string;
    table_name: string;
    index_name: string;
    statement: string;
    built_at: Date | null;
    build_seconds: number | null;
    last_error: string | null;
  }>(
    `SELECT table_schema, table_name, index_name, statement, built_at, build_seconds, last_error
       FROM ${deferredIndexesTable()}
      ORDER BY table_schema, table_name, index_name`,
  );
  const wanted = tables ? new Set(tables.map((t) => `${t.schema}\u0000${t.name}`)) : undefined;
  return result.rows
    .filter((r) => wanted === undefined || wanted.has(`${r.table_schema}\u0000${r.table_name}`))
    .map((r) => ({
      schema: r.table_schema,
      table: r.table_name,
      index: r.index_name,
      statement: r.statement,
      builtAt: r.built_at,
      buildSeconds: r.build_seconds,
      lastError: r.last_error,
    }));
}

/** The index exists now (built by this statement or found already there). */
export async function markIndexBuilt(
  client: pg.ClientBase,
  index: { schema: string; index: string },
  seconds: number,
): Promise<void> {
  await client.query(
    `UPDATE ${deferredIndexesTable()} SET built_at = clock_timestamp(), build_seconds = $3, last_error = NULL
      WHERE table_schema = $1 AND index_name = $2`,
    [index.schema, index.index, seconds],
  );
}

/** The build failed; kept pending with the reason, so the next `pgferry copy` tries again. */
export async function markIndexFailed(
  client: pg.ClientBase,
  index: { schema: string; index: string },
  reason: string,
): Promise<void> {
  await client.query(
    `UPDATE ${deferredIndexesTable()} SET last_error = $3 WHERE table_schema = $1 AND index_name = $2`,
    [index.schema, index.index, reason],
  );
}

// pgferry.tables: one row per replicated table with its progress (changes applied, newest source
// time) and the name of its position table (the last applied position of every row).
import type pg from 'pg';
import { qualifiedName } from '../../core/sql-identifier.js';
import {
  BOOKKEEPING_SCHEMA,
  copyTablesTable,
  hasBookkeepingTable,
  keylessPositionsTable,
  tableProgressTable,
  tablesTable,
} from './bookkeeping-schema.js';

export interface TableProgressRow {
  schema: string;
  name: string;
  changesApplied: number;
  /** Source commit time of the newest change applied. */
  lastSourceTs: Date | null;
  lastAppliedAt: Date | null;
  /** The target's now − lastSourceTs in seconds (may be negative with clock skew). */
  sourceAgeSeconds: number | null;
}

/**
 * Every replicated table's progress, by schema and name: its partitions' rows in table_progress
 * added up, with what \`tables\` itself counted before progress was kept per partition.
 */
export async function readTableProgress(client: pg.ClientBase): Promise<TableProgressRow[]> {
  // A target whose sink has not run since table_progress came has only the old counters.
  const perPartition = (await hasBookkeepingTable(client, 'table_progress'))
    ? `(SELECT table_schema, table_name, sum(changes_applied) AS changes_applied,
               max(last_source_ts) AS last_source_ts, max(last_applied_at) AS last_applied_at
          FROM ${tableProgressTable()} GROUP BY table_schema, table_name)`
    : '(SELECT NULL::text AS table_schema, NULL::text AS table_name, 0::numeric AS changes_applied, NULL::timestamptz AS last_source_ts, NULL::timestamptz AS last_applied_at WHERE false)';
  const result = await client.query<{
    table_schema: string;
    table_name: string;
    changes_applied: string;
    last_source_ts: Date | null;
    last_applied_at: Date | null;
    lag: number | null;
  }>(
    `SELECT table_schema, table_name, changes_applied, last_source_ts, last_applied_at,
            EXTRACT(EPOCH FROM (now() - last_source_ts))::float8 AS lag
       FROM (SELECT t.table_schema, t.table_name,
                    t.changes_applied + COALESCE(p.changes_applied, 0) AS changes_applied,
                    GREATEST(t.last_source_ts, p.last_source_ts) AS last_source_ts,
                    GREATEST(t.last_applied_at, p.last_applied_at) AS last_applied_at
               FROM ${tablesTable()} t
               LEFT JOIN ${perPartition} p USING (table_schema, table_name)) progress
      ORDER BY table_schema, table_name`,
  );
  return result.rows.map((r) => ({
    schema: r.table_schema,
    name: r.table_name,
    changesApplied: Number(r.changes_applied),
    lastSourceTs: r.last_source_ts,
    lastAppliedAt: r.last_applied_at,
    sourceAgeSeconds: r.lag,
  }));
}

/**
 * Empties the table's row positions (deleted rows included; a keyless table's last applied
 * stream position), so a fresh snapshot starts without them. Nothing to do for a table the sink never registered. Runs in the caller's transaction.
 */
export async function resetTablePositions(
  client: pg.ClientBase,
  schema: string,
  name: string,
): Promise<void> {
  // A keyless table's stream order too: a new slot's changes must not be judged by the old one's.
  if (await hasBookkeepingTable(client, 'keyless_positions')) {
    await client.query(
      `DELETE FROM ${keylessPositionsTable()} WHERE table_schema = $1 AND table_name = $2`,
      [schema, name],
    );
  }
  if (!(await hasBookkeepingTable(client, 'tables'))) return;
  const row = await client.query<{ position_table: string }>(
    `SELECT position_table FROM ${tablesTable()} WHERE table_schema = $1 AND table_name = $2`,
    [schema, name],
  );
  const positionTable = row.rows[0]?.position_table;
  if (positionTable === undefined) return;
  if (await hasBookkeepingTable(client, positionTable))
    await client.query(`TRUNCATE ${qualifiedName(BOOKKEEPING_SCHEMA, positionTable)}`);
}

/** `pgferry run` has registered the table (it prepared it for the stream, maybe applied changes). */
export async function isTableRegistered(
  client: pg.ClientBase,
  schema: string,
  name: string,
): Promise<boolean> {
  if (!(await hasBookkeepingTable(client, 'tables'))) return false;
  const row = await client.query(
    `SELECT 1 FROM ${tablesTable()} WHERE table_schema = $1 AND table_name = $2`,
    [schema, name],
  );
  return (row.rowCount ?? 0) > 0;
}

/**
 * Forgets the stream's state of a table (row positions, truncate mark, progress), as before its
 * first change: `pgferry copy --restart` then copies it afresh. Runs in the caller's transaction.
 */
export async function forgetTable(
  client: pg.ClientBase,
  schema: string,
  name: string,
): Promise<void> {
  await resetTablePositions(client, schema, name);
  if (await hasBookkeepingTable(client, 'table_progress')) {
    await client.query(
      `DELETE FROM ${tableProgressTable()} WHERE table_schema = $1 AND table_name = $2`,
      [schema, name],
    );
  }
  if (!(await hasBookkeepingTable(client, 'tables'))) return;
  await client.query(`DELETE FROM ${tablesTable()} WHERE table_schema = $1 AND table_name = $2`, [
    schema,
    name,
  ]);
}

/**
 * Every target table pgferry has written or is writing: registered by `pgferry run`
 * (pgferry.tables) or planned by `pgferry copy` (pgferry.copy_tables). What `resnapshot` may empty.
 */
export async function readWrittenTables(
  client: pg.ClientBase,
): Promise<{ schema: string; name: string }[]> {
  const parts: string[] = [];
  if (await hasBookkeepingTable(client, 'tables'))
    parts.push(`SELECT table_schema, table_name FROM ${tablesTable()}`);
  if (await hasBookkeepingTable(client, 'copy_tables'))
    parts.push(`SELECT table_schema, table_name FROM ${copyTablesTable()}`);
  if (parts.length === 0) return [];
  const result = await client.query<{ table_schema: string; table_name: string }>(
    `${parts.join(' UNION ')} ORDER BY 1, 2`,
  );
  return result.rows.map((r) => ({ schema: r.table_schema, name: r.table_name }));
}

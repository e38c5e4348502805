// pgferry.copy_tables and pgferry.copy_chunks: the plan and progress of `pgferry copy`, the initial
// load. A chunk is a primary-key range of one table; it is marked done in the same target
// transaction as its rows, so a crash leaves a chunk copied and marked, or neither. A table's
// stream is applied only once its copy_tables row says done (checked by target-table.ts).
import type pg from 'pg';
import { copyChunksTable, copyTablesTable, hasBookkeepingTable } from './bookkeeping-schema.js';

export type CopyState = 'copying' | 'done' | 'failed';

export interface CopyTableRow {
  schema: string;
  name: string;
  sourceSchema: string;
  sourceName: string;
  state: CopyState;
  keyColumns: string[];
  chunksTotal: number;
  chunksDone: number;
  rowsCopied: number;
  bytesCopied: number;
  startedAt: Date;
  finishedAt: Date | null;
  /** When the last chunk was committed (null before the first). */
  lastChunkAt: Date | null;
  lastError: string | null;
}

/** Every table `pgferry copy` planned, with its chunks done; empty before the first copy. */
export async function readCopyTables(client: pg.ClientBase): Promise<CopyTableRow[]> {
  if (!(await hasBookkeepingTable(client, 'copy_tables'))) return [];
  const result = await client.query<{
    table_schema: string;
    table_name: string;
    source_schema: string;
    source_name: string;
    state: CopyState;
    key_columns: string[];
    chunks_total: number;
    chunks_done: string;
    rows_copied: string;
    bytes_copied: string;
    started_at: Date;
    finished_at: Date | null;
    last_chunk_at: Date | null;
    last_error: string | null;
  }>(
    `SELECT t.table_schema, t.table_name, t.source_schema, t.source_name, t.state, t.key_columns,
            t.chunks_total, t.rows_copied, t.bytes_copied, t.started_at, t.finished_at, t.last_error,
            count(c.done_at) AS chunks_done, max(c.done_at) AS last_chunk_at
       FROM ${copyTablesTable()} t
       LEFT JOIN ${copyChunksTable()} c USING (table_schema, table_name)
      GROUP BY t.table_schema, t.table_name
      ORDER BY t.table_schema, t.table_name`,
  );
  return result.rows.map((r) => ({
    schema: r.table_schema,
    name: r.table_name,
    sourceSchema: r.source_schema,
    sourceName: r.source_name,
    state: r.state,
    keyColumns: r.key_columns,
    chunksTotal: r.chunks_total,
    chunksDone: Number(r.chunks_done),
    rowsCopied: Number(r.rows_copied),
    bytesCopied: Number(r.bytes_copied),
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    lastChunkAt: r.last_chunk_at,
    lastError: r.last_error,
  }));
}

export interface CopyChunkRow {
  chunk: number;
  /** Exclusive lower bound (key values as text), null = from the first key. */
  lower: string[] | null;
  /** Inclusive upper bound, null = to the last key. */
  upper: string[] | null;
  done: boolean;
  rowsCopied: number;
  bytesCopied: number;
  /** How many times the chunk was committed (1 once done; the resume tests read it). */
  copies: number;
}

export async function readCopyChunks(
  client: pg.ClientBase,
  table: { schema: string; name: string },
): Promise<CopyChunkRow[]> {
  const result = await client.query<{
    chunk: number;
    lower_key: string[] | null;
    upper_key: string[] | null;
    done_at: Date | null;
    rows_copied: string | null;
    bytes_copied: string | null;
    copies: number;
  }>(
    `SELECT chunk, lower_key, upper_key, done_at, rows_copied, bytes_copied, copies
       FROM ${copyChunksTable()} WHERE table_schema = $1 AND table_name = $2 ORDER BY chunk`,
    [table.schema, table.name],
  );
  return result.rows.map((r) => ({
    chunk: r.chunk,
    lower: r.lower_key,
    upper: r.upper_key,
    done: r.done_at !== null,
    rowsCopied: Number(r.rows_copied ?? 0),
    bytesCopied: Number(r.bytes_copied ?? 0),
    copies: r.copies,
  }));
}

export interface CopyTablePlan {
  target: { schema: string; name: string };
  source: { schema: string; name: string };
  keyColumns: string[];
  /** Consecutive key ranges covering every key: chunk i is (bounds[i-1], bounds[i]]. */
  bounds: string[][];
}

/** Records a new plan (the table must have none). Runs in the caller's transaction. */
export async function insertCopyPlan(client: pg.ClientBase, plan: CopyTablePlan): Promise<void> {
  await client.query(
    `INSERT INTO ${copyTablesTable()}
       (table_schema, table_name, source_schema, source_name, state, key_columns, chunks_total)
     VALUES ($1, $2, $3, $4, 'copying', $5, $6)`,
    [
      plan.target.schema,
      plan.target.name,
      plan.source.schema,
      plan.source.name,
      plan.keyColumns,
      plan.bounds.length + 1,
    ],
  );
  const lowers: (string | null)[] = [];
  const uppers: (string | null)[] = [];
  for (let i = 0; i <= plan.bounds.length; i++) {
    lowers.push(i === 0 ? null : JSON.stringify(plan.bounds[i - 1]));
    uppers.push(i === plan.bounds.length ? null : JSON.stringify(plan.bounds[i]));
  }
  // Bounds travel as JSON arrays of text (a key value may hold any character).
  await client.query(
    `INSERT INTO ${copyChunksTable()} (table_schema, table_name, chunk, lower_key, upper_key)
     SELECT $1, $2, ord - 1,
            CASE WHEN lo IS NULL THEN NULL ELSE ARRAY(SELECT json_array_elements_text(lo::json)) END,
            CASE WHEN hi IS NULL THEN NULL ELSE ARRAY(SELECT json_array_elements_text(hi::json)) END
       FROM unnest($3::text[], $4::text[]) WITH ORDINALITY AS b(lo, hi, ord)`,
    [plan.target.schema, plan.target.name, lowers, uppers],
  );
}

/**
 * Marks a chunk copied, in the transaction that copied its rows, and the table done when it was
 * the last one. The table row is locked first, so two last chunks committing at once cannot both
 * miss each other; the done check is a later statement, which sees the other's commit.
 */
export async function markChunkCopied(
  client: pg.ClientBase,
  table: { schema: string; name: string },
  chunk: { chunk: number; rows: number; bytes: number; copyRun: string },
): Promise<{ tableDone: boolean }> {
  await client.query(
    `UPDATE ${copyTablesTable()} SET rows_copied = rows_copied + $3, bytes_copied = bytes_copied + $4
      WHERE table_schema = $1 AND table_name = $2`,
    [table.schema, table.name, chunk.rows, chunk.bytes],
  );
  const marked = await client.query(
    `UPDATE ${copyChunksTable()}
        SET done_at = clock_timestamp(), rows_copied = $4, bytes_copied = $5, copy_run = $6,
            copies = copies + 1
      WHERE table_schema = $1 AND table_name = $2 AND chunk = $3 AND done_at IS NULL`,
    [table.schema, table.name, chunk.chunk, chunk.rows, chunk.bytes, chunk.copyRun],
  );
  if (marked.rowCount !== 1) {
    // Another copy process did this chunk (or the plan was reset): roll these rows back.
    throw new Error(
      `chunk ${chunk.chunk} of ${table.schema}.${table.name} is no longer pending (another pgferry copy, or a --restart?)`,
    );
  }
  const done = await client.query(
    `UPDATE ${copyTablesTable()} SET state = 'done', finished_at = clock_timestamp(), last_error = NULL
      WHERE table_schema = $1 AND table_name = $2
        AND NOT EXISTS (SELECT 1 FROM ${copyChunksTable()}
                         WHERE table_schema = $1 AND table_name = $2 AND done_at IS NULL)`,
    [table.schema, table.name],
  );
  return { tableDone: done.rowCount === 1 };
}

/** A table whose every chunk is done (an empty table's single chunk included): done. */
export async function settleCopyTable(
  client: pg.ClientBase,
  table: { schema: string; name: string },
): Promise<void> {
  await client.query(
    `UPDATE ${copyTablesTable()} SET state = 'done', finished_at = coalesce(finished_at, clock_timestamp()), last_error = NULL
      WHERE table_schema = $1 AND table_name = $2 AND state <> 'done'
        AND NOT EXISTS (SELECT 1 FROM ${copyChunksTable()}
                         WHERE table_schema = $1 AND table_name = $2 AND done_at IS NULL)`,
    [table.schema, table.name],
  );
}

/** The copy of this table failed for a reason retrying cannot fix (kept until the next copy). */
export async function markCopyFailed(
  client: pg.ClientBase,
  table: { schema: string; name: string },
  reason: string,
): Promise<void> {
  await client.query(
    `UPDATE ${copyTablesTable()} SET state = 'failed', last_error = $3
      WHERE table_schema = $1 AND table_name = $2 AND state <> 'done'`,
    [table.schema, table.name, reason],
  );
}

/** A failed table is copied again by the next `pgferry copy`: back to copying. */
export async function markCopyResumed(
  client: pg.ClientBase,
  table: { schema: string; name: string },
): Promise<void> {
  await client.query(
    `UPDATE ${copyTablesTable()} SET state = 'copying' WHERE table_schema = $1 AND table_name = $2 AND state = 'failed'`,
    [table.schema, table.name],
  );
}

/** Forgets the table's copy (`pgferry copy --restart`). Runs in the caller's transaction. */
export async function deleteCopyPlan(
  client: pg.ClientBase,
  table: { schema: string; name: string },
): Promise<void> {
  if (!(await hasBookkeepingTable(client, 'copy_tables'))) return;
  await client.query(
    `DELETE FROM ${copyTablesTable()} WHERE table_schema = $1 AND table_name = $2`,
    [table.schema, table.name],
  );
}

/**
 * The copy of this target table that is not done yet, if any: its stream must wait. Runs under
 * the DDL lock, like the copy's registration, so neither can slip past the other.
 */
export async function pendingCopy(
  client: pg.ClientBase,
  table: { schema: string; name: string },
): Promise<{ state: CopyState; chunksDone: number; chunksTotal: number } | undefined> {
  if (!(await hasBookkeepingTable(client, 'copy_tables'))) return undefined;
  const result = await client.query<{ state: CopyState; chunks_total: number; done: string }>(
    `SELECT t.state, t.chunks_total,
            (SELECT count(*) FROM ${copyChunksTable()} c
              WHERE c.table_schema = t.table_schema AND c.table_name = t.table_name
                AND c.done_at IS NOT NULL) AS done
       FROM ${copyTablesTable()} t
      WHERE t.table_schema = $1 AND t.table_name = $2 AND t.state <> 'done'`,
    [table.schema, table.name],
  );
  const row = result.rows[0];
  if (row === undefined) return undefined;
  return { state: row.state, chunksDone: Number(row.done), chunksTotal: row.chunks_total };
}

/** The chunk is marked done (an earlier attempt's COMMIT may have landed before its connection died). */
export async function isChunkDone(
  client: pg.ClientBase,
  table: { schema: string; name: string },
  chunk: number,
): Promise<boolean> {
  const result = await client.query(
    `SELECT 1 FROM ${copyChunksTable()} WHERE table_schema = $1 AND table_name = $2 AND chunk = $3 AND done_at IS NOT NULL`,
    [table.schema, table.name, chunk],
  );
  return (result.rowCount ?? 0) > 0;
}

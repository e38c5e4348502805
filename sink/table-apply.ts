// One table's changes of a batch, inside the batch transaction: truncates first, then COPY into a
// session staging table and the guarded merge (merge-sql.ts). Rows the target rejects are
// isolated by bisection under savepoints and reported back; the rest of the table still applies.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { faultPoint, faultPointArmed } from '../core/fault-points.js';
import type { Logger } from '../core/logger.js';
import { classifyPgError } from '../core/pg-errors.js';
import type { RejectedChange } from '../pipeline/ports.js';
import { type RowChange, tableKey, UNCHANGED_TOAST } from '../pipeline/row-change.js';
import { highestPosition } from './bookkeeping/batch-bookkeeping-sql.js';
import { CopyTextWriter } from './copy-text.js';
import { applyKeylessChanges } from './keyless-apply.js';
import {
  clearStagingSql,
  copyIntoStagingSql,
  createStagingTableSql,
  type MergeTarget,
  mergeSql,
  type StagingTable,
  truncateSql,
} from './merge-sql.js';
import type { TargetTable } from './target-table.js';

/** Time spent per statement kind, accumulated over a batch. */
export interface ApplyTimings {
  copy: number;
  merge: number;
  commit: number;
}

/** What applying one table's changes needs from the batch around it. */
export interface TableApplyContext {
  client: pg.Client;
  log: Logger;
  /** Staging tables this session has created (temporary: gone with the session). */
  stagingTables: Set<string>;
  timings: ApplyTimings;
  /** Rejected rows are added here. */
  rejected: RejectedChange[];
  /**
   * The row savepoint was opened with the batch's BEGIN and nothing ran since: the first attempt
   * of a keyed table's rows uses it (and clears this) instead of opening one.
   */
  savepointOpen?: boolean;
}

/** The savepoint each attempt at a table's rows runs under (released by the merge). */
export const ROW_SAVEPOINT = 'pgferry_rows';

class RejectedRowError extends Error {}

export async function applyTableChanges(
  ctx: TableApplyContext,
  target: TargetTable,
  changes: readonly RowChange[],
): Promise<{ upserted: number; deleted: number }> {
  // The savepoint opened with BEGIN serves only rows applied before anything else runs.
  const savepointOpen = ctx.savepointOpen === true;
  ctx.savepointOpen = false;
  // A keyless table (no primary key, REPLICA IDENTITY FULL): every change, by full-row match.
  if (target.primaryKey.length === 0) return applyKeylessChanges(ctx, target, changes);
  const { client } = ctx;
  const mergeTarget: MergeTarget = {
    schema: target.ref.schema,
    name: target.ref.name,
    positionTable: target.positionTable,
    primaryKey: target.primaryKey,
  };
  const truncates = changes.filter((c) => c.op === 't');
  // Truncates are rare: without one the changes are the rows, not a copy of them.
  const rows = truncates.length === 0 ? changes : changes.filter((c) => c.op !== 't');
  if (truncates.length > 0) {
    const position = highestPosition(truncates);
    for (const sql of truncateSql(mergeTarget, position)) await client.query(sql);
    ctx.log.info(
      { table: tableKey(target.ref), position: position.toString() },
      'applied truncate',
    );
  }
  if (rows.length === 0) return { upserted: 0, deleted: 0 };

  const stage = stagingTableFor(target, rows);
  // A staging table created under the savepoint would be dropped by a rollback to it.
  const creates = !ctx.stagingTables.has(stage.name);
  if (creates) {
    await client.query(createStagingTableSql(stage));
    ctx.stagingTables.add(stage.name);
  }

  const stats = { upserted: 0, deleted: 0 };
  // Opened with BEGIN, and nothing (a truncate, a staging table) has run since.
  let opened = savepointOpen && truncates.length === 0 && !creates;
  const attempt = async (subset: readonly RowChange[]): Promise<void> => {
    if (opened) opened = false;
    else await client.query(`SAVEPOINT ${ROW_SAVEPOINT}`);
    try {
      // Released by the merge's own round trip.
      const result = await stageAndMerge(ctx, mergeTarget, stage, subset);
      stats.upserted += result.upserted;
      stats.deleted += result.deleted;
    } catch (error) {
      if (classifyPgError(error) !== 'rejected-row') throw error;
      await client.query(`ROLLBACK TO SAVEPOINT ${ROW_SAVEPOINT}`);
      await client.query(`RELEASE SAVEPOINT ${ROW_SAVEPOINT}`);
      if (subset.length === 1) {
        const change = subset[0] as RowChange;
        ctx.rejected.push({ change, error: new RejectedRowError((error as Error).message) });
        return;
      }
      const middle = Math.ceil(subset.length / 2);
      await attempt(subset.slice(0, middle));
      await attempt(subset.slice(middle));
    }
  };
  await attempt(rows);
  return stats;
}

/**
 * The staging table for these rows: every target column some change carries (key columns first).
 * Generated columns are computed by the target (a snapshot still carries their source values).
 */
function stagingTableFor(target: TargetTable, rows: readonly RowChange[]): StagingTable {
  const carried = new Set<string>(target.primaryKey);
  // Rows share a handful of schema versions: each is read once, not once per row.
  const schemas = new Set<RowChange['schema']>();
  let last: RowChange['schema'] | undefined;
  for (const c of rows) {
    if (c.schema === last) continue;
    last = c.schema;
    if (schemas.has(c.schema)) continue;
    schemas.add(c.schema);
    for (const col of c.schema.columns)
      if (target.columns.get(col.name)?.generated === false) carried.add(col.name);
  }
  const columns = [...carried].map((name) => ({
    name,
    type: target.columns.get(name)?.type ?? 'text',
  }));
  const signature = createHash('sha256')
    .update(
      `${tableKey(target.ref)}\u0000${columns.map((c) => `${c.name}:${c.type}`).join('\u0000')}`,
    )
    .digest('hex')
    .slice(0, 16);
  return { name: `pgferry_stage_${signature}`, columns };
}

async function stageAndMerge(
  ctx: TableApplyContext,
  target: MergeTarget,
  stage: StagingTable,
  rows: readonly RowChange[],
): Promise<{ upserted: number; deleted: number }> {
  const { client, timings } = ctx;
  const keepPatterns = new Set<string>();
  const copyStart = performance.now();
  const out = new CopyTextWriter();
  const chunks = faultPointArmed('staging-copy')
    ? holdHalfway(stage, target.primaryKey, rows, keepPatterns, out)
    : copyChunksOf(stage, target.primaryKey, rows, keepPatterns, out);
  await pipeline(Readable.from(chunks), client.query(copyFrom(copyIntoStagingSql(stage))));
  out.recycle(); // the COPY has ended: every chunk has left its buffer
  const mergeStart = performance.now();
  timings.copy += mergeStart - copyStart;
  const statements = mergeSql(target, stage, [...keepPatterns].sort());
  const merging = client
    .query(
      `${statements.join(';\n')};\n${clearStagingSql(stage)};\nRELEASE SAVEPOINT ${ROW_SAVEPOINT}`,
    )
    .finally(() => {
      timings.merge += performance.now() - mergeStart;
    });
  if (faultPointArmed('merge')) {
    // The merge is on the server now, uncommitted: a SIGKILL here interrupts it.
    merging.catch(() => undefined);
    await faultPoint('merge');
  }
  const results = (await merging) as unknown as pg.QueryResult[] | pg.QueryResult;
  const list = Array.isArray(results) ? results : [results];
  // Statement order: positions upsert + guard, delete, upserts...
  const deleted = list[1]?.rowCount ?? 0;
  const upserted = list.slice(2, statements.length).reduce((n, r) => n + (r.rowCount ?? 0), 0);
  return { upserted, deleted };
}

/**
 * The COPY text of the staged rows, in chunks: op, position, the pattern of columns to leave
 * untouched (unchanged TOAST values, columns a schema version does not carry), then the column
 * values. Collects the patterns of upserts into `keepPatterns` (one merge statement per pattern).
 * Written straight from each change into the chunk's bytes (no array of values, no string per
 * line); which stage columns a schema version carries is worked out once per version.
 */
export function* copyChunksOf(
  stage: StagingTable,
  primaryKey: readonly string[],
  rows: readonly RowChange[],
  keepPatterns: Set<string>,
  out: CopyTextWriter = new CopyTextWriter(),
): Generator<Buffer> {
  const keySet = new Set(primaryKey);
  const names = stage.columns.map((col) => col.name);
  const isKey = names.map((name) => keySet.has(name));
  const width = names.length;
  const carriedBy = new Map<RowChange['schema'], boolean[]>();
  let lastSchema: RowChange['schema'] | undefined;
  let carried: boolean[] = [];
  // One row's values, reused: the pattern that precedes them is known only once all are read.
  const values: (string | null | undefined)[] = new Array(width);
  for (const change of rows) {
    if (change.schema !== lastSchema) {
      lastSchema = change.schema;
      let known = carriedBy.get(change.schema);
      if (!known) {
        const own = new Set(change.schema.columns.map((c) => c.name));
        known = names.map((name, i) => isKey[i] === true || own.has(name));
        carriedBy.set(change.schema, known);
      }
      carried = known;
    }
    let pattern = '';
    if (change.op === 'd') {
      for (let i = 0; i < width; i++) values[i] = isKey[i] ? change.key[names[i] as string] : null;
    } else {
      const after = change.after;
      for (let i = 0; i < width; i++) {
        const v = after?.[names[i] as string];
        if (v === UNCHANGED_TOAST || !carried[i]) {
          pattern = pattern === '' ? String(i) : `${pattern},${i}`;
          values[i] = null;
        } else values[i] = v;
      }
      keepPatterns.add(pattern);
    }
    out.first(change.op);
    out.value(change.position.toString());
    out.value(pattern);
    for (let i = 0; i < width; i++) out.value(values[i]);
    out.endLine();
    const full = out.takeFull();
    if (full) yield full;
  }
  const rest = out.takeRest();
  if (rest) yield rest;
}

/** The COPY chunks, with the staging-copy fault point after half the rows (the COPY is then open). */
async function* holdHalfway(
  stage: StagingTable,
  primaryKey: readonly string[],
  rows: readonly RowChange[],
  keepPatterns: Set<string>,
  out: CopyTextWriter,
): AsyncGenerator<Buffer> {
  const half = Math.floor(rows.length / 2);
  yield* copyChunksOf(stage, primaryKey, rows.slice(0, half), keepPatterns, out);
  await faultPoint('staging-copy');
  yield* copyChunksOf(stage, primaryKey, rows.slice(half), keepPatterns, out);
}

// One keyless table's changes of a batch (no primary key, REPLICA IDENTITY FULL at the source),
// inside the batch transaction: every change applies, in Kafka offset order (the topic has one
// partition, so that is commit order): runs of inserts as one COPY, each update and delete on one
// row matching its `before` row (keyless-sql.ts). There is no position guard: exactly-once rests
// on the partition's offset, committed with the rows (a replayed batch is skipped whole).
// A change the target rejects is dead-lettered alone, under a savepoint.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Logger } from '../core/logger.js';
import { classifyPgError } from '../core/pg-errors.js';
import type { RejectedChange } from '../pipeline/ports.js';
import { type RowChange, tableKey } from '../pipeline/row-change.js';
import { keylessPositionsTable } from './bookkeeping/bookkeeping-schema.js';
import { encodeCopyRow, inChunks } from './copy-text.js';
import {
  type KeylessTarget,
  keylessCopySql,
  keylessDeleteSql,
  keylessTruncateSql,
  keylessUpdateSql,
} from './keyless-sql.js';
import type { TargetTable } from './target-table.js';

class RejectedRowError extends Error {}

/** What the batch around gives a keyless table's apply (a subset of table-apply's context). */
export interface KeylessApplyContext {
  client: pg.Client;
  log: Logger;
  timings: { merge: number };
  /** Rejected rows are added here. */
  rejected: RejectedChange[];
}

const byOffset = (a: RowChange, b: RowChange): number => {
  const d = BigInt(a.origin.offset) - BigInt(b.origin.offset);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
};

export async function applyKeylessChanges(
  ctx: KeylessApplyContext,
  target: TargetTable,
  changes: readonly RowChange[],
): Promise<{ upserted: number; deleted: number }> {
  const { client } = ctx;
  const writable = new Map<string, string>();
  for (const [name, column] of target.columns)
    if (!column.generated) writable.set(name, column.type);
  const keyless: KeylessTarget = {
    schema: target.ref.schema,
    name: target.ref.name,
    columns: writable,
  };
  const stats = { upserted: 0, deleted: 0, unmatched: 0 };
  // Debezium re-sends changes after a Connect restart (its offsets lag what it produced): a
  // streamed change at or below the last one applied is such a replay, skipped.
  const stored = await client.query<{ commit_lsn: string; lsn: string }>(
    `SELECT commit_lsn, lsn FROM ${keylessPositionsTable()} WHERE table_schema = $1 AND table_name = $2 FOR UPDATE`,
    [target.ref.schema, target.ref.name],
  );
  const row = stored.rows[0];
  const storedLast: StreamOrder['last'] = row
    ? [BigInt(row.commit_lsn), BigInt(row.lsn)]
    : undefined;
  const applied: StreamOrder = { last: storedLast, replays: 0 };
  // Dedupe hands truncates first and only the changes after them.
  const truncates = changes.filter((c) => c.op === 't').sort(byOffset);
  if (truncates.filter((c) => admitStreamed(applied, c)).length > 0) {
    await client.query(keylessTruncateSql(keyless));
    ctx.log.info({ table: tableKey(target.ref) }, 'applied truncate (keyless table)');
  }
  const rows = changes
    .filter((c) => c.op !== 't')
    .sort(byOffset)
    .filter((c) => admitStreamed(applied, c));

  /** Runs `work` under a savepoint; a row the target rejects is dead-lettered, not fatal. */
  const isolated = async (change: RowChange, work: () => Promise<void>): Promise<boolean> => {
    await client.query('SAVEPOINT pgferry_keyless');
    try {
      await work();
      await client.query('RELEASE SAVEPOINT pgferry_keyless');
      return true;
    } catch (error) {
      if (classifyPgError(error) !== 'rejected-row') throw error;
      await client.query('ROLLBACK TO SAVEPOINT pgferry_keyless');
      await client.query('RELEASE SAVEPOINT pgferry_keyless');
      ctx.rejected.push({ change, error: new RejectedRowError((error as Error).message) });
      return false;
    }
  };

  const copyInserts = async (run: RowChange[], columns: string[]): Promise<void> => {
    const lines = run.map((c) => encodeCopyRow(columns.map((col) => insertValue(c, col))));
    await pipeline(
      Readable.from(inChunks(lines)),
      client.query(copyFrom(keylessCopySql(keyless, columns))),
    );
  };

  const mergeStart = performance.now();
  for (let i = 0; i < rows.length; ) {
    const change = rows[i] as RowChange;
    if (change.op === 'c' || change.op === 'r') {
      // The run of inserts that carry the same columns, as one COPY.
      const columns = insertColumns(change, writable);
      const signature = columns.join('\u0000');
      let end = i + 1;
      while (end < rows.length) {
        const next = rows[end] as RowChange;
        if (next.op !== 'c' && next.op !== 'r') break;
        if (insertColumns(next, writable).join('\u0000') !== signature) break;
        end += 1;
      }
      const run = rows.slice(i, end);
      const copied = await isolated(change, () => copyInserts(run, columns));
      if (copied) stats.upserted += run.length;
      else if (run.length > 1) {
        // Some row of the run was rejected: the rejection recorded above names only its first
        // change, so take it back and insert the run row by row to find the real culprits.
        ctx.rejected.pop();
        for (const one of run) {
          if (await isolated(one, () => copyInserts([one], columns))) stats.upserted += 1;
        }
      }
      i = end;
      continue;
    }
    i += 1;
    const before = change.before;
    if (!before) throw new Error(`keyless ${change.op} change without its before row`);
    const statement =
      change.op === 'd'
        ? keylessDeleteSql(keyless, before)
        : change.after
          ? keylessUpdateSql(keyless, before, change.after)
          : undefined;
    if (!statement) continue;
    let matched = 0;
    const applied = await isolated(change, async () => {
      matched = (await client.query(statement.text, statement.values)).rowCount ?? 0;
    });
    if (!applied) continue;
    if (matched === 0) stats.unmatched += 1;
    else if (change.op === 'd') stats.deleted += 1;
    else stats.upserted += 1;
  }
  if (applied.last !== undefined && applied.last !== storedLast) {
    await client.query(
      `INSERT INTO ${keylessPositionsTable()} (table_schema, table_name, commit_lsn, lsn) VALUES ($1, $2, $3, $4)
       ON CONFLICT (table_schema, table_name) DO UPDATE SET commit_lsn = EXCLUDED.commit_lsn, lsn = EXCLUDED.lsn`,
      [target.ref.schema, target.ref.name, applied.last[0].toString(), applied.last[1].toString()],
    );
  }
  if (applied.replays > 0) {
    ctx.log.warn(
      { table: tableKey(target.ref), skipped: applied.replays },
      'keyless table: skipped changes Debezium sent again (at or below the last applied position)',
    );
  }
  ctx.timings.merge += performance.now() - mergeStart;
  if (stats.unmatched > 0) {
    // The target lacks a row the source changed: it was never loaded (see README, "Tables
    // without a primary key") or was changed on the target. verify reports the difference.
    ctx.log.warn(
      { table: tableKey(target.ref), unmatched: stats.unmatched },
      'keyless table: updates/deletes found no target row equal to their before row',
    );
  }
  return { upserted: stats.upserted, deleted: stats.deleted };
}

/** The last streamed change applied, (commit LSN, LSN), and how many replays were skipped. */
export interface StreamOrder {
  last: readonly [bigint, bigint] | undefined;
  replays: number;
}

/**
 * Whether a keyless table's change is new: a snapshot read always is (it has no stream order);
 * a streamed change only when its (commit LSN, LSN) is above the last applied one, which it then
 * becomes.
 */
export function admitStreamed(order: StreamOrder, change: RowChange): boolean {
  if (change.op === 'r' || change.commitPosition === undefined) return true;
  const at = [change.commitPosition, change.position] as const;
  const last = order.last;
  if (last && (at[0] < last[0] || (at[0] === last[0] && at[1] <= last[1]))) {
    order.replays += 1;
    return false;
  }
  order.last = at;
  return true;
}

/** The writable target columns an insert carries, in the target's column order. */
function insertColumns(change: RowChange, writable: ReadonlyMap<string, string>): string[] {
  const carried = new Set(change.schema.columns.map((c) => c.name));
  return [...writable.keys()].filter((name) => carried.has(name));
}

function insertValue(change: RowChange, column: string): string | null {
  const v = change.after?.[column];
  return typeof v === 'string' ? v : null;
}

// What `pgferry copy` will do for each table, decided before any row moves: a new plan (the key
// ranges, recorded in pgferry.copy_tables/copy_chunks), the chunks an earlier run left (resume),
// or nothing (done). A table is refused, by name and reason, when copying could double rows or
// overwrite the stream: no primary key, no target table or a missing column, target rows without
// copy bookkeeping, or a table `pgferry run` already replicates. Any refusal stops the whole
// command before it copies anything.
import type pg from 'pg';
import { PgferryError } from '../../core/errors.js';
import { qualifiedName } from '../../core/sql-identifier.js';
import { DDL_LOCK_KEY, ensureBookkeeping } from '../../sink/bookkeeping/bookkeeping-schema.js';
import {
  type CopyTableRow,
  deleteCopyPlan,
  insertCopyPlan,
  markCopyResumed,
  readCopyChunks,
  readCopyTables,
  settleCopyTable,
} from '../../sink/bookkeeping/copy-rows.js';
import { forgetTable, isTableRegistered } from '../../sink/bookkeeping/table-rows.js';
import { formatTableName, type MigrationTable } from '../migration-tables.js';
import { chunkBounds } from './copy-chunks.js';
import {
  type CopyColumn,
  planCopyShape,
  readSourceTableFacts,
  readTargetTableFacts,
} from './copy-table-facts.js';

export interface PendingChunk {
  chunk: number;
  lower: string[] | null;
  upper: string[] | null;
}

export interface CopyTableWork {
  /** The target table as schema.table (metrics, progress, reports). */
  name: string;
  source: MigrationTable;
  target: MigrationTable;
  columns: CopyColumn[];
  key: CopyColumn[];
  format: 'binary' | 'text';
  estimatedRows: number;
  estimatedBytes: number;
  chunksTotal: number;
  /** Done before this run (a resume), with their rows and bytes. */
  chunksDoneBefore: number;
  rowsBefore: number;
  bytesBefore: number;
  pending: PendingChunk[];
  /** new: planned now; resumed: an earlier run's plan; done: nothing left to copy. */
  start: 'new' | 'resumed' | 'done';
}

/** Copying would double rows or overwrite the stream: nothing was copied. */
export class CopyRefusedError extends PgferryError {
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`pgferry copy refused (nothing copied):\n${problems.map((p) => `  - ${p}`).join('\n')}`, {
      retriable: false,
    });
    this.problems = problems;
  }
}

export interface CopyTablePair {
  source: MigrationTable;
  target: MigrationTable;
}

/**
 * Plans every table. `source` reads the tables' facts in the copy's snapshot; the chunk bounds of
 * new plans are read on `options.boundsSource` (default `source`) while the next tables are
 * checked: any bounds are correct (the chunks always cover the whole key range), so they need
 * not come from the snapshot, and a long pass over a big table's key then costs no extra time.
 * New plans are registered on the target in one transaction under the DDL lock, re-checked there
 * against `pgferry run` registering the same table at the same moment.
 */
export async function planCopy(
  source: pg.ClientBase,
  target: pg.ClientBase,
  pairs: readonly CopyTablePair[],
  options: { chunkRows: number; boundsSource?: pg.ClientBase },
): Promise<CopyTableWork[]> {
  await ensureBookkeeping(target);
  const existing = new Map((await readCopyTables(target)).map((r) => [`${r.schema}.${r.name}`, r]));
  const problems: string[] = [];
  const work: CopyTableWork[] = [];
  const fresh: { work: CopyTableWork; bounds: string[][] }[] = [];
  const boundsReads: Promise<void>[] = [];
  // One query at a time on a client (node-postgres queues a second one with a deprecation
  // warning, and pg@9 refuses it): the bounds passes run one after another on their client, and
  // when that client is `source` itself, the next table's facts wait for them.
  const boundsClient = options.boundsSource ?? source;
  let boundsQueue: Promise<unknown> = Promise.resolve();
  for (const pair of pairs) {
    if (boundsClient === source) await boundsQueue;
    const name = formatTableName(pair.target);
    // Source and target answer at the same time: planning many small tables is round trips.
    const [sourceFacts, targetFacts] = await Promise.all([
      readSourceTableFacts(source, pair.source),
      readTargetTableFacts(target, pair.target),
    ]);
    if (sourceFacts === undefined) {
      problems.push(`${formatTableName(pair.source)}: no such table on the source`);
      continue;
    }
    if (targetFacts === undefined) {
      problems.push(`${name}: no such table on the target (run pgferry schema-sync first)`);
      continue;
    }
    const shape = planCopyShape(sourceFacts, targetFacts);
    if ('problem' in shape) {
      problems.push(shape.problem);
      continue;
    }
    const base = {
      name,
      source: pair.source,
      target: pair.target,
      columns: shape.columns,
      key: sourceFacts.key,
      format: shape.format,
      estimatedRows: sourceFacts.estimatedRows,
      estimatedBytes: sourceFacts.estimatedBytes,
    };
    const before = existing.get(name);
    if (before !== undefined) {
      const keyNames = sourceFacts.key.map((k) => k.name);
      if (before.keyColumns.join('\u0000') !== keyNames.join('\u0000')) {
        problems.push(
          `${name}: its copy was planned on key (${before.keyColumns.join(', ')}) but the source key is now (${keyNames.join(', ')}); start over with --restart`,
        );
        continue;
      }
      work.push(await resumeWork(target, base, before));
      continue;
    }
    if (await isTableRegistered(target, pair.target.schema, pair.target.name)) {
      problems.push(
        `${name}: pgferry run already replicates it (registered in pgferry.tables), so a copy could overwrite changes it applied; stop pgferry run and use pgferry copy --restart --tables ${name}`,
      );
      continue;
    }
    if (await hasRows(target, pair.target)) {
      problems.push(
        `${name}: the target table has rows but no copy bookkeeping; pgferry copy never doubles or silently truncates rows: empty it, or use --restart (which truncates it after asking)`,
      );
      continue;
    }
    // Chunks filled in once the bounds pass (running meanwhile) is back.
    const planned: CopyTableWork = {
      ...base,
      chunksTotal: 0,
      chunksDoneBefore: 0,
      rowsBefore: 0,
      bytesBefore: 0,
      pending: [],
      start: 'new',
    };
    const entry = { work: planned, bounds: [] as string[][] };
    const reading = boundsQueue
      .then(() =>
        chunkBounds(boundsClient, pair.source, sourceFacts.key, {
          chunkRows: options.chunkRows,
          estimatedRows: sourceFacts.estimatedRows,
        }),
      )
      .then((bounds) => {
        entry.bounds = bounds;
        planned.pending = chunksOf(bounds);
        planned.chunksTotal = planned.pending.length;
      });
    // A failed pass is reported below (allSettled); the next one runs all the same.
    boundsQueue = reading.catch(() => undefined);
    boundsReads.push(reading);
    fresh.push(entry);
    work.push(planned);
  }
  const read = await Promise.allSettled(boundsReads);
  if (problems.length > 0) throw new CopyRefusedError(problems);
  const failed = read.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  if (fresh.length > 0) await registerPlans(target, fresh, problems);
  if (problems.length > 0) throw new CopyRefusedError(problems);
  return work;
}

function chunksOf(bounds: readonly string[][]): PendingChunk[] {
  const chunks: PendingChunk[] = [];
  for (let i = 0; i <= bounds.length; i++) {
    chunks.push({
      chunk: i,
      lower: i === 0 ? null : (bounds[i - 1] ?? null),
      upper: i === bounds.length ? null : (bounds[i] ?? null),
    });
  }
  return chunks;
}

async function resumeWork(
  target: pg.ClientBase,
  base: Omit<
    CopyTableWork,
    'chunksTotal' | 'chunksDoneBefore' | 'rowsBefore' | 'bytesBefore' | 'pending' | 'start'
  >,
  before: CopyTableRow,
): Promise<CopyTableWork> {
  const chunks = await readCopyChunks(target, before);
  const pending = chunks
    .filter((c) => !c.done)
    .map((c) => ({ chunk: c.chunk, lower: c.lower, upper: c.upper }));
  if (pending.length === 0) await settleCopyTable(target, before);
  else if (before.state === 'failed') await markCopyResumed(target, before);
  const done = chunks.filter((c) => c.done);
  return {
    ...base,
    chunksTotal: chunks.length,
    chunksDoneBefore: done.length,
    rowsBefore: done.reduce((n, c) => n + c.rowsCopied, 0),
    bytesBefore: done.reduce((n, c) => n + c.bytesCopied, 0),
    pending,
    start: pending.length === 0 ? 'done' : 'resumed',
  };
}

async function hasRows(client: pg.ClientBase, table: MigrationTable): Promise<boolean> {
  const result = await client.query(
    `SELECT 1 FROM ${qualifiedName(table.schema, table.name)} LIMIT 1`,
  );
  return (result.rowCount ?? 0) > 0;
}

async function registerPlans(
  target: pg.ClientBase,
  fresh: readonly { work: CopyTableWork; bounds: string[][] }[],
  problems: string[],
): Promise<void> {
  await target.query('BEGIN');
  try {
    await target.query('SELECT pg_advisory_xact_lock($1)', [DDL_LOCK_KEY]);
    const planned = new Set((await readCopyTables(target)).map((r) => `${r.schema}.${r.name}`));
    for (const { work } of fresh) {
      const t = work.target;
      if (planned.has(work.name))
        problems.push(`${work.name}: another pgferry copy planned it just now`);
      else if (await isTableRegistered(target, t.schema, t.name))
        problems.push(
          `${work.name}: pgferry run registered it just now; stop it and use --restart`,
        );
      else if (await hasRows(target, t))
        problems.push(`${work.name}: rows appeared in the target table just now`);
    }
    if (problems.length > 0) {
      await target.query('ROLLBACK');
      return;
    }
    for (const { work, bounds } of fresh) {
      await insertCopyPlan(target, {
        target: work.target,
        source: work.source,
        keyColumns: work.key.map((k) => k.name),
        bounds,
      });
    }
    await target.query('COMMIT');
  } catch (error) {
    await target.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * `--restart`: the tables' target rows, copy plans and stream state are dropped in one target
 * transaction, as if neither copy nor run had touched them. The caller asked first.
 */
export async function resetForRestart(
  target: pg.ClientBase,
  tables: readonly MigrationTable[],
): Promise<void> {
  await ensureBookkeeping(target);
  await target.query('BEGIN');
  try {
    await target.query('SELECT pg_advisory_xact_lock($1)', [DDL_LOCK_KEY]);
    for (const t of tables) {
      const exists = await target.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [
        qualifiedName(t.schema, t.name),
      ]);
      if (exists.rows[0]?.t != null)
        await target.query(`TRUNCATE ${qualifiedName(t.schema, t.name)}`);
      await deleteCopyPlan(target, t);
      await forgetTable(target, t.schema, t.name);
    }
    await target.query('COMMIT');
  } catch (error) {
    await target.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

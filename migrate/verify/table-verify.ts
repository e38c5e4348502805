// Compares tables of two databases by primary-key chunks (the library behind `pgferry verify`,
// also called by cutover, and by rollback with the databases swapped: "source" is only the side
// whose keys define the chunks). Memory is bounded by the chunk size, never by the table size.
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { formatTableName, type MigrationTable } from '../migration-tables.js';
import type { KeyText } from './chunk-checksum-sql.js';
import { type ChunkTally, recheckRanges, walkChunks } from './chunk-walk.js';
import { listKeyDifferences } from './key-differences.js';
import { listMultisetDifferences } from './multiset-differences.js';
import { planTableComparison, type TableComparison } from './table-comparison.js';
import { withRenderSettings } from './verify-session.js';

export interface VerifyPair {
  source: MigrationTable;
  target: MigrationTable;
}

export interface VerifyOptions {
  /** Source rows per chunk (default 10,000); also the page size of the key-level diff. */
  chunkRows?: number;
  /** Re-check mismatched chunks this many times, after this delay (default 3 x 5 s); 0 = never. */
  recheck?: { attempts: number; delayMs: number };
  /** Keys listed per table (default 100). */
  maxKeysPerTable?: number;
  signal?: AbortSignal;
  onProgress?: (event: { table: string; chunksDone: number; rowsDone: number }) => void;
}

/** missing = in source only, extra = in target only; key values as PostgreSQL text. */
export interface KeyDifference {
  key: Record<string, string | null>;
  kind: 'changed' | 'missing' | 'extra';
  /**
   * A table without a primary key (compared as a multiset): the key is `{row: <the row's text>}`
   * and this says how many more copies of it one side has.
   */
  copies?: number;
}

export type KeyRecord = Record<string, string | null>;

export interface TableVerifyResult {
  /** "schema.table" */
  source: string;
  target: string;
  match: boolean;
  sourceRows: number;
  targetRows: number;
  chunks: number;
  /** Half-open key ranges (from, to]; null = open end. */
  mismatchedRanges: { from: KeyRecord | null; to: KeyRecord | null }[];
  /** Capped at maxKeysPerTable. */
  differences: KeyDifference[];
  differencesTruncated: boolean;
  /** md5 over the source side's chunk counts and hashes: the same content and chunk size give the same value. */
  checksum: string;
  /** Why the table could not be compared (missing on the target, no primary key, ...). */
  error?: string;
}

export interface VerifyReport {
  match: boolean;
  startedAt: string;
  finishedAt: string;
  tables: TableVerifyResult[];
}

export const DEFAULT_CHUNK_ROWS = 10_000;
export const DEFAULT_RECHECK = { attempts: 3, delayMs: 5_000 } as const;
export const DEFAULT_MAX_KEYS_PER_TABLE = 100;

/** One table pair's state through the passes; becomes its TableVerifyResult. */
interface TableRun extends ChunkTally {
  pair: VerifyPair;
  plan: TableComparison | undefined;
  error: string | undefined;
  differences: KeyDifference[];
  differencesTruncated: boolean;
}

export async function verifyTables(
  source: pg.ClientBase,
  target: pg.ClientBase,
  pairs: VerifyPair[],
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  const chunkRows = options.chunkRows ?? DEFAULT_CHUNK_ROWS;
  const recheck = options.recheck ?? DEFAULT_RECHECK;
  const maxKeys = options.maxKeysPerTable ?? DEFAULT_MAX_KEYS_PER_TABLE;
  if (!Number.isInteger(chunkRows) || chunkRows < 1) {
    throw new RangeError(`chunkRows must be a positive integer, got ${chunkRows}`);
  }
  if (!Number.isInteger(recheck.attempts) || recheck.attempts < 0 || !(recheck.delayMs >= 0)) {
    throw new RangeError('recheck needs attempts >= 0 (an integer) and delayMs >= 0');
  }
  if (!Number.isInteger(maxKeys) || maxKeys < 0) {
    throw new RangeError(`maxKeysPerTable must be an integer >= 0, got ${maxKeys}`);
  }
  const signal = options.signal;
  const startedAt = new Date().toISOString();

  return withRenderSettings(source, () =>
    withRenderSettings(target, async () => {
      const runs: TableRun[] = [];
      for (const pair of pairs) {
        signal?.throwIfAborted();
        const run = await planRun(source, target, pair);
        runs.push(run);
        if (run.plan !== undefined) {
          const table = formatTableName(pair.source);
          await walkChunks(source, target, run, run.plan, table, chunkRows, options);
        }
      }
      // Re-check every table's mismatched chunks together, so one delay serves all of them.
      for (let attempt = 0; attempt < recheck.attempts; attempt++) {
        if (!runs.some((run) => run.mismatched.length > 0)) break;
        await sleep(recheck.delayMs, undefined, signal === undefined ? {} : { signal });
        for (const run of runs) {
          if (run.plan !== undefined) await recheckRanges(source, target, run, run.plan, signal);
        }
      }
      for (const run of runs) {
        if (run.plan !== undefined && run.mismatched.length > 0) {
          await listDifferences(source, target, run, run.plan, chunkRows, maxKeys, signal);
        }
      }
      const tables = runs.map(toResult);
      return {
        match: tables.every((t) => t.match),
        startedAt,
        finishedAt: new Date().toISOString(),
        tables,
      };
    }),
  );
}

/** Reads both catalogs and decides what to compare, or why this table cannot be compared. */
async function planRun(
  source: pg.ClientBase,
  target: pg.ClientBase,
  pair: VerifyPair,
): Promise<TableRun> {
  const run: TableRun = {
    pair,
    plan: undefined,
    error: undefined,
    sourceRows: 0,
    targetRows: 0,
    sourceChunkHashes: [],
    mismatched: [],
    differences: [],
    differencesTruncated: false,
  };
  const planned = await planTableComparison(source, target, pair);
  if (typeof planned === 'string') run.error = planned;
  else run.plan = planned;
  return run;
}

/** Lists the differing keys of the run's mismatched ranges, up to maxKeys, as key records. */
async function listDifferences(
  source: pg.ClientBase,
  target: pg.ClientBase,
  run: TableRun,
  plan: TableComparison,
  pageRows: number,
  maxKeys: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  if (plan.source.keyColumns.length === 0) {
    const rows = await listMultisetDifferences(source, target, plan, pageRows, maxKeys, signal);
    run.differences = rows.differences.map((d) => ({
      key: { row: d.row },
      kind: d.kind,
      copies: d.copies,
    }));
    run.differencesTruncated = rows.truncated;
    return;
  }
  const keyNames = plan.source.keyColumns.map((c) => c.name);
  const listed = await listKeyDifferences(
    source,
    target,
    plan,
    run.mismatched,
    pageRows,
    maxKeys,
    signal,
  );
  run.differences = listed.differences.map((d) => ({
    key: toKeyRecord(keyNames, d.key),
    kind: d.kind,
  }));
  run.differencesTruncated = listed.truncated;
}

function toKeyRecord(names: readonly string[], key: KeyText): KeyRecord {
  return Object.fromEntries(names.map((name, i) => [name, key[i] ?? null]));
}

function toResult(run: TableRun): TableVerifyResult {
  const keyNames = run.plan?.source.keyColumns.map((c) => c.name) ?? [];
  const toRecord = (key: KeyText | null) => (key === null ? null : toKeyRecord(keyNames, key));
  const checksum =
    run.plan === undefined
      ? ''
      : createHash('md5').update(run.sourceChunkHashes.join('\n')).digest('hex');
  return {
    source: formatTableName(run.pair.source),
    target: formatTableName(run.pair.target),
    match: run.error === undefined && run.mismatched.length === 0,
    sourceRows: run.sourceRows,
    targetRows: run.targetRows,
    chunks: run.sourceChunkHashes.length,
    mismatchedRanges: run.mismatched.map((r) => ({ from: toRecord(r.from), to: toRecord(r.to) })),
    differences: run.differences,
    differencesTruncated: run.differencesTruncated,
    checksum,
    ...(run.error === undefined ? {} : { error: run.error }),
  };
}

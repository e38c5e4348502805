// Compares tables of two databases by primary-key chunks (the library behind `pgferry verify`,
// also called by cutover, and by rollback with the databases swapped: "source" is only the side
// whose keys define the chunks). Memory is bounded by the chunk size, never by the table size.
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { formatTableName, type MigrationTable } from '../migration-tables.js';
import {
  buildChunkWalkSql,
  buildRangeChecksumSql,
  buildRangeRowsSql,
  type ChunkTable,
  type KeyText,
  type SqlStatement,
} from './chunk-checksum-sql.js';
import { diffRangeRows, type KeyedRowHash } from './range-diff.js';

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

/**
 * Session settings under which both databases render every value identically (timestamptz in UTC,
 * floats exactly, bytea in hex). They are set for the session and restored to the caller's values
 * afterwards, rather than SET LOCAL in a transaction: one transaction around a whole-table walk
 * would hold back vacuum on a live source for as long as the verify runs.
 */
const RENDER_SETTINGS: readonly (readonly [string, string])[] = [
  ['TimeZone', 'UTC'],
  ['extra_float_digits', '3'],
  ['DateStyle', 'ISO, YMD'],
  ['IntervalStyle', 'postgres'],
  ['bytea_output', 'hex'],
];

interface ColumnInfo {
  name: string;
  type: string;
  generated: boolean;
  keyPosition: number | null;
  /** How text-like values sort: chunk ranges only line up when both sides sort keys alike. */
  collation: string | null;
}

interface TablePlan {
  source: ChunkTable;
  target: ChunkTable;
}

interface RangeState {
  /** Index of the chunk, for updating its source hash after a re-check. */
  chunk: number;
  from: KeyText | null;
  to: KeyText | null;
  sourceRows: number;
  targetRows: number;
}

interface TableRun {
  pair: VerifyPair;
  plan: TablePlan | undefined;
  error: string | undefined;
  sourceRows: number;
  targetRows: number;
  /** Per chunk "rows:hash" of the source side; a few bytes per chunkRows rows. */
  sourceChunkHashes: string[];
  mismatched: RangeState[];
  differences: KeyDifference[];
  differencesTruncated: boolean;
}

interface RangeChecksum {
  rows: number;
  hash: string | null;
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
          await walkTable(source, target, run, run.plan, chunkRows, options);
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

async function withRenderSettings<T>(client: pg.ClientBase, work: () => Promise<T>): Promise<T> {
  const names = RENDER_SETTINGS.map(([name]) => name);
  const saved = await client.query<{ name: string; value: string }>(
    'SELECT name, current_setting(name) AS value FROM unnest($1::text[]) AS name',
    [names],
  );
  const apply = (settings: readonly (readonly [string, string])[]) =>
    client.query(
      'SELECT set_config(s.name, s.value, false) FROM unnest($1::text[], $2::text[]) AS s(name, value)',
      [settings.map(([name]) => name), settings.map(([, value]) => value)],
    );
  await apply(RENDER_SETTINGS);
  let result: T;
  try {
    result = await work();
  } catch (error) {
    // The work's error is the one to report; a connection that broke may not take the restore.
    await apply(saved.rows.map((r) => [r.name, r.value] as const)).catch(() => undefined);
    throw error;
  }
  await apply(saved.rows.map((r) => [r.name, r.value] as const));
  return result;
}

async function readColumns(
  client: pg.ClientBase,
  table: MigrationTable,
): Promise<ColumnInfo[] | undefined> {
  const result = await client.query<{
    name: string | null;
    type: string | null;
    generated: boolean | null;
    key_position: string | null;
    collation: string | null;
  }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
            a.attgenerated <> '' AS generated, k.position AS key_position,
            CASE WHEN a.attcollation = 0 THEN NULL
                 WHEN co.collname = 'default' THEN 'default (' || d.datcollate || ')'
                 ELSE co.collname END AS collation
       FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
       LEFT JOIN pg_collation co ON co.oid = a.attcollation
       LEFT JOIN pg_database d ON d.datname = current_database()
       LEFT JOIN LATERAL (
         SELECT u.position
           FROM pg_index i, unnest(i.indkey::int2[]) WITH ORDINALITY AS u(attnum, position)
          WHERE i.indrelid = c.oid AND i.indisprimary AND u.attnum = a.attnum
       ) k ON true
      WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')
      ORDER BY a.attnum`,
    [table.schema, table.name],
  );
  if (result.rows.length === 0) return undefined;
  return result.rows.flatMap((r) =>
    r.name === null || r.type === null
      ? []
      : [
          {
            name: r.name,
            type: r.type,
            generated: r.generated === true,
            keyPosition: r.key_position === null ? null : Number(r.key_position),
            collation: r.collation,
          },
        ],
  );
}

const keyColumnsOf = (columns: readonly ColumnInfo[]): ColumnInfo[] =>
  columns
    .filter((c) => c.keyPosition !== null)
    .sort((a, b) => (a.keyPosition ?? 0) - (b.keyPosition ?? 0));

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
  const sourceColumns = await readColumns(source, pair.source);
  const targetColumns = await readColumns(target, pair.target);
  const planned = planComparison(pair, sourceColumns, targetColumns);
  if (typeof planned === 'string') run.error = planned;
  else run.plan = planned;
  return run;
}

function planComparison(
  pair: VerifyPair,
  sourceColumns: ColumnInfo[] | undefined,
  targetColumns: ColumnInfo[] | undefined,
): TablePlan | string {
  const sourceName = formatTableName(pair.source);
  const targetName = formatTableName(pair.target);
  if (sourceColumns === undefined) return `${sourceName} does not exist on the source`;
  if (targetColumns === undefined) return `${targetName} does not exist on the target`;
  const sourceKey = keyColumnsOf(sourceColumns);
  if (sourceKey.length === 0) return `${sourceName} has no primary key on the source`;
  // Generated columns are not replicated (the target computes its own, or has none).
  const compared = sourceColumns.filter((c) => !c.generated);
  const targetByName = new Map(targetColumns.map((c) => [c.name, c]));
  const absent = compared.filter((c) => !targetByName.has(c.name)).map((c) => c.name);
  if (absent.length > 0) {
    return `column${absent.length === 1 ? '' : 's'} ${absent.join(', ')} missing on the target`;
  }
  const targetKey = keyColumnsOf(targetColumns);
  const names = (columns: readonly ColumnInfo[]) => columns.map((c) => c.name).join(', ');
  if (names(targetKey) !== names(sourceKey)) {
    return `primary keys differ: (${names(sourceKey)}) on the source, (${targetKey.length === 0 ? 'none' : names(targetKey)}) on the target`;
  }
  for (const [index, column] of sourceKey.entries()) {
    const other = targetKey[index];
    if (other !== undefined && other.collation !== column.collation) {
      return `key column ${column.name} sorts by collation ${column.collation} on the source but ${other.collation} on the target: chunk ranges would not line up`;
    }
  }
  const columns = compared.map((c) => c.name);
  return {
    source: {
      ...pair.source,
      keyColumns: sourceKey.map((c) => ({ name: c.name, type: c.type })),
      columns,
    },
    target: {
      ...pair.target,
      keyColumns: targetKey.map((c) => ({ name: c.name, type: c.type })),
      columns,
    },
  };
}

async function readChecksum(
  client: pg.ClientBase,
  statement: SqlStatement,
): Promise<RangeChecksum> {
  const result = await client.query<{ rows: string; hash: string | null }>(
    statement.text,
    statement.values,
  );
  const row = result.rows[0];
  return { rows: Number(row?.rows ?? 0), hash: row?.hash ?? null };
}

/**
 * The first pass: walks the source's keys chunk by chunk and checksums each range on both sides.
 * The first range is open below and the last open above, so target rows outside the source's key
 * span land in a range too. The next source chunk is read while the target checks this one.
 */
async function walkTable(
  source: pg.ClientBase,
  target: pg.ClientBase,
  run: TableRun,
  plan: TablePlan,
  chunkRows: number,
  options: VerifyOptions,
): Promise<void> {
  const table = formatTableName(run.pair.source);
  const walk = async (after: KeyText | null) => {
    const result = await source.query<{
      rows: string;
      hash: string | null;
      last_key: string[] | null;
    }>(buildChunkWalkSql(plan.source, after, chunkRows));
    const row = result.rows[0];
    return {
      rows: Number(row?.rows ?? 0),
      hash: row?.hash ?? null,
      lastKey: row?.last_key ?? null,
    };
  };
  let from: KeyText | null = null;
  let chunk = await walk(null);
  for (;;) {
    options.signal?.throwIfAborted();
    const last = chunk.rows < chunkRows || chunk.lastKey === null;
    const to = last ? null : chunk.lastKey;
    const [targetSide, next] = await Promise.all([
      readChecksum(target, buildRangeChecksumSql(plan.target, from, to)),
      to === null ? undefined : walk(to),
    ]);
    const index = run.sourceChunkHashes.length;
    run.sourceChunkHashes.push(formatChunkHash(chunk));
    run.sourceRows += chunk.rows;
    run.targetRows += targetSide.rows;
    if (targetSide.rows !== chunk.rows || targetSide.hash !== chunk.hash) {
      run.mismatched.push({
        chunk: index,
        from,
        to,
        sourceRows: chunk.rows,
        targetRows: targetSide.rows,
      });
    }
    options.onProgress?.({ table, chunksDone: index + 1, rowsDone: run.sourceRows });
    if (next === undefined) return;
    from = to;
    chunk = next;
  }
}

const formatChunkHash = (checksum: RangeChecksum): string =>
  `${checksum.rows}:${checksum.hash ?? ''}`;

/** Checksums the still-mismatched ranges again on both sides; those that now agree drop out. */
async function recheckRanges(
  source: pg.ClientBase,
  target: pg.ClientBase,
  run: TableRun,
  plan: TablePlan,
  signal: AbortSignal | undefined,
): Promise<void> {
  const still: RangeState[] = [];
  for (const range of run.mismatched) {
    signal?.throwIfAborted();
    const [sourceSide, targetSide] = await Promise.all([
      readChecksum(source, buildRangeChecksumSql(plan.source, range.from, range.to)),
      readChecksum(target, buildRangeChecksumSql(plan.target, range.from, range.to)),
    ]);
    // The counts follow the latest look at the range, so the totals describe what was compared.
    run.sourceRows += sourceSide.rows - range.sourceRows;
    run.targetRows += targetSide.rows - range.targetRows;
    run.sourceChunkHashes[range.chunk] = formatChunkHash(sourceSide);
    range.sourceRows = sourceSide.rows;
    range.targetRows = targetSide.rows;
    if (sourceSide.rows !== targetSide.rows || sourceSide.hash !== targetSide.hash) {
      still.push(range);
    }
  }
  run.mismatched = still;
}

async function readRows(
  client: pg.ClientBase,
  table: ChunkTable,
  after: KeyText | null,
  to: KeyText | null,
  limit: number,
): Promise<KeyedRowHash[]> {
  const statement = buildRangeRowsSql(table, after, to, limit);
  const result = await client.query<{ key: string[]; row_hash: string }>(
    statement.text,
    statement.values,
  );
  return result.rows.map((r) => ({ key: r.key, hash: r.row_hash }));
}

/** The rows of (after, to] one page at a time, so a range full of extra rows stays bounded. */
async function* streamRows(
  client: pg.ClientBase,
  table: ChunkTable,
  after: KeyText | null,
  to: KeyText | null,
  pageRows: number,
  signal: AbortSignal | undefined,
): AsyncGenerator<KeyedRowHash> {
  let cursor = after;
  for (;;) {
    signal?.throwIfAborted();
    const page = await readRows(client, table, cursor, to, pageRows);
    yield* page;
    const last = page.at(-1);
    if (page.length < pageRows || last === undefined) return;
    cursor = last.key;
  }
}

/**
 * Lists the differing keys of the mismatched ranges, up to maxKeys. Each range is cut into
 * sub-ranges of at most pageRows source rows; a sub-range's source rows are held, its target rows
 * streamed against them.
 */
async function listDifferences(
  source: pg.ClientBase,
  target: pg.ClientBase,
  run: TableRun,
  plan: TablePlan,
  pageRows: number,
  maxKeys: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  if (maxKeys === 0) {
    run.differencesTruncated = true;
    return;
  }
  const keyNames = plan.source.keyColumns.map((c) => c.name);
  for (const range of run.mismatched) {
    let after = range.from;
    for (;;) {
      signal?.throwIfAborted();
      const page = await readRows(source, plan.source, after, range.to, pageRows);
      const full = page.length === pageRows;
      const to = full ? (page.at(-1)?.key ?? range.to) : range.to;
      const budget = maxKeys - run.differences.length;
      const diff = await diffRangeRows(
        page,
        streamRows(target, plan.target, after, to, pageRows, signal),
        budget + 1,
      );
      for (const difference of diff.differences) {
        run.differences.push({ key: toKeyRecord(keyNames, difference.key), kind: difference.kind });
      }
      if (!diff.complete || run.differences.length > maxKeys) {
        run.differences.length = Math.min(run.differences.length, maxKeys);
        run.differencesTruncated = true;
        return;
      }
      if (!full) break;
      after = to;
    }
  }
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

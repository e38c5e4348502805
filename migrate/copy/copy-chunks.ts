// The chunks of one table and the moving of one chunk. A chunk is a primary-key range
// (lower, upper], so it names the same rows in every snapshot: a resumed copy reads the chunks
// left from a new snapshot and still copies every key exactly once (ctid ranges would not: an
// UPDATE moves a row to another page between snapshots). One chunk is COPY TO STDOUT on the
// source piped into COPY FROM STDIN on the target: bytes only, never rows decoded in Node, with
// backpressure through the pipe, so memory stays at a few stream buffers whatever the chunk size.
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { qualifiedName, quoteIdent, quoteLiteral } from '../../core/sql-identifier.js';
import type { MigrationTable } from '../migration-tables.js';
import type { CopyColumn } from './copy-table-facts.js';

/** Above this many (estimated) rows the bounds come from a sample instead of a full key scan. */
export const SAMPLE_BOUNDS_ABOVE_ROWS = 20_000_000;

/**
 * Chunk bounds: the key of every `chunkRows`-th row in key order, as text. An exact pass over
 * the primary-key index for tables up to SAMPLE_BOUNDS_ABOVE_ROWS rows; above, a block sample
 * (TABLESAMPLE SYSTEM) gives roughly even chunks at a fraction of the cost.
 */
export async function chunkBounds(
  client: pg.ClientBase,
  table: MigrationTable,
  key: readonly CopyColumn[],
  options: { chunkRows: number; estimatedRows: number },
): Promise<string[][]> {
  const relation = qualifiedName(table.schema, table.name);
  const keyList = key.map((c) => quoteIdent(c.name)).join(', ');
  const keyText = `ARRAY[${key.map((c) => `${quoteIdent(c.name)}::text`).join(', ')}]`;
  if (options.estimatedRows <= SAMPLE_BOUNDS_ABOVE_ROWS) {
    const result = await client.query<{ k: string[] }>(
      `SELECT k FROM (SELECT ${keyText} AS k, row_number() OVER (ORDER BY ${keyList}) AS rn
                        FROM ${relation}) s
        WHERE rn % $1 = 0 ORDER BY rn`,
      [options.chunkRows],
    );
    const bounds = result.rows.map((r) => r.k);
    // A row count that is a multiple of chunkRows ends on the last key: no empty chunk after it.
    const last = await client.query<{ k: string[] }>(
      `SELECT ${keyText} AS k FROM ${relation} ORDER BY ${key.map((c) => `${quoteIdent(c.name)} DESC`).join(', ')} LIMIT 1`,
    );
    const final = bounds.at(-1);
    if (final && last.rows[0] && final.join('\u0000') === last.rows[0].k.join('\u0000'))
      bounds.pop();
    return bounds;
  }
  const chunks = Math.ceil(options.estimatedRows / options.chunkRows);
  const sampleRows = Math.min(2_000_000, chunks * 50);
  const percent = Math.min(100, (sampleRows / options.estimatedRows) * 100);
  const result = await client.query<{ k: string[] }>(
    `SELECT ${keyText} AS k FROM ${relation} TABLESAMPLE SYSTEM (${percent.toFixed(6)}) ORDER BY ${keyList}`,
  );
  const every = Math.max(1, Math.floor(result.rows.length / chunks));
  const bounds: string[][] = [];
  for (let i = every; i < result.rows.length; i += every) {
    const row = result.rows[i - 1];
    if (row) bounds.push(row.k);
  }
  return bounds;
}

/** The WHERE clause of a chunk: (key) > lower AND (key) <= upper, literals cast to the key types. */
export function chunkPredicate(
  key: readonly CopyColumn[],
  lower: readonly string[] | null,
  upper: readonly string[] | null,
): string {
  const keyList = `(${key.map((c) => quoteIdent(c.name)).join(', ')})`;
  const values = (bound: readonly string[]) => {
    if (bound.length !== key.length) {
      throw new Error(`chunk bound has ${bound.length} values for a key of ${key.length} columns`);
    }
    return `(${bound.map((v, i) => `${quoteLiteral(v)}::${key[i]?.sourceType}`).join(', ')})`;
  };
  const parts: string[] = [];
  if (lower !== null) parts.push(`${keyList} > ${values(lower)}`);
  if (upper !== null) parts.push(`${keyList} <= ${values(upper)}`);
  return parts.length === 0 ? 'true' : parts.join(' AND ');
}

export interface ChunkCopySpec {
  source: MigrationTable;
  target: MigrationTable;
  columns: readonly CopyColumn[];
  key: readonly CopyColumn[];
  format: 'binary' | 'text';
  lower: readonly string[] | null;
  upper: readonly string[] | null;
}

export function sourceCopySql(spec: ChunkCopySpec): string {
  const columns = spec.columns.map((c) => quoteIdent(c.name)).join(', ');
  return `COPY (SELECT ${columns} FROM ${qualifiedName(spec.source.schema, spec.source.name)} WHERE ${chunkPredicate(spec.key, spec.lower, spec.upper)}) TO STDOUT (FORMAT ${spec.format})`;
}

export function targetCopySql(spec: ChunkCopySpec): string {
  const columns = spec.columns.map((c) => quoteIdent(c.name)).join(', ');
  return `COPY ${qualifiedName(spec.target.schema, spec.target.name)} (${columns}) FROM STDIN (FORMAT ${spec.format})`;
}

/**
 * Streams one chunk from the source session (in its snapshot transaction) into the target session
 * (in the chunk's transaction). Resolves with the rows the target took and the bytes moved.
 */
export async function pipeChunk(
  source: pg.ClientBase,
  target: pg.ClientBase,
  spec: ChunkCopySpec,
  onBytes?: (bytes: number) => void,
): Promise<{ rows: number; bytes: number }> {
  const out = source.query(copyTo(sourceCopySql(spec)));
  const into = target.query(copyFrom(targetCopySql(spec)));
  let bytes = 0;
  // Counted beside the pipe, not through a Transform: one stream hop less per CopyData message.
  out.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    onBytes?.(chunk.length);
  });
  await pipeline(out, into);
  return { rows: Number(into.rowCount ?? 0), bytes };
}

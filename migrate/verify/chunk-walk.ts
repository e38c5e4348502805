// The chunk passes of verify over one table: the first walk checksums the source's key chunks on
// both sides, the re-check looks again at the ranges that did not match.
import type pg from 'pg';
import {
  buildChunkWalkSql,
  buildMultisetChecksumSql,
  buildRangeChecksumSql,
  type ChunkTable,
  type KeyText,
  type SqlStatement,
} from './chunk-checksum-sql.js';
import type { TableComparison } from './table-comparison.js';

/** A half-open key range (from, to] whose two sides differed at the last look. */
export interface MismatchedRange {
  /** Index of the chunk, for updating its source hash after a re-check. */
  chunk: number;
  from: KeyText | null;
  to: KeyText | null;
  sourceRows: number;
  targetRows: number;
}

/** What the chunk passes have counted of one table so far. */
export interface ChunkTally {
  sourceRows: number;
  targetRows: number;
  /** Per chunk "rows:hash" of the source side; a few bytes per chunkRows rows. */
  sourceChunkHashes: string[];
  mismatched: MismatchedRange[];
}

export interface ChunkWalkOptions {
  signal?: AbortSignal | undefined;
  onProgress?:
    | ((event: { table: string; chunksDone: number; rowsDone: number }) => void)
    | undefined;
}

interface RangeChecksum {
  rows: number;
  hash: string | null;
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

/** The checksum of (from, to]; a table without a key is one range, compared as a multiset. */
function rangeChecksumSql(
  table: ChunkTable,
  from: KeyText | null,
  to: KeyText | null,
): SqlStatement {
  return table.keyColumns.length === 0
    ? buildMultisetChecksumSql(table)
    : buildRangeChecksumSql(table, from, to);
}

/**
 * The first pass: walks the source's keys chunk by chunk and checksums each range on both sides.
 * The first range is open below and the last open above, so target rows outside the source's key
 * span land in a range too. The next source chunk is read while the target checks this one.
 */
export async function walkChunks(
  source: pg.ClientBase,
  target: pg.ClientBase,
  tally: ChunkTally,
  comparison: TableComparison,
  table: string,
  chunkRows: number,
  options: ChunkWalkOptions,
): Promise<void> {
  if (comparison.source.keyColumns.length === 0) {
    // No key to walk: the whole table is one range, its rows compared as a multiset.
    const [sourceSide, targetSide] = await Promise.all([
      readChecksum(source, buildMultisetChecksumSql(comparison.source)),
      readChecksum(target, buildMultisetChecksumSql(comparison.target)),
    ]);
    tally.sourceChunkHashes.push(formatChunkHash(sourceSide));
    tally.sourceRows += sourceSide.rows;
    tally.targetRows += targetSide.rows;
    if (sourceSide.rows !== targetSide.rows || sourceSide.hash !== targetSide.hash) {
      tally.mismatched.push({
        chunk: 0,
        from: null,
        to: null,
        sourceRows: sourceSide.rows,
        targetRows: targetSide.rows,
      });
    }
    options.onProgress?.({ table, chunksDone: 1, rowsDone: sourceSide.rows });
    return;
  }
  const walk = async (after: KeyText | null) => {
    const result = await source.query<{
      rows: string;
      hash: string | null;
      last_key: string[] | null;
    }>(buildChunkWalkSql(comparison.source, after, chunkRows));
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
      readChecksum(target, buildRangeChecksumSql(comparison.target, from, to)),
      to === null ? undefined : walk(to),
    ]);
    const index = tally.sourceChunkHashes.length;
    tally.sourceChunkHashes.push(formatChunkHash(chunk));
    tally.sourceRows += chunk.rows;
    tally.targetRows += targetSide.rows;
    if (targetSide.rows !== chunk.rows || targetSide.hash !== chunk.hash) {
      tally.mismatched.push({
        chunk: index,
        from,
        to,
        sourceRows: chunk.rows,
        targetRows: targetSide.rows,
      });
    }
    options.onProgress?.({ table, chunksDone: index + 1, rowsDone: tally.sourceRows });
    if (next === undefined) return;
    from = to;
    chunk = next;
  }
}

const formatChunkHash = (checksum: RangeChecksum): string =>
  `${checksum.rows}:${checksum.hash ?? ''}`;

/** Checksums the still-mismatched ranges again on both sides; those that now agree drop out. */
export async function recheckRanges(
  source: pg.ClientBase,
  target: pg.ClientBase,
  tally: ChunkTally,
  comparison: TableComparison,
  signal: AbortSignal | undefined,
): Promise<void> {
  const still: MismatchedRange[] = [];
  for (const range of tally.mismatched) {
    signal?.throwIfAborted();
    const [sourceSide, targetSide] = await Promise.all([
      readChecksum(source, rangeChecksumSql(comparison.source, range.from, range.to)),
      readChecksum(target, rangeChecksumSql(comparison.target, range.from, range.to)),
    ]);
    // The counts follow the latest look at the range, so the totals describe what was compared.
    tally.sourceRows += sourceSide.rows - range.sourceRows;
    tally.targetRows += targetSide.rows - range.targetRows;
    tally.sourceChunkHashes[range.chunk] = formatChunkHash(sourceSide);
    range.sourceRows = sourceSide.rows;
    range.targetRows = targetSide.rows;
    if (sourceSide.rows !== targetSide.rows || sourceSide.hash !== targetSide.hash) {
      still.push(range);
    }
  }
  tally.mismatched = still;
}

// The key-level pass of verify: reads the rows of the ranges that stayed mismatched, one bounded
// page at a time on each side, and lists the differing keys through range-diff.ts.
import type pg from 'pg';
import { buildRangeRowsSql, type ChunkTable, type KeyText } from './chunk-checksum-sql.js';
import { diffRangeRows, type KeyedRowHash, type RangeDifference } from './range-diff.js';
import type { TableComparison } from './table-comparison.js';

export interface KeyDifferenceList {
  /** At most maxKeys, in range order. */
  differences: RangeDifference[];
  /** True when there were more than maxKeys (or maxKeys is 0). */
  truncated: boolean;
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
export async function listKeyDifferences(
  source: pg.ClientBase,
  target: pg.ClientBase,
  comparison: TableComparison,
  ranges: readonly { from: KeyText | null; to: KeyText | null }[],
  pageRows: number,
  maxKeys: number,
  signal: AbortSignal | undefined,
): Promise<KeyDifferenceList> {
  const differences: RangeDifference[] = [];
  if (maxKeys === 0) return { differences, truncated: true };
  for (const range of ranges) {
    let after = range.from;
    for (;;) {
      signal?.throwIfAborted();
      const page = await readRows(source, comparison.source, after, range.to, pageRows);
      const full = page.length === pageRows;
      const to = full ? (page.at(-1)?.key ?? range.to) : range.to;
      const budget = maxKeys - differences.length;
      const diff = await diffRangeRows(
        page,
        streamRows(target, comparison.target, after, to, pageRows, signal),
        budget + 1,
      );
      for (const difference of diff.differences) differences.push(difference);
      if (!diff.complete || differences.length > maxKeys) {
        differences.length = Math.min(differences.length, maxKeys);
        return { differences, truncated: true };
      }
      if (!full) break;
      after = to;
    }
  }
  return { differences, truncated: false };
}

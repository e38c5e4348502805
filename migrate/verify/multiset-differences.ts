// The rows that differ between two tables without a key, compared as multisets: both sides' distinct
// rows are read in row-hash order through a cursor (a page at a time, so memory stays bounded by
// the page), merged, and each row with more copies on one side is listed with how many more.
import type pg from 'pg';
import { buildMultisetGroupsSql } from './chunk-checksum-sql.js';
import type { TableComparison } from './table-comparison.js';

export interface MultisetDifference {
  /** The row's text form (ROW(compared columns)::text). */
  row: string;
  /** missing = more copies on the source, extra = more on the target. */
  kind: 'missing' | 'extra';
  /** How many more copies the one side has. */
  copies: number;
}

interface Group {
  hash: string;
  copies: number;
  text: string;
}

/** A side's distinct rows in hash order, fetched a page at a time inside a read-only transaction. */
class GroupReader {
  private page: Group[] = [];
  private index = 0;
  private done = false;

  constructor(
    private readonly client: pg.ClientBase,
    private readonly pageRows: number,
  ) {}

  async open(sql: string): Promise<void> {
    await this.client.query('BEGIN READ ONLY');
    await this.client.query(`DECLARE pgferry_verify_multiset NO SCROLL CURSOR FOR ${sql}`);
  }

  async close(): Promise<void> {
    await this.client.query('ROLLBACK').catch(() => undefined);
  }

  async peek(): Promise<Group | undefined> {
    if (this.index < this.page.length) return this.page[this.index];
    if (this.done) return undefined;
    const result = await this.client.query<{ row_hash: string; copies: string; row_text: string }>(
      `FETCH ${this.pageRows} FROM pgferry_verify_multiset`,
    );
    this.page = result.rows.map((r) => ({
      hash: r.row_hash,
      copies: Number(r.copies),
      text: r.row_text,
    }));
    this.index = 0;
    if (this.page.length < this.pageRows) this.done = true;
    return this.page[0];
  }

  next(): void {
    this.index += 1;
  }
}

export async function listMultisetDifferences(
  source: pg.ClientBase,
  target: pg.ClientBase,
  plan: TableComparison,
  pageRows: number,
  maxRows: number,
  signal: AbortSignal | undefined,
): Promise<{ differences: MultisetDifference[]; truncated: boolean }> {
  const sides = [new GroupReader(source, pageRows), new GroupReader(target, pageRows)] as const;
  const differences: MultisetDifference[] = [];
  try {
    await sides[0].open(buildMultisetGroupsSql(plan.source));
    await sides[1].open(buildMultisetGroupsSql(plan.target));
    for (;;) {
      signal?.throwIfAborted();
      const [s, t] = await Promise.all([sides[0].peek(), sides[1].peek()]);
      if (s === undefined && t === undefined) return { differences, truncated: false };
      // Both sides hash the same compared columns' text, so equal rows have equal hashes.
      const order =
        s === undefined ? 1 : t === undefined ? -1 : s.hash < t.hash ? -1 : s.hash > t.hash ? 1 : 0;
      const sourceCopies = order <= 0 ? (s?.copies ?? 0) : 0;
      const targetCopies = order >= 0 ? (t?.copies ?? 0) : 0;
      const text = (order <= 0 ? s?.text : t?.text) ?? '';
      if (order <= 0) sides[0].next();
      if (order >= 0) sides[1].next();
      if (sourceCopies === targetCopies) continue;
      if (differences.length >= maxRows) return { differences, truncated: true };
      differences.push({
        row: text,
        kind: sourceCopies > targetCopies ? 'missing' : 'extra',
        copies: Math.abs(sourceCopies - targetCopies),
      });
    }
  } finally {
    await sides[0].close();
    await sides[1].close();
  }
}

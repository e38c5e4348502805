// What a committed chunk's changes say to the metrics, against the recorder it replaced (kept
// below as the oracle: strings per change), on random chunks of several tables; and the table
// progress statement of a batch against the one-pass version of its figures.
import { describe, expect, it } from 'vitest';
import { createMetrics, type PgferryMetrics } from '../../core/metrics.js';
import { AppliedChangesRecorder } from '../../pipeline/applied-changes.js';
import { type ChangeOp, type RowChange, tableKey } from '../../pipeline/row-change.js';
import {
  highestPosition,
  safeInteger,
  tableProgressSql,
} from '../../sink/bookkeeping/batch-bookkeeping-sql.js';
import { createSeededRandom, type SeededRandom } from '../support/seeded-random.js';

const OPS: readonly ChangeOp[] = ['c', 'r', 'u', 'd', 't'];

class OracleRecorder {
  private readonly knownTables = new Set<string>();
  private readonly newestSeen = new Map<string, number>();
  constructor(private readonly metrics: PgferryMetrics) {}
  record(changes: readonly RowChange[]): void {
    const { metrics } = this;
    const newest = new Map<string, number>();
    const counts = new Map<string, { table: string; op: string; n: number }>();
    for (const c of changes) {
      const table = tableKey(c.table);
      const id = `${table}\u0000${c.op}`;
      const count = counts.get(id);
      if (count) count.n += 1;
      else counts.set(id, { table, op: c.op, n: 1 });
      newest.set(table, Math.max(newest.get(table) ?? 0, c.sourceTsMs));
    }
    for (const table of newest.keys()) {
      if (this.knownTables.has(table)) continue;
      this.knownTables.add(table);
      for (const op of OPS) metrics.changesApplied.inc({ table, op }, 0);
    }
    for (const { table, op, n } of counts.values()) metrics.changesApplied.inc({ table, op }, n);
    for (const [table, ts] of newest) {
      if (ts <= 0 || ts <= (this.newestSeen.get(table) ?? 0)) continue;
      this.newestSeen.set(table, ts);
      metrics.lastAppliedSourceTs.set({ table }, ts / 1000);
    }
  }
}

/** Tables as transform makes them: a new ref per change; two share a metric label (a dot). */
const TABLES = [
  ['public', 'orders'],
  ['public', 'items'],
  ['a.b', 'c'],
  ['a', 'b.c'],
] as const;

function randomChanges(random: SeededRandom): RowChange[] {
  return Array.from({ length: random.int(60) }, (_, i) => {
    const [schema, name] = random.pick(TABLES);
    return {
      table: { schema, name },
      op: random.pick(OPS),
      key: {},
      after: null,
      position: BigInt(random.int(1_000_000)) * 1_000_000_000n,
      sourceTsMs: random.chance(0.1) ? 0 : 1_700_000_000_000 + random.int(1_000_000) + 0.5,
      txId: null,
      schema: { id: '1', columns: [], primaryKey: [] },
      origin: { topic: 't', partition: 0, offset: String(i) },
    };
  });
}

async function valuesOf(metrics: PgferryMetrics) {
  const byLabels = (values: { labels: object; value: number }[]) =>
    Object.fromEntries(values.map((v) => [JSON.stringify(v.labels), v.value]));
  return {
    applied: byLabels((await metrics.changesApplied.get()).values),
    sourceTs: byLabels((await metrics.lastAppliedSourceTs.get()).values),
  };
}

describe('AppliedChangesRecorder', () => {
  it('counts and dates what 200 random chunks applied as the reference did', async () => {
    const random = createSeededRandom(53);
    const mine = createMetrics();
    const reference = createMetrics();
    const recorder = new AppliedChangesRecorder(mine);
    const oracle = new OracleRecorder(reference);
    let total = 0;
    for (let chunk = 0; chunk < 200; chunk++) {
      const changes = randomChanges(random);
      total += changes.length;
      recorder.record(changes);
      oracle.record(changes);
      expect(await valuesOf(mine), `chunk ${chunk}`).toEqual(await valuesOf(reference));
    }
    const applied = (await mine.changesApplied.get()).values;
    expect(applied.reduce((n, v) => n + v.value, 0)).toBe(total);
    // Every op of a table seen has its series from the start, at 0 if nothing of it was applied.
    expect(applied).toHaveLength(3 * OPS.length);
  });
});

describe('AppliedChangesRecorder with partitions applied concurrently', () => {
  it("never moves a table's newest applied source time back; the lag is the chunk's", async () => {
    const metrics = createMetrics();
    const recorder = new AppliedChangesRecorder(metrics);
    const change = (partition: number, sourceTsMs: number): RowChange => ({
      table: { schema: 'public', name: 'orders' },
      op: 'u',
      key: { id: '1' },
      after: null,
      position: 1n,
      sourceTsMs,
      txId: null,
      schema: { id: '1', columns: [], primaryKey: [] },
      origin: { topic: 't', partition, offset: '0' },
    });
    const now = Date.now();
    recorder.record([change(0, now - 1_000)]);
    // Partition 1 is 60 s behind partition 0 and commits after it.
    recorder.record([change(1, now - 60_000)]);
    const ts = (await metrics.lastAppliedSourceTs.get()).values;
    expect(ts).toEqual([{ labels: { table: 'public.orders' }, value: (now - 1_000) / 1000 }]);
    const lag = (await metrics.endToEndLag.get()).values[0]?.value as number;
    expect(lag).toBeGreaterThanOrEqual(60);
    recorder.record([change(1, now - 500)]);
    expect((await metrics.lastAppliedSourceTs.get()).values[0]?.value).toBe((now - 500) / 1000);
  });
});

describe('tableProgressSql', () => {
  it('carries the newest source time and the highest position of the changes', () => {
    const random = createSeededRandom(59);
    for (let run = 0; run < 200; run++) {
      const changes = randomChanges(random);
      const sql = tableProgressSql(
        { schema: 'public', name: 'orders' },
        { topic: 'cdc.public.orders', partition: 2 },
        changes,
      );
      const maxTs = Math.trunc(changes.reduce((m, c) => Math.max(m, c.sourceTsMs), 0)) || 0;
      const ts =
        maxTs > 0 ? `to_timestamp(${safeInteger(maxTs)}::double precision / 1000)` : 'NULL';
      expect(sql).toContain(
        `VALUES ('public', 'orders', 'cdc.public.orders', 2, ${highestPosition(changes)}, ${ts}, now(), ${changes.length})`,
      );
    }
  });
});

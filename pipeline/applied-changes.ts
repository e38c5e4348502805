// What a committed chunk's changes say to the metrics: changes applied per (table, op), and per
// table the newest source time applied (never moving back) and the end-to-end lag of the chunk
// (target commit minus source write).
import type { PgferryMetrics } from '../core/metrics.js';
import type { ChangeOp } from './row-change.js';
import { type RowChange, type TableRef, tableKey } from './row-change.js';

const OPS: readonly ChangeOp[] = ['c', 'r', 'u', 'd', 't'];

/** One table's changes in a chunk: counts per op (in `OPS` order) and the newest source time. */
interface TableTally {
  table: TableRef;
  counts: number[];
  /** Ops outside `OPS`, should any arrive: counted all the same. */
  other: Map<string, number> | undefined;
  newest: number;
}

export class AppliedChangesRecorder {
  /** Tables whose (table, op) series exist: made at 0 for every op when a table is first seen. */
  private readonly knownTables = new Set<string>();
  /**
   * Per table the newest source time applied so far: partitions commit concurrently
   * (APPLY_CONCURRENCY), so a chunk of a partition further behind must not move it back.
   */
  private readonly newestApplied = new Map<string, number>();

  constructor(private readonly metrics: PgferryMetrics) {}

  record(changes: readonly RowChange[]): void {
    const { metrics } = this;
    // Counted per table first, with no string per change (a chunk's changes come from a few
    // tables): a labelled metric lookup per change is not free either.
    const tallies = new Map<string, Map<string, TableTally>>();
    let lastTable: TableRef | undefined;
    let tally: TableTally | undefined;
    for (const c of changes) {
      if (c.table !== lastTable || !tally) {
        lastTable = c.table;
        tally = tallyOf(tallies, c.table);
      }
      const op = OPS.indexOf(c.op);
      if (op >= 0) tally.counts[op] = (tally.counts[op] as number) + 1;
      else {
        tally.other ??= new Map();
        tally.other.set(c.op, (tally.other.get(c.op) ?? 0) + 1);
      }
      tally.newest = Math.max(tally.newest, c.sourceTsMs);
    }
    // Per metric label: two table refs with one text (a dot in a name) share their series.
    const newest = new Map<string, number>();
    const counts = new Map<string, Map<string, number>>();
    for (const byName of tallies.values()) {
      for (const t of byName.values()) {
        const table = tableKey(t.table);
        newest.set(table, Math.max(newest.get(table) ?? 0, t.newest));
        let perOp = counts.get(table);
        if (!perOp) {
          perOp = new Map();
          counts.set(table, perOp);
        }
        for (let i = 0; i < OPS.length; i++) {
          const n = t.counts[i] as number;
          if (n > 0) perOp.set(OPS[i] as string, (perOp.get(OPS[i] as string) ?? 0) + n);
        }
        for (const [op, n] of t.other ?? []) perOp.set(op, (perOp.get(op) ?? 0) + n);
      }
    }
    for (const table of newest.keys()) {
      if (this.knownTables.has(table)) continue;
      this.knownTables.add(table);
      // A series that starts at its first value is invisible to rate()/increase(): the first
      // delete of a table would not show on the dashboard. Every op's series starts at 0.
      for (const op of OPS) metrics.changesApplied.inc({ table, op }, 0);
    }
    for (const [table, perOp] of counts) {
      for (const [op, n] of perOp) metrics.changesApplied.inc({ table, op }, n);
    }
    const now = Date.now();
    for (const [table, ts] of newest) {
      if (ts <= 0) continue;
      if (ts > (this.newestApplied.get(table) ?? 0)) {
        this.newestApplied.set(table, ts);
        metrics.lastAppliedSourceTs.set({ table }, ts / 1000);
      }
      // The lag of what this chunk applied (a partition behind the others shows as it is).
      metrics.endToEndLag.set({ table }, Math.max(0, (now - ts) / 1000));
      metrics.endToEndLagHistogram.observe(Math.max(0, (now - ts) / 1000));
    }
  }
}

function tallyOf(tallies: Map<string, Map<string, TableTally>>, table: TableRef): TableTally {
  let byName = tallies.get(table.schema);
  if (!byName) {
    byName = new Map();
    tallies.set(table.schema, byName);
  }
  let tally = byName.get(table.name);
  if (!tally) {
    tally = { table, counts: [0, 0, 0, 0, 0], other: undefined, newest: 0 };
    byName.set(table.name, tally);
  }
  return tally;
}

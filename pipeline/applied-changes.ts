// What a committed chunk's changes say to the metrics: changes applied per (table, op), and per
// table the newest source time applied and the end-to-end lag (target commit minus source write).
import type { PgferryMetrics } from '../core/metrics.js';
import type { ChangeOp } from './row-change.js';
import { type RowChange, tableKey } from './row-change.js';

const OPS: readonly ChangeOp[] = ['c', 'r', 'u', 'd', 't'];

export class AppliedChangesRecorder {
  /** Tables whose (table, op) series exist: made at 0 for every op when a table is first seen. */
  private readonly knownTables = new Set<string>();

  constructor(private readonly metrics: PgferryMetrics) {}

  record(changes: readonly RowChange[]): void {
    const { metrics } = this;
    const newest = new Map<string, number>();
    // Counted per (table, op) first: a labelled metric lookup per change is not free.
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
      // A series that starts at its first value is invisible to rate()/increase(): the first
      // delete of a table would not show on the dashboard. Every op's series starts at 0.
      for (const op of OPS) metrics.changesApplied.inc({ table, op }, 0);
    }
    for (const { table, op, n } of counts.values()) metrics.changesApplied.inc({ table, op }, n);
    const now = Date.now();
    for (const [table, ts] of newest) {
      if (ts <= 0) continue;
      metrics.lastAppliedSourceTs.set({ table }, ts / 1000);
      metrics.endToEndLag.set({ table }, Math.max(0, (now - ts) / 1000));
      metrics.endToEndLagHistogram.observe(Math.max(0, (now - ts) / 1000));
    }
  }
}

// What a committed chunk's changes say to the metrics: changes applied per (table, op), and per
// table the newest source time applied and the end-to-end lag (target commit minus source write).
import type { PgferryMetrics } from '../core/metrics.js';
import { type RowChange, tableKey } from './row-change.js';

export function recordAppliedChanges(metrics: PgferryMetrics, changes: readonly RowChange[]): void {
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
  for (const { table, op, n } of counts.values()) metrics.changesApplied.inc({ table, op }, n);
  const now = Date.now();
  for (const [table, ts] of newest) {
    if (ts <= 0) continue;
    metrics.lastAppliedSourceTs.set({ table }, ts / 1000);
    metrics.endToEndLag.set({ table }, Math.max(0, (now - ts) / 1000));
    metrics.endToEndLagHistogram.observe(Math.max(0, (now - ts) / 1000));
  }
}

// Dedupe: within one batch, per (table, primary key), keep only the change with the highest
// source position (ties: the later Kafka offset). A truncate drops the table's changes from
// before it. Fewer rows to stage; correctness still rests on the position guard in the merge.
// An unchanged-TOAST column of the winner takes the value a dropped older change set: the target
// never saw that change, so leaving the column untouched there would lose it.
// A keyless table's changes (no primary key, REPLICA IDENTITY FULL) are never folded: each
// applies by full-row match, in log order (the sink orders them by offset).

import { numericIdentity } from '../codec/decimal.js';
import {
  type PgRow,
  type PgValue,
  type RowChange,
  tableKey,
  UNCHANGED_TOAST,
} from '../row-change.js';
import type { Processor } from './processor.js';

export function rowIdentity(change: RowChange): string {
  // A keyless table's changes cannot be told apart by row: every one is its own, applied in order.
  if (change.schema.primaryKey.length === 0) {
    return `${tableKey(change.table)}\u0000@${change.origin.topic}\u0000${change.origin.partition}\u0000${change.origin.offset}`;
  }
  return `${tableKey(change.table)}\u0000${JSON.stringify(change.schema.primaryKey.map((c) => keyIdentity(change, c)))}`;
}

/**
 * A key column's value as identity: a numeric's display scale is not part of its value
 * (`decimal.handling.mode=string` sends 16.0 and 16.00 as they are), so a delete of key 16.0 and
 * an insert of 16.00 are one row's changes, folded like any other: two staged changes of one key
 * would make the merge's ON CONFLICT affect a row twice.
 */
function keyIdentity(change: RowChange, column: string): PgValue | undefined {
  const value = change.key[column];
  if (typeof value !== 'string') return value;
  const type = change.schema.columns.find((c) => c.name === column)?.pgType;
  return type !== undefined && /^numeric(\(|$)/.test(type) ? numericIdentity(value) : value;
}

/** True when `a` must win over `b` for the same row. */
export function isNewer(a: RowChange, b: RowChange): boolean {
  if (a.position !== b.position) return a.position > b.position;
  return BigInt(a.origin.offset) > BigInt(b.origin.offset);
}

/** `change` with its unchanged-TOAST columns filled from the older `previous` change of the row. */
function carryUnchangedToast(change: RowChange, previous: RowChange): RowChange {
  if (!change.after || !previous.after) return change; // nothing carries across a delete
  let after: PgRow | undefined;
  for (const [column, value] of Object.entries(change.after)) {
    if (value !== UNCHANGED_TOAST) continue;
    const earlier = previous.after[column];
    if (earlier === undefined || earlier === UNCHANGED_TOAST) continue;
    after ??= { ...change.after };
    after[column] = earlier;
  }
  return after ? { ...change, after } : change;
}

/** The newest of one row's changes, folded in position order so TOASTed values carry forward. */
export function resolveLatest(changes: readonly RowChange[]): RowChange {
  const ordered = [...changes].sort((a, b) => (isNewer(a, b) ? 1 : isNewer(b, a) ? -1 : 0));
  let latest = ordered[0] as RowChange;
  for (const next of ordered.slice(1)) latest = carryUnchangedToast(next, latest);
  if (ordered.length > 1) {
    // If the target rejects the winner, the changes it replaced must reach the DLQ with it.
    latest = { ...latest, folded: ordered.filter((c) => c !== latest).map((c) => c.origin) };
  }
  return latest;
}

export function createDedupeProcessor(): Processor<RowChange, RowChange> {
  // Every change of a row is held until flush (the batch is bounded already), so the fold above
  // sees them in position order whatever order they arrived in.
  let rows = new Map<string, RowChange[]>();
  let truncates = new Map<string, RowChange>();
  return {
    name: 'dedupe',
    process(change) {
      const table = tableKey(change.table);
      const truncate = truncates.get(table);
      if (change.op === 't') {
        if (!truncate || change.position > truncate.position) truncates.set(table, change);
        for (const [id, held] of rows) {
          if (tableKey((held[0] as RowChange).table) !== table) continue;
          const kept = held.filter((c) => c.position >= change.position);
          if (kept.length === 0) rows.delete(id);
          else rows.set(id, kept);
        }
        return [];
      }
      if (truncate && change.position < truncate.position) return [];
      const id = rowIdentity(change);
      const held = rows.get(id);
      if (held) held.push(change);
      else rows.set(id, [change]);
      return [];
    },
    reset() {
      rows = new Map();
      truncates = new Map();
    },
    flush() {
      // Truncates first: the sink applies them before the row changes of the same table, and
      // every row change still held is newer than its table's truncate.
      const out = [...truncates.values(), ...[...rows.values()].map(resolveLatest)];
      rows = new Map();
      truncates = new Map();
      return out;
    },
  };
}

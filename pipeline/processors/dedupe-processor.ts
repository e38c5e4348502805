// Dedupe: within one batch, per (table, primary key), keep only the change with the highest
// source position (ties: the later Kafka offset). A truncate drops the table's changes from
// before it. Fewer rows to stage; correctness still rests on the position guard in the merge.
// An unchanged-TOAST column of the winner takes the value a dropped older change set: the target
// never saw that change, so leaving the column untouched there would lose it.
// A keyless table's changes (no primary key, REPLICA IDENTITY FULL) are never folded: each
// applies by full-row match, in log order (the sink orders them by offset).
// It runs once per change on the hot path: a row's identity is a primitive (the key's text for a
// one-column key), the key's shape is worked out once per schema, and a row seen once is passed
// through as it came, without a sort or a copy.

import { numericIdentity } from '../codec/decimal.js';
import {
  columnOf,
  type PgRow,
  type PgValue,
  type RowChange,
  setColumn,
  type TableRef,
  UNCHANGED_TOAST,
} from '../row-change.js';
import type { TableSchema } from '../table-schema.js';
import type { Processor } from './processor.js';

/**
 * How a schema's key becomes a row identity. A numeric's display scale is not part of its value
 * (`decimal.handling.mode=string` sends 16.0 and 16.00 as they are), so a delete of key 16.0 and
 * an insert of 16.00 are one row's changes, folded like any other: two staged changes of one key
 * would make the merge's ON CONFLICT affect a row twice.
 */
interface KeyShape {
  columns: readonly string[];
  /** Per key column: compared by numeric value rather than text. */
  numeric: readonly boolean[];
}

function shapeKeyOf(schema: TableSchema): KeyShape {
  return {
    columns: schema.primaryKey,
    numeric: schema.primaryKey.map((column) => {
      const type = schema.columns.find((c) => c.name === column)?.pgType;
      return type !== undefined && /^numeric(\(|$)/.test(type);
    }),
  };
}

/** One key column's value as identity; undefined when the key lacks the column. */
function keyPart(change: RowChange, shape: KeyShape, i: number): string | undefined {
  const value = change.key[shape.columns[i] as string];
  if (typeof value !== 'string') return undefined;
  return shape.numeric[i] ? numericIdentity(value) : value;
}

/** A composite key as one string: each part length-prefixed, so no two keys share a text. */
function compositeIdentity(change: RowChange, shape: KeyShape): string {
  let id = '';
  for (let i = 0; i < shape.columns.length; i++) {
    const part = keyPart(change, shape, i);
    id += part === undefined ? '-' : `${part.length}:${part}`;
  }
  return id;
}

/**
 * Orders two Kafka offsets of one partition. kafkajs gives them as decimal strings of an int64:
 * in canonical form (no sign, no leading zero) a longer one is larger and equal lengths compare
 * as text, with no BigInt per comparison.
 */
export function compareOffsets(a: string, b: string): number {
  if (a === b) return 0;
  if (isCanonicalOffset(a) && isCanonicalOffset(b)) {
    if (a.length !== b.length) return a.length < b.length ? -1 : 1;
    return a < b ? -1 : 1;
  }
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function isCanonicalOffset(offset: string): boolean {
  if (offset.length === 0 || (offset.length > 1 && offset.charCodeAt(0) === 48)) return false;
  for (let i = 0; i < offset.length; i++) {
    const c = offset.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** Orders two changes of one row: positive when `a` must win over `b`. */
function compareChanges(a: RowChange, b: RowChange): number {
  if (a.position !== b.position) return a.position > b.position ? 1 : -1;
  return compareOffsets(a.origin.offset, b.origin.offset);
}

/** True when `a` must win over `b` for the same row. */
export function isNewer(a: RowChange, b: RowChange): boolean {
  return compareChanges(a, b) > 0;
}

/** `change` with its unchanged-TOAST columns filled from the older `previous` change of the row. */
function carryUnchangedToast(change: RowChange, previous: RowChange): RowChange {
  if (!change.after || !previous.after) return change; // nothing carries across a delete
  let after: PgRow | undefined;
  // for-in, not Object.entries: no array of pairs per version (rows are plain objects).
  for (const column in change.after) {
    if (change.after[column] !== UNCHANGED_TOAST) continue;
    const earlier = columnOf(previous.after, column);
    if (earlier === undefined || earlier === UNCHANGED_TOAST) continue;
    after ??= { ...change.after };
    setColumn<PgValue>(after, column, earlier);
  }
  return after ? { ...change, after } : change;
}

/**
 * The newest of one row's changes, folded in position order so TOASTed values carry forward.
 * A single change is returned as it is. Sorts `changes` in place.
 */
export function resolveLatest(changes: RowChange[]): RowChange {
  if (changes.length === 1) return changes[0] as RowChange;
  changes.sort(compareChanges); // stable: equal changes keep their arrival order
  let latest = changes[0] as RowChange;
  for (let i = 1; i < changes.length; i++)
    latest = carryUnchangedToast(changes[i] as RowChange, latest);
  // If the target rejects the winner, the changes it replaced must reach the DLQ with it (the
  // winner itself is not one of them, even when TOAST carried forward made it a copy).
  const folded = new Array(changes.length - 1);
  for (let i = 0; i < changes.length - 1; i++) folded[i] = (changes[i] as RowChange).origin;
  return { ...latest, folded };
}

/** The changes of one row held in a batch; `more` once a second one arrives. */
interface HeldRow {
  first: RowChange;
  more: RowChange[] | undefined;
  /** Every change of it fell to a truncate: skipped at flush. */
  dropped: boolean;
}

/** One table's changes held in a batch. Keys of different shapes never share an identity. */
interface HeldTable {
  /** One-column keys, by the key's text (undefined: the key lacks its column). */
  byKey: Map<string | undefined, HeldRow>;
  /** Composite keys, by `compositeIdentity`. */
  byComposite: Map<string, HeldRow>;
  /** A keyless table's changes, each its own (by where it came from). */
  byOrigin: Map<string, HeldRow>;
  truncate: RowChange | undefined;
}

/** Returned for every change held back: one shared empty list, not an array per change. */
const NOTHING = Object.freeze([]) as unknown as RowChange[];

export function createDedupeProcessor(): Processor<RowChange, RowChange> {
  // Every change of a row is held until flush (the batch is bounded already), so the fold above
  // sees them in position order whatever order they arrived in.
  let tables = new Map<string, Map<string, HeldTable>>();
  /** Rows in the order first seen (a row a truncate emptied comes back at the end). */
  let order: HeldRow[] = [];
  /** Tables with a truncate, in the order of their first. */
  let truncated: HeldTable[] = [];
  const shapes = new WeakMap<TableSchema, KeyShape>();
  let lastSchema: TableSchema | undefined;
  let lastShape: KeyShape | undefined;

  const shapeOf = (schema: TableSchema): KeyShape => {
    if (schema === lastSchema) return lastShape as KeyShape;
    let shape = shapes.get(schema);
    if (!shape) {
      shape = shapeKeyOf(schema);
      shapes.set(schema, shape);
    }
    lastSchema = schema;
    lastShape = shape;
    return shape;
  };

  const heldTableOf = (table: TableRef): HeldTable => {
    let bySchema = tables.get(table.schema);
    if (!bySchema) {
      bySchema = new Map();
      tables.set(table.schema, bySchema);
    }
    let held = bySchema.get(table.name);
    if (!held) {
      held = { byKey: new Map(), byComposite: new Map(), byOrigin: new Map(), truncate: undefined };
      bySchema.set(table.name, held);
    }
    return held;
  };

  const hold = <K>(rows: Map<K, HeldRow>, id: K, change: RowChange): void => {
    const row = rows.get(id);
    if (!row) {
      const added: HeldRow = { first: change, more: undefined, dropped: false };
      rows.set(id, added);
      order.push(added);
    } else if (row.more) row.more.push(change);
    else row.more = [row.first, change];
  };

  const dropBefore = <K>(rows: Map<K, HeldRow>, position: bigint): void => {
    for (const [id, row] of rows) {
      const kept = (row.more ?? [row.first]).filter((c) => c.position >= position);
      if (kept.length === 0) {
        row.dropped = true;
        rows.delete(id);
      } else {
        row.first = kept[0] as RowChange;
        row.more = kept.length > 1 ? kept : undefined;
      }
    }
  };

  const clear = (): void => {
    tables = new Map();
    order = [];
    truncated = [];
  };

  return {
    name: 'dedupe',
    process(change) {
      const table = heldTableOf(change.table);
      if (change.op === 't') {
        if (!table.truncate) truncated.push(table);
        if (!table.truncate || change.position > table.truncate.position) table.truncate = change;
        dropBefore(table.byKey, change.position);
        dropBefore(table.byComposite, change.position);
        dropBefore(table.byOrigin, change.position);
        return NOTHING;
      }
      if (table.truncate && change.position < table.truncate.position) return NOTHING;
      const shape = shapeOf(change.schema);
      if (shape.columns.length === 1) hold(table.byKey, keyPart(change, shape, 0), change);
      else if (shape.columns.length > 1)
        hold(table.byComposite, compositeIdentity(change, shape), change);
      else {
        // A keyless table's changes cannot be told apart by row: every one is its own.
        const { topic, partition, offset } = change.origin;
        hold(table.byOrigin, `${topic}\u0000${partition}\u0000${offset}`, change);
      }
      return NOTHING;
    },
    reset: clear,
    flush() {
      // Truncates first: the sink applies them before the row changes of the same table, and
      // every row change still held is newer than its table's truncate.
      const out: RowChange[] = [];
      for (const table of truncated) out.push(table.truncate as RowChange);
      for (const row of order) {
        if (row.dropped) continue;
        out.push(row.more ? resolveLatest(row.more) : row.first);
      }
      clear();
      return out;
    },
  };
}

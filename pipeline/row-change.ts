// The pipeline's unit of work: one source row change, already converted to PostgreSQL text
// values, with the log position that orders it and the Kafka record it came from.
import type { TableSchema } from './table-schema.js';

/** c = create, r = snapshot read, u = update, d = delete, t = truncate (Debezium's codes). */
export type ChangeOp = 'c' | 'r' | 'u' | 'd' | 't';

/** A column left out of an update because PostgreSQL did not send its unchanged TOAST value. */
export const UNCHANGED_TOAST: unique symbol = Symbol('unchanged-toast');

/** A column value as PostgreSQL text input, SQL NULL, or "keep what the target has". */
export type PgValue = string | null | typeof UNCHANGED_TOAST;

export type PgRow = Record<string, PgValue>;

/**
 * The one column name whose assignment to a plain object does not make a property: `row.__proto__
 * = v` calls Object.prototype's setter, so the value was lost and the prototype read back in its
 * place (a source column may be called so: it is a valid PostgreSQL and Avro name).
 */
export const PROTO_COLUMN = '__proto__';

/** Sets a column of a row or key (plain objects keyed by column name) as an own property. */
export function setColumn<V>(row: Record<string, V>, column: string, value: V): void {
  if (column === PROTO_COLUMN) {
    Object.defineProperty(row, column, {
      value,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  } else row[column] = value;
}

/**
 * A column of a row, or undefined when the row does not carry it: never a member every object
 * inherits (a column "constructor" or "toString" that the change's schema version lacks).
 */
export function columnOf<V>(row: Record<string, V>, column: string): V | undefined {
  return Object.hasOwn(row, column) ? row[column] : undefined;
}

export interface TableRef {
  schema: string;
  name: string;
}

/** Where a change came from in Kafka; offsets are strings as kafkajs gives them (int64). */
export interface RecordOrigin {
  topic: string;
  partition: number;
  offset: string;
}

export interface RowChange {
  table: TableRef;
  op: ChangeOp;
  /** Primary-key columns -> text; empty for truncates and for changes of a keyless table. */
  key: Record<string, string>;
  /** The row after the change (c, r, u); null for d and t. */
  after: PgRow | null;
  /**
   * A keyless table's row before the change (u, d): REPLICA IDENTITY FULL sends every column,
   * and the target row to change is one whose every column matches it. Unset for keyed tables.
   */
  before?: PgRow;
  /**
   * A keyless table's streamed change: Debezium's source.sequence[0], the commit LSN of the
   * transaction streamed before this change's. (commitPosition, position) grows along the stream,
   * so a change at or below the last applied one is Debezium re-sending it (e.g. after a Connect
   * restart) and is skipped. Unset for snapshot reads and keyed tables.
   */
  commitPosition?: bigint;
  /**
   * Source log position: Debezium's source.lsn. For one row, PostgreSQL's row locks make change
   * LSNs grow with commit order, so the LSN alone orders that row's changes.
   */
  position: bigint;
  sourceTsMs: number;
  txId: string | null;
  /** The table as described by the event's schema (columns, types, primary key). */
  schema: TableSchema;
  origin: RecordOrigin;
  /** Older changes of the same row that dedupe folded into this one (their TOAST values live on). */
  folded?: RecordOrigin[];
}

export const tableKey = (table: TableRef): string => `${table.schema}.${table.name}`;

// Transform without the envelope: a row record (`before`/`after`) and a key record read from bytes
// the compiled envelope decoder checked, column by column, straight into PostgreSQL text by the
// columns' own codecs (EnvelopeSchema). Each value reaches its codec as avsc would give it
// (avro-value-reader.ts), but for longs as numbers where the codec takes them and bytes as views:
// the same text, without the envelope object, a record object per row, or a BigInt per long.
// Compiled once per (key schema, value schema).
import type avro from 'avsc';
import { PoisonMessageError } from '../../core/errors.js';
import { type PgRow, PROTO_COLUMN, setColumn, UNCHANGED_TOAST } from '../row-change.js';
import { compileValueReader, type ValueReader } from './avro-value-reader.js';
import { WireReader } from './avro-wire-reader.js';
import type { EnvelopeColumn, EnvelopeSchema } from './envelope-schema.js';
import type { TextBudget } from './text-budget.js';

export interface CompiledRowReader {
  /** The row record at `at` in `bytes`, every column converted, text spent from `budget`. */
  readRow(bytes: Buffer, at: number, budget: TextBudget): PgRow;
  /** The key record at `at` in `bytes`: each key column's text, in key order. */
  readKey(bytes: Buffer, at: number, budget: TextBudget): Record<string, string>;
}

interface ColumnRead {
  column: string;
  /** The column is "__proto__": set by setColumn (an assignment would set the prototype). */
  proto: boolean;
  codec: EnvelopeColumn['codec'];
  read: ValueReader;
}

/** Reads of `columns` over the fields of `type`, or undefined when they are not the same fields. */
function columnReads(
  type: avro.Type | null,
  columns: readonly EnvelopeColumn[],
): ColumnRead[] | undefined {
  if (type?.typeName !== 'record') return undefined;
  const fields = (type as avro.types.RecordType).fields;
  if (fields.length !== columns.length) return undefined;
  const reads: ColumnRead[] = [];
  for (const [i, field] of fields.entries()) {
    const column = columns[i] as EnvelopeColumn;
    if (column.field !== field.name) return undefined;
    const longs = column.codec.longsAsNumbers ? 'number-or-bigint' : 'bigint';
    reads.push({
      column: column.column,
      proto: column.column === PROTO_COLUMN,
      codec: column.codec,
      read: compileValueReader(field.type, longs),
    });
  }
  return reads;
}

/**
 * The reader of a schema pair's rows and keys, or undefined when the avsc types do not have the
 * fields the envelope schema read from the same JSON (never expected: transform then has avsc
 * decode the checked bytes).
 */
export function compileRowReader(
  envelope: EnvelopeSchema,
  rowType: avro.types.RecordType,
  keyType: avro.Type | null,
): CompiledRowReader | undefined {
  const row = columnReads(rowType, envelope.rowColumns);
  const key = envelope.keyColumns.length === 0 ? [] : columnReads(keyType, envelope.keyColumns);
  if (!row || !key) return undefined;
  // One reader, reused: the reads are synchronous and never nested.
  const wire = new WireReader(Buffer.alloc(0));
  return {
    readRow(bytes, at, budget) {
      wire.bytes = bytes;
      wire.pos = at;
      const out: PgRow = {};
      for (let i = 0; i < row.length; i++) {
        const c = row[i] as ColumnRead;
        const v = c.codec.toPg(c.read(wire), budget);
        if (c.proto) setColumn(out, c.column, v);
        else out[c.column] = v;
      }
      return out;
    },
    readKey(bytes, at, budget) {
      wire.bytes = bytes;
      wire.pos = at;
      const out: Record<string, string> = {};
      for (let i = 0; i < key.length; i++) {
        const c = key[i] as ColumnRead;
        const v = c.codec.toPg(c.read(wire), budget);
        if (v === null || v === UNCHANGED_TOAST) {
          throw new PoisonMessageError(`primary-key column ${c.column} is null in the event`);
        }
        if (c.proto) setColumn(out, c.column, v);
        else out[c.column] = v;
      }
      return out;
    },
  };
}

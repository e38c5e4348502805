// Transform: a decoded Debezium envelope -> RowChange, with every value converted to exact
// PostgreSQL text by the column codecs of its schema. Tombstones (null value after a delete) are
// filtered: the delete event before them carries the change. The text a message converts to is
// bounded by its size (TextBudget), and whatever a codec throws on odd input is that record's
// fault: it is dead-lettered (poisonUntypedErrors), never a reason to stop the topic.
// An event the compiled decoder read (decoded.reading) is converted from its bytes: only the row
// transform needs (the key message's key, `after`; a keyless table's `before` too) is read, by the
// compiled row reader of its schema pair; an avsc envelope takes the same steps on its values.

import { PoisonMessageError, SchemaIncompatibleError } from '../../core/errors.js';
import {
  compiledEnvelopeDecoderOf,
  type EnvelopeReading,
  readSequence,
} from '../codec/compiled-envelope-decoder.js';
import { type CompiledRowReader, compileRowReader } from '../codec/compiled-row-reader.js';
import {
  type EnvelopeColumn,
  type EnvelopeSchema,
  readEnvelopeSchema,
} from '../codec/envelope-schema.js';
import { TextBudget } from '../codec/text-budget.js';
import {
  type ChangeOp,
  type PgRow,
  PROTO_COLUMN,
  type RowChange,
  setColumn,
  type TableRef,
  UNCHANGED_TOAST,
} from '../row-change.js';
import type { DecodedRecord } from './decode-processor.js';
import { poisonUntypedErrors } from './poison-untyped-errors.js';
import type { Processor } from './processor.js';

const OPS = new Set<ChangeOp>(['c', 'r', 'u', 'd', 't']);

interface Source {
  sequence?: unknown;
  schema?: unknown;
  table?: unknown;
  lsn?: unknown;
  ts_ms?: unknown;
  txId?: unknown;
}

function convertRow(
  columns: EnvelopeColumn[],
  record: Record<string, unknown>,
  budget: TextBudget,
): PgRow {
  const row: PgRow = {};
  for (const c of columns) setColumn(row, c.column, c.codec.toPg(record[c.field], budget));
  return row;
}

/**
 * avsc's record objects set each field by assignment, so a field "__proto__" is lost in them (its
 * value set the prototype or was ignored). The compiled decoder reads every standard Debezium
 * envelope; one it cannot read that has such a field stops its table rather than write NULL.
 */
function refuseProtoField(protoColumn: string | undefined, table: string): void {
  if (protoColumn !== undefined) {
    throw new SchemaIncompatibleError(
      `table ${table}: its events do not fit pgferry's compiled decoder, and the general Avro decoder cannot read a field named ${PROTO_COLUMN} (column ${protoColumn})`,
      { table },
    );
  }
}

const messageBytes = (decoded: DecodedRecord): number =>
  (decoded.record.key?.length ?? 0) + (decoded.record.value?.length ?? 0);

/** A keyless change's rows, whichever way they were decoded: `null` = the event has none. */
interface KeylessRows<R> {
  before: R | null;
  after: R | null;
  convert(row: R, budget: TextBudget): PgRow;
  sequence(): unknown;
}

/**
 * A change of a table without a key (no primary key, REPLICA IDENTITY FULL): an update or delete
 * names its row by the full `before` row, which only REPLICA IDENTITY FULL sends; without it the
 * table stops with the fix. (The sink checks the source's identity and the single partition.)
 */
function keylessChange<R>(
  base: Omit<RowChange, 'key' | 'after'>,
  rows: KeylessRows<R>,
  decoded: DecodedRecord,
): RowChange {
  const table = `${base.table.schema}.${base.table.name}`;
  const budget = new TextBudget(messageBytes(decoded));
  if (base.op === 'r') {
    if (!rows.after) throw new PoisonMessageError('op r event without `after`');
    return { ...base, key: {}, after: rows.convert(rows.after, budget) };
  }
  const streamed = { ...base, commitPosition: commitPositionOf({ sequence: rows.sequence() }) };
  if (base.op === 'c') {
    if (!rows.after) throw new PoisonMessageError('op c event without `after`');
    return { ...streamed, key: {}, after: rows.convert(rows.after, budget) };
  }
  if (!rows.before) {
    throw new SchemaIncompatibleError(
      `table ${table} has no primary key and its op ${base.op} event carries no \`before\` row: pgferry applies a keyless table's updates and deletes by full-row match, which needs ALTER TABLE ${table} REPLICA IDENTITY FULL on the source (or give it a primary key)`,
      { table },
    );
  }
  const before = rows.convert(rows.before, budget);
  if (base.op === 'd') return { ...streamed, key: {}, after: null, before };
  if (!rows.after) throw new PoisonMessageError(`op ${base.op} event without \`after\``);
  return { ...streamed, key: {}, after: rows.convert(rows.after, budget), before };
}

/**
 * Debezium's source.sequence, `["<last commit LSN>","<LSN>"]`: its first element (0 when null).
 * A sequence that does not read so is the message's fault.
 */
export function commitPositionOf(source: Source): bigint {
  if (typeof source.sequence !== 'string') return 0n;
  let parsed: unknown;
  try {
    parsed = JSON.parse(source.sequence);
  } catch {
    throw new PoisonMessageError('source.sequence is not JSON');
  }
  const first = Array.isArray(parsed) ? parsed[0] : undefined;
  if (first === null || first === undefined) return 0n;
  if (typeof first !== 'string' || !/^\d{1,20}$/.test(first)) {
    throw new PoisonMessageError('source.sequence does not hold LSNs');
  }
  return BigInt(first);
}

/** A schema pair's envelope schema and, once a compiled reading needs it, its row reader. */
interface SchemaPair {
  envelope: EnvelopeSchema;
  /** undefined: not compiled yet; null: the avsc types do not fit it (avsc decodes the bytes). */
  rows: CompiledRowReader | null | undefined;
  /** The column whose Avro field is "__proto__", which avsc's records lose; found once. */
  protoColumn: string | undefined;
}

const originOf = (decoded: DecodedRecord) => ({
  topic: decoded.record.topic,
  partition: decoded.record.partition,
  offset: decoded.record.offset,
});

export function createTransformProcessor(): Processor<DecodedRecord, RowChange> {
  const pairs = new Map<string, SchemaPair>();
  /** The budget of the keyed events' text, reset for each (conversion is synchronous). */
  const budget = new TextBudget(0);
  /** The last change's table: consecutive events share it (and the sink tells it by identity). */
  let lastTable: TableRef = { schema: '', name: '' };
  const tableRefOf = (schema: string, name: string): TableRef => {
    if (lastTable.name !== name || lastTable.schema !== schema) lastTable = { schema, name };
    return lastTable;
  };
  /** The pair of the last event: consecutive events mostly share it, without a lookup key. */
  let last: { key: unknown; value: unknown; pair: SchemaPair } | undefined;

  const schemaPairOf = (decoded: DecodedRecord): SchemaPair => {
    const valueSchema = decoded.valueSchema;
    if (!valueSchema) throw new PoisonMessageError('change event without a value schema');
    if (last?.value === valueSchema && last.key === decoded.keySchema) return last.pair;
    const id = `${decoded.keySchema?.id ?? 'none'}:${valueSchema.id}`;
    let pair = pairs.get(id);
    if (!pair) {
      const envelope = readEnvelopeSchema(
        { key: decoded.keySchema?.id ?? null, value: valueSchema.id },
        decoded.keySchema?.json ?? null,
        valueSchema.json,
      );
      const proto = [...envelope.keyColumns, ...envelope.rowColumns].find(
        (c) => c.field === PROTO_COLUMN,
      );
      pair = { envelope, rows: undefined, protoColumn: proto?.column };
      pairs.set(id, pair);
    }
    last = { key: decoded.keySchema, value: valueSchema, pair };
    return pair;
  };

  const rowReaderOf = (pair: SchemaPair, decoded: DecodedRecord): CompiledRowReader | null => {
    if (pair.rows === undefined) {
      const rowType = decoded.valueSchema
        ? compiledEnvelopeDecoderOf(decoded.valueSchema.type)?.rowType
        : undefined;
      pair.rows = rowType
        ? (compileRowReader(pair.envelope, rowType, decoded.keySchema?.type ?? null) ?? null)
        : null;
    }
    return pair.rows;
  };

  /** An avsc envelope: the values of its key, `before` and `after` records converted. */
  const convertEnvelope = (decoded: DecodedRecord, value: Record<string, unknown>): RowChange[] => {
    if (!('op' in value) || !('source' in value)) {
      // Valid Avro, but someone else's record: a topic that is not a Debezium topic.
      throw new PoisonMessageError(
        `not a Debezium change event: the value has no ${'op' in value ? 'source' : 'op'} field (a Debezium envelope has before, after, source, op; fields here: ${Object.keys(value).slice(0, 8).join(', ')})`,
      );
    }
    const op = value.op as ChangeOp;
    if (!OPS.has(op)) throw new PoisonMessageError(`unknown Debezium op ${String(value.op)}`);
    const source = (value.source ?? {}) as Source;
    if (typeof source.schema !== 'string' || typeof source.table !== 'string') {
      throw new PoisonMessageError('change event without source.schema/source.table');
    }
    if (typeof source.lsn !== 'bigint')
      throw new PoisonMessageError('change event without source.lsn');
    const pair = schemaPairOf(decoded);
    refuseProtoField(pair.protoColumn, `${source.schema}.${source.table}`);
    const envelope = pair.envelope;
    const base = {
      table: { schema: source.schema, name: source.table },
      op,
      position: source.lsn,
      sourceTsMs:
        typeof source.ts_ms === 'bigint' ? Number(source.ts_ms) : Number(source.ts_ms ?? 0),
      txId: source.txId === null || source.txId === undefined ? null : String(source.txId),
      schema: envelope.table,
      origin: originOf(decoded),
    };
    if (op === 't') {
      // A keyless table's truncate is ordered with its streamed changes (see keylessChange).
      const commitPosition = commitPositionOf(source);
      return [{ ...base, key: {}, after: null, commitPosition }];
    }

    if (envelope.keyColumns.length === 0) {
      const rows: KeylessRows<Record<string, unknown>> = {
        before: (value.before as Record<string, unknown> | null) ?? null,
        after: (value.after as Record<string, unknown> | null) ?? null,
        convert: (row, budget) => convertRow(envelope.rowColumns, row, budget),
        sequence: () => source.sequence,
      };
      return [keylessChange(base, rows, decoded)];
    }
    const rowRecord = (op === 'd' ? value.before : value.after) as Record<string, unknown> | null;
    const keyRecord = decoded.key ?? rowRecord;
    if (!keyRecord) throw new PoisonMessageError(`op ${op} event without key and row`);
    const budget = new TextBudget(messageBytes(decoded));
    const key: Record<string, string> = {};
    for (const c of envelope.keyColumns) {
      const v = c.codec.toPg(keyRecord[c.field], budget);
      if (v === null || v === UNCHANGED_TOAST) {
        throw new PoisonMessageError(`primary-key column ${c.column} is null in the event`);
      }
      setColumn(key, c.column, v);
    }
    if (op === 'd') return [{ ...base, key, after: null }];
    if (!value.after) throw new PoisonMessageError(`op ${op} event without \`after\``);
    return [
      {
        ...base,
        key,
        after: convertRow(envelope.rowColumns, value.after as Record<string, unknown>, budget),
      },
    ];
  };

  /**
   * A compiled reading: the same steps and checks as convertEnvelope, in the same order, with the
   * key and rows read from the checked bytes.
   */
  const convertReading = (decoded: DecodedRecord, reading: EnvelopeReading): RowChange[] => {
    const op = reading.op as ChangeOp;
    if (!OPS.has(op)) throw new PoisonMessageError(`unknown Debezium op ${String(op)}`);
    const source = reading.source;
    const { schema, table, lsn, ts_ms: tsMs, txId } = source;
    if (typeof schema !== 'string' || typeof table !== 'string') {
      throw new PoisonMessageError('change event without source.schema/source.table');
    }
    if (lsn === null || lsn === undefined) {
      throw new PoisonMessageError('change event without source.lsn');
    }
    const pair = schemaPairOf(decoded);
    const rows = rowReaderOf(pair, decoded);
    if (rows === null) return convertEnvelope(...materialize(decoded, reading));
    const envelope = pair.envelope;
    // The position's one BigInt.
    const position = typeof lsn === 'bigint' ? lsn : BigInt(lsn);
    const sourceTsMs = typeof tsMs === 'bigint' ? Number(tsMs) : Number(tsMs ?? 0);
    const txText = txId === null || txId === undefined ? null : String(txId);
    // A keyed table's row change (nearly every event): the change made in one literal, its
    // table the same object as the event before's, one text budget for every event.
    const keyed = op !== 't' && envelope.keyColumns.length > 0;
    let key: Record<string, string> | undefined;
    let after: PgRow | null = null;
    if (keyed) {
      // The key comes from the key message (decode checked it whenever the pair has key columns).
      const keyBytes = reading.keyBytes;
      if (!keyBytes) throw new PoisonMessageError(`op ${op} event without key and row`);
      budget.reset(messageBytes(decoded));
      key = rows.readKey(keyBytes, reading.keyAt, budget);
      if (op !== 'd') {
        if (reading.afterAt < 0) throw new PoisonMessageError(`op ${op} event without \`after\``);
        after = rows.readRow(reading.valueBytes, reading.afterAt, budget);
      }
    }
    const change = rowChange(
      tableRefOf(schema, table),
      op,
      position,
      sourceTsMs,
      txText,
      envelope.table,
      originOf(decoded),
      key ?? {},
      after,
    );
    if (keyed) return [change];
    if (op === 't') {
      const commitPosition = commitPositionOf({ sequence: readSequence(reading) });
      return [{ ...change, commitPosition }];
    }
    // A keyless table's change (the keyed ones returned above).
    const keyless: KeylessRows<number> = {
      before: reading.beforeAt < 0 ? null : reading.beforeAt,
      after: reading.afterAt < 0 ? null : reading.afterAt,
      convert: (at, keylessBudget) => rows.readRow(reading.valueBytes, at, keylessBudget),
      sequence: () => readSequence(reading),
    };
    return [keylessChange(change, keyless, decoded)];
  };

  return poisonUntypedErrors<DecodedRecord, RowChange>('the change event does not convert', {
    name: 'transform',
    process(decoded) {
      if (decoded.reading) return convertReading(decoded, decoded.reading);
      const value = decoded.value;
      if (value === null) return []; // tombstone
      return convertEnvelope(decoded, value);
    },
  });
}

/**
 * A change as one literal, its fields always in this order (one shape for every change): made
 * whole, without a base object spread into it, for the keyed events that are nearly all of them.
 */
function rowChange(
  table: TableRef,
  op: ChangeOp,
  position: bigint,
  sourceTsMs: number,
  txId: string | null,
  schema: RowChange['schema'],
  origin: RowChange['origin'],
  key: RowChange['key'],
  after: RowChange['after'],
): RowChange {
  return { table, op, position, sourceTsMs, txId, schema, origin, key, after };
}

/** avsc's key and envelope of a compiled reading (its bytes are checked: they decode). */
function materialize(
  decoded: DecodedRecord,
  reading: EnvelopeReading,
): [DecodedRecord, Record<string, unknown>] {
  const keyType = decoded.keySchema?.type;
  const keyBytes = reading.keyBytes;
  const key = keyBytes && keyType ? keyType.fromBuffer(keyBytes.subarray(reading.keyAt)) : null;
  const valueType = (decoded.valueSchema as NonNullable<DecodedRecord['valueSchema']>).type;
  const value = valueType.fromBuffer(reading.valueBytes.subarray(reading.bodyAt)) as Record<
    string,
    unknown
  >;
  return [{ ...decoded, key: key as Record<string, unknown> | null, value }, value];
}

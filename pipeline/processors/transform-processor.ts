// Transform: a decoded Debezium envelope -> RowChange, with every value converted to exact
// PostgreSQL text by the column codecs of its schema. Tombstones (null value after a delete) are
// filtered: the delete event before them carries the change. The text a message converts to is
// bounded by its size (TextBudget), and whatever a codec throws on odd input is that record's
// fault: it is dead-lettered (poisonUntypedErrors), never a reason to stop the topic.

import { PoisonMessageError, SchemaIncompatibleError } from '../../core/errors.js';
import {
  type EnvelopeColumn,
  type EnvelopeSchema,
  readEnvelopeSchema,
} from '../codec/envelope-schema.js';
import { TextBudget } from '../codec/text-budget.js';
import { type ChangeOp, type PgRow, type RowChange, UNCHANGED_TOAST } from '../row-change.js';
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
  for (const c of columns) row[c.column] = c.codec.toPg(record[c.field], budget);
  return row;
}

const messageBytes = (decoded: DecodedRecord): number =>
  (decoded.record.key?.length ?? 0) + (decoded.record.value?.length ?? 0);

/**
 * A change of a table without a key (no primary key, REPLICA IDENTITY FULL): an update or delete
 * names its row by the full `before` row, which only REPLICA IDENTITY FULL sends; without it the
 * table stops with the fix. (The sink checks the source's identity and the single partition.)
 */
function keylessChange(
  base: Omit<RowChange, 'key' | 'after'>,
  value: Record<string, unknown>,
  envelope: EnvelopeSchema,
  decoded: DecodedRecord,
): RowChange {
  const table = `${base.table.schema}.${base.table.name}`;
  const budget = new TextBudget(messageBytes(decoded));
  if (base.op === 'r') {
    if (!value.after) throw new PoisonMessageError('op r event without `after`');
    const after = convertRow(envelope.rowColumns, value.after as Record<string, unknown>, budget);
    return { ...base, key: {}, after };
  }
  const streamed = { ...base, commitPosition: commitPositionOf(value.source as Source) };
  if (base.op === 'c') {
    if (!value.after) throw new PoisonMessageError('op c event without `after`');
    const after = convertRow(envelope.rowColumns, value.after as Record<string, unknown>, budget);
    return { ...streamed, key: {}, after };
  }
  if (!value.before) {
    throw new SchemaIncompatibleError(
      `table ${table} has no primary key and its op ${base.op} event carries no \`before\` row: pgferry applies a keyless table's updates and deletes by full-row match, which needs ALTER TABLE ${table} REPLICA IDENTITY FULL on the source (or give it a primary key)`,
      { table },
    );
  }
  const before = convertRow(envelope.rowColumns, value.before as Record<string, unknown>, budget);
  if (base.op === 'd') return { ...streamed, key: {}, after: null, before };
  if (!value.after) throw new PoisonMessageError(`op ${base.op} event without \`after\``);
  const after = convertRow(envelope.rowColumns, value.after as Record<string, unknown>, budget);
  return { ...streamed, key: {}, after, before };
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

export function createTransformProcessor(): Processor<DecodedRecord, RowChange> {
  const schemas = new Map<string, EnvelopeSchema>();

  const envelopeSchemaOf = (decoded: DecodedRecord): EnvelopeSchema => {
    const valueSchema = decoded.valueSchema;
    if (!valueSchema) throw new PoisonMessageError('change event without a value schema');
    const id = `${decoded.keySchema?.id ?? 'none'}:${valueSchema.id}`;
    let schema = schemas.get(id);
    if (!schema) {
      schema = readEnvelopeSchema(
        { key: decoded.keySchema?.id ?? null, value: valueSchema.id },
        decoded.keySchema?.json ?? null,
        valueSchema.json,
      );
      schemas.set(id, schema);
    }
    return schema;
  };

  return poisonUntypedErrors<DecodedRecord, RowChange>('the change event does not convert', {
    name: 'transform',
    process(decoded) {
      const value = decoded.value;
      if (value === null) return []; // tombstone
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
      const envelope = envelopeSchemaOf(decoded);
      const base = {
        table: { schema: source.schema, name: source.table },
        op,
        position: source.lsn,
        sourceTsMs:
          typeof source.ts_ms === 'bigint' ? Number(source.ts_ms) : Number(source.ts_ms ?? 0),
        txId: source.txId === null || source.txId === undefined ? null : String(source.txId),
        schema: envelope.table,
        origin: {
          topic: decoded.record.topic,
          partition: decoded.record.partition,
          offset: decoded.record.offset,
        },
      };
      if (op === 't') {
        // A keyless table's truncate is ordered with its streamed changes (see keylessChange).
        const commitPosition = commitPositionOf(source);
        return [{ ...base, key: {}, after: null, commitPosition }];
      }

      if (envelope.keyColumns.length === 0) return [keylessChange(base, value, envelope, decoded)];
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
        key[c.column] = v;
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
    },
  });
}

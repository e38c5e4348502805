// Reads a Debezium key/value schema pair once: which Avro field is which source column (Debezium
// may rename fields to be valid Avro; `__debezium.source.column.name` keeps the real name), the
// codec of each column, and the primary key. Cached per (key schema id, value schema id).

import { PoisonMessageError, SchemaIncompatibleError } from '../../core/errors.js';
import type { TableSchema } from '../table-schema.js';
import { type AvroJson, type AvroJsonObject, collectNamedTypes } from './avro-json.js';
import { type ColumnCodec, createColumnCodec } from './column-codec.js';
import { readColumnDefault } from './column-default.js';

export interface EnvelopeColumn {
  /** Field name in the Avro record. */
  field: string;
  /** Column name in PostgreSQL. */
  column: string;
  codec: ColumnCodec;
  /** The source's constant default as PostgreSQL text, when the schema carries one. */
  defaultValue?: string;
}

export interface EnvelopeSchema {
  table: TableSchema;
  /** Columns of the row (`before`/`after`) record. */
  rowColumns: EnvelopeColumn[];
  /** Primary-key columns, from the key schema (empty when the topic has no key schema). */
  keyColumns: EnvelopeColumn[];
}

/** The message's key schema was not made for its value schema (see readKeyColumns). */
export class KeySchemaMismatchError extends PoisonMessageError {}

type AvroField = { name: string; type: AvroJson; default?: unknown };

function fieldsOf(record: AvroJson): AvroField[] {
  if (typeof record !== 'object' || Array.isArray(record) || record.type !== 'record') {
    throw new SchemaIncompatibleError('expected an Avro record schema');
  }
  return record.fields ?? [];
}

function columnsOf(
  fields: AvroField[],
  named: ReturnType<typeof collectNamedTypes>,
): EnvelopeColumn[] {
  return fields.map((field) => {
    const branch = Array.isArray(field.type) ? field.type.find((t) => t !== 'null') : field.type;
    const params =
      typeof branch === 'object' && branch !== null && !Array.isArray(branch)
        ? ((branch as AvroJsonObject)['connect.parameters'] ?? {})
        : {};
    let codec: ColumnCodec;
    try {
      codec = createColumnCodec(field.type, named);
    } catch (error) {
      if (error instanceof SchemaIncompatibleError) {
        throw new SchemaIncompatibleError(`column ${field.name}: ${error.message}`, {
          cause: error,
        });
      }
      throw error;
    }
    const defaultValue = readColumnDefault(field, codec, named);
    return {
      field: field.name,
      column: params['__debezium.source.column.name'] ?? field.name,
      codec,
      ...(defaultValue === undefined ? {} : { defaultValue }),
    };
  });
}

/** The row record of a Debezium envelope: the record branch of `before` (defined inline there). */
function rowRecordOf(envelope: AvroJson, named: ReturnType<typeof collectNamedTypes>): AvroJson {
  const before = fieldsOf(envelope).find((f) => f.name === 'before');
  if (!before)
    throw new SchemaIncompatibleError('not a Debezium change event schema (no `before` field)');
  const branches = Array.isArray(before.type) ? before.type : [before.type];
  for (const branch of branches) {
    if (branch === 'null') continue;
    if (typeof branch === 'string') {
      const found = named.get(branch);
      if (found) return found;
    } else {
      return branch;
    }
  }
  throw new SchemaIncompatibleError('Debezium envelope without a row record');
}

/**
 * The key's columns, matched to the row's. Debezium makes a message's key and value schemas from
 * one table, so a key that does not fit its row (a field the row lacks, a key that is no record)
 * was paired with it by someone else: that message is poison, not a reason to stop the table.
 */
function readKeyColumns(keySchema: AvroJson, rowColumns: EnvelopeColumn[]): EnvelopeColumn[] {
  // Key fields may lack the propagated source name: their Avro field name is the row field's.
  const rowByField = new Map(rowColumns.map((c) => [c.field, c]));
  let keys: EnvelopeColumn[];
  try {
    keys = columnsOf(fieldsOf(keySchema), collectNamedTypes(keySchema));
  } catch (error) {
    if (!(error instanceof SchemaIncompatibleError)) throw error;
    throw new KeySchemaMismatchError(`the key schema does not fit the row: ${error.message}`, {
      cause: error,
    });
  }
  return keys.map((key) => {
    const row = rowByField.get(key.field);
    if (!row) {
      throw new KeySchemaMismatchError(
        `the key schema does not fit the row: key field ${key.field} is not a field of the row`,
      );
    }
    return { ...key, column: row.column };
  });
}

export function readEnvelopeSchema(
  ids: { key: number | null; value: number },
  keySchema: AvroJson | null,
  valueSchema: AvroJson,
): EnvelopeSchema {
  const named = collectNamedTypes(valueSchema);
  const rowColumns = columnsOf(fieldsOf(rowRecordOf(valueSchema, named)), named);
  const keyColumns = keySchema ? readKeyColumns(keySchema, rowColumns) : [];
  return {
    rowColumns,
    keyColumns,
    table: {
      id: `${ids.key ?? 'none'}:${ids.value}`,
      columns: rowColumns.map((c) => ({
        name: c.column,
        pgType: c.codec.pgType,
        nullable: c.codec.nullable,
        // A key column always carries its value; its default (often Debezium's 0 for a serial)
        // has no use on the target.
        ...(c.defaultValue === undefined || keyColumns.some((k) => k.field === c.field)
          ? {}
          : { defaultValue: c.defaultValue }),
      })),
      primaryKey: keyColumns.map((c) => c.column),
    },
  };
}

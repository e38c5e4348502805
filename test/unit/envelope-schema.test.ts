// Reading real Debezium key/value schemas (schemas/examples): column names, types, primary key.
import { describe, expect, it } from 'vitest';
import { PoisonMessageError, SchemaIncompatibleError } from '../../core/errors.js';
import type { AvroJson, AvroJsonObject } from '../../pipeline/codec/avro-json.js';
import {
  KeySchemaMismatchError,
  readEnvelopeSchema,
} from '../../pipeline/codec/envelope-schema.js';
import { type FixtureTopic, loadMessages, loadSchema } from '../support/debezium-fixtures.js';

function read(topic: FixtureTopic, withKey = true) {
  const { schemaIds } = loadMessages(topic);
  return readEnvelopeSchema(
    { key: withKey ? schemaIds.key : null, value: schemaIds.value as number },
    withKey ? loadSchema(topic, 'key') : null,
    loadSchema(topic, 'value'),
  );
}

const hex = (text: string): Buffer => Buffer.from(text, 'hex');

describe('readEnvelopeSchema on real Debezium schemas', () => {
  it('maps every typeprobe field to its source column, keeping "Weird-Name"', () => {
    const schema = read('cdc.public.typeprobe');
    expect(schema.rowColumns.map((c) => [c.field, c.column])).toEqual([
      ['id', 'id'],
      ['Weird_Name', 'Weird-Name'],
      ['n', 'n'],
      ['n2', 'n2'],
      ['v', 'v'],
      ['c', 'c'],
      ['ts', 'ts'],
      ['tstz', 'tstz'],
      ['t', 't'],
      ['ttz', 'ttz'],
      ['d', 'd'],
      ['iv', 'iv'],
      ['u', 'u'],
      ['j', 'j'],
      ['b', 'b'],
      ['arr', 'arr'],
      ['tarr', 'tarr'],
      ['m', 'm'],
      ['bo', 'bo'],
      ['f4', 'f4'],
      ['f8', 'f8'],
      ['bits', 'bits'],
      ['money', 'money'],
    ]);
    expect(schema.table.columns.slice(0, 4)).toEqual([
      { name: 'id', pgType: 'bigint', nullable: false },
      { name: 'Weird-Name', pgType: 'text', nullable: true },
      { name: 'n', pgType: 'numeric', nullable: true },
      { name: 'n2', pgType: 'numeric(10,3)', nullable: true },
    ]);
  });

  it('takes the primary key from the key schema', () => {
    const typeprobe = read('cdc.public.typeprobe');
    expect(typeprobe.table.primaryKey).toEqual(['id']);
    expect(typeprobe.table.id).toBe('23:24');
    expect(typeprobe.keyColumns.map((c) => [c.field, c.column])).toEqual([['id', 'id']]);
    expect(typeprobe.keyColumns[0]?.codec.toPg(1n)).toBe('1');

    const composite = read('cdc.public.fixture_composite');
    expect(composite.table.primaryKey).toEqual(['tenant_id', 'order_no']);
    expect(
      composite.keyColumns.map((c) => c.codec.toPg(c.field === 'order_no' ? 100n : 1)),
    ).toEqual(['1', '100']);
  });

  it('names a renamed primary-key column after the row column ("Order-Id", not Order_Id)', () => {
    const schema = read('cdc.public.fixture_weird_key');
    expect(schema.keyColumns.map((c) => [c.field, c.column])).toEqual([['Order_Id', 'Order-Id']]);
    expect(schema.table.primaryKey).toEqual(['Order-Id']);
    expect(schema.table.columns.map((c) => c.name)).toEqual(['Order-Id', 'Note Text']);
  });

  it('has no primary key without a key schema', () => {
    const schema = read('cdc.public.fixture_composite', false);
    expect(schema.keyColumns).toEqual([]);
    expect(schema.table.primaryKey).toEqual([]);
    expect(schema.table.id).toBe(
      `none:${loadMessages('cdc.public.fixture_composite').schemaIds.value}`,
    );
  });

  it('resolves a second VariableScaleDecimal column that refers to the type by name', () => {
    const valueSchema = loadSchema('cdc.fixture_precise.varnum', 'value') as AvroJsonObject;
    const before = valueSchema.fields?.find((f) => f.name === 'before');
    if (!before) throw new Error('no `before` field');
    const row = ((before.type as AvroJson[])[1] as AvroJsonObject).fields ?? [];
    expect(row.find((f) => f.name === 'ratio')?.type).toEqual([
      'null',
      'io.debezium.data.VariableScaleDecimal',
    ]);

    const schema = read('cdc.fixture_precise.varnum');
    const ratio = schema.rowColumns.find((c) => c.field === 'ratio');
    expect(ratio?.column).toBe('ratio');
    expect(ratio?.codec.pgType).toBe('numeric');
    expect(ratio?.codec.nullable).toBe(true);
    expect(ratio?.codec.toPg({ scale: 20, value: hex('01') })).toBe('0.00000000000000000001');
    expect(schema.table.columns.map((c) => `${c.name} ${c.pgType}`)).toEqual([
      'id integer',
      'amount numeric',
      'ratio numeric',
      'fixed numeric(38,10)',
    ]);
  });

  it('decodes a renamed column whose type is a named reference', () => {
    const schema = read('cdc.fixture_precise.named_ref');
    const net = schema.rowColumns[2];
    expect(net?.field).toBe('Net_Amount');
    expect(net?.codec.toPg({ scale: 2, value: hex('fc63') })).toBe('-9.25');
  });

  // Known gap: the reference carries no connect.parameters, so `__debezium.source.column.name`
  // is missing and only the adjusted Avro name is left (see schemas/examples/README.md).
  it.fails('keeps the source name of a renamed column whose type is a named reference', () => {
    const schema = read('cdc.fixture_precise.named_ref');
    expect(schema.table.columns.map((c) => c.name)).toEqual(['id', 'Gross-Amount', 'Net-Amount']);
  });
});

describe('readEnvelopeSchema errors', () => {
  const keySchema = loadSchema('cdc.public.typeprobe', 'key');

  it('refuses a value schema without `before`', () => {
    const notDebezium: AvroJson = {
      type: 'record',
      name: 'Plain',
      fields: [{ name: 'id', type: 'long' }],
    };
    expect(() => readEnvelopeSchema({ key: 1, value: 2 }, keySchema, notDebezium)).toThrow(
      SchemaIncompatibleError,
    );
    expect(() => readEnvelopeSchema({ key: 1, value: 2 }, keySchema, notDebezium)).toThrow(
      /no `before` field/,
    );
  });

  it('refuses a value schema that is not a record', () => {
    expect(() => readEnvelopeSchema({ key: null, value: 2 }, null, 'string')).toThrow(
      SchemaIncompatibleError,
    );
  });

  it('refuses a key field that is not a column of the row as poison (another table’s key)', () => {
    const otherKey: AvroJson = {
      type: 'record',
      name: 'Key',
      fields: [{ name: 'missing', type: 'int' }],
    };
    const read = () =>
      readEnvelopeSchema(
        { key: 1, value: 2 },
        otherKey,
        loadSchema('cdc.public.typeprobe', 'value'),
      );
    // Debezium makes both from one table: a mismatch is a message, not a schema change.
    expect(read).toThrow(KeySchemaMismatchError);
    expect(read).toThrow(PoisonMessageError);
    expect(read).not.toThrow(SchemaIncompatibleError);
    expect(() =>
      readEnvelopeSchema(
        { key: 1, value: 2 },
        'string',
        loadSchema('cdc.public.typeprobe', 'value'),
      ),
    ).toThrow(KeySchemaMismatchError);
  });

  it('names the column whose type has no exact conversion', () => {
    const value: AvroJson = {
      type: 'record',
      name: 'Envelope',
      fields: [
        {
          name: 'before',
          type: [
            'null',
            {
              type: 'record',
              name: 'Value',
              fields: [{ name: 'shape', type: ['null', { type: 'map', values: 'string' }] }],
            },
          ],
        },
      ],
    };
    expect(() => readEnvelopeSchema({ key: null, value: 3 }, null, value)).toThrow(
      /column shape: unsupported column type/,
    );
  });
});

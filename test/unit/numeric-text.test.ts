// Numeric columns in `decimal.handling.mode=string`: the text Debezium 3.6 sends (captured on the
// local stack: BigDecimal.toPlainString(), NAN / POSITIVE_INFINITY / NEGATIVE_INFINITY) becomes
// PostgreSQL's numeric input digit for digit; a text column with the same words stays text.
import { describe, expect, it } from 'vitest';
import {
  type AvroJson,
  type AvroJsonObject,
  collectNamedTypes,
} from '../../pipeline/codec/avro-json.js';
import { type ColumnCodec, createColumnCodec } from '../../pipeline/codec/column-codec.js';
import {
  checkNumericText,
  NUMERIC_MAX_INTEGER_DIGITS,
  NUMERIC_MAX_SCALE,
  numericIdentity,
} from '../../pipeline/codec/decimal.js';
import { readEnvelopeSchema } from '../../pipeline/codec/envelope-schema.js';
import { MessageBoundsError } from '../../pipeline/codec/message-bounds-error.js';
import { TextBudget } from '../../pipeline/codec/text-budget.js';
import { createDedupeProcessor } from '../../pipeline/processors/dedupe-processor.js';
import { Topology } from '../../pipeline/processors/topology.js';
import { TopologyTestDriver } from '../../pipeline/processors/topology-test-driver.js';
import type { RowChange } from '../../pipeline/row-change.js';
import { mergeSql } from '../../sink/merge-sql.js';
import { type FixtureTopic, loadMessages, loadSchema } from '../support/debezium-fixtures.js';

/** A string field as Debezium writes it with column.propagate.source.type (real shape). */
const stringField = (sourceType: string, extra: Record<string, string> = {}): AvroJsonObject => ({
  type: 'string',
  'connect.parameters': {
    '__debezium.source.column.type': sourceType,
    '__debezium.source.column.name': 'n',
    ...extra,
  },
});

const codecOf = (type: AvroJson): ColumnCodec =>
  createColumnCodec(['null', type], collectNamedTypes(type));

describe('numeric text (decimal.handling.mode=string)', () => {
  it('keeps the display scale and every digit', () => {
    for (const text of [
      '16.0000000000000000',
      '-0.0000000001',
      '0.000000000000000000000000000001',
      '0.00',
      '0',
      '100000000000000000000',
      `${'9'.repeat(1000)}.5`,
    ]) {
      expect(checkNumericText(text)).toBe(text);
    }
  });

  it("renames Debezium's special values to PostgreSQL's spelling", () => {
    expect(checkNumericText('NAN')).toBe('NaN');
    expect(checkNumericText('POSITIVE_INFINITY')).toBe('Infinity');
    expect(checkNumericText('NEGATIVE_INFINITY')).toBe('-Infinity');
    expect(checkNumericText('NaN')).toBe('NaN');
  });

  it('refuses anything that is not a plain decimal', () => {
    for (const text of [
      '',
      '1e5',
      '1.',
      '.5',
      '+1',
      ' 1',
      '1,5',
      'Infinity; DROP',
      '0x10',
      'nan',
    ]) {
      expect(() => checkNumericText(text), text).toThrow(TypeError);
    }
  });

  it("refuses text beyond PostgreSQL numeric's bounds", () => {
    expect(checkNumericText(`0.${'1'.repeat(NUMERIC_MAX_SCALE)}`)).toHaveLength(
      NUMERIC_MAX_SCALE + 2,
    );
    expect(() => checkNumericText(`0.${'1'.repeat(NUMERIC_MAX_SCALE + 1)}`)).toThrow(
      MessageBoundsError,
    );
    expect(() => checkNumericText('1'.repeat(NUMERIC_MAX_INTEGER_DIGITS + 1))).toThrow(
      MessageBoundsError,
    );
    expect(checkNumericText(`-${'1'.repeat(NUMERIC_MAX_INTEGER_DIGITS)}`)).toHaveLength(
      NUMERIC_MAX_INTEGER_DIGITS + 1,
    );
  });
});

describe('column codecs of string-mode numerics', () => {
  it('reads a NUMERIC string column as numeric, specials renamed', () => {
    const codec = codecOf(stringField('NUMERIC', { '__debezium.source.column.length': '0' }));
    expect(codec.pgType).toBe('numeric');
    expect(codec.toPg('16.0000000000000000')).toBe('16.0000000000000000');
    expect(codec.toPg('POSITIVE_INFINITY')).toBe('Infinity');
    expect(codec.toPg(null)).toBeNull();
    expect(() => codec.toPg('abc')).toThrow(TypeError);
  });

  it('keeps numeric(p,s) as its DDL type', () => {
    const codec = codecOf(
      stringField('NUMERIC', {
        '__debezium.source.column.length': '10',
        '__debezium.source.column.scale': '2',
      }),
    );
    expect(codec.pgType).toBe('numeric(10,2)');
    expect(codec.toPg('12.30')).toBe('12.30');
  });

  it('leaves a text column with the same words alone', () => {
    const codec = codecOf(stringField('TEXT'));
    expect(codec.pgType).toBe('text');
    expect(codec.toPg('POSITIVE_INFINITY')).toBe('POSITIVE_INFINITY');
    expect(codec.toPg('abc')).toBe('abc');
  });

  it('reads a numeric[] (the array carries _NUMERIC, its string items nothing)', () => {
    const codec = codecOf({
      type: 'array',
      items: ['null', 'string'],
      'connect.parameters': { '__debezium.source.column.type': '_NUMERIC' },
    });
    expect(codec.pgType).toBe('numeric[]');
    expect(codec.toPg(['1.50', null, 'NAN', '2.000'])).toBe('{"1.50",NULL,"NaN","2.000"}');
    expect(() => codec.toPg(['1', 'x'])).toThrow(TypeError);
  });

  it('spends the text from the message budget', () => {
    const codec = codecOf(stringField('NUMERIC'));
    const budget = new TextBudget(1);
    const long = `0.${'1'.repeat(16_383)}`;
    for (let i = 0; i < 4; i += 1) expect(codec.toPg(long, budget)).toBe(long);
    expect(() => codec.toPg(long, budget)).toThrow(MessageBoundsError);
  });
});

describe('numeric keys: one row whatever the display scale', () => {
  it('gives every text of one numeric value one identity', () => {
    expect(numericIdentity('16.0000000000000000')).toBe('16');
    expect(numericIdentity('16.00')).toBe('16');
    expect(numericIdentity('16')).toBe('16');
    expect(numericIdentity('100')).toBe('100');
    expect(numericIdentity('-0.00')).toBe('0');
    expect(numericIdentity('0.000100')).toBe('0.0001');
    expect(numericIdentity('-1.50')).toBe('-1.5');
    expect(numericIdentity('007.10')).toBe('7.1');
    expect(numericIdentity('NaN')).toBe('NaN');
    expect(numericIdentity('-Infinity')).toBe('-Infinity');
    expect(numericIdentity('1.05')).not.toBe(numericIdentity('1.5'));
  });

  const change = (key: string, op: 'c' | 'd', position: bigint, pgType: string): RowChange => ({
    table: { schema: 'public', name: 'prices' },
    op,
    key: { id: key },
    after: op === 'd' ? null : { id: key, note: 'second' },
    position,
    sourceTsMs: 0,
    txId: null,
    schema: { id: '1:2', columns: [{ name: 'id', pgType, nullable: false }], primaryKey: ['id'] },
    origin: { topic: 'cdc.public.prices', partition: 0, offset: String(position) },
  });

  it('folds a delete of key 16.0 and an insert of 16.00 into the insert (one staged row)', async () => {
    const driver = new TopologyTestDriver(
      Topology.from<RowChange>().through(createDedupeProcessor()),
    );
    const { outputs } = await driver.pipe([
      change('16.0', 'd', 10n, 'numeric'),
      change('16.00', 'c', 11n, 'numeric'),
    ]);
    expect(outputs.map((c) => [c.op, c.key.id])).toEqual([['c', '16.00']]);
  });

  it('keeps text keys of other types apart', async () => {
    const driver = new TopologyTestDriver(
      Topology.from<RowChange>().through(createDedupeProcessor()),
    );
    const { outputs } = await driver.pipe([
      change('16.0', 'd', 10n, 'text'),
      change('16.00', 'c', 11n, 'text'),
    ]);
    expect(outputs).toHaveLength(2);
  });
});

describe('merge of an unconstrained numeric key', () => {
  const target = {
    schema: 'public',
    name: 'prices',
    positionTable: 'pos_prices',
    primaryKey: ['id'],
  };
  const upsertOf = (keyType: string) =>
    mergeSql(
      target,
      {
        name: 'stage',
        columns: [
          { name: 'id', type: keyType },
          { name: 'note', type: 'text' },
        ],
      },
      [''],
    ).at(-1);

  it('rewrites the key text on conflict (16.0 -> 16.00 is the same row, with a new scale)', () => {
    expect(upsertOf('numeric')).toMatch(
      /ON CONFLICT \("id"\) DO UPDATE SET "id" = EXCLUDED\."id", "note" = EXCLUDED\."note"$/,
    );
  });

  it('leaves other keys alone, numeric(p,s) included (its scale is fixed)', () => {
    for (const type of ['integer', 'numeric(12,2)', 'text']) {
      expect(upsertOf(type)).toMatch(
        /ON CONFLICT \("id"\) DO UPDATE SET "note" = EXCLUDED\."note"$/,
      );
    }
  });
});

describe('switching a connector from precise to string', () => {
  const columnsOf = (topic: FixtureTopic) => {
    const { schemaIds } = loadMessages(topic);
    const schema = readEnvelopeSchema(
      { key: schemaIds.key, value: schemaIds.value as number },
      loadSchema(topic, 'key'),
      loadSchema(topic, 'value'),
    );
    return new Map(schema.table.columns.map((c) => [c.name, c.pgType]));
  };

  it('gives every numeric column the same PostgreSQL type in both modes', () => {
    // The same numeric columns, captured by the real connector in each mode.
    const precise = columnsOf('cdc.fixture_precise.varnum');
    const text = columnsOf('cdc.public.fixture_varnum');
    for (const column of ['id', 'amount', 'ratio', 'fixed']) {
      expect(text.get(column), column).toBe(precise.get(column));
    }
    expect(text.get('fixed')).toBe('numeric(38,10)');
    expect(text.get('amount')).toBe('numeric');
  });
});

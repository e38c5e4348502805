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
} from '../../pipeline/codec/decimal.js';
import { MessageBoundsError } from '../../pipeline/codec/message-bounds-error.js';
import { TextBudget } from '../../pipeline/codec/text-budget.js';

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

// Column codecs: Debezium values (as avsc decodes them) -> PostgreSQL text input. Expected texts
// were checked with PostgreSQL 15 (`SELECT '<text>'::<type>`) where the form is not obvious.
import { describe, expect, it } from 'vitest';
import { PoisonMessageError, SchemaIncompatibleError } from '../../core/errors.js';
import {
  type AvroJson,
  type AvroJsonObject,
  collectNamedTypes,
} from '../../pipeline/codec/avro-json.js';
import {
  type ColumnCodec,
  createColumnCodec,
  UNAVAILABLE_VALUE_PLACEHOLDER,
} from '../../pipeline/codec/column-codec.js';
import { pgTypeFromSourceType } from '../../pipeline/codec/pg-type-name.js';
import { UNCHANGED_TOAST } from '../../pipeline/row-change.js';
import {
  type FixtureTopic,
  fixtureSchemaLookup,
  loadMessages,
  loadSchema,
} from '../support/debezium-fixtures.js';

const semantic = (
  connectName: string,
  type: string,
  params: Record<string, string> = {},
): AvroJsonObject => ({
  type,
  'connect.version': 1,
  'connect.parameters': params,
  'connect.name': connectName,
});

const codecOf = (type: AvroJson): ColumnCodec =>
  createColumnCodec(['null', type], collectNamedTypes(type));

const hex = (text: string): Buffer => Buffer.from(text, 'hex');

/** The row record's fields of a real Debezium value schema, by Avro field name. */
function rowFieldsOf(topic: FixtureTopic): Map<string, AvroJson> {
  const envelope = loadSchema(topic, 'value') as AvroJsonObject;
  const before = envelope.fields?.find((f) => f.name === 'before');
  if (!before) throw new Error(`${topic}: no \`before\` field`);
  const row = (before.type as AvroJson[])[1] as AvroJsonObject;
  return new Map((row.fields ?? []).map((f) => [f.name, f.type]));
}

function realCodec(topic: FixtureTopic, field: string): ColumnCodec {
  const envelope = loadSchema(topic, 'value');
  const type = rowFieldsOf(topic).get(field);
  if (type === undefined) throw new Error(`${topic} has no field ${field}`);
  return createColumnCodec(type, collectNamedTypes(envelope));
}

const DECIMAL_10_3 = {
  type: 'bytes',
  scale: 3,
  precision: 10,
  'connect.version': 1,
  'connect.parameters': { scale: '3', 'connect.decimal.precision': '10' },
  'connect.name': 'org.apache.kafka.connect.data.Decimal',
  logicalType: 'decimal',
} satisfies AvroJsonObject;

const VARIABLE_SCALE_DECIMAL: AvroJsonObject = {
  type: 'record',
  name: 'VariableScaleDecimal',
  namespace: 'io.debezium.data',
  fields: [
    { name: 'scale', type: 'int' },
    { name: 'value', type: 'bytes' },
  ],
  'connect.name': 'io.debezium.data.VariableScaleDecimal',
};

describe('decimals', () => {
  const fixed = codecOf(DECIMAL_10_3);

  it.each([
    ['084d', '2.125'],
    ['f7b3', '-2.125'],
    ['ff', '-0.001'],
    ['80', '-0.128'],
    ['0080', '0.128'],
    ['00', '0.000'],
    ['', '0.000'],
    ['12d687', '1234.567'],
    ['ffffffffffffffffff', '-0.001'],
  ])('Decimal(10,3) bytes %s -> %s', (bytes, text) => {
    expect(fixed.toPg(hex(bytes))).toBe(text);
  });

  it('reads the real fixed-scale numeric(38,10) and money values', () => {
    const numeric38 = realCodec('cdc.fixture_precise.varnum', 'fixed');
    expect(numeric38.toPg(hex('fc81ee2a00'))).toBe('-1.5000000000');
    expect(numeric38.toPg(hex('ff'))).toBe('-0.0000000001');
    expect(numeric38.toPg(hex('018ee90ff6c373e0ee0c04d515'))).toBe(
      '12345678901234567890.0123456789',
    );
    const money = realCodec('cdc.public.typeprobe', 'money');
    expect(money.toPg(hex('04d2'))).toBe('12.34');
    expect(money.toPg(hex('8000000000000000'))).toBe('-92233720368547758.08');
  });

  const variable = codecOf(VARIABLE_SCALE_DECIMAL);
  it.each([
    [9, 'd81be4cdb941364e91c67eeb', '-12345678901234567890.123456789'],
    [20, '01', '0.00000000000000000001'],
    [4, '01', '0.0001'],
    [1, '0f', '1.5'],
    [0, '07', '7'],
    [0, 'ff', '-1'],
    [3, '', '0.000'],
    [-2, '7b', '12300'],
  ])('VariableScaleDecimal scale %i bytes %s -> %s', (scale, bytes, text) => {
    expect(variable.toPg({ scale, value: hex(bytes) })).toBe(text);
  });
});

describe('dates and times', () => {
  const date = codecOf(semantic('io.debezium.time.Date', 'int'));
  it.each([
    [0, '1970-01-01'],
    [-1, '1969-12-31'],
    [11_016, '2000-02-29'],
    [-25_509, '1900-02-28'],
    [-25_508, '1900-03-01'],
    [-719_162, '0001-01-01'],
    [-719_163, '0001-12-31 BC'],
    [-719_528, '0001-01-01 BC'],
    [-735_160, '0044-03-15 BC'],
    [-2_440_588, '4714-11-24 BC'],
    [101_548_538, '280000-06-15'],
    [2_145_042_905, '5874897-12-31'],
    [-2_147_472_692, 'infinity'],
    [-2_147_472_691, '-infinity'],
  ])('Date %i -> %s', (days, text) => {
    expect(date.toPg(days)).toBe(text);
  });

  const timeMillis = codecOf(semantic('io.debezium.time.Time', 'int'));
  it.each([
    [0, '00:00:00'],
    [45_296_789, '12:34:56.789000'],
    [86_399_999, '23:59:59.999000'],
  ])('Time (millis) %i -> %s', (millis, text) => {
    expect(timeMillis.toPg(millis)).toBe(text);
  });

  const microTime = codecOf(semantic('io.debezium.time.MicroTime', 'long'));
  it.each([
    [0n, '00:00:00'],
    [1n, '00:00:00.000001'],
    [45_296_789_000n, '12:34:56.789000'],
    [86_399_999_999n, '23:59:59.999999'],
    [86_400_000_000n, '24:00:00'],
  ])('MicroTime %s -> %s', (micros, text) => {
    expect(microTime.toPg(micros)).toBe(text);
  });

  it('NanoTime keeps microseconds', () => {
    const nanoTime = codecOf(semantic('io.debezium.time.NanoTime', 'long'));
    expect(nanoTime.toPg(45_296_789_123_000n)).toBe('12:34:56.789123');
    expect(nanoTime.toPg(86_400_000_000_000n)).toBe('24:00:00');
  });

  const timestampMillis = codecOf(semantic('io.debezium.time.Timestamp', 'long'));
  it.each([
    [0n, '1970-01-01 00:00:00'],
    [1_577_840_523_456n, '2020-01-01 01:02:03.456000'],
    [-1n, '1969-12-31 23:59:59.999000'],
    [-2_208_988_799_999n, '1900-01-01 00:00:00.001000'],
    [-62_167_219_200_000n, '0001-01-01 00:00:00 BC'],
    [9_223_372_036_825_200n, 'infinity'],
    [-9_223_372_036_832_400n, '-infinity'],
  ])('Timestamp (millis) %s -> %s', (millis, text) => {
    expect(timestampMillis.toPg(millis)).toBe(text);
  });

  it('Timestamp also takes a safe-integer number', () => {
    expect(timestampMillis.toPg(1_577_840_523_456)).toBe('2020-01-01 01:02:03.456000');
    expect(() => timestampMillis.toPg(1.5)).toThrow(TypeError);
  });

  const microTimestamp = codecOf(semantic('io.debezium.time.MicroTimestamp', 'long'));
  it.each([
    [0n, '1970-01-01 00:00:00'],
    [-1n, '1969-12-31 23:59:59.999999'],
    [-86_400_000_000n, '1969-12-31 00:00:00'],
    [-86_400_000_001n, '1969-12-30 23:59:59.999999'],
    [951_825_600_000_000n, '2000-02-29 12:00:00'],
    [-63_517_780_799_500_000n, '0044-03-15 12:00:00.500000 BC'],
    [-62_154_086_399_750_000n, '0001-06-01 00:00:00.250000 BC'],
    [-210_863_520_000_000_000n, '4713-01-01 00:00:00 BC'],
    [8_773_793_728_496_123_456n, '280000-06-15 12:34:56.123456'],
    [9_223_372_036_825_200_000n, 'infinity'],
    [-9_223_372_036_832_400_000n, '-infinity'],
  ])('MicroTimestamp %s -> %s', (micros, text) => {
    expect(microTimestamp.toPg(micros)).toBe(text);
  });

  it('NanoTimestamp rounds down to the microsecond, also before 1970', () => {
    const nano = codecOf(semantic('io.debezium.time.NanoTimestamp', 'long'));
    expect(nano.toPg(1_577_840_523_456_789_000n)).toBe('2020-01-01 01:02:03.456789');
    expect(nano.toPg(-1_000n)).toBe('1969-12-31 23:59:59.999999');
    expect(nano.toPg(-1n)).toBe('1969-12-31 23:59:59.999999');
  });

  const zoned = codecOf(semantic('io.debezium.time.ZonedTimestamp', 'string'));
  it.each([
    ['2026-11-27T20:07:39.638471Z', '2026-11-27T20:07:39.638471Z'],
    ['1969-07-20T20:17:40.500000Z', '1969-07-20T20:17:40.500000Z'],
    ['-0043-03-15T12:00:00.000000Z', '0044-03-15T12:00:00.000000Z BC'],
    ['0000-06-02T01:00:00.000000Z', '0001-06-02T01:00:00.000000Z BC'],
    ['+10000-01-01T00:00:00.000000Z', '10000-01-01T00:00:00.000000Z'],
    ['infinity', 'infinity'],
    ['-infinity', '-infinity'],
  ])('ZonedTimestamp %s -> %s', (iso, text) => {
    expect(zoned.toPg(iso)).toBe(text);
  });

  it('ZonedTime passes through (Debezium already normalised it to UTC)', () => {
    const zonedTime = codecOf(semantic('io.debezium.time.ZonedTime', 'string'));
    expect(zonedTime.toPg('10:00:00Z')).toBe('10:00:00Z');
    expect(zonedTime.toPg('14:58:59.999999Z')).toBe('14:58:59.999999Z');
  });

  it('Interval (string mode) passes the ISO-8601 duration through, signs and all', () => {
    const interval = codecOf(semantic('io.debezium.time.Interval', 'string'));
    expect(interval.toPg('P1Y2M3DT4H5M6.7S')).toBe('P1Y2M3DT4H5M6.7S');
    expect(interval.toPg('P-1Y-2M3DT-4H-5M-6.7S')).toBe('P-1Y-2M3DT-4H-5M-6.7S');
  });

  it('MicroDuration becomes a microseconds interval', () => {
    const duration = codecOf(semantic('io.debezium.time.MicroDuration', 'long'));
    expect(duration.toPg(1n)).toBe('1 microseconds');
    expect(duration.toPg(-90_061_000_001n)).toBe('-90061000001 microseconds');
    expect(duration.pgType).toBe('interval');
  });
});

describe('bits', () => {
  it("reads the real typeprobe record's B'10110' (bit 0 = rightmost)", async () => {
    const fixture = loadMessages('cdc.public.typeprobe');
    const bytes = Buffer.from(fixture.messages[0]?.value as string, 'base64');
    const schema = await fixtureSchemaLookup('cdc.public.typeprobe').getSchema(
      bytes.readUInt32BE(1),
    );
    const value = schema.type.fromBuffer(bytes.subarray(5)) as { after: { bits: Buffer } };
    expect(value.after.bits).toEqual(hex('16'));
    expect(realCodec('cdc.public.typeprobe', 'bits').toPg(value.after.bits)).toBe('10110');
  });

  it('reads bit(12) across two bytes, keeping leading zeros', () => {
    const bits12 = realCodec('cdc.public.fixture_types', 'bits12');
    expect(bits12.toPg(hex('050c'))).toBe('110000000101');
    expect(bits12.toPg(hex('01'))).toBe('000000000001');
    expect(bits12.toPg(hex(''))).toBe('000000000000');
  });

  it('reads bit varying up to the highest set bit (the length is not sent)', () => {
    const varbit = realCodec('cdc.public.fixture_types', 'vbits');
    expect(varbit.toPg(hex('05'))).toBe('101');
    expect(varbit.toPg(hex(''))).toBe('');
    expect(varbit.toPg(hex('0002'))).toBe('1000000000');
    expect(varbit.pgType).toBe('bit varying(10)');
  });
});

describe('strings, bytes and arrays', () => {
  it('passes Json, Uuid and Enum text through', () => {
    expect(codecOf(semantic('io.debezium.data.Json', 'string')).toPg('{"a": [1, 2]}')).toBe(
      '{"a": [1, 2]}',
    );
    expect(
      codecOf(semantic('io.debezium.data.Uuid', 'string')).toPg(
        '170f0d01-9918-4ddc-aaaf-76cb7cf297d5',
      ),
    ).toBe('170f0d01-9918-4ddc-aaaf-76cb7cf297d5');
    const mood = realCodec('cdc.public.typeprobe', 'm');
    expect(mood.toPg('happy')).toBe('happy');
  });

  it('writes bytea as hex', () => {
    const bytea = codecOf('bytes');
    expect(bytea.toPg(hex('deadbeef'))).toBe('\\xdeadbeef');
    expect(bytea.toPg(hex(''))).toBe('\\x');
  });

  it('quotes every array element, escapes quotes and backslashes, keeps NULL elements', () => {
    const text = realCodec('cdc.public.typeprobe', 'tarr');
    expect(text.toPg(['a,b', 'c"d'])).toBe('{"a,b","c\\"d"}');
    expect(text.toPg(['NULL', null, '', 'back\\slash', 'quo"te', 'a b', '{x}', 'ü'])).toBe(
      '{"NULL",NULL,"","back\\\\slash","quo\\"te","a b","{x}","ü"}',
    );
    expect(text.toPg([])).toBe('{}');
    const ints = realCodec('cdc.public.typeprobe', 'arr');
    expect(ints.toPg([1, null, 3])).toBe('{"1",NULL,"3"}');
    expect(ints.toPg([-2147483648])).toBe('{"-2147483648"}');
  });

  it('converts array elements with their own semantic type', () => {
    const dates = codecOf({
      type: 'array',
      items: ['null', semantic('io.debezium.time.Date', 'int')],
    });
    expect(dates.toPg([0, null, -735_160])).toBe('{"1970-01-01",NULL,"0044-03-15 BC"}');
    expect(dates.pgType).toBe('date[]');
  });
});

describe('primitives', () => {
  it('writes booleans as t/f', () => {
    const bool = codecOf('boolean');
    expect(bool.toPg(true)).toBe('t');
    expect(bool.toPg(false)).toBe('f');
  });

  it('writes float specials the way PostgreSQL reads them', () => {
    for (const type of ['float', 'double']) {
      const float = codecOf(type);
      expect(float.toPg(Number.NaN)).toBe('NaN');
      expect(float.toPg(Number.POSITIVE_INFINITY)).toBe('Infinity');
      expect(float.toPg(Number.NEGATIVE_INFINITY)).toBe('-Infinity');
      expect(float.toPg(-0)).toBe('-0');
      expect(float.toPg(0)).toBe('0');
    }
  });

  it('writes floats with enough digits to read back the same value', () => {
    expect(codecOf('float').toPg(Math.fround(0.1))).toBe('0.10000000149011612');
    expect(codecOf('double').toPg(0.1)).toBe('0.1');
    expect(codecOf('double').toPg(1e308)).toBe('1e+308');
    expect(codecOf('double').toPg(5e-324)).toBe('5e-324');
  });

  it('writes ints and longs exactly, also beyond 2^53', () => {
    expect(codecOf('int').toPg(-2147483648)).toBe('-2147483648');
    const long = codecOf('long');
    expect(long.toPg(9_007_199_254_740_993n)).toBe('9007199254740993');
    expect(long.toPg(-9_223_372_036_854_775_808n)).toBe('-9223372036854775808');
    expect(long.toPg(9_223_372_036_854_775_807n)).toBe('9223372036854775807');
    expect(long.toPg(42)).toBe('42');
  });
});

describe('NULL and unchanged TOAST', () => {
  it('maps null and a missing value to SQL NULL', () => {
    expect(codecOf('string').toPg(null)).toBeNull();
    expect(codecOf('string').toPg(undefined)).toBeNull();
    expect(codecOf(DECIMAL_10_3).toPg(null)).toBeNull();
  });

  it('maps the placeholder (string, bytes, one-element array) to UNCHANGED_TOAST', () => {
    expect(codecOf('string').toPg(UNAVAILABLE_VALUE_PLACEHOLDER)).toBe(UNCHANGED_TOAST);
    expect(codecOf('bytes').toPg(Buffer.from(UNAVAILABLE_VALUE_PLACEHOLDER))).toBe(UNCHANGED_TOAST);
    const array = codecOf({ type: 'array', items: ['null', 'string'] });
    expect(array.toPg([UNAVAILABLE_VALUE_PLACEHOLDER])).toBe(UNCHANGED_TOAST);
    expect(array.toPg([UNAVAILABLE_VALUE_PLACEHOLDER, 'x'])).toBe(
      `{"${UNAVAILABLE_VALUE_PLACEHOLDER}","x"}`,
    );
    expect(codecOf('string').toPg('__debezium_unavailable')).toBe('__debezium_unavailable');
  });
});

describe('PostgreSQL types for DDL', () => {
  it('gives every column of the real typeprobe schema its source type', () => {
    const fields = rowFieldsOf('cdc.public.typeprobe');
    const types = Object.fromEntries(
      [...fields.keys()].map((f) => [f, realCodec('cdc.public.typeprobe', f).pgType]),
    );
    expect(types).toEqual({
      id: 'bigint',
      Weird_Name: 'text',
      n: 'numeric',
      n2: 'numeric(10,3)',
      v: 'character varying(20)',
      c: 'character(3)',
      ts: 'timestamp(3) without time zone',
      tstz: 'timestamp(6) with time zone',
      t: 'time(6) without time zone',
      ttz: 'time(6) with time zone',
      d: 'date',
      iv: 'interval',
      u: 'uuid',
      j: 'jsonb',
      b: 'bytea',
      arr: 'integer[]',
      tarr: 'text[]',
      m: '"mood"',
      bo: 'boolean',
      f4: 'real',
      f8: 'double precision',
      bits: 'bit(5)',
      money: 'money',
    });
    expect(realCodec('cdc.public.typeprobe', 'id').nullable).toBe(false);
    expect(realCodec('cdc.public.typeprobe', 'n').nullable).toBe(true);
  });

  it('gives the fixture_types columns their source types', () => {
    const types = Object.fromEntries(
      ['i2', 'i8', 'ts6', 'ts0', 'ts3', 'js', 'vc', 'ip', 'bits12', 'vbits', 'mny'].map((f) => [
        f,
        realCodec('cdc.public.fixture_types', f).pgType,
      ]),
    );
    expect(types).toEqual({
      i2: 'smallint',
      i8: 'bigint',
      ts6: 'timestamp(6) without time zone',
      ts0: 'timestamp(0) without time zone',
      ts3: 'timestamp(3) without time zone',
      js: 'json',
      vc: 'character varying',
      ip: 'inet',
      bits12: 'bit(12)',
      vbits: 'bit varying(10)',
      mny: 'money',
    });
  });

  it.each([
    ['INT4', {}, 'integer'],
    [
      'NUMERIC',
      { '__debezium.source.column.length': '131089', '__debezium.source.column.scale': '0' },
      'numeric',
    ],
    [
      'NUMERIC',
      { '__debezium.source.column.length': '12', '__debezium.source.column.scale': '2' },
      'numeric(12,2)',
    ],
    ['NUMERIC', { '__debezium.source.column.length': '5' }, 'numeric(5,0)'],
    ['_NUMERIC', { '__debezium.source.column.length': '12' }, 'numeric[]'],
    ['_VARCHAR', { '__debezium.source.column.length': '20' }, 'character varying[]'],
    ['VARCHAR', { '__debezium.source.column.length': '2147483647' }, 'character varying'],
    ['BPCHAR', {}, 'character(1)'],
    ['BIT', {}, 'bit(1)'],
    ['VARBIT', { '__debezium.source.column.length': '10' }, 'bit varying(10)'],
    ['TIMESTAMPTZ', { '__debezium.source.column.scale': '6' }, 'timestamp(6) with time zone'],
    ['TIMESTAMP', { '__debezium.source.column.scale': '9' }, 'timestamp without time zone'],
    ['TIMETZ', {}, 'time with time zone'],
    ['SERIAL', {}, 'integer'],
    ['MOOD', {}, '"mood"'],
    ['We"ird', {}, '"we""ird"'],
  ])('pgTypeFromSourceType(%s, %j) = %s', (name, params, pgType) => {
    expect(pgTypeFromSourceType(name, params as Record<string, string>)).toBe(pgType);
  });

  it('falls back to the semantic type without a propagated source type', () => {
    expect(codecOf(DECIMAL_10_3).pgType).toBe('numeric(10,3)');
    expect(codecOf(VARIABLE_SCALE_DECIMAL).pgType).toBe('numeric');
    expect(codecOf(semantic('io.debezium.time.MicroTimestamp', 'long')).pgType).toBe(
      'timestamp without time zone',
    );
    expect(codecOf(semantic('io.debezium.time.ZonedTimestamp', 'string')).pgType).toBe(
      'timestamp with time zone',
    );
    expect(codecOf(semantic('io.debezium.data.Bits', 'bytes', { length: '5' })).pgType).toBe(
      'bit(5)',
    );
    expect(codecOf({ type: 'array', items: ['null', 'long'] }).pgType).toBe('bigint[]');
  });

  it('refuses types it cannot convert exactly', () => {
    expect(() => codecOf({ type: 'map', values: 'string' })).toThrow(SchemaIncompatibleError);
    expect(() => createColumnCodec(['null', 'string', 'long'], new Map())).toThrow(
      SchemaIncompatibleError,
    );
    expect(() => createColumnCodec('io.debezium.data.Nope', new Map())).toThrow(
      SchemaIncompatibleError,
    );
  });
});

describe('types Debezium passes as their text form (include.unknown.datatypes)', () => {
  const bytesOf = (sourceType: string): AvroJsonObject => ({
    type: 'bytes',
    'connect.parameters': { '__debezium.source.column.type': sourceType },
  });

  it('writes a composite or user-defined range value as the text PostgreSQL sent', () => {
    // As captured from Debezium 3.6.1 with include.unknown.datatypes=true (pgoutput's text form).
    const composite = codecOf(bytesOf('POSTAL_ADDRESS'));
    expect(composite.toPg(Buffer.from('("Main, ""st""",X)'))).toBe('("Main, ""st""",X)');
    expect(codecOf(bytesOf('PRICE_BAND')).toPg(Buffer.from('[1.5,3)'))).toBe('[1.5,3)');
    expect(composite.pgType).toBe('"postal_address"');
  });

  it('keeps bytea as bytea, and Bits and Avro decimals as before', () => {
    expect(codecOf(bytesOf('BYTEA')).toPg(Buffer.from('ab'))).toBe('\\x6162');
    expect(codecOf('bytes').toPg(Buffer.from('ab'))).toBe('\\x6162');
    const bits = (params: Record<string, string>) =>
      codecOf(semantic('io.debezium.data.Bits', 'bytes', { length: '3', ...params }));
    const value = Buffer.from([5]);
    expect(bits({ '__debezium.source.column.type': 'BIT' }).toPg(value)).toBe(bits({}).toPg(value));
  });

  it('dead-letters a value that is not valid UTF-8 instead of writing garbage', () => {
    expect(() => codecOf(bytesOf('POSTAL_ADDRESS')).toPg(Buffer.from([0xff, 0xfe]))).toThrow(
      PoisonMessageError,
    );
  });
});

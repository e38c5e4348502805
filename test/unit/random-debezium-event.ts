// Random Avro values of any avsc type (seeded), shaped toward what the column codecs meet: longs at
// and beyond 2^53 and Debezium's infinities, float specials, numeric and timestamp texts, the
// unchanged-TOAST placeholder (as a string, bytes, and a one-element array), decimal bytes, and
// now and then a value a codec refuses. `randomEnvelope` builds a whole Debezium change event of a
// value schema: op, source (lsn, ts_ms, txId, sequence), before/after, each also null or odd.
// For the property tests that compare the compiled decoder with avsc's path.
import type avro from 'avsc';
import type { SeededRandom } from '../support/seeded-random.js';

const PLACEHOLDER = '__debezium_unavailable_value';

const TEXTS = [
  '',
  'a',
  'public',
  'hello world',
  'tab\there',
  'new\nline',
  'back\\slash and "quotes"',
  'Grüße, 日本語, 🚀',
  '{"a": 1, "b": [true, null]}',
  '550e8400-e29b-41d4-a716-446655440000',
  PLACEHOLDER,
  // numeric text (decimal.handling.mode=string), and what is not
  '0',
  '-0',
  '12.50',
  '-12345678901234567890.000000001',
  '0.000',
  'NAN',
  'POSITIVE_INFINITY',
  'NEGATIVE_INFINITY',
  '1e5',
  '12.',
  '.5',
  `1${'0'.repeat(40)}`,
  // ZonedTimestamp / ZonedTime / Interval texts
  '2026-01-02T03:04:05.123456Z',
  '1970-01-01T00:00:00Z',
  '0000-06-01T00:00:00Z',
  '-0043-03-15T12:00:00Z',
  '+10000-01-01T00:00:00Z',
  '0001-01-01T00:00:00Z',
  'infinity',
  '-infinity',
  '12:34:56.789Z',
  'P1Y2M3DT4H5M6.5S',
  '-P3D',
  // source.sequence forms
  '["24023128","24023200"]',
  '[null,"24023200"]',
  '["x"]',
  'nope',
];

/** Longs where exactness bites: varint byte edges, around 2^53 and the int64 limits. */
export const EDGE_LONGS = [
  0n,
  1n,
  -1n,
  63n,
  -64n,
  64n,
  8191n,
  -8193n,
  2n ** 28n - 1n,
  2n ** 28n,
  2n ** 31n - 1n,
  -(2n ** 31n),
  2n ** 48n,
  2n ** 52n,
  2n ** 53n - 1n,
  2n ** 53n,
  2n ** 53n + 1n,
  -(2n ** 53n) + 1n,
  -(2n ** 53n),
  -(2n ** 53n) - 1n,
  2n ** 56n,
  2n ** 62n,
  2n ** 63n - 1n,
  -(2n ** 63n),
];

/** The edges, and what temporal codecs meet: days, timestamps, Debezium's stand-ins for infinity. */
const LONGS = [
  ...EDGE_LONGS,
  86_400_000_000n,
  86_400_000_000n * 10_957n + 1n,
  -86_400_000_000n - 1n,
  1_764_950_400_123_456n, // a MicroTimestamp of 2025
  1_764_950_400_123_456_789n, // a NanoTimestamp
  -62_135_596_800_000_000n, // 0001-01-01 in microseconds
  -210_866_803_200_000_000n, // 4713 BC
  9_223_372_036_825_200_000n, // Debezium's +infinity timestamp (µs)
  -9_223_372_036_832_400_000n, // and -infinity
  9_223_372_036_825_200n, // the same in ms (Timestamp)
  -9_223_372_036_832_400n,
  9_007_199_254_740n, // the largest ms that stay safe in µs
  9_007_199_254_741n,
];

/** Ints, with Debezium's date infinities (int32 limits moved to the 1970 epoch, wrapping round). */
const INTS = [
  0,
  1,
  -1,
  63,
  -64,
  2 ** 31 - 1,
  -(2 ** 31),
  10_957,
  -719_528,
  (2_147_483_647 + 10_957) | 0,
  -2_147_483_648 + 10_957,
  86_400_000,
];

const DOUBLES = [
  0,
  -0,
  1.5,
  -2.25,
  0.1,
  1e21,
  1e-7,
  5e-324,
  Number.MAX_VALUE,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  2 ** 53,
];

function randomLong(rnd: SeededRandom): bigint {
  switch (rnd.int(3)) {
    case 0:
      return rnd.pick(LONGS);
    case 1:
      return BigInt(rnd.int(2_000_001) - 1_000_000);
    default: {
      const bits = BigInt(rnd.int(2 ** 30)) * 2n ** 34n + BigInt(rnd.int(2 ** 30)) * 16n;
      return BigInt.asIntN(64, bits >> BigInt(rnd.int(60)));
    }
  }
}

function randomBytes(rnd: SeededRandom): Buffer {
  switch (rnd.int(6)) {
    case 0:
      return Buffer.from(PLACEHOLDER);
    case 1:
      return Buffer.from(rnd.pick(TEXTS));
    case 2:
      return Buffer.from([0xff, 0xfe, 0x80]); // not UTF-8
    default:
      return Buffer.from(Array.from({ length: rnd.int(14) }, () => rnd.int(256)));
  }
}

function randomText(rnd: SeededRandom): string {
  if (rnd.chance(0.7)) return rnd.pick(TEXTS);
  const length = rnd.int(12);
  let out = '';
  for (let i = 0; i < length; i++) {
    out += String.fromCodePoint(rnd.chance(0.8) ? 32 + rnd.int(95) : 128 + rnd.int(0x2000));
  }
  return out;
}

/** A random value of `type` that avsc can encode. */
export function randomAvroValue(type: avro.Type, rnd: SeededRandom, depth = 0): unknown {
  switch (type.typeName) {
    case 'null':
      return null;
    case 'boolean':
      return rnd.chance(0.5);
    case 'int':
      return rnd.chance(0.5) ? rnd.pick(INTS) : rnd.int(2_000_001) - 1_000_000;
    case 'long':
    case 'abstract:long':
      return randomLong(rnd);
    case 'float':
      return Math.fround(rnd.chance(0.5) ? rnd.pick(DOUBLES) : (rnd.next() - 0.5) * 1e6);
    case 'double':
      return rnd.chance(0.5) ? rnd.pick(DOUBLES) : (rnd.next() - 0.5) * 10 ** rnd.int(20);
    case 'string':
      return randomText(rnd);
    case 'bytes':
      return randomBytes(rnd);
    case 'fixed': {
      const size = (type as avro.types.FixedType).size;
      return Buffer.from(Array.from({ length: size }, () => rnd.int(256)));
    }
    case 'enum':
      return rnd.pick((type as avro.types.EnumType).symbols);
    case 'union:unwrapped': {
      const types = (type as avro.types.UnwrappedUnionType).types;
      const nullIndex = types.findIndex((t) => t.typeName === 'null');
      if (nullIndex >= 0 && rnd.chance(0.2)) return null;
      const branch = rnd.pick(types.filter((t) => t.typeName !== 'null'));
      return branch ? randomAvroValue(branch, rnd, depth) : null;
    }
    case 'array': {
      const items = (type as avro.types.ArrayType).itemsType;
      // An unchanged TOASTed array: one placeholder element.
      const itemKind = items.typeName.startsWith('union')
        ? (items as avro.types.UnwrappedUnionType).types.find((t) => t.typeName !== 'null')
            ?.typeName
        : items.typeName;
      if (itemKind === 'string' && rnd.chance(0.1)) return [PLACEHOLDER];
      if (depth > 3) return [];
      return Array.from({ length: rnd.int(5) }, () => randomAvroValue(items, rnd, depth + 1));
    }
    case 'map': {
      const values = (type as avro.types.MapType).valuesType as avro.Type;
      const out: Record<string, unknown> = {};
      for (let i = rnd.int(3); i > 0; i--) out[`k${rnd.int(9)}`] = randomAvroValue(values, rnd);
      return out;
    }
    case 'record':
    case 'error':
      return randomRecord(type as avro.types.RecordType, rnd, depth + 1);
    default:
      throw new Error(`randomAvroValue: no generator for ${type.typeName}`);
  }
}

function randomRecord(
  type: avro.types.RecordType,
  rnd: SeededRandom,
  depth: number,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of type.fields) {
    out[field.name] =
      type.name?.endsWith('VariableScaleDecimal') && field.name === 'scale'
        ? rnd.pick([0, 2, 10, -3, 16_383, 16_384, 400_000_000, -131_073])
        : randomAvroValue(field.type, rnd, depth);
  }
  return out;
}

const OPS = ['c', 'c', 'u', 'u', 'd', 'r', 't', 'x', ''];

/**
 * A Debezium change event of `envelope` (a value schema): random rows, and op and source fields
 * drawn from what Debezium writes and a few it never does.
 */
export function randomEnvelope(
  envelope: avro.types.RecordType,
  rnd: SeededRandom,
): Record<string, unknown> {
  const event = randomRecord(envelope, rnd, 0);
  const op = rnd.pick(OPS);
  event.op = op;
  const source = event.source as Record<string, unknown>;
  source.schema = rnd.chance(0.95) ? 'public' : 'other';
  source.table = rnd.chance(0.95) ? 'fixture' : 'ünïcode table';
  source.lsn = rnd.chance(0.95) ? randomLong(rnd) : null;
  source.txId = rnd.chance(0.8) ? randomLong(rnd) : null;
  source.ts_ms = randomLong(rnd);
  source.sequence = rnd.chance(0.7)
    ? rnd.pick(['["24023128","24023200"]', '[null,"24023200"]', '["x"]', 'nope', '[]'])
    : null;
  // Rows as Debezium sends them for the op, mostly; now and then one missing or extra.
  const odd = rnd.chance(0.1);
  if (op === 't' || (op === 'd' && !odd)) event.after = null;
  if (op === 'c' || op === 'r' || op === 't') event.before = odd ? event.before : null;
  if (odd && rnd.chance(0.5)) event.after = null;
  return event;
}

// Converts Debezium column values (as avsc decodes them from Avro) into PostgreSQL text input,
// exactly: decimals from their unscaled bytes, times from integer micro/nanoseconds, no floats
// in between. One codec per column, built once per schema from the field's Avro JSON.

import { SchemaIncompatibleError } from '../../core/errors.js';
import { type PgValue, UNCHANGED_TOAST } from '../row-change.js';
import { decodeDecimalBytes } from './decimal.js';

/** What PostgreSQL sends for an unchanged TOASTed column it did not log (Debezium's default). */
export const UNAVAILABLE_VALUE_PLACEHOLDER = '__debezium_unavailable_value';
const UNAVAILABLE_BYTES = Buffer.from(UNAVAILABLE_VALUE_PLACEHOLDER, 'utf8');

export type AvroJson = string | AvroJsonObject | AvroJson[];
export interface AvroJsonObject {
  type: AvroJson;
  name?: string;
  namespace?: string;
  fields?: { name: string; type: AvroJson }[];
  items?: AvroJson;
  logicalType?: string;
  scale?: number;
  precision?: number;
  'connect.name'?: string;
  'connect.parameters'?: Record<string, string>;
  [attribute: string]: unknown;
}

export interface ColumnCodec {
  /** PostgreSQL type for DDL when the target table has to be created. */
  pgType: string;
  nullable: boolean;
  /** Avro-decoded value -> PostgreSQL text input (null = SQL NULL). */
  toPg(value: unknown): PgValue;
}

/** Named Avro types of one schema, so references by name resolve to their definition. */
export type NamedTypes = Map<string, AvroJsonObject>;

export function collectNamedTypes(
  schema: AvroJson,
  namespace = '',
  out: NamedTypes = new Map(),
): NamedTypes {
  if (Array.isArray(schema)) {
    for (const branch of schema) collectNamedTypes(branch, namespace, out);
    return out;
  }
  if (typeof schema !== 'object' || schema === null) return out;
  const ns = schema.namespace ?? namespace;
  if (
    schema.name &&
    (schema.type === 'record' || schema.type === 'enum' || schema.type === 'fixed')
  ) {
    const fullName = schema.name.includes('.') || !ns ? schema.name : `${ns}.${schema.name}`;
    out.set(fullName, schema);
    out.set(schema.name, schema);
  }
  for (const field of schema.fields ?? []) collectNamedTypes(field.type, ns, out);
  if (schema.items !== undefined) collectNamedTypes(schema.items, ns, out);
  if (typeof schema.type === 'object') collectNamedTypes(schema.type, ns, out);
  return out;
}

const PRIMITIVES = new Set([
  'null',
  'boolean',
  'int',
  'long',
  'float',
  'double',
  'bytes',
  'string',
]);

function resolveType(type: AvroJson, named: NamedTypes): AvroJson {
  if (typeof type === 'string' && !PRIMITIVES.has(type)) {
    const found = named.get(type);
    if (!found) throw new SchemaIncompatibleError(`unknown Avro type reference ${type}`);
    return found;
  }
  return type;
}

/** Splits `["null", T]` into T and nullability. */
function unwrapNullable(type: AvroJson, named: NamedTypes): { type: AvroJson; nullable: boolean } {
  if (Array.isArray(type)) {
    const branches = type.filter((t) => t !== 'null');
    if (branches.length !== 1 || branches[0] === undefined) {
      throw new SchemaIncompatibleError(`unsupported Avro union ${JSON.stringify(type)}`);
    }
    return { type: resolveType(branches[0], named), nullable: branches.length !== type.length };
  }
  return { type: resolveType(type, named), nullable: false };
}

// ---- date and time formatting (proleptic Gregorian, like PostgreSQL) ----

const pad = (n: number | bigint, width: number): string => n.toString().padStart(width, '0');

// Debezium's stand-ins for PostgreSQL's infinities (PGJDBC's DATE_POSITIVE/NEGATIVE_INFINITY):
// the same numbers as microseconds (MicroTimestamp) and as milliseconds (Timestamp, multiplied up
// here). Read as instants they are real dates in the year 294247; no source sends those.
const TIMESTAMP_POSITIVE_INFINITY_MICROS = 9_223_372_036_825_200_000n;
const TIMESTAMP_NEGATIVE_INFINITY_MICROS = -9_223_372_036_832_400_000n;
// Dates: PostgreSQL's DATEVAL_NOBEGIN / DATEVAL_NOEND (int32 limits, days since 2000) moved to the
// 1970 epoch in 32-bit arithmetic, so +infinity wraps round (seen in Debezium 3.6 fixtures). Both
// lie millions of years before PostgreSQL's first date (4714 BC), so no real date collides.
const DATE_NEGATIVE_INFINITY_DAYS = -2_147_483_648 + 10_957;
const DATE_POSITIVE_INFINITY_DAYS = ((2_147_483_647 + 10_957) | 0) as number;

/**
 * Days since 1970-01-01 -> proleptic Gregorian year (astronomical: 0 = 1 BC), month, day, in
 * integer arithmetic (H. Hinnant's civil_from_days): PostgreSQL dates reach 5874897 AD, far past
 * what a JS Date can hold (275760 AD).
 */
function civilFromDays(epochDays: number): { year: number; month: number; day: number } {
  const z = epochDays + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor(
    (dayOfEra -
      Math.floor(dayOfEra / 1460) +
      Math.floor(dayOfEra / 36_524) -
      Math.floor(dayOfEra / 146_096)) /
      365,
  );
  const dayOfYear =
    dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const shiftedMonth = Math.floor((5 * dayOfYear + 2) / 153); // March = 0
  const day = dayOfYear - Math.floor((153 * shiftedMonth + 2) / 5) + 1;
  const month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  return { year, month, day };
}

/** `YYYY-MM-DD`, or `YYYY-MM-DD BC` split so a time can go between date and era. */
function formatCivilDate(epochDays: number): { date: string; bc: boolean } {
  const { year, month, day } = civilFromDays(epochDays);
  const md = `${pad(month, 2)}-${pad(day, 2)}`;
  // Year 0 is 1 BC in PostgreSQL's (and ISO's astronomical) numbering.
  return year > 0
    ? { date: `${pad(year, 4)}-${md}`, bc: false }
    : { date: `${pad(1 - year, 4)}-${md}`, bc: true };
}

function formatDate(epochDays: number): string {
  if (epochDays === DATE_POSITIVE_INFINITY_DAYS) return 'infinity';
  if (epochDays === DATE_NEGATIVE_INFINITY_DAYS) return '-infinity';
  const { date, bc } = formatCivilDate(epochDays);
  return bc ? `${date} BC` : date;
}

/** Microseconds since midnight -> HH:MM:SS.ffffff (24:00:00 allowed, as PostgreSQL allows). */
function formatTimeOfDayMicros(micros: bigint): string {
  const totalSeconds = micros / 1_000_000n;
  const fraction = micros % 1_000_000n;
  const h = totalSeconds / 3600n;
  const m = (totalSeconds / 60n) % 60n;
  const s = totalSeconds % 60n;
  const base = `${pad(h, 2)}:${pad(m, 2)}:${pad(s, 2)}`;
  return fraction === 0n ? base : `${base}.${pad(fraction, 6)}`;
}

const floorDiv = (a: bigint, b: bigint): bigint => {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
};

/** Microseconds since the epoch (no zone) -> `YYYY-MM-DD HH:MM:SS.ffffff[ BC]`. */
function formatTimestampMicros(micros: bigint): string {
  if (micros === TIMESTAMP_POSITIVE_INFINITY_MICROS) return 'infinity';
  if (micros === TIMESTAMP_NEGATIVE_INFINITY_MICROS) return '-infinity';
  const days = floorDiv(micros, 86_400_000_000n);
  const { date, bc } = formatCivilDate(Number(days));
  const time = formatTimeOfDayMicros(micros - days * 86_400_000_000n);
  return bc ? `${date} ${time} BC` : `${date} ${time}`;
}

/**
 * Debezium's ZonedTimestamp is ISO-8601 with astronomical years: 1 BC is `0000-...`, 44 BC is
 * `-0043-...`, and years past 9999 are signed (`+10000-...`). PostgreSQL rejects all three
 * ("date/time field value out of range", "time zone displacement out of range") but reads the
 * unsigned year with a trailing ` BC`.
 */
function formatZonedTimestamp(text: string): string {
  const dated = /^([+-]?)(\d{4,})(-.*)$/.exec(text);
  if (!dated) return text; // also `infinity` / `-infinity`, which PostgreSQL reads as they are
  const [, sign, digits, rest] = dated as unknown as [string, string, string, string];
  const year = sign === '-' ? -BigInt(digits) : BigInt(digits);
  if (year > 0n) return sign === '+' ? `${digits}${rest}` : text;
  return `${pad(1n - year, 4)}${rest} BC`;
}

function toBigInt(value: unknown): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  throw new TypeError(`expected an integer, got ${typeof value}`);
}

function formatFloat(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return 'Infinity';
  if (value === Number.NEGATIVE_INFINITY) return '-Infinity';
  if (Object.is(value, -0)) return '-0';
  return String(value);
}

/** Debezium's Bits: java.util.BitSet bytes (little-endian), bit 0 = the rightmost bit. */
function formatBits(bytes: Buffer, length: number): string {
  let out = '';
  for (let i = length - 1; i >= 0; i--) {
    const byte = bytes[i >> 3] ?? 0;
    out += (byte >> (i & 7)) & 1 ? '1' : '0';
  }
  return out;
}

/**
 * bit varying: the BitSet does not carry the value's length (B'101' and B'0101' send the same
 * bytes), and the schema's `length` is the column's maximum. Up to the highest set bit is exact
 * for every value that starts with 1 and for B''; padding to the maximum would be exact only for
 * values of exactly that length.
 */
function formatVaryingBits(bytes: Buffer): string {
  const bits = formatBits(bytes, bytes.length * 8);
  const first = bits.indexOf('1');
  return first === -1 ? '' : bits.slice(first);
}

/** One element of a PostgreSQL array literal: always quoted, so no element needs parsing rules. */
function quoteArrayElement(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

const isPlaceholder = (value: unknown): boolean =>
  value === UNAVAILABLE_VALUE_PLACEHOLDER ||
  (Buffer.isBuffer(value) && value.equals(UNAVAILABLE_BYTES));

// ---- PostgreSQL type names for DDL, from Debezium's propagated source type when present ----

const SOURCE_TYPE_NAMES: Record<string, string> = {
  int2: 'smallint',
  int4: 'integer',
  int8: 'bigint',
  serial: 'integer',
  bigserial: 'bigint',
  smallserial: 'smallint',
  float4: 'real',
  float8: 'double precision',
  bool: 'boolean',
  text: 'text',
  date: 'date',
  interval: 'interval',
  uuid: 'uuid',
  json: 'json',
  jsonb: 'jsonb',
  bytea: 'bytea',
  money: 'money',
  inet: 'inet',
  cidr: 'cidr',
  macaddr: 'macaddr',
  macaddr8: 'macaddr8',
  xml: 'xml',
  oid: 'oid',
  tsvector: 'tsvector',
  tsquery: 'tsquery',
  name: 'name',
};

const MAX_LENGTH = 2147483647;

function precisionSuffix(params: Record<string, string>): string {
  const scale = params['__debezium.source.column.scale'];
  return scale !== undefined && /^[0-6]$/.test(scale) ? `(${scale})` : '';
}

/** The DDL type for a propagated source type name (`int4`, `_numeric`, `varchar`, an enum...). */
export function pgTypeFromSourceType(typeName: string, params: Record<string, string>): string {
  const lower = typeName.toLowerCase();
  if (lower.startsWith('_')) return `${pgTypeFromSourceType(lower.slice(1), {})}[]`;
  const lengthText = params['__debezium.source.column.length'];
  const length = lengthText === undefined ? undefined : Number(lengthText);
  const scale = params['__debezium.source.column.scale'];
  const hasLength = length !== undefined && length > 0 && length < MAX_LENGTH;
  switch (lower) {
    case 'numeric':
    case 'decimal':
      // Only digits reach DDL: the parameters come from a registry schema, not from our code.
      return hasLength && length <= 1000 && /^\d+$/.test(scale ?? '0')
        ? `numeric(${length},${scale ?? 0})`
        : 'numeric';
    case 'varchar':
      return hasLength ? `character varying(${length})` : 'character varying';
    case 'bpchar':
    case 'char':
      return hasLength ? `character(${length})` : 'character(1)';
    case 'bit':
      return hasLength ? `bit(${length})` : 'bit(1)';
    case 'varbit':
      return hasLength ? `bit varying(${length})` : 'bit varying';
    case 'time':
      return `time${precisionSuffix(params)} without time zone`;
    case 'timetz':
      return `time${precisionSuffix(params)} with time zone`;
    case 'timestamp':
      return `timestamp${precisionSuffix(params)} without time zone`;
    case 'timestamptz':
      return `timestamp${precisionSuffix(params)} with time zone`;
    default: {
      const known = SOURCE_TYPE_NAMES[lower];
      if (known) return known;
      // A user-defined type (enum, domain, extension type). Debezium reports type names upper-
      // cased, so the lower-case name is the one the catalog most likely has; the sink checks the
      // target catalog and falls back to text when no such type exists there.
      return `"${lower.replace(/"/g, '""')}"`;
    }
  }
}

// ---- codecs ----

interface Conversion {
  pgType: string;
  convert(value: unknown): string;
}

function semanticConversion(type: AvroJsonObject | string, named: NamedTypes): Conversion {
  if (typeof type === 'string') return primitiveConversion(type);
  const semantic = type['connect.name'];
  const params = type['connect.parameters'] ?? {};
  switch (semantic) {
    case 'org.apache.kafka.connect.data.Decimal': {
      const scale = Number(type.scale ?? params.scale ?? 0);
      const precision = type.precision ?? Number(params['connect.decimal.precision'] ?? 0);
      return {
        pgType: precision > 0 && precision <= 1000 ? `numeric(${precision},${scale})` : 'numeric',
        convert: (v) => decodeDecimalBytes(v as Buffer, scale),
      };
    }
    case 'io.debezium.data.VariableScaleDecimal':
      return {
        pgType: 'numeric',
        convert: (v) => {
          const struct = v as { scale: number; value: Buffer };
          return decodeDecimalBytes(struct.value, struct.scale);
        },
      };
    case 'io.debezium.time.Date':
    case 'org.apache.kafka.connect.data.Date':
      return { pgType: 'date', convert: (v) => formatDate(v as number) };
    case 'io.debezium.time.Time':
    case 'org.apache.kafka.connect.data.Time':
      return {
        pgType: 'time without time zone',
        convert: (v) => formatTimeOfDayMicros(toBigInt(v) * 1000n),
      };
    case 'io.debezium.time.MicroTime':
      return {
        pgType: 'time without time zone',
        convert: (v) => formatTimeOfDayMicros(toBigInt(v)),
      };
    case 'io.debezium.time.NanoTime':
      return {
        pgType: 'time without time zone',
        convert: (v) => formatTimeOfDayMicros(toBigInt(v) / 1000n),
      };
    case 'io.debezium.time.Timestamp':
    case 'org.apache.kafka.connect.data.Timestamp':
      return {
        pgType: 'timestamp without time zone',
        convert: (v) => formatTimestampMicros(toBigInt(v) * 1000n),
      };
    case 'io.debezium.time.MicroTimestamp':
      return {
        pgType: 'timestamp without time zone',
        convert: (v) => formatTimestampMicros(toBigInt(v)),
      };
    case 'io.debezium.time.NanoTimestamp':
      return {
        pgType: 'timestamp without time zone',
        convert: (v) => formatTimestampMicros(floorDiv(toBigInt(v), 1000n)),
      };
    case 'io.debezium.time.ZonedTimestamp':
      // ISO-8601 with offset (e.g. 2026-01-02T03:04:05.123456Z): PostgreSQL reads it as is.
      return {
        pgType: 'timestamp with time zone',
        convert: (v) => formatZonedTimestamp(v as string),
      };
    case 'io.debezium.time.ZonedTime':
      return { pgType: 'time with time zone', convert: (v) => v as string };
    case 'io.debezium.time.Interval':
      // interval.handling.mode=string: ISO-8601 duration, PostgreSQL's interval input takes it.
      return { pgType: 'interval', convert: (v) => v as string };
    case 'io.debezium.time.MicroDuration':
      return { pgType: 'interval', convert: (v) => `${toBigInt(v)} microseconds` };
    case 'io.debezium.data.Bits': {
      const length = Number(params.length ?? 0);
      if (params['__debezium.source.column.type']?.toUpperCase() === 'VARBIT' || length === 0) {
        return {
          pgType: length > 0 ? `bit varying(${length})` : 'bit varying',
          convert: (v) => formatVaryingBits(v as Buffer),
        };
      }
      return { pgType: `bit(${length})`, convert: (v) => formatBits(v as Buffer, length) };
    }
    case 'io.debezium.data.Json':
      return { pgType: 'jsonb', convert: (v) => v as string };
    case 'io.debezium.data.Uuid':
      return { pgType: 'uuid', convert: (v) => v as string };
    case 'io.debezium.data.Xml':
      return { pgType: 'xml', convert: (v) => v as string };
    case 'io.debezium.data.Enum':
    case 'io.debezium.data.EnumSet':
    case 'io.debezium.data.Ltree':
      return { pgType: 'text', convert: (v) => v as string };
    default:
      break;
  }
  if (type.type === 'array') {
    const items = unwrapNullable(type.items ?? 'null', named);
    const element = semanticConversion(items.type as AvroJsonObject | string, named);
    return {
      pgType: `${element.pgType}[]`,
      convert: (v) =>
        `{${(v as unknown[])
          .map((item) => (item === null ? 'NULL' : quoteArrayElement(element.convert(item))))
          .join(',')}}`,
    };
  }
  if (type.logicalType === 'decimal') {
    const scale = Number(type.scale ?? 0);
    return { pgType: 'numeric', convert: (v) => decodeDecimalBytes(v as Buffer, scale) };
  }
  if (typeof type.type === 'string' && PRIMITIVES.has(type.type))
    return primitiveConversion(type.type);
  throw new SchemaIncompatibleError(
    `unsupported column type ${semantic ?? JSON.stringify(type.type)} (no exact PostgreSQL conversion)`,
  );
}

function primitiveConversion(type: string): Conversion {
  switch (type) {
    case 'boolean':
      return { pgType: 'boolean', convert: (v) => (v ? 't' : 'f') };
    case 'int':
      return { pgType: 'integer', convert: (v) => String(v) };
    case 'long':
      return { pgType: 'bigint', convert: (v) => toBigInt(v).toString() };
    case 'float':
      return { pgType: 'real', convert: (v) => formatFloat(v as number) };
    case 'double':
      return { pgType: 'double precision', convert: (v) => formatFloat(v as number) };
    case 'string':
      return { pgType: 'text', convert: (v) => v as string };
    case 'bytes':
      return { pgType: 'bytea', convert: (v) => `\\x${(v as Buffer).toString('hex')}` };
    default:
      throw new SchemaIncompatibleError(`unsupported Avro type ${type}`);
  }
}

/** Builds the codec of one column from its Avro field type. */
export function createColumnCodec(fieldType: AvroJson, named: NamedTypes): ColumnCodec {
  const { type, nullable } = unwrapNullable(fieldType, named);
  const conversion = semanticConversion(type as AvroJsonObject | string, named);
  const params =
    typeof type === 'object' && !Array.isArray(type) ? (type['connect.parameters'] ?? {}) : {};
  const sourceType = params['__debezium.source.column.type'];
  const pgType = sourceType ? pgTypeFromSourceType(sourceType, params) : conversion.pgType;
  return {
    pgType,
    nullable,
    toPg(value: unknown): PgValue {
      if (value === null || value === undefined) return null;
      if (isPlaceholder(value)) return UNCHANGED_TOAST;
      if (Array.isArray(value) && value.length === 1 && isPlaceholder(value[0]))
        return UNCHANGED_TOAST;
      return conversion.convert(value);
    },
  };
}

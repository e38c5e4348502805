// Debezium's date, time, timestamp and interval types as PostgreSQL text input: integer days and
// milli/micro/nanoseconds formatted in the proleptic Gregorian calendar, like PostgreSQL.

import { type Conversion, toBigInt } from './primitive-codec.js';

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

/**
 * Microseconds since midnight -> HH:MM:SS.ffffff (24:00:00 allowed, as PostgreSQL allows). A
 * safe-integer number takes the same steps in exact double arithmetic (integer remainders and
 * divisions of exact multiples), without a BigInt.
 */
function formatTimeOfDayMicros(micros: bigint | number): string {
  if (typeof micros === 'number') {
    const fraction = micros % 1_000_000;
    const totalSeconds = (micros - fraction) / 1_000_000;
    const s = totalSeconds % 60;
    const totalMinutes = (totalSeconds - s) / 60;
    const m = totalMinutes % 60;
    const h = (totalMinutes - m) / 60;
    const base = `${pad(h, 2)}:${pad(m, 2)}:${pad(s, 2)}`;
    return fraction === 0 ? base : `${base}.${pad(fraction, 6)}`;
  }
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

const MICROS_PER_DAY = 86_400_000_000;

/** Microseconds since the epoch (no zone) -> `YYYY-MM-DD HH:MM:SS.ffffff[ BC]`. */
function formatTimestampMicros(micros: bigint | number): string {
  if (typeof micros === 'number') {
    // Safe integers only: the infinities lie beyond 2^53. Floor division by exact remainders.
    const rest = micros % MICROS_PER_DAY;
    const days = (micros - rest) / MICROS_PER_DAY - (rest < 0 ? 1 : 0);
    const { date, bc } = formatCivilDate(days);
    const time = formatTimeOfDayMicros(rest < 0 ? rest + MICROS_PER_DAY : rest);
    return bc ? `${date} ${time} BC` : `${date} ${time}`;
  }
  if (micros === TIMESTAMP_POSITIVE_INFINITY_MICROS) return 'infinity';
  if (micros === TIMESTAMP_NEGATIVE_INFINITY_MICROS) return '-infinity';
  const days = floorDiv(micros, 86_400_000_000n);
  const { date, bc } = formatCivilDate(Number(days));
  const time = formatTimeOfDayMicros(micros - days * 86_400_000_000n);
  return bc ? `${date} ${time} BC` : `${date} ${time}`;
}

/**
 * An Avro long (or int) as an exact integer: the number itself when it is a safe integer,
 * times `factor` while that stays safe; otherwise a BigInt (toBigInt refuses what is no integer).
 */
function exactInteger(value: unknown, factor = 1): number | bigint {
  if (Number.isSafeInteger(value) && Math.abs(value as number) <= MAX_SAFE / factor) {
    return (value as number) * factor;
  }
  return toBigInt(value) * BigInt(factor);
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** Integer division rounding toward minus infinity (floor), exact for both forms. */
function floorDivExact(value: number | bigint, divisor: number): number | bigint {
  if (typeof value === 'bigint') return floorDiv(value, BigInt(divisor));
  const rest = value % divisor;
  return (value - rest) / divisor - (rest < 0 ? 1 : 0);
}

/** Integer division rounding toward zero (BigInt's), exact for both forms. */
function truncDivExact(value: number | bigint, divisor: number): number | bigint {
  if (typeof value === 'bigint') return value / BigInt(divisor);
  return (value - (value % divisor)) / divisor;
}

/**
 * Debezium's ZonedTimestamp is ISO-8601 with astronomical years: 1 BC is `0000-...`, 44 BC is
 * `-0043-...`, and years past 9999 are signed (`+10000-...`). PostgreSQL rejects all three
 * ("date/time field value out of range", "time zone displacement out of range") but reads the
 * unsigned year with a trailing ` BC`.
 */
function formatZonedTimestamp(text: string): string {
  // The usual case first, without a regular expression: a four-digit year from 0001 on, as is.
  if (isPlainYear(text)) return text;
  // At most 9 digits, as java.time writes: a longer year is no date, and BigInt of a long digit
  // string read from a message is slow.
  const dated = /^([+-]?)(\d{4,9})(-.*)$/.exec(text);
  if (!dated) return text; // also `infinity` / `-infinity`, which PostgreSQL reads as they are
  const [, sign, digits, rest] = dated as unknown as [string, string, string, string];
  const year = sign === '-' ? -BigInt(digits) : BigInt(digits);
  if (year > 0n) return sign === '+' ? `${digits}${rest}` : text;
  return `${pad(1n - year, 4)}${rest} BC`;
}

const DIGIT_0 = 48;
const DIGIT_9 = 57;

/** `YYYY-...` with four digits and a year above 0 (what formatZonedTimestamp keeps as it is). */
function isPlainYear(text: string): boolean {
  if (text.charCodeAt(4) !== 45) return false; // '-'
  let year = 0;
  for (let i = 0; i < 4; i++) {
    const c = text.charCodeAt(i);
    if (c < DIGIT_0 || c > DIGIT_9) return false;
    year = year * 10 + (c - DIGIT_0);
  }
  return year > 0;
}

/** The conversion of a Connect/Debezium temporal type (by `connect.name`), or undefined. */
export function temporalConversion(semantic: string | undefined): Conversion | undefined {
  switch (semantic) {
    case 'io.debezium.time.Date':
    case 'org.apache.kafka.connect.data.Date':
      return { pgType: 'date', convert: (v) => formatDate(v as number) };
    case 'io.debezium.time.Time':
    case 'org.apache.kafka.connect.data.Time':
      return {
        pgType: 'time without time zone',
        convert: (v) => formatTimeOfDayMicros(exactInteger(v, 1000)),
        longsAsNumbers: true,
      };
    case 'io.debezium.time.MicroTime':
      return {
        pgType: 'time without time zone',
        convert: (v) => formatTimeOfDayMicros(exactInteger(v)),
        longsAsNumbers: true,
      };
    case 'io.debezium.time.NanoTime':
      return {
        pgType: 'time without time zone',
        convert: (v) => formatTimeOfDayMicros(truncDivExact(exactInteger(v), 1000)),
        longsAsNumbers: true,
      };
    case 'io.debezium.time.Timestamp':
    case 'org.apache.kafka.connect.data.Timestamp':
      return {
        pgType: 'timestamp without time zone',
        convert: (v) => formatTimestampMicros(exactInteger(v, 1000)),
        longsAsNumbers: true,
      };
    case 'io.debezium.time.MicroTimestamp':
      return {
        pgType: 'timestamp without time zone',
        convert: (v) => formatTimestampMicros(exactInteger(v)),
        longsAsNumbers: true,
      };
    case 'io.debezium.time.NanoTimestamp':
      return {
        pgType: 'timestamp without time zone',
        convert: (v) => formatTimestampMicros(floorDivExact(exactInteger(v), 1000)),
        longsAsNumbers: true,
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
      return {
        pgType: 'interval',
        convert: (v) => `${exactInteger(v)} microseconds`,
        longsAsNumbers: true,
      };
    default:
      return undefined;
  }
}

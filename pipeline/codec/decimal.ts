// Exact decimals from Avro: Debezium's `decimal.handling.mode=precise` writes the unscaled value
// as big-endian two's-complement bytes; the scale comes from the schema (or, for numeric columns
// without a declared scale, from Debezium's VariableScaleDecimal struct). Never via float.
// Bounded by what PostgreSQL's numeric holds, checked before the text is built: a scale of 4e8
// would otherwise pad a string of 4e8 zeros, and the unscaled bytes' length is limited too (the
// digits of a 1 MiB integer are seconds of work).
import { MessageBoundsError } from './message-bounds-error.js';

/** PostgreSQL's numeric: up to 131072 digits before the decimal point, 16383 after it. */
export const NUMERIC_MAX_INTEGER_DIGITS = 131_072;
export const NUMERIC_MAX_SCALE = 16_383;
/** Two's-complement bytes of the largest unscaled value numeric can hold, plus a sign byte. */
export const NUMERIC_MAX_UNSCALED_BYTES =
  Math.ceil(((NUMERIC_MAX_INTEGER_DIGITS + NUMERIC_MAX_SCALE) * Math.log2(10)) / 8) + 1;

/** Unscaled two's-complement big-endian bytes -> BigInt. */
export function decodeUnscaledBytes(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  if (bytes.length > NUMERIC_MAX_UNSCALED_BYTES) {
    throw new MessageBoundsError(
      `decimal of ${bytes.length} unscaled bytes: PostgreSQL's numeric holds at most ${NUMERIC_MAX_UNSCALED_BYTES}`,
    );
  }
  // Through hex: linear, where shifting a BigInt byte by byte is quadratic in the length.
  const value = BigInt(
    `0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex')}`,
  );
  const first = bytes[0] ?? 0;
  return first & 0x80 ? value - (1n << BigInt(bytes.length * 8)) : value;
}

/** Renders unscaled * 10^-scale as a decimal string PostgreSQL's numeric input accepts. */
export function formatScaledDecimal(unscaled: bigint, scale: number): string {
  if (!Number.isInteger(scale))
    throw new RangeError(`decimal scale must be an integer, got ${scale}`);
  if (scale > NUMERIC_MAX_SCALE || scale < -NUMERIC_MAX_INTEGER_DIGITS) {
    throw new MessageBoundsError(
      `decimal scale ${scale} is beyond PostgreSQL's numeric (${NUMERIC_MAX_SCALE} digits after the point, ${NUMERIC_MAX_INTEGER_DIGITS} before)`,
    );
  }
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString();
  if (digits !== '0' && digits.length - scale > NUMERIC_MAX_INTEGER_DIGITS) {
    throw new MessageBoundsError(
      `decimal of ${digits.length} digits at scale ${scale} has more than PostgreSQL's numeric ${NUMERIC_MAX_INTEGER_DIGITS} digits before the point`,
    );
  }
  let text: string;
  if (scale <= 0) {
    text = digits === '0' ? '0' : digits + '0'.repeat(-scale);
  } else {
    const padded = digits.padStart(scale + 1, '0');
    text = `${padded.slice(0, padded.length - scale)}.${padded.slice(padded.length - scale)}`;
  }
  return negative ? `-${text}` : text;
}

/** Debezium's names of numeric's special values in string mode (Java enum names). */
const SPECIAL_NUMERIC_TEXT = new Map([
  ['NAN', 'NaN'],
  ['POSITIVE_INFINITY', 'Infinity'],
  ['NEGATIVE_INFINITY', '-Infinity'],
  ['NaN', 'NaN'],
  ['Infinity', 'Infinity'],
  ['-Infinity', '-Infinity'],
]);

const PLAIN_DECIMAL = /^-?\d+(?:\.\d+)?$/;

/**
 * Numeric text as `decimal.handling.mode=string` sends it, checked and returned as PostgreSQL's
 * numeric input: a plain decimal (kept digit for digit, so its display scale survives) within
 * numeric's bounds, or a special value renamed to PostgreSQL's spelling. Anything else is the
 * message's fault: a numeric column never carries it.
 */
export function checkNumericText(text: string): string {
  const special = SPECIAL_NUMERIC_TEXT.get(text);
  if (special !== undefined) return special;
  if (typeof text !== 'string' || !PLAIN_DECIMAL.test(text)) {
    const shown = typeof text === 'string' ? JSON.stringify(text.slice(0, 40)) : typeof text;
    throw new TypeError(`numeric column value ${shown} is not a decimal PostgreSQL reads exactly`);
  }
  const point = text.indexOf('.');
  const sign = text.startsWith('-') ? 1 : 0;
  const integerDigits = (point < 0 ? text.length : point) - sign;
  const scale = point < 0 ? 0 : text.length - point - 1;
  if (integerDigits > NUMERIC_MAX_INTEGER_DIGITS || scale > NUMERIC_MAX_SCALE) {
    throw new MessageBoundsError(
      `numeric text of ${integerDigits} digits before the point and ${scale} after is beyond PostgreSQL's numeric (${NUMERIC_MAX_INTEGER_DIGITS} before, ${NUMERIC_MAX_SCALE} after)`,
    );
  }
  return text;
}

/**
 * One text per numeric value, for telling rows apart: `16.0`, `16.00` and `16` are one primary
 * key to PostgreSQL (numeric equality ignores the display scale), but three texts in string mode.
 * Only for identity, never written: the row keeps the text it came with.
 */
export function numericIdentity(text: string): string {
  if (!PLAIN_DECIMAL.test(text)) return text; // NaN, ±Infinity: one text each already
  const negative = text.startsWith('-');
  let digits = negative ? text.slice(1) : text;
  if (digits.includes('.')) digits = digits.replace(/\.?0+$/, '');
  digits = digits.replace(/^0+(?=\d)/, '');
  return negative && digits !== '0' ? `-${digits}` : digits;
}

export function decodeDecimalBytes(bytes: Uint8Array, scale: number): string {
  return formatScaledDecimal(decodeUnscaledBytes(bytes), scale);
}

import { describe, expect, it } from 'vitest';
import {
  decodeDecimalBytes,
  decodeUnscaledBytes,
  formatScaledDecimal,
  NUMERIC_MAX_INTEGER_DIGITS,
  NUMERIC_MAX_SCALE,
  NUMERIC_MAX_UNSCALED_BYTES,
} from '../../pipeline/codec/decimal.js';
import { MessageBoundsError } from '../../pipeline/codec/message-bounds-error.js';
import { createSeededRandom } from '../support/seeded-random.js';

function encodeUnscaled(value: bigint): Buffer {
  // Minimal two's-complement big-endian encoding, as Java's BigInteger.toByteArray() does.
  let hex = (value < 0n ? (1n << 256n) + value : value).toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let bytes = Buffer.from(hex, 'hex');
  if (value < 0n) {
    while (bytes.length > 1 && bytes[0] === 0xff && ((bytes[1] ?? 0) & 0x80) !== 0)
      bytes = bytes.subarray(1);
  } else if (((bytes[0] ?? 0) & 0x80) !== 0) {
    bytes = Buffer.concat([Buffer.from([0]), bytes]);
  }
  return bytes;
}

describe('decimal decoding', () => {
  it('decodes the bytes Debezium wrote for numeric(12,2) 12.34', () => {
    expect(decodeDecimalBytes(Buffer.from('04d2', 'hex'), 2)).toBe('12.34');
  });

  it('keeps negative values and leading zeros of the fraction', () => {
    expect(decodeDecimalBytes(encodeUnscaled(-5n), 3)).toBe('-0.005');
    expect(decodeDecimalBytes(encodeUnscaled(-12345n), 2)).toBe('-123.45');
    expect(decodeDecimalBytes(Buffer.from([0x80]), 0)).toBe('-128');
  });

  it('round-trips values beyond float precision exactly', () => {
    const big = 123456789012345678901234567890123456789n;
    expect(decodeUnscaledBytes(encodeUnscaled(big))).toBe(big);
    expect(decodeDecimalBytes(encodeUnscaled(big), 10)).toBe(
      '12345678901234567890123456789.0123456789',
    );
    expect(decodeDecimalBytes(encodeUnscaled(-big), 38)).toBe(
      '-1.23456789012345678901234567890123456789',
    );
  });

  it('handles zero, empty bytes and negative scales', () => {
    expect(decodeDecimalBytes(Buffer.alloc(0), 2)).toBe('0.00');
    expect(formatScaledDecimal(0n, 0)).toBe('0');
    expect(formatScaledDecimal(12n, -3)).toBe('12000');
    expect(() => formatScaledDecimal(1n, 1.5)).toThrow(RangeError);
  });
});

describe('decimal bounds: what PostgreSQL numeric holds, nothing more', () => {
  it('refuses a scale beyond 16383 digits after the point before building any text', () => {
    const started = performance.now();
    expect(() => formatScaledDecimal(1n, 400_000_000)).toThrow(MessageBoundsError);
    expect(() => formatScaledDecimal(1n, NUMERIC_MAX_SCALE + 1)).toThrow(
      "decimal scale 16384 is beyond PostgreSQL's numeric (16383 digits after the point, 131072 before)",
    );
    expect(performance.now() - started).toBeLessThan(100);
    expect(formatScaledDecimal(1n, NUMERIC_MAX_SCALE)).toBe(`0.${'0'.repeat(16_382)}1`);
  });

  it('refuses more than 131072 digits before the point, however a negative scale makes them', () => {
    expect(() => formatScaledDecimal(1n, -2_147_483_648)).toThrow(MessageBoundsError);
    expect(formatScaledDecimal(0n, -NUMERIC_MAX_INTEGER_DIGITS)).toBe('0');
    expect(formatScaledDecimal(1n, -(NUMERIC_MAX_INTEGER_DIGITS - 1))).toHaveLength(
      NUMERIC_MAX_INTEGER_DIGITS,
    );
    expect(() => formatScaledDecimal(10n, -(NUMERIC_MAX_INTEGER_DIGITS - 1))).toThrow(
      /more than PostgreSQL's numeric 131072 digits before the point/,
    );
  });

  it("refuses unscaled values longer than numeric's largest, and converts the largest fast", () => {
    expect(() => decodeUnscaledBytes(Buffer.alloc(NUMERIC_MAX_UNSCALED_BYTES + 1, 1))).toThrow(
      MessageBoundsError,
    );
    const largest = Buffer.alloc(NUMERIC_MAX_UNSCALED_BYTES, 0xff);
    largest[0] = 0x7f;
    const started = performance.now();
    const value = decodeUnscaledBytes(largest);
    expect(value).toBe((1n << BigInt(NUMERIC_MAX_UNSCALED_BYTES * 8 - 1)) - 1n);
    expect(() => formatScaledDecimal(value, NUMERIC_MAX_SCALE)).toThrow(MessageBoundsError);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it("reads two's-complement bytes as the byte-by-byte definition does (seeded)", () => {
    const rnd = createSeededRandom(20_150_003);
    for (let i = 0; i < 2_000; i++) {
      const bytes = Buffer.from(Array.from({ length: 1 + rnd.int(40) }, () => rnd.int(256)));
      let expected = 0n;
      for (const byte of bytes) expected = (expected << 8n) | BigInt(byte);
      if ((bytes[0] as number) & 0x80) expected -= 1n << BigInt(bytes.length * 8);
      expect(decodeUnscaledBytes(bytes)).toBe(expected);
    }
  });
});

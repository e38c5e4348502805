import { describe, expect, it } from 'vitest';
import {
  decodeDecimalBytes,
  decodeUnscaledBytes,
  formatScaledDecimal,
} from '../../pipeline/codec/decimal.js';

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

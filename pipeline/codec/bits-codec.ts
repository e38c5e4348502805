// Debezium's Bits (bit and bit varying columns) as PostgreSQL bit-string input: java.util.BitSet
// bytes, little-endian, bit 0 = the rightmost bit.

import type { Conversion } from './primitive-codec.js';

/** The first `length` bits of a BitSet, most significant (leftmost) first. */
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

/** The conversion of `io.debezium.data.Bits`, or undefined for another type. */
export function bitsConversion(
  semantic: string | undefined,
  params: Record<string, string>,
): Conversion | undefined {
  if (semantic !== 'io.debezium.data.Bits') return undefined;
  const length = Number(params.length ?? 0);
  if (params['__debezium.source.column.type']?.toUpperCase() === 'VARBIT' || length === 0) {
    return {
      pgType: length > 0 ? `bit varying(${length})` : 'bit varying',
      convert: (v) => formatVaryingBits(v as Buffer),
    };
  }
  return { pgType: `bit(${length})`, convert: (v) => formatBits(v as Buffer, length) };
}

// Exact decimals from Avro: Debezium's `decimal.handling.mode=precise` writes the unscaled value
// as big-endian two's-complement bytes; the scale comes from the schema (or, for numeric columns
// without a declared scale, from Debezium's VariableScaleDecimal struct). Never via float.

/** Unscaled two's-complement big-endian bytes -> BigInt. */
export function decodeUnscaledBytes(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  const first = bytes[0] ?? 0;
  if (first & 0x80) value -= 1n << BigInt(bytes.length * 8);
  return value;
}

/** Renders unscaled * 10^-scale as a decimal string PostgreSQL's numeric input accepts. */
export function formatScaledDecimal(unscaled: bigint, scale: number): string {
  if (!Number.isInteger(scale))
    throw new RangeError(`decimal scale must be an integer, got ${scale}`);
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString();
  let text: string;
  if (scale <= 0) {
    text = digits === '0' ? '0' : digits + '0'.repeat(-scale);
  } else {
    const padded = digits.padStart(scale + 1, '0');
    text = `${padded.slice(0, padded.length - scale)}.${padded.slice(padded.length - scale)}`;
  }
  return negative ? `-${text}` : text;
}

export function decodeDecimalBytes(bytes: Uint8Array, scale: number): string {
  return formatScaledDecimal(decodeUnscaledBytes(bytes), scale);
}

// Avro `long` as BigInt. Debezium writes nanosecond timestamps (ts_ns) and LSNs as longs that
// exceed 2^53, where avsc's default number-based long refuses to decode ("potential precision loss").
import avro from 'avsc';

export const bigintLongType = avro.types.LongType.__with({
  fromBuffer: (buf: Buffer): bigint => buf.readBigInt64LE(),
  toBuffer: (value: bigint | number): Buffer => {
    const buf = Buffer.alloc(8);
    buf.writeBigInt64LE(BigInt(value));
    return buf;
  },
  fromJSON: (value: unknown): bigint => BigInt(value as string | number),
  toJSON: (value: bigint): number | string =>
    value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER)
      ? Number(value)
      : value.toString(),
  isValid: (value: unknown): boolean => typeof value === 'bigint',
  compare: (a: bigint, b: bigint): number => (a === b ? 0 : a < b ? -1 : 1),
});

const isLongObject = (schema: unknown): boolean =>
  typeof schema === 'object' &&
  schema !== null &&
  !Array.isArray(schema) &&
  (schema as { type?: unknown }).type === 'long';

/**
 * avsc options that decode every Avro long as BigInt, for one schema parse. The registry must be
 * fresh per parse (avsc records named types in it: a shared one fails the second parse with
 * "duplicate type name"), and it only catches `"long"` by name: Debezium writes most longs as
 * objects (`{"type":"long","connect.parameters":...}`), which the hook catches.
 */
export function exactLongParseOptions(): Pick<avro.ForSchemaOptions, 'registry' | 'typeHook'> {
  return {
    registry: { long: bigintLongType },
    typeHook: (schema) => (isLongObject(schema) ? bigintLongType : undefined),
  };
}

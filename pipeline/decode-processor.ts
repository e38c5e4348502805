// Decode: Confluent wire format (magic byte 0, 4-byte schema id, Avro body) -> JS values, for the
// key and the value. Registry unreachable = retriable; wrong magic byte, unknown id or bytes that
// do not match their schema = poison (dead-letter topic).
import { PoisonMessageError } from './errors.js';
import type { KafkaRecord } from './kafka-record.js';
import type { Processor } from './processor.js';
import type { ResolvedSchema, SchemaLookup } from './schema-lookup.js';

export interface DecodedRecord {
  record: KafkaRecord;
  key: Record<string, unknown> | null;
  keySchema: ResolvedSchema | null;
  /** Null for tombstones. */
  value: Record<string, unknown> | null;
  valueSchema: ResolvedSchema | null;
}

const MAGIC_BYTE = 0;
const HEADER_LENGTH = 5;

export async function decodeWireFormat(
  bytes: Buffer,
  lookup: SchemaLookup,
  part: 'key' | 'value',
): Promise<{ value: Record<string, unknown>; schema: ResolvedSchema }> {
  if (bytes.length < HEADER_LENGTH || bytes[0] !== MAGIC_BYTE) {
    // Plain JSON (a producer without the Avro converter) is the usual case: say so.
    const json = bytes[0] === 0x7b || bytes[0] === 0x5b ? ': it starts like plain JSON text' : '';
    throw new PoisonMessageError(
      `${part} is not in the Confluent wire format (magic byte 0 + schema id)${json}`,
    );
  }
  const schema = await lookup.getSchema(bytes.readUInt32BE(1));
  let value: unknown;
  try {
    value = schema.type.fromBuffer(bytes.subarray(HEADER_LENGTH));
  } catch (error) {
    throw new PoisonMessageError(
      `${part} does not decode with its schema id ${schema.id}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  if (typeof value !== 'object' || value === null) {
    throw new PoisonMessageError(`${part} decodes to a ${typeof value}, not a record`);
  }
  return { value: value as Record<string, unknown>, schema };
}

export function createDecodeProcessor(lookup: SchemaLookup): Processor<KafkaRecord, DecodedRecord> {
  return {
    name: 'decode',
    async process(record) {
      const key =
        record.key && record.key.length > 0
          ? await decodeWireFormat(record.key, lookup, 'key')
          : null;
      const value =
        record.value && record.value.length > 0
          ? await decodeWireFormat(record.value, lookup, 'value')
          : null;
      return [
        {
          record,
          key: key?.value ?? null,
          keySchema: key?.schema ?? null,
          value: value?.value ?? null,
          valueSchema: value?.schema ?? null,
        },
      ];
    },
  };
}

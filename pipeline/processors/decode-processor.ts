// Decode: Confluent wire format (magic byte 0, 4-byte schema id, Avro body) -> JS values, for the
// key and the value. Registry unreachable = retriable; wrong magic byte, unknown id or bytes that
// do not match their schema = poison (dead-letter topic). The body is checked against its schema
// before avsc reads it (checkAvroBounds): avsc allocates whatever count or length it reads.
import { PoisonMessageError } from '../../core/errors.js';
import { checkAvroBounds } from '../codec/avro-bounds-check.js';
import type { ResolvedSchema, SchemaLookup } from '../codec/schema-lookup.js';
import type { KafkaRecord } from '../source/kafka-record.js';
import type { Processor } from './processor.js';

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

function schemaIdOf(bytes: Buffer, part: 'key' | 'value'): number {
  if (bytes.length < HEADER_LENGTH || bytes[0] !== MAGIC_BYTE) {
    // Plain JSON (a producer without the Avro converter) is the usual case: say so.
    const json = bytes[0] === 0x7b || bytes[0] === 0x5b ? ': it starts like plain JSON text' : '';
    throw new PoisonMessageError(
      `${part} is not in the Confluent wire format (magic byte 0 + schema id)${json}`,
    );
  }
  return bytes.readUInt32BE(1);
}

function decodeWith(
  bytes: Buffer,
  schema: ResolvedSchema,
  part: 'key' | 'value',
): { value: Record<string, unknown>; schema: ResolvedSchema } {
  const body = bytes.subarray(HEADER_LENGTH);
  let value: unknown;
  try {
    checkAvroBounds(schema.type, body);
    value = schema.type.fromBuffer(body);
  } catch (error) {
    // Whatever avsc or the check throws, the bytes are at fault: always poison, never a stop.
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

export async function decodeWireFormat(
  bytes: Buffer,
  lookup: SchemaLookup,
  part: 'key' | 'value',
): Promise<{ value: Record<string, unknown>; schema: ResolvedSchema }> {
  const id = schemaIdOf(bytes, part);
  return decodeWith(bytes, lookup.resolved?.(id) ?? (await lookup.getSchema(id)), part);
}

export function createDecodeProcessor(lookup: SchemaLookup): Processor<KafkaRecord, DecodedRecord> {
  const result = (
    record: KafkaRecord,
    key: { value: Record<string, unknown>; schema: ResolvedSchema } | null,
    value: { value: Record<string, unknown>; schema: ResolvedSchema } | null,
  ): DecodedRecord[] => [
    {
      record,
      key: key?.value ?? null,
      keySchema: key?.schema ?? null,
      value: value?.value ?? null,
      valueSchema: value?.schema ?? null,
    },
  ];
  return {
    name: 'decode',
    process(record) {
      const keyBytes = record.key && record.key.length > 0 ? record.key : null;
      const valueBytes = record.value && record.value.length > 0 ? record.value : null;
      // Both schemas fetched already (every record but the first of a schema): no await.
      const keySchema = keyBytes ? lookup.resolved?.(schemaIdOf(keyBytes, 'key')) : null;
      const valueSchema = valueBytes ? lookup.resolved?.(schemaIdOf(valueBytes, 'value')) : null;
      if (keySchema !== undefined && valueSchema !== undefined) {
        return result(
          record,
          keyBytes && keySchema ? decodeWith(keyBytes, keySchema, 'key') : null,
          valueBytes && valueSchema ? decodeWith(valueBytes, valueSchema, 'value') : null,
        );
      }
      return (async () =>
        result(
          record,
          keyBytes ? await decodeWireFormat(keyBytes, lookup, 'key') : null,
          valueBytes ? await decodeWireFormat(valueBytes, lookup, 'value') : null,
        ))();
    },
  };
}

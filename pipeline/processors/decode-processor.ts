// Decode: Confluent wire format (magic byte 0, 4-byte schema id, Avro body) -> what transform
// reads, for the key and the value. Registry unreachable = retriable; wrong magic byte, unknown id
// or bytes that do not match their schema = poison (dead-letter topic). A Debezium change event is
// read by its schema's compiled decoder (codec/compiled-envelope-decoder.ts): op and source read,
// everything checked as it is read, nothing else built; the rows stay in the bytes for transform.
// A value schema that has no compiled decoder is decoded by avsc, after the same check
// (checkAvroBounds: avsc allocates whatever count or length it reads).
import { PoisonMessageError } from '../../core/errors.js';
import { checkAvroBounds } from '../codec/avro-bounds-check.js';
import {
  compiledEnvelopeDecoderOf,
  type EnvelopeReading,
} from '../codec/compiled-envelope-decoder.js';
import type { ResolvedSchema, SchemaLookup } from '../codec/schema-lookup.js';
import type { KafkaRecord } from '../source/kafka-record.js';
import type { Processor } from './processor.js';

export interface DecodedRecord {
  record: KafkaRecord;
  /** avsc's key record; null without a key, and when the compiled decoder read the event. */
  key: Record<string, unknown> | null;
  keySchema: ResolvedSchema | null;
  /**
   * Null for tombstones. avsc's envelope, or the compiled decoder's reading: then only `op` and
   * `source` (schema, table, ...) are there, which is what the binding reads.
   */
  value: Record<string, unknown> | null;
  valueSchema: ResolvedSchema | null;
  /** Set when the compiled decoder read the event: transform converts its rows from the bytes. */
  reading?: EnvelopeReading;
}

export interface DecodeOptions {
  /**
   * false: avsc decodes every event, as before the compiled decoder existed (the reference the
   * property tests compare the compiled path with). Default true.
   */
  compiled?: boolean;
}

const MAGIC_BYTE = 0;
const HEADER_LENGTH = 5;

type Part = 'key' | 'value';

function schemaIdOf(bytes: Buffer, part: Part): number {
  if (bytes.length < HEADER_LENGTH || bytes[0] !== MAGIC_BYTE) {
    // Plain JSON (a producer without the Avro converter) is the usual case: say so.
    const json = bytes[0] === 0x7b || bytes[0] === 0x5b ? ': it starts like plain JSON text' : '';
    throw new PoisonMessageError(
      `${part} is not in the Confluent wire format (magic byte 0 + schema id)${json}`,
    );
  }
  return bytes.readUInt32BE(1);
}

/** Whatever reading a part's Avro body throws, the bytes are at fault: always poison. */
function undecodable(part: Part, schema: ResolvedSchema, error: unknown): PoisonMessageError {
  return new PoisonMessageError(
    `${part} does not decode with its schema id ${schema.id}: ${(error as Error).message}`,
    { cause: error },
  );
}

function decodeWith(bytes: Buffer, schema: ResolvedSchema, part: Part): Record<string, unknown> {
  let value: unknown;
  try {
    checkAvroBounds(schema.type, bytes, HEADER_LENGTH);
    value = schema.type.fromBuffer(bytes.subarray(HEADER_LENGTH));
  } catch (error) {
    throw undecodable(part, schema, error);
  }
  if (typeof value !== 'object' || value === null) {
    throw new PoisonMessageError(`${part} decodes to a ${typeof value}, not a record`);
  }
  return value as Record<string, unknown>;
}

export async function decodeWireFormat(
  bytes: Buffer,
  lookup: SchemaLookup,
  part: Part,
): Promise<{ value: Record<string, unknown>; schema: ResolvedSchema }> {
  const id = schemaIdOf(bytes, part);
  const schema = lookup.resolved?.(id) ?? (await lookup.getSchema(id));
  return { value: decodeWith(bytes, schema, part), schema };
}

/**
 * A key as decode keeps it: the message itself, its body checked, when the compiled path may read
 * it (transform then reads its columns from the bytes); else avsc's record. Null without a key.
 */
type KeyPart = Buffer | Record<string, unknown> | null;

export function createDecodeProcessor(
  lookup: SchemaLookup,
  options: DecodeOptions = {},
): Processor<KafkaRecord, DecodedRecord> {
  const compiled = options.compiled !== false;

  const readKey = (bytes: Buffer | null, schema: ResolvedSchema | null): KeyPart => {
    if (!bytes || !schema) return null;
    if (compiled && schema.type.typeName === 'record') {
      try {
        checkAvroBounds(schema.type, bytes, HEADER_LENGTH);
      } catch (error) {
        throw undecodable('key', schema, error);
      }
      return bytes;
    }
    return decodeWith(bytes, schema, 'key');
  };

  const readValue = (
    record: KafkaRecord,
    key: KeyPart,
    keySchema: ResolvedSchema | null,
    bytes: Buffer | null,
    schema: ResolvedSchema | null,
  ): DecodedRecord[] => {
    const keyBytes = Buffer.isBuffer(key) ? key : null;
    const decoder = compiled && schema ? compiledEnvelopeDecoderOf(schema.type) : undefined;
    if (decoder && bytes && schema && (keyBytes || !keySchema)) {
      let reading: EnvelopeReading;
      try {
        reading = decoder.read(bytes, HEADER_LENGTH, keyBytes, HEADER_LENGTH);
      } catch (error) {
        throw undecodable('value', schema, error);
      }
      return [{ record, key: null, keySchema, value: reading, valueSchema: schema, reading }];
    }
    // avsc's path: a tombstone, or a value schema the compiled decoder does not take.
    const keyValue =
      keyBytes && keySchema ? keySchema.type.fromBuffer(keyBytes.subarray(HEADER_LENGTH)) : key;
    const value = bytes && schema ? decodeWith(bytes, schema, 'value') : null;
    return [
      {
        record,
        key: keyValue as Record<string, unknown> | null,
        keySchema,
        value,
        valueSchema: value ? schema : null,
      },
    ];
  };

  return {
    name: 'decode',
    process(record) {
      const keyBytes = record.key && record.key.length > 0 ? record.key : null;
      const valueBytes = record.value && record.value.length > 0 ? record.value : null;
      // The order errors are found in: both wire headers, then the key, then the value.
      const keyId = keyBytes ? schemaIdOf(keyBytes, 'key') : undefined;
      const valueId = valueBytes ? schemaIdOf(valueBytes, 'value') : undefined;
      // Both schemas fetched already (every record but the first of a schema): no await.
      const keySchema = keyId === undefined ? null : lookup.resolved?.(keyId);
      const valueSchema = valueId === undefined ? null : lookup.resolved?.(valueId);
      if (keySchema !== undefined && valueSchema !== undefined) {
        const key = readKey(keyBytes, keySchema);
        return readValue(record, key, keySchema, valueBytes, valueSchema);
      }
      return (async () => {
        const fetchedKeySchema =
          keyId === undefined
            ? null
            : (lookup.resolved?.(keyId) ?? (await lookup.getSchema(keyId)));
        const key = readKey(keyBytes, fetchedKeySchema);
        const fetchedValueSchema =
          valueId === undefined
            ? null
            : (lookup.resolved?.(valueId) ?? (await lookup.getSchema(valueId)));
        return readValue(record, key, fetchedKeySchema, valueBytes, fetchedValueSchema);
      })();
    },
  };
}

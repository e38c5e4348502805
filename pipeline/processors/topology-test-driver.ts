// Runs a Topology on in-memory records with no broker and no registry, like Kafka Streams'
// TopologyTestDriver: tests pipe one batch in and read its outputs and per-record failures.
// Also the in-memory pieces such tests need: a SchemaLookup over a map of schemas, and an
// encoder for the Confluent wire format.
import { pino } from 'pino';
import type { Logger } from '../../core/logger.js';
import type { AvroJson } from '../codec/avro-json.js';
import {
  parseAvroSchema,
  type ResolvedSchema,
  type SchemaLookup,
  UnknownSchemaError,
} from '../codec/schema-lookup.js';
import type { ProcessorContext } from './processor.js';
import type { BatchResult, Topology } from './topology.js';

export interface TopologyTestDriverOptions {
  /** Defaults to a silent logger. */
  log?: Logger;
}

export class TopologyTestDriver<S, O> {
  private readonly ctx: ProcessorContext;
  private initialized: Promise<void> | undefined;

  constructor(
    private readonly topology: Topology<S, O>,
    options: TopologyTestDriverOptions = {},
  ) {
    this.ctx = { log: options.log ?? pino({ level: 'silent' }) };
  }

  /** Runs one batch through the topology (init on first use), flushes, returns what came out. */
  async pipe(records: readonly S[]): Promise<BatchResult<S, O>> {
    this.initialized ??= this.topology.init(this.ctx);
    await this.initialized;
    return this.topology.processBatch(records, this.ctx);
  }

  async close(): Promise<void> {
    await this.topology.close();
  }
}

/** A SchemaLookup over schemas held in memory, parsed exactly as the registry lookup parses them. */
export class InMemorySchemaLookup implements SchemaLookup {
  private readonly schemas = new Map<number, ResolvedSchema>();

  constructor(schemas: ReadonlyMap<number, AvroJson> | Iterable<[number, AvroJson]> = []) {
    for (const [id, json] of schemas) this.schemas.set(id, parseAvroSchema(id, json));
  }

  /** Adds (or replaces) a schema and returns it parsed, for `encodeConfluent`. */
  register(id: number, json: AvroJson): ResolvedSchema {
    const resolved = parseAvroSchema(id, json);
    this.schemas.set(id, resolved);
    return resolved;
  }

  async getSchema(id: number): Promise<ResolvedSchema> {
    const schema = this.schemas.get(id);
    if (!schema) throw new UnknownSchemaError(`schema id ${id} is not in the registry`);
    return schema;
  }
}

/** Confluent wire format: magic byte 0, the schema id as uint32 big-endian, the Avro body. */
export function encodeConfluent(schema: ResolvedSchema, value: unknown): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt8(0, 0);
  header.writeUInt32BE(schema.id, 1);
  return Buffer.concat([header, schema.type.toBuffer(value)]);
}

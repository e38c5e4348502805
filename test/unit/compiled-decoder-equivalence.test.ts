// The compiled decoder (decode reads op and source from the bytes, transform reads the rows it needs
// straight into PostgreSQL text) against avsc's path (checkAvroBounds + avsc's envelope + the same
// transform on its values), which is the reference: every record must give the same outcome —
// the same RowChanges, or the same failure (processor, error class, message). On every captured
// fixture, on random events of every fixture schema and of a schema with a column of every type
// the codecs take (nulls, unchanged-TOAST placeholders, decimals, temporal types, arrays, longs
// beyond 2^53, keyless events, odd ops and sources), and on those bytes truncated and corrupted.
// Replay a failure: PGFERRY_EQUIVALENCE_SEED=<the printed seed> npx vitest run --project unit compiled-decoder
import { isDeepStrictEqual } from 'node:util';
import type avro from 'avsc';
import { describe, expect, it } from 'vitest';
import type { AvroJson, AvroJsonObject } from '../../pipeline/codec/avro-json.js';
import type { ResolvedSchema, SchemaLookup } from '../../pipeline/codec/schema-lookup.js';
import {
  createDecodeProcessor,
  type DecodedRecord,
} from '../../pipeline/processors/decode-processor.js';
import type { Processor } from '../../pipeline/processors/processor.js';
import { Topology } from '../../pipeline/processors/topology.js';
import {
  encodeConfluent,
  type InMemorySchemaLookup,
  TopologyTestDriver,
} from '../../pipeline/processors/topology-test-driver.js';
import { createTransformProcessor } from '../../pipeline/processors/transform-processor.js';
import type { RowChange } from '../../pipeline/row-change.js';
import type { KafkaRecord } from '../../pipeline/source/kafka-record.js';
import { encodeVarint } from '../support/avro-varint.js';
import {
  fixtureRecords,
  fixtureSchemaLookup,
  listFixtureTopics,
  loadMessages,
  loadSchema,
} from '../support/debezium-fixtures.js';
import { createSeededRandom, type SeededRandom } from '../support/seeded-random.js';
import { randomAvroValue, randomEnvelope } from './random-debezium-event.js';

const SEED = Number(process.env.PGFERRY_EQUIVALENCE_SEED ?? 0x17_0002);
const EVENTS_PER_SCHEMA = 600;
const HEADER = 5;

// ---- a schema with a column of every type the codecs take ----

const semantic = (name: string, type: string, params: Record<string, string> = {}) => ({
  type,
  'connect.version': 1,
  'connect.name': name,
  'connect.parameters': params,
});
const sourceTyped = (type: string, sourceType: string) => ({
  type,
  'connect.parameters': { '__debezium.source.column.type': sourceType },
});
const nullable = (type: AvroJson): AvroJson => ['null', type];
const arrayOf = (items: AvroJson, params?: Record<string, string>) => ({
  type: 'array',
  items: nullable(items),
  ...(params ? { 'connect.parameters': params } : {}),
});

/** A row field's type as a captured value schema has it. */
function capturedColumn(topic: 'cdc.fixture_precise.varnum', field: string): AvroJson {
  const envelope = loadSchema(topic, 'value') as AvroJsonObject;
  const before = envelope.fields?.find((f) => f.name === 'before') as { type: AvroJson[] };
  const row = before.type[1] as AvroJsonObject;
  return row.fields?.find((f) => f.name === field)?.type as AvroJson;
}

const EVERY_TYPE_COLUMNS: [string, AvroJson][] = [
  ['id', 'long'],
  ['flag', nullable('boolean')],
  ['small', nullable('int')],
  ['big', nullable('long')],
  ['real4', nullable('float')],
  ['real8', nullable('double')],
  ['label', nullable('string')],
  ['blob', nullable('bytes')],
  // Captured precise-mode numerics: Connect Decimal bytes, VariableScaleDecimal and a reference to it.
  ['amount', capturedColumn('cdc.fixture_precise.varnum', 'fixed')],
  ['varnum', capturedColumn('cdc.fixture_precise.varnum', 'amount')],
  ['varnum2', capturedColumn('cdc.fixture_precise.varnum', 'ratio')],
  ['avrodec', nullable({ type: 'bytes', logicalType: 'decimal', precision: 8, scale: 2 })],
  [
    'fixeddec',
    nullable({
      type: 'fixed',
      name: 'F4',
      size: 4,
      logicalType: 'decimal',
      precision: 9,
      scale: 1,
    }),
  ],
  ['day', nullable(semantic('io.debezium.time.Date', 'int'))],
  ['connect_day', nullable(semantic('org.apache.kafka.connect.data.Date', 'int'))],
  ['t_ms', nullable(semantic('io.debezium.time.Time', 'int'))],
  ['t_us', nullable(semantic('io.debezium.time.MicroTime', 'long'))],
  ['t_ns', nullable(semantic('io.debezium.time.NanoTime', 'long'))],
  ['ts_ms', nullable(semantic('io.debezium.time.Timestamp', 'long'))],
  ['connect_ts', nullable(semantic('org.apache.kafka.connect.data.Timestamp', 'long'))],
  ['ts_us', nullable(semantic('io.debezium.time.MicroTimestamp', 'long'))],
  ['ts_ns', nullable(semantic('io.debezium.time.NanoTimestamp', 'long'))],
  ['tstz', nullable(semantic('io.debezium.time.ZonedTimestamp', 'string'))],
  ['timetz', nullable(semantic('io.debezium.time.ZonedTime', 'string'))],
  ['span', nullable(semantic('io.debezium.time.Interval', 'string'))],
  ['span_us', nullable(semantic('io.debezium.time.MicroDuration', 'long'))],
  ['bits12', nullable(semantic('io.debezium.data.Bits', 'bytes', { length: '12' }))],
  ['varbits', nullable(semantic('io.debezium.data.Bits', 'bytes', { length: '0' }))],
  ['doc', nullable(semantic('io.debezium.data.Json', 'string'))],
  ['uid', nullable(semantic('io.debezium.data.Uuid', 'string'))],
  ['xmldoc', nullable(semantic('io.debezium.data.Xml', 'string'))],
  ['mood', nullable(semantic('io.debezium.data.Enum', 'string'))],
  ['moods', nullable(semantic('io.debezium.data.EnumSet', 'string'))],
  ['path', nullable(semantic('io.debezium.data.Ltree', 'string'))],
  ['numtext', nullable(sourceTyped('string', 'NUMERIC'))],
  ['range', nullable(sourceTyped('bytes', 'INT4RANGE'))],
  ['bytea', nullable(sourceTyped('bytes', 'BYTEA'))],
  ['ints', nullable(arrayOf('int'))],
  ['longs', nullable(arrayOf('long'))],
  ['texts', nullable(arrayOf('string'))],
  ['nums', nullable(arrayOf('string', { '__debezium.source.column.type': '_NUMERIC' }))],
  ['stamps', nullable(arrayOf(semantic('io.debezium.time.MicroTimestamp', 'long')))],
  ['days', nullable(arrayOf(semantic('io.debezium.time.Date', 'int')))],
  // Shapes no connector writes, whose codec takes a long only as avsc gives it (a BigInt).
  ['day_on_long', nullable(semantic('io.debezium.time.Date', 'long'))],
  ['json_on_long', nullable(semantic('io.debezium.data.Json', 'long'))],
];

/** fixture_types' envelope (its real source record) around a row of `columns`. */
function envelopeWith(columns: [string, AvroJson][]): AvroJsonObject {
  const envelope = structuredClone(
    loadSchema('cdc.public.fixture_types', 'value'),
  ) as AvroJsonObject;
  const before = envelope.fields?.find((f) => f.name === 'before') as { type: AvroJson[] };
  const row = before.type[1] as AvroJsonObject;
  row.fields = columns.map(([name, type]) => ({ name, type }));
  return envelope;
}

const everyTypeKey: AvroJson = {
  type: 'record',
  name: 'Key',
  namespace: 'cdc.public.every_type',
  fields: [{ name: 'id', type: 'long' }],
};

// ---- the two paths ----

interface Topic {
  topic: string;
  keyId: number | null;
  valueId: number;
}

const lookup: InMemorySchemaLookup = fixtureSchemaLookup(...listFixtureTopics());
const topics: Topic[] = listFixtureTopics().map((topic) => {
  const { schemaIds } = loadMessages(topic);
  return { topic, keyId: schemaIds.key, valueId: schemaIds.value as number };
});
lookup.register(9001, everyTypeKey);
lookup.register(9002, envelopeWith(EVERY_TYPE_COLUMNS));
topics.push({ topic: 'cdc.public.every_type', keyId: 9001, valueId: 9002 });

/** The lookup as the registry's: schemas already fetched are resolved without a promise. */
const resolvingLookup: SchemaLookup = {
  getSchema: (id) => lookup.getSchema(id),
  resolved: (id) => resolvedSchemas.get(id),
};
const resolvedSchemas = new Map<number, ResolvedSchema>();

const schemaOf = async (id: number) => {
  const schema = await lookup.getSchema(id);
  resolvedSchemas.set(id, schema);
  return schema;
};

/** Counts the records decode handed over as compiled readings (the test must not pass vacuously). */
function counting(decode: Processor<KafkaRecord, DecodedRecord>, seen: { compiled: number }) {
  return {
    ...decode,
    process(record: KafkaRecord, ctx: Parameters<typeof decode.process>[1]) {
      const out = decode.process(record, ctx);
      const count = (list: DecodedRecord[]) => {
        for (const d of list) if (d.reading) seen.compiled++;
        return list;
      };
      return out instanceof Promise ? out.then(count) : count(out);
    },
  };
}

const seen = { compiled: 0 };
const drivers = {
  reference: new TopologyTestDriver(
    Topology.from<KafkaRecord>()
      .through(createDecodeProcessor(lookup, { compiled: false }))
      .through(createTransformProcessor()),
  ),
  compiled: new TopologyTestDriver(
    Topology.from<KafkaRecord>()
      .through(counting(createDecodeProcessor(resolvingLookup), seen))
      .through(createTransformProcessor()),
  ),
};

type Outcome = { outputs: RowChange[]; failures: [string, string, string][] };

async function outcomeOf(
  driver: TopologyTestDriver<KafkaRecord, RowChange>,
  record: KafkaRecord,
): Promise<Outcome> {
  const { outputs, failures } = await driver.pipe([record]);
  return {
    outputs,
    failures: failures.map((f) => [f.processor, f.error.constructor.name, f.error.message]),
  };
}

/** Both paths on `record`: the outcome, or a description of how they differ. */
async function compare(record: KafkaRecord, what: string): Promise<Outcome> {
  const reference = await outcomeOf(drivers.reference, record);
  const compiled = await outcomeOf(drivers.compiled, record);
  if (!isDeepStrictEqual(compiled, reference)) {
    expect.fail(
      `${what} (seed ${SEED}): the compiled path differs from avsc's\nkey=${record.key?.toString('hex') ?? 'null'}\nvalue=${record.value?.toString('hex') ?? 'null'}\nreference: ${show(reference)}\ncompiled:  ${show(compiled)}`,
    );
  }
  return reference;
}

const show = (o: Outcome) =>
  JSON.stringify(o, (_k, v) =>
    typeof v === 'bigint' ? `${v}n` : typeof v === 'symbol' ? String(v) : v,
  );

// ---- events ----

function recordOf(topic: string, offset: number, key: Buffer | null, value: Buffer | null) {
  return {
    topic,
    partition: 0,
    offset: String(offset),
    key,
    value,
    headers: {},
    timestamp: '0',
  } satisfies KafkaRecord;
}

async function randomRecord(t: Topic, rnd: SeededRandom, offset: number): Promise<KafkaRecord> {
  const valueSchema = await schemaOf(t.valueId);
  const value = encodeConfluent(
    valueSchema,
    randomEnvelope(valueSchema.type as avro.types.RecordType, rnd),
  );
  // Now and then no key: the event of a keyless table (REPLICA IDENTITY FULL).
  let key: Buffer | null = null;
  if (t.keyId !== null && rnd.chance(0.85)) {
    const keySchema = await schemaOf(t.keyId);
    key = encodeConfluent(keySchema, randomAvroValue(keySchema.type, rnd));
  }
  return recordOf(t.topic, offset, key, value);
}

const splice = (bytes: Buffer, start: number, end: number, insert: Buffer) =>
  Buffer.concat([bytes.subarray(0, start), insert, bytes.subarray(end)]);

/** The bytes of one part broken: truncated, extended, a byte changed, inserted or a varint inflated. */
function corrupt(bytes: Buffer, rnd: SeededRandom): Buffer {
  const at = HEADER + rnd.int(Math.max(1, bytes.length - HEADER));
  switch (rnd.int(6)) {
    case 0:
      return bytes.subarray(0, at);
    case 1:
      return Buffer.concat([bytes, Buffer.from([rnd.int(256)])]);
    case 2: {
      const out = Buffer.from(bytes);
      out[at] = (out[at] ?? 0) ^ (1 << rnd.int(8));
      return out;
    }
    case 3:
      return splice(bytes, at, at, Buffer.from([rnd.int(256), rnd.int(256)]));
    case 4:
      return splice(bytes, at, Math.min(bytes.length, at + 1 + rnd.int(4)), Buffer.alloc(0));
    default:
      return splice(
        bytes,
        at,
        at + 1,
        encodeVarint(rnd.pick([2n ** 31n, 2n ** 62n, -1n, BigInt(bytes.length), 64n])),
      );
  }
}

describe('the compiled decoder against avsc (the reference)', () => {
  it('gives the same changes on every captured fixture, alone and in batches', async () => {
    const before = seen.compiled;
    let changes = 0;
    let events = 0;
    for (const topic of listFixtureTopics()) {
      const records = fixtureRecords(topic);
      for (const record of records) {
        changes += (await compare(record, `${topic}@${record.offset}`)).outputs.length;
      }
      events += loadMessages(topic).messages.filter((m) => m.expected !== 'tombstone').length;
      const batchReference = await drivers.reference.pipe(records);
      const batchCompiled = await drivers.compiled.pipe(records);
      expect(batchCompiled.outputs).toEqual(batchReference.outputs);
      expect(batchCompiled.failures).toEqual([]);
    }
    expect(changes).toBe(events);
    // Every fixture schema is one the compiled decoder reads (none fell back to avsc): each
    // event went through it twice, alone and in its batch.
    expect(seen.compiled - before).toBe(2 * events);
  }, 60_000);

  it(`gives the same outcome on ${EVENTS_PER_SCHEMA} random events of every schema (seed ${SEED})`, async () => {
    const rnd = createSeededRandom(SEED);
    const before = seen.compiled;
    const outcomes = new Map<string, number>();
    for (const t of topics) {
      for (let i = 0; i < EVENTS_PER_SCHEMA; i++) {
        const record = await randomRecord(t, rnd, i);
        const outcome = await compare(record, `random event #${i} of ${t.topic}`);
        const kind = outcome.failures[0]
          ? `${outcome.failures[0][0]} ${outcome.failures[0][1]}`
          : `${outcome.outputs.length} change(s)`;
        outcomes.set(kind, (outcomes.get(kind) ?? 0) + 1);
      }
    }
    console.log(`random events (seed ${SEED}):`, Object.fromEntries(outcomes));
    // The events reached conversions and refusals both, through the compiled path.
    expect(outcomes.get('1 change(s)') ?? 0).toBeGreaterThan(topics.length * 100);
    expect([...outcomes.keys()].some((k) => k.startsWith('transform'))).toBe(true);
    expect(seen.compiled - before).toBeGreaterThan(topics.length * EVENTS_PER_SCHEMA * 0.9);
  }, 120_000);

  it(`refuses the same corrupted and truncated bytes the same way (seed ${SEED})`, async () => {
    const rnd = createSeededRandom(SEED + 1);
    const outcomes = new Map<string, number>();
    for (const t of topics) {
      for (let i = 0; i < EVENTS_PER_SCHEMA; i++) {
        const record = await randomRecord(t, rnd, i);
        const part = record.key && rnd.chance(0.2) ? 'key' : 'value';
        const broken = { ...record, [part]: corrupt(record[part] as Buffer, rnd) };
        const outcome = await compare(broken, `corrupted ${part} #${i} of ${t.topic}`);
        const kind = outcome.failures[0]
          ? `${outcome.failures[0][0]} ${outcome.failures[0][1]}`
          : 'accepted';
        outcomes.set(kind, (outcomes.get(kind) ?? 0) + 1);
      }
    }
    console.log(`corrupted events (seed ${SEED}):`, Object.fromEntries(outcomes));
    expect(outcomes.get('decode PoisonMessageError') ?? 0).toBeGreaterThan(topics.length * 100);
  }, 120_000);

  it('gives the same outcome for schemas it does not compile (avsc decodes them)', async () => {
    // Not an envelope (no op), an envelope whose row is not a [null, record] union, and one
    // with a column type no codec converts exactly (the table stops, in both paths alike).
    const notDebezium = lookup.register(9101, {
      type: 'record',
      name: 'Other',
      fields: [{ name: 'id', type: 'long' }],
    });
    const unsupported = lookup.register(
      9102,
      envelopeWith([
        ['id', 'long'],
        ['mood', { type: 'enum', name: 'Mood', symbols: ['sad', 'ok'] }],
      ]),
    );
    const rnd = createSeededRandom(SEED + 2);
    for (const [i, schema] of [notDebezium, unsupported].entries()) {
      for (let n = 0; n < 50; n++) {
        const value =
          schema === notDebezium
            ? randomAvroValue(schema.type, rnd)
            : randomEnvelope(schema.type as avro.types.RecordType, rnd);
        const record = recordOf(`cdc.public.odd${i}`, n, null, encodeConfluent(schema, value));
        const outcome = await compare(record, `schema ${schema.id} #${n}`);
        if (schema === notDebezium) {
          expect(outcome.failures[0]?.[2]).toMatch(/^not a Debezium change event/);
        }
      }
    }
  });
});

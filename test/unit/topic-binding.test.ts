// decode -> bind -> transform on real Debezium records (schemas/examples): an event writes only the
// table its topic names, its schemas must be its topic's, and a row change without its key on a
// keyed topic is a key left out. Each forged record is poison (dead-lettered, the table goes on);
// a table really without a primary key goes on as a keyless change (the sink judges it).
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { PoisonMessageError, RetriableError, SchemaIncompatibleError } from '../../core/errors.js';
import { KeySchemaMismatchError } from '../../pipeline/codec/envelope-schema.js';
import type { SchemaSubjects } from '../../pipeline/codec/schema-subjects.js';
import { createDecodeProcessor } from '../../pipeline/processors/decode-processor.js';
import { createTopicBindingProcessor } from '../../pipeline/processors/topic-binding-processor.js';
import { Topology } from '../../pipeline/processors/topology.js';
import {
  encodeConfluent,
  TopologyTestDriver,
} from '../../pipeline/processors/topology-test-driver.js';
import { createTransformProcessor } from '../../pipeline/processors/transform-processor.js';
import {
  ForeignSchemaError,
  MissingKeyError,
  ReservedSchemaError,
  TableNotSelectedError,
  TopicTableMismatchError,
} from '../../pipeline/routing/binding-errors.js';
import { TopicTableMap } from '../../pipeline/routing/topic-table-map.js';
import type { RowChange } from '../../pipeline/row-change.js';
import type { KafkaRecord } from '../../pipeline/source/kafka-record.js';
import { fixtureSchemaLookup, loadMessages, toKafkaRecord } from '../support/debezium-fixtures.js';

const COMPOSITE = 'cdc.public.fixture_composite';
const TYPEPROBE = 'cdc.public.typeprobe';
const lookup = fixtureSchemaLookup(COMPOSITE, TYPEPROBE);
const composite = loadMessages(COMPOSITE);
const typeprobe = loadMessages(TYPEPROBE);
const compositeRecords = composite.messages.map((m) => toKafkaRecord(COMPOSITE, m));
const insert1 = compositeRecords[0] as KafkaRecord;
const truncate = compositeRecords[8] as KafkaRecord;
const typeprobeInsert = toKafkaRecord(TYPEPROBE, typeprobe.messages[0] as never);

/** The registry's subjects as Debezium leaves them: each topic's ids under <topic>-key/-value. */
class FixtureSubjects implements SchemaSubjects {
  asked = 0;
  readonly subjects = new Map<number, string[]>();
  constructor(options: { noKeySubjects?: boolean; cannotSay?: boolean } = {}) {
    this.cannotSay = options.cannotSay ?? false;
    for (const fixture of [composite, typeprobe]) {
      const { key, value } = fixture.schemaIds;
      if (key !== null && !options.noKeySubjects) this.subjects.set(key, [`${fixture.topic}-key`]);
      if (value !== null) this.subjects.set(value, [`${fixture.topic}-value`]);
    }
  }
  private readonly cannotSay: boolean;
  async subjectsOf(id: number) {
    this.asked++;
    return this.cannotSay ? undefined : (this.subjects.get(id) ?? []);
  }
  async hasSubject(subject: string) {
    this.asked++;
    if (this.cannotSay) return undefined;
    return [...this.subjects.values()].some((list) => list.includes(subject));
  }
}

const map = TopicTableMap.fromConfig({ kafka: { topicPattern: /^cdc\.public\..*/ }, mapping: {} });

function driverWith(
  options: { subjects?: SchemaSubjects; routing?: TopicTableMap; logs?: string[] } = {},
): TopologyTestDriver<KafkaRecord, RowChange> {
  const topology = Topology.from<KafkaRecord>()
    .through(createDecodeProcessor(lookup))
    .through(
      createTopicBindingProcessor({
        map: options.routing ?? map,
        ...(options.subjects ? { subjects: options.subjects } : {}),
      }),
    )
    .through(createTransformProcessor());
  const log = pino({ level: 'warn' }, {
    write: (line: string) => options.logs?.push(line),
  } as never);
  return new TopologyTestDriver(topology, { log });
}

async function decoded(record: KafkaRecord): Promise<Record<string, unknown>> {
  const bytes = record.value as Buffer;
  const schema = await lookup.getSchema(bytes.readUInt32BE(1));
  return schema.type.fromBuffer(bytes.subarray(5)) as Record<string, unknown>;
}

/** `record` with its value's `source` changed (re-encoded with its own schema id). */
async function withSource(
  record: KafkaRecord,
  source: { schema?: string; table?: string },
  topic = record.topic,
): Promise<KafkaRecord> {
  const value = await decoded(record);
  Object.assign(value.source as object, source);
  const id = (record.value as Buffer).readUInt32BE(1);
  return { ...record, topic, value: encodeConfluent(await lookup.getSchema(id), value) };
}

async function failureOf(driver: TopologyTestDriver<KafkaRecord, RowChange>, record: KafkaRecord) {
  const { outputs, failures } = await driver.pipe([record]);
  expect(outputs).toEqual([]);
  expect(failures).toHaveLength(1);
  expect(failures[0]?.source).toBe(record);
  return failures[0] as { processor: string; error: Error };
}

describe('binding events to their topic', () => {
  it('passes every real record of a topic (one registry answer per schema id)', async () => {
    const subjects = new FixtureSubjects();
    const { outputs, failures } = await driverWith({ subjects }).pipe(compositeRecords);
    expect(failures).toEqual([]);
    expect(outputs.length).toBeGreaterThan(5);
    expect(outputs.every((c) => c.table.name === 'fixture_composite')).toBe(true);
    // key and value schema ids: one question each, whatever the number of records.
    expect(subjects.asked).toBe(2);
  });

  it('dead-letters an event whose source names another table, forged op t included', async () => {
    for (const record of [insert1, truncate]) {
      const forged = await withSource(record, { table: 'typeprobe' });
      const failure = await failureOf(driverWith({ subjects: new FixtureSubjects() }), forged);
      expect(failure.processor).toBe('bind');
      expect(failure.error).toBeInstanceOf(TopicTableMismatchError);
      expect(failure.error).toBeInstanceOf(PoisonMessageError);
      expect(failure.error.message).toContain(
        `names table public.typeprobe (topic ${TYPEPROBE}) but came on topic ${COMPOSITE}`,
      );
    }
  });

  it('still judges each record once the topic’s own records passed (the verdict kept is only for alike records)', async () => {
    const subjects = new FixtureSubjects();
    const driver = driverWith({ subjects });
    const passed = await driver.pipe(compositeRecords);
    expect(passed.failures).toEqual([]);
    const forgedTable = await withSource(insert1, { table: 'typeprobe' });
    expect((await failureOf(driver, forgedTable)).error).toBeInstanceOf(TopicTableMismatchError);
    const forgedSchema = await withSource(
      typeprobeInsert,
      { table: 'fixture_composite' },
      COMPOSITE,
    );
    const foreign = await failureOf(driver, { ...forgedSchema, key: insert1.key });
    expect(foreign.error).toBeInstanceOf(ForeignSchemaError);
    const mixedKey = await failureOf(driver, { ...insert1, key: typeprobeInsert.key });
    expect(mixedKey.error).toBeInstanceOf(ForeignSchemaError);
    // And the topic's own records still pass.
    const again = await driver.pipe(compositeRecords);
    expect(again.failures).toEqual([]);
  });

  it('dead-letters another table’s record copied onto a topic', async () => {
    const copied = { ...typeprobeInsert, topic: COMPOSITE };
    const failure = await failureOf(driverWith(), copied);
    expect(failure.error).toBeInstanceOf(TopicTableMismatchError);
  });

  it('never writes pgferry’s bookkeeping schema, whatever topic names it', async () => {
    const forged = await withSource(
      insert1,
      { schema: 'pgferry', table: 'offsets' },
      'cdc.pgferry.offsets',
    );
    const failure = await failureOf(driverWith(), forged);
    expect(failure.error).toBeInstanceOf(ReservedSchemaError);
  });

  it('dead-letters an event of a table TABLES_EXCLUDE leaves out', async () => {
    const routing = TopicTableMap.fromConfig({
      kafka: { topicPattern: /^cdc\.public\..*/ },
      mapping: { exclude: ['public.fixture_*'] },
    });
    const failure = await failureOf(driverWith({ routing }), insert1);
    expect(failure.error).toBeInstanceOf(TableNotSelectedError);
  });

  it('dead-letters a value schema of another topic, even with the right source', async () => {
    // typeprobe's schema and row, claiming to be fixture_composite's change, on its topic.
    const forged = await withSource(typeprobeInsert, { table: 'fixture_composite' }, COMPOSITE);
    const failure = await failureOf(driverWith({ subjects: new FixtureSubjects() }), {
      ...forged,
      key: insert1.key,
    });
    expect(failure.error).toBeInstanceOf(ForeignSchemaError);
    expect(failure.error.message).toContain(
      `registered for ${TYPEPROBE}-value, not for this topic's ${COMPOSITE}-value`,
    );
  });

  it('dead-letters a key schema of another table (poison, not a stop), with or without the registry’s subjects', async () => {
    const mixed = { ...insert1, key: typeprobeInsert.key };
    const withSubjects = await failureOf(driverWith({ subjects: new FixtureSubjects() }), mixed);
    expect(withSubjects.error).toBeInstanceOf(ForeignSchemaError);
    // Without subjects, the key's fields do not fit the row: still poison.
    const without = await failureOf(driverWith(), mixed);
    expect(without.processor).toBe('transform');
    expect(without.error).toBeInstanceOf(KeySchemaMismatchError);
    expect(without.error).not.toBeInstanceOf(SchemaIncompatibleError);
  });

  it('dead-letters a row change without its key on a topic whose table has one', async () => {
    for (const key of [null, Buffer.alloc(0)]) {
      const failure = await failureOf(driverWith({ subjects: new FixtureSubjects() }), {
        ...insert1,
        key,
      });
      expect(failure.processor).toBe('bind');
      expect(failure.error).toBeInstanceOf(MissingKeyError);
      expect(failure.error.message).toContain(`its key schemas are registered as ${COMPOSITE}-key`);
    }
  });

  it('passes a keyless change of a table without a primary key (no key subject) on to transform', async () => {
    const subjects = new FixtureSubjects({ noKeySubjects: true });
    const { outputs, failures } = await driverWith({ subjects }).pipe([{ ...insert1, key: null }]);
    expect(failures).toEqual([]);
    expect(outputs[0]?.key).toEqual({});
    expect(outputs[0]?.schema.primaryKey).toEqual([]);
  });

  it('lets truncates (which have no key) and tombstones through', async () => {
    const tombstone = compositeRecords[4] as KafkaRecord;
    expect(tombstone.value).toBeNull();
    const { outputs, failures } = await driverWith({ subjects: new FixtureSubjects() }).pipe([
      truncate,
      tombstone,
    ]);
    expect(failures).toEqual([]);
    expect(outputs.map((c) => c.op)).toEqual(['t']);
  });

  it('checks only the source when the registry cannot say whose a schema is, and says so once', async () => {
    const logs: string[] = [];
    const subjects = new FixtureSubjects({ cannotSay: true });
    const driver = driverWith({ subjects, logs });
    const { failures } = await driver.pipe(compositeRecords);
    expect(failures).toEqual([]);
    expect(logs.filter((l) => l.includes('cannot check that the message schemas'))).toHaveLength(1);
    const forged = await withSource(insert1, { table: 'typeprobe' });
    expect((await failureOf(driver, forged)).error).toBeInstanceOf(TopicTableMismatchError);
  });

  it('retries when the registry is down (never dead-letters for an outage)', async () => {
    const down: SchemaSubjects = {
      subjectsOf: async () => {
        throw new RetriableError('registry unreachable');
      },
      hasSubject: async () => {
        throw new RetriableError('registry unreachable');
      },
    };
    await expect(driverWith({ subjects: down }).pipe([insert1])).rejects.toBeInstanceOf(
      RetriableError,
    );
  });
});

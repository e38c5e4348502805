// decode -> transform on real Debezium records (schemas/examples), through the topology test
// driver: what each captured record becomes, and how bad input is reported.
import { describe, expect, it } from 'vitest';
import {
  PgferryError,
  PoisonMessageError,
  RetriableError,
  SchemaIncompatibleError,
} from '../../core/errors.js';
import { type SchemaLookup, UnknownSchemaError } from '../../pipeline/codec/schema-lookup.js';
import { createDecodeProcessor } from '../../pipeline/processors/decode-processor.js';
import { Topology } from '../../pipeline/processors/topology.js';
import {
  encodeConfluent,
  TopologyTestDriver,
} from '../../pipeline/processors/topology-test-driver.js';
import { createTransformProcessor } from '../../pipeline/processors/transform-processor.js';
import type { RowChange } from '../../pipeline/row-change.js';
import type { KafkaRecord } from '../../pipeline/source/kafka-record.js';
import {
  type ExpectedChange,
  type FixtureTopic,
  fixtureSchemaLookup,
  loadMessages,
  toKafkaRecord,
  toPgRow,
} from '../support/debezium-fixtures.js';

const TOPICS: FixtureTopic[] = [
  'cdc.public.typeprobe',
  'cdc.public.fixture_composite',
  'cdc.public.fixture_varnum',
  'cdc.public.fixture_types',
  'cdc.public.fixture_weird_key',
];

const lookup = fixtureSchemaLookup(...TOPICS);

function driverWith(schemas: SchemaLookup = lookup): TopologyTestDriver<KafkaRecord, RowChange> {
  const topology = Topology.from<KafkaRecord>()
    .through(createDecodeProcessor(schemas))
    .through(createTransformProcessor());
  return new TopologyTestDriver(topology);
}

/** The avsc-decoded value of a fixture record, to re-encode it changed. */
async function decodeValue(record: KafkaRecord): Promise<Record<string, unknown>> {
  const bytes = record.value as Buffer;
  const schema = await lookup.getSchema(bytes.readUInt32BE(1));
  return schema.type.fromBuffer(bytes.subarray(5)) as Record<string, unknown>;
}

async function encodeValue(valueSchemaId: number, value: unknown): Promise<Buffer> {
  return encodeConfluent(await lookup.getSchema(valueSchemaId), value);
}

const composite = loadMessages('cdc.public.fixture_composite');
const compositeRecords = composite.messages.map((m) => toKafkaRecord(composite.topic, m));
const [insert1, , , pkDelete, tombstone, , , , truncate] = compositeRecords as [
  KafkaRecord,
  KafkaRecord,
  KafkaRecord,
  KafkaRecord,
  KafkaRecord,
  KafkaRecord,
  KafkaRecord,
  KafkaRecord,
  KafkaRecord,
];

describe('transform of real Debezium records', () => {
  for (const topic of TOPICS) {
    it(`turns every record of ${topic} into the PostgreSQL text of the source row`, async () => {
      const fixture = loadMessages(topic);
      const records = fixture.messages.map((m) => toKafkaRecord(topic, m));
      const { outputs, failures } = await driverWith().pipe(records);

      expect(failures).toEqual([]);
      const changes = fixture.messages.filter((m) => m.expected !== 'tombstone');
      expect(outputs).toHaveLength(changes.length);
      for (const [i, message] of changes.entries()) {
        const expected = message.expected as ExpectedChange;
        const output = outputs[i] as RowChange;
        const source = (await decodeValue(toKafkaRecord(topic, message))).source as {
          lsn: bigint;
          txId: bigint;
        };
        expect({ step: message.step, op: output.op, key: output.key, after: output.after }).toEqual(
          {
            step: message.step,
            op: expected.op,
            key: expected.key,
            after: expected.after === null ? null : toPgRow(expected.after),
          },
        );
        expect(output.table).toEqual({ schema: 'public', name: fixture.table });
        expect(output.position).toBe(source.lsn);
        expect(output.txId).toBe(String(source.txId));
        expect(output.origin).toEqual({
          topic,
          partition: message.partition,
          offset: message.offset,
        });
      }
    });
  }

  it('orders a row change by source.lsn: the captured changes of one table grow with commit order', async () => {
    const { outputs } = await driverWith().pipe(compositeRecords);
    const positions = outputs.map((o) => o.position);
    expect(positions.every((p) => typeof p === 'bigint')).toBe(true);
    expect([...positions].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(positions);
  });

  it('keeps composite primary keys in key-schema order with the real column names', async () => {
    const { outputs } = await driverWith().pipe([insert1]);
    expect(outputs[0]?.schema.primaryKey).toEqual(['tenant_id', 'order_no']);
    expect(outputs[0]?.key).toEqual({ tenant_id: '1', order_no: '100' });

    const weird = loadMessages('cdc.public.fixture_weird_key');
    const result = await driverWith().pipe(
      weird.messages.map((m) => toKafkaRecord(weird.topic, m)),
    );
    expect(result.failures).toEqual([]);
    expect(result.outputs[0]?.schema.primaryKey).toEqual(['Order-Id']);
    expect(result.outputs[0]?.key).toEqual({ 'Order-Id': '7' });
  });

  it('filters the tombstone that follows a delete', async () => {
    expect(tombstone.value).toBeNull();
    expect(await driverWith().pipe([tombstone])).toMatchObject({ outputs: [], failures: [] });
    const { outputs } = await driverWith().pipe([pkDelete, tombstone]);
    expect(outputs.map((o) => [o.op, o.key, o.after])).toEqual([
      ['d', { tenant_id: '2', order_no: '100' }, null],
    ]);
  });

  it('turns a truncate (no key) into op t with an empty key', async () => {
    expect(truncate.key).toBeNull();
    const { outputs, failures } = await driverWith().pipe([truncate]);
    expect(failures).toEqual([]);
    expect(outputs).toHaveLength(1);
    const change = outputs[0] as RowChange;
    expect(change.op).toBe('t');
    expect(change.key).toEqual({});
    expect(change.after).toBeNull();
    expect(change.table).toEqual({ schema: 'public', name: 'fixture_composite' });
    expect(change.position).toBe(((await decodeValue(truncate)).source as { lsn: bigint }).lsn);
  });

  it('passes a snapshot read (op r) through like a create', async () => {
    const value = await decodeValue(insert1);
    value.op = 'r';
    const record = {
      ...insert1,
      value: await encodeValue(composite.schemaIds.value as number, value),
    };
    const { outputs } = await driverWith().pipe([record]);
    expect(outputs.map((o) => [o.op, o.key, o.after])).toEqual([
      [
        'r',
        { tenant_id: '1', order_no: '100' },
        { tenant_id: '1', order_no: '100', note: 'first' },
      ],
    ]);
  });

  it('takes table and position from the source block, not the topic name', async () => {
    const value = await decodeValue(insert1);
    const source = value.source as Record<string, unknown>;
    source.schema = 'sales';
    source.table = 'orders';
    source.lsn = 2n ** 63n - 1n;
    source.txId = 9_007_199_254_740_993n;
    const record = {
      ...insert1,
      value: await encodeValue(composite.schemaIds.value as number, value),
    };
    const { outputs } = await driverWith().pipe([record]);
    expect(outputs[0]?.table).toEqual({ schema: 'sales', name: 'orders' });
    expect(outputs[0]?.position).toBe(9_223_372_036_854_775_807n);
    expect(outputs[0]?.txId).toBe('9007199254740993');
  });

  it('turns a change without a key schema into a keyless change (full row, before kept for u/d)', async () => {
    const insert = { ...insert1, key: null };
    const del = { ...(compositeRecords[6] as KafkaRecord), key: null };
    const { outputs, failures } = await driverWith().pipe([insert, del]);
    expect(failures).toEqual([]);
    expect(outputs.map((c) => [c.op, c.key, c.schema.primaryKey])).toEqual([
      ['c', {}, []],
      ['d', {}, []],
    ]);
    expect(outputs[0]?.after).toMatchObject({ tenant_id: '1', order_no: '100' });
    expect(outputs[1]?.before).toMatchObject({ tenant_id: '1', order_no: '100' });
  });

  it('stops a keyless table whose update carries no before row (not REPLICA IDENTITY FULL)', async () => {
    const record = { ...(compositeRecords[2] as KafkaRecord), key: null };
    const { outputs, failures } = await driverWith().pipe([record]);
    expect(outputs).toEqual([]);
    expect(failures).toHaveLength(1);
    expect(failures[0]?.processor).toBe('transform');
    const error = failures[0]?.error;
    expect(error).toBeInstanceOf(SchemaIncompatibleError);
    expect((error as SchemaIncompatibleError).table).toBe('public.fixture_composite');
    expect((error as Error).message).toMatch(/REPLICA IDENTITY FULL/);
  });
});

describe('bad input', () => {
  const valueBytes = insert1.value as Buffer;

  const poisonCases: [string, KafkaRecord][] = [
    ['a value that does not match its schema', { ...insert1, value: valueBytes.subarray(0, 12) }],
    [
      'a value with garbage after the header',
      { ...insert1, value: Buffer.concat([valueBytes.subarray(0, 5), Buffer.from([0xff, 0xff])]) },
    ],
    [
      'a value with the wrong magic byte',
      { ...insert1, value: Buffer.concat([Buffer.from([1]), valueBytes.subarray(1)]) },
    ],
    ['a value shorter than the header', { ...insert1, value: Buffer.from([0, 0, 0]) }],
    [
      'a key with the wrong magic byte',
      { ...insert1, key: Buffer.concat([Buffer.from([7]), (insert1.key as Buffer).subarray(1)]) },
    ],
  ];

  for (const [name, record] of poisonCases) {
    it(`reports ${name} as a PoisonMessageError failure of that record`, async () => {
      const { outputs, failures } = await driverWith().pipe([record]);
      expect(outputs).toEqual([]);
      expect(failures).toHaveLength(1);
      expect(failures[0]?.source).toBe(record);
      expect(failures[0]?.processor).toBe('decode');
      expect(failures[0]?.error).toBeInstanceOf(PoisonMessageError);
    });
  }

  it('reports an unknown schema id as UnknownSchemaError (poison) and goes on with the batch', async () => {
    const unknown = Buffer.from(valueBytes);
    unknown.writeUInt32BE(999_999, 1);
    const bad = { ...insert1, offset: '100', value: unknown };
    const good = { ...insert1, offset: '101' };
    const { outputs, failures } = await driverWith().pipe([bad, good]);
    expect(failures.map((f) => [f.source, f.processor, f.error.constructor])).toEqual([
      [bad, 'decode', UnknownSchemaError],
    ]);
    expect(failures[0]?.error).toBeInstanceOf(PoisonMessageError);
    expect(failures[0]?.error.message).toContain('999999');
    expect(outputs.map((o) => o.origin.offset)).toEqual(['101']);
  });

  it('rejects the whole batch when the registry is down (retriable, never a failure entry)', async () => {
    const down: SchemaLookup = {
      getSchema: async () => {
        throw new RetriableError('schema registry unreachable (ECONNREFUSED)');
      },
    };
    const rejection = driverWith(down).pipe([insert1]);
    await expect(rejection).rejects.toBeInstanceOf(RetriableError);
    await expect(rejection).rejects.toMatchObject({ retriable: true });
  });

  it('rejects the batch on an unexpected (untyped) error instead of blaming the record', async () => {
    const broken: SchemaLookup = {
      getSchema: async () => {
        throw new TypeError('bug');
      },
    };
    await expect(driverWith(broken).pipe([insert1])).rejects.toBeInstanceOf(TypeError);
  });

  it('every failure carries a non-retriable typed error', async () => {
    const { failures } = await driverWith().pipe(poisonCases.map(([, r]) => r));
    expect(failures).toHaveLength(poisonCases.length);
    for (const f of failures) {
      expect(f.error).toBeInstanceOf(PgferryError);
      expect(f.error.retriable).toBe(false);
    }
  });
});

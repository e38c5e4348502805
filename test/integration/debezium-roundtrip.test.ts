// The foundation's acceptance test: the real source PostgreSQL -> Debezium (Kafka Connect, Avro
// through Apicurio in the Confluent wire format) -> Kafka, read back with kafkajs and decoded with
// @kafkajs/confluent-schema-registry against the registry's ccompat API.
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectClient } from '../../core/connect-client.js';
import { createSchemaRegistryClient } from '../../core/schema-registry-client.js';
import { applyConnector } from '../../migrate/connector/connector-apply.js';
import { readConnectorDefinition } from '../../migrate/connector/connector-definition.js';
import { loadStackEnv, repoPath } from '../support/stack-env.js';

const stack = loadStackEnv();
const table = `it_roundtrip_${Date.now().toString(36)}`;
const topic = `cdc.public.${table}`;

interface RawMessage {
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
}

async function waitForTopic(kafka: Kafka, name: string, timeoutMs: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    while (!(await admin.listTopics()).includes(name)) {
      if (Date.now() > deadline) throw new Error(`topic ${name} did not appear in ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    await admin.disconnect();
  }
}

async function readMessages(kafka: Kafka, count: number, timeoutMs: number): Promise<RawMessage[]> {
  const consumer = kafka.consumer({ groupId: `it-roundtrip-${table}` });
  const messages: RawMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`got ${messages.length} of ${count} messages in ${timeoutMs} ms`)),
        timeoutMs,
      );
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            messages.push({
              partition,
              offset: message.offset,
              key: message.key,
              value: message.value,
            });
            if (messages.length >= count) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return messages;
}

interface AvroField {
  name: string;
  type: unknown;
}

/**
 * The propagated source type of an `after`/`before` column in Debezium's value schema: with
 * `decimal.handling.mode=string` a numeric is an Avro string, told from text by these parameters.
 */
function numericSourceTypeOf(
  valueSchema: { fields: AvroField[] },
  column: string,
): Record<string, string> {
  // The row record is defined inline at its first use (`before`); `after` refers to it by name.
  const before = valueSchema.fields.find((f) => f.name === 'before');
  if (!before) throw new Error('value schema has no `before` field');
  const rowType = (before.type as unknown[]).find((t) => typeof t === 'object') as {
    fields: AvroField[];
  };
  const field = rowType.fields.find((f) => f.name === column);
  if (!field) throw new Error(`row schema has no column ${column}`);
  const branch = (field.type as unknown[]).find((t) => typeof t === 'object') as {
    type: string;
    'connect.parameters': Record<string, string>;
  };
  expect(branch.type).toBe('string');
  return branch['connect.parameters'];
}

describe('Debezium -> Kafka -> registry round trip on the local stack', () => {
  const source = new pg.Client({ connectionString: stack.sourceDatabaseUrl });
  const kafka = new Kafka({
    brokers: [stack.kafkaBootstrap],
    clientId: 'pgferry-it',
    logLevel: logLevel.WARN,
  });
  const registry = createSchemaRegistryClient({ url: stack.schemaRegistryUrl });

  beforeAll(async () => {
    const definition = await readConnectorDefinition(
      repoPath('connect-config/debezium-source.json'),
    );
    await applyConnector({
      client: new ConnectClient({ baseUrl: stack.connectUrl }),
      name: definition.name ?? 'pgferry-source',
      config: definition.config,
      timeoutMs: 180_000,
    });
    await source.connect();
  });

  afterAll(async () => {
    await source.query(`DROP TABLE IF EXISTS "${table}"`).catch(() => undefined);
    await source.end();
  });

  it('delivers an insert, an update and a delete (+ tombstone) that decode to the written values', async () => {
    await source.query(
      `CREATE TABLE "${table}" (id integer PRIMARY KEY, amount numeric(12,2), paid_at timestamptz, note text)`,
    );
    await source.query(
      `INSERT INTO "${table}" VALUES (1, 12.34, '2026-01-02 03:04:05.123456+00', NULL)`,
    );
    await source.query(`UPDATE "${table}" SET amount = -99999.99, note = 'späti ✓' WHERE id = 1`);
    await source.query(`DELETE FROM "${table}" WHERE id = 1`);

    await waitForTopic(kafka, topic, 120_000);
    const messages = await readMessages(kafka, 4, 120_000);

    // Confluent wire format: magic byte 0, then a 4-byte big-endian schema id.
    for (const m of messages) {
      expect(m.key?.[0]).toBe(0);
      expect(m.key?.length).toBeGreaterThan(5);
    }
    // Debezium keys by primary key, so one row's changes share a partition and keep their order.
    expect(new Set(messages.map((m) => m.partition)).size).toBe(1);

    const [created, updated, deleted, tombstone] = messages;
    if (!created || !updated || !deleted || !tombstone) throw new Error('expected 4 messages');
    expect(tombstone.value).toBeNull();

    const keys = await Promise.all(messages.map((m) => registry.decode(m.key as Buffer)));
    for (const key of keys) expect(key).toEqual({ id: 1 });

    const values = await Promise.all(
      [created, updated, deleted].map((m) => registry.decode(m.value as Buffer)),
    );
    const [c, u, d] = values;
    expect([c.op, u.op, d.op]).toEqual(['c', 'u', 'd']);
    expect(c.source.table).toBe(table);
    expect(c.source.schema).toBe('public');
    // Log positions are exact 64-bit integers and grow with each change.
    expect(typeof c.source.lsn).toBe('bigint');
    expect(c.source.lsn < u.source.lsn && u.source.lsn < d.source.lsn).toBe(true);

    const schemaId = (created.value as Buffer).readUInt32BE(1);
    const response = await fetch(`${stack.schemaRegistryUrl}/schemas/ids/${schemaId}`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { schema: string };
    const valueSchema = JSON.parse(body.schema);
    const params = numericSourceTypeOf(valueSchema, 'amount');
    expect(params['__debezium.source.column.type']).toBe('NUMERIC');
    expect(params['__debezium.source.column.scale']).toBe('2');

    expect(c.before).toBeNull();
    expect(c.after.id).toBe(1);
    expect(c.after.amount).toBe('12.34');
    expect(c.after.paid_at).toBe('2026-01-02T03:04:05.123456Z');
    expect(c.after.note).toBeNull();

    expect(u.after.amount).toBe('-99999.99');
    expect(u.after.note).toBe('späti ✓');
    expect(u.after.paid_at).toBe('2026-01-02T03:04:05.123456Z');

    expect(d.after).toBeNull();
    expect(d.before.id).toBe(1);
  });
});

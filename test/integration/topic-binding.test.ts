// Issue 15, item 1 against the real stack (Kafka, registry, Debezium, both databases): the topic
// names the table. Forged Avro messages, made from real Debezium ones with the registry's schemas,
// are produced into a live pipeline's topics: an event naming another table, a truncate on the
// wrong topic, a source.lsn beyond the source's WAL, a row change without its key. Each goes to
// <topic>.dlq with its reason in the __connect.errors.* headers and is counted by reason; no
// target table is touched, no table stops, and the real changes that follow still apply. A table
// TABLES_EXCLUDE leaves out is never consumed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AvroJson } from '../../pipeline/codec/avro-json.js';
import { parseAvroSchema, type ResolvedSchema } from '../../pipeline/codec/schema-lookup.js';
import {
  FaultScenario,
  metricSum,
  sleep,
  stack,
  stopProcess,
  targetQuery,
  WORKLOAD_TABLES,
  waitUntil,
} from '../support/fault-harness.js';
import type { PgferryProcess } from '../support/pgferry-process.js';

const scenario = new FaultScenario({
  id: 'tb',
  seedAccounts: 50,
  tables: {
    ...WORKLOAD_TABLES,
    skipped: (n) => `CREATE TABLE ${n} (id integer PRIMARY KEY, note text)`,
  },
});
const ACCOUNTS = scenario.table('accounts');
const EVENTS = scenario.table('events');
const SKIPPED = scenario.table('skipped');
const ACCOUNTS_TOPIC = scenario.topicOf('accounts');
const EVENTS_TOPIC = scenario.topicOf('events');
const SKIPPED_TOPIC = scenario.topicOf('skipped');

let pgferry: PgferryProcess;

interface Message {
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/** The first `count` messages of `topic`, read from the beginning by a throwaway group. */
async function readMessages(topic: string, count: number, timeoutMs = 60_000): Promise<Message[]> {
  const consumer = scenario.kafka.consumer({
    groupId: `${scenario.groupId}-reader-${Date.now().toString(36)}`,
  });
  const messages: Message[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
        messages.push({ key: message.key, value: message.value, headers });
      },
    });
    const deadline = Date.now() + timeoutMs;
    while (messages.length < count && Date.now() < deadline) await sleep(200);
  } finally {
    await consumer.disconnect();
  }
  return messages.slice(0, count);
}

const schemas = new Map<number, ResolvedSchema>();

async function registrySchema(id: number): Promise<ResolvedSchema> {
  let schema = schemas.get(id);
  if (!schema) {
    const response = await fetch(`${stack.schemaRegistryUrl}/schemas/ids/${id}`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { schema: string };
    schema = parseAvroSchema(id, JSON.parse(body.schema) as AvroJson);
    schemas.set(id, schema);
  }
  return schema;
}

/** A real Debezium value, decoded, changed by `edit`, and framed again with its own schema id. */
async function forge(
  real: Buffer,
  edit: (value: Record<string, unknown>) => void,
): Promise<Buffer> {
  const schema = await registrySchema(real.readUInt32BE(1));
  const value = schema.type.fromBuffer(real.subarray(5)) as Record<string, unknown>;
  edit(value);
  return Buffer.concat([real.subarray(0, 5), schema.type.toBuffer(value)]);
}

async function produce(topic: string, key: Buffer | null, value: Buffer): Promise<void> {
  const producer = scenario.kafka.producer();
  await producer.connect();
  try {
    await producer.send({
      topic,
      messages: [{ key, value, headers: { forged: 'topic-binding-test' } }],
    });
  } finally {
    await producer.disconnect();
  }
}

/** Waits for the dead letter of class `reason` in `<topic>.dlq`; returns it. */
async function deadLetter(topic: string, reason: string): Promise<Message> {
  let found: Message | undefined;
  await waitUntil(
    `a ${reason} dead letter in ${topic}.dlq`,
    async () => {
      const letters = await readMessages(`${topic}.dlq`, 50, 5_000);
      found = letters.find((l) => l.headers['__connect.errors.class.name'] === reason);
      return found !== undefined;
    },
    90_000,
    1_000,
  );
  return found as Message;
}

const targetCount = async (table: string): Promise<number> =>
  Number(
    (await targetQuery<{ n: string }>(`SELECT count(*) AS n FROM public.${table}`))[0]?.n ?? -1,
  );
const sourceCount = async (table: string): Promise<number> =>
  Number((await scenario.source.query(`SELECT count(*) AS n FROM ${table}`)).rows[0]?.n ?? -2);

async function expectReadyAndNothingStopped(): Promise<void> {
  const ready = await fetch(`http://127.0.0.1:${pgferry.port}/readyz`);
  expect(ready.status).toBe(200);
  expect(metricSum(await pgferry.metrics(), 'pgferry_table_stopped')).toBe(0);
}

/** The first real message of a topic (a snapshot read), as the template of a forgery. */
async function realMessage(topic: string): Promise<Message & { value: Buffer }> {
  const [real] = await readMessages(topic, 1);
  expect(real?.value, `a real message in ${topic}`).toBeTruthy();
  return real as Message & { value: Buffer };
}

describe.sequential('the topic names the table (forged events on a live pipeline)', () => {
  beforeAll(async () => {
    await scenario.setUp();
    await scenario.source.query(
      `INSERT INTO ${EVENTS} (account_id, kind, amount) SELECT g, 'seed', g FROM generate_series(1, 10) g`,
    );
    await scenario.source.query(
      `INSERT INTO ${SKIPPED} SELECT g, 'never written' FROM generate_series(1, 5) g`,
    );
    pgferry = await scenario.startPgferry({ TABLES_EXCLUDE: `public.${SKIPPED}` });
    await waitUntil('the snapshot in the target', async () => {
      return (await targetCount(ACCOUNTS)) === 50 && (await targetCount(EVENTS)) === 10;
    });
  });
  afterAll(async () => {
    if (pgferry) await stopProcess(pgferry, 'SIGTERM');
    await scenario.tearDown();
  });

  it('dead-letters an event that names another table; neither table is touched', async () => {
    const real = await realMessage(ACCOUNTS_TOPIC);
    const forged = await forge(real.value, (value) => {
      (value.source as Record<string, unknown>).table = EVENTS;
      const after = value.after as Record<string, unknown>;
      after.id = 900_000_001n;
      after.owner = 'forged';
    });
    await produce(ACCOUNTS_TOPIC, real.key, forged);

    const letter = await deadLetter(ACCOUNTS_TOPIC, 'TopicTableMismatchError');
    expect(letter.value?.equals(forged)).toBe(true);
    expect(letter.headers.forged).toBe('topic-binding-test');
    expect(letter.headers['__connect.errors.stage']).toBe('bind');
    expect(letter.headers['__connect.errors.topic']).toBe(ACCOUNTS_TOPIC);
    expect(letter.headers['__connect.errors.exception.message']).toContain(
      `the event names table public.${EVENTS} (topic ${EVENTS_TOPIC}) but came on topic ${ACCOUNTS_TOPIC}`,
    );
    for (const table of [ACCOUNTS, EVENTS]) {
      const rows = await targetQuery(`SELECT 1 FROM public.${table} WHERE id = 900000001`);
      expect(rows, table).toEqual([]);
    }
    expect(
      metricSum(await pgferry.metrics(), 'pgferry_dlq_messages_total', [
        `topic="${ACCOUNTS_TOPIC}"`,
        'reason="TopicTableMismatchError"',
      ]),
    ).toBe(1);
    await expectReadyAndNothingStopped();
  });

  it('dead-letters a forged truncate on the wrong topic, either way round; both tables keep their rows', async () => {
    const accountsReal = await realMessage(ACCOUNTS_TOPIC);
    const eventsReal = await realMessage(EVENTS_TOPIC);
    const truncateOf = (table: string) => (value: Record<string, unknown>) => {
      value.op = 't';
      value.before = null;
      value.after = null;
      (value.source as Record<string, unknown>).table = table;
    };
    await produce(ACCOUNTS_TOPIC, null, await forge(accountsReal.value, truncateOf(EVENTS)));
    await produce(EVENTS_TOPIC, null, await forge(eventsReal.value, truncateOf(ACCOUNTS)));

    for (const topic of [ACCOUNTS_TOPIC, EVENTS_TOPIC]) {
      const letter = await deadLetter(topic, 'TopicTableMismatchError');
      expect(letter.headers['__connect.errors.stage']).toBe('bind');
    }
    // A later real change goes through after them: the partitions moved on, nothing emptied.
    await scenario.source.query(`UPDATE ${ACCOUNTS} SET owner = 'after truncates' WHERE id = 2`);
    await waitUntil('the update after the forged truncates', async () => {
      const rows = await targetQuery<{ owner: string }>(
        `SELECT owner FROM public.${ACCOUNTS} WHERE id = 2`,
      );
      return rows[0]?.owner === 'after truncates';
    });
    expect(await targetCount(ACCOUNTS)).toBe(await sourceCount(ACCOUNTS));
    expect(await targetCount(EVENTS)).toBe(await sourceCount(EVENTS));
    await expectReadyAndNothingStopped();
  });

  it('dead-letters a source.lsn beyond the source’s WAL; the row keeps replicating', async () => {
    const real = await realMessage(ACCOUNTS_TOPIC);
    const forged = await forge(real.value, (value) => {
      (value.source as Record<string, unknown>).lsn = 2n ** 62n;
      (value.after as Record<string, unknown>).owner = 'frozen';
    });
    await produce(ACCOUNTS_TOPIC, real.key, forged);

    const letter = await deadLetter(ACCOUNTS_TOPIC, 'PositionBeyondSourceError');
    expect(letter.headers['__connect.errors.stage']).toBe('position');
    expect(letter.headers['__connect.errors.exception.message']).toMatch(
      /source\.lsn 40000000\/0 is beyond the source's current WAL position [0-9A-F]+\/[0-9A-F]+/,
    );
    const id = (
      (await registrySchema(real.value.readUInt32BE(1))).type.fromBuffer(
        real.value.subarray(5),
      ) as { after: { id: bigint } }
    ).after.id;
    // Had it been applied, its position would hold this row back from every real change.
    await scenario.source.query(`UPDATE ${ACCOUNTS} SET owner = 'after forgery' WHERE id = $1`, [
      String(id),
    ]);
    await waitUntil('the real update of the row after the forged position', async () => {
      const rows = await targetQuery<{ owner: string }>(
        `SELECT owner FROM public.${ACCOUNTS} WHERE id = $1`,
        [String(id)],
      );
      return rows[0]?.owner === 'after forgery';
    });
    expect(await targetQuery(`SELECT 1 FROM public.${ACCOUNTS} WHERE owner = 'frozen'`)).toEqual(
      [],
    );
    await expectReadyAndNothingStopped();
  });

  it('dead-letters a row change without its key on a keyed topic (the table does not stop)', async () => {
    const real = await realMessage(ACCOUNTS_TOPIC);
    const keyless = await forge(real.value, (value) => {
      (value.after as Record<string, unknown>).owner = 'keyless';
    });
    await produce(ACCOUNTS_TOPIC, null, keyless);

    const letter = await deadLetter(ACCOUNTS_TOPIC, 'MissingKeyError');
    expect(letter.headers['__connect.errors.stage']).toBe('bind');
    expect(letter.headers['__connect.errors.exception.message']).toContain(
      `registered as ${ACCOUNTS_TOPIC}-key`,
    );
    await scenario.source.query(`UPDATE ${ACCOUNTS} SET owner = 'after keyless' WHERE id = 3`);
    await waitUntil('a real update after the keyless event', async () => {
      const rows = await targetQuery<{ owner: string }>(
        `SELECT owner FROM public.${ACCOUNTS} WHERE id = 3`,
      );
      return rows[0]?.owner === 'after keyless';
    });
    expect(await targetQuery(`SELECT 1 FROM public.${ACCOUNTS} WHERE owner = 'keyless'`)).toEqual(
      [],
    );
    await expectReadyAndNothingStopped();
  });

  it('never consumes the topic of a table TABLES_EXCLUDE leaves out, and says so once', async () => {
    await waitUntil('the skipped table’s topic exists', async () =>
      (await scenario.topics()).includes(SKIPPED_TOPIC),
    );
    // Picked up by the next topic refresh (TOPIC_REFRESH_SECONDS=2 in the scenario).
    await waitUntil('the log line for the skipped topic', async () =>
      pgferry.logs.some((l) => l.includes('topic not consumed') && l.includes(SKIPPED_TOPIC)),
    );
    await sleep(3_000);
    const lines = pgferry.logs.filter(
      (l) => l.includes('topic not consumed') && l.includes(SKIPPED_TOPIC),
    );
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] as string)).toMatchObject({
      topic: SKIPPED_TOPIC,
      reason: `public.${SKIPPED} is in TABLES_EXCLUDE (public.${SKIPPED})`,
    });
    const table = await targetQuery<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [
      `public.${SKIPPED}`,
    ]);
    expect(table[0]?.t).toBeNull();
    const offsets = await targetQuery(
      'SELECT 1 FROM pgferry.offsets WHERE group_id = $1 AND topic = $2',
      [scenario.groupId, SKIPPED_TOPIC],
    );
    expect(offsets).toEqual([]);
  });
});

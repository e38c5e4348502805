// End to end on the real stack: source PostgreSQL -> a dedicated Debezium connector -> Kafka ->
// `pgferry run` (child process) -> target PostgreSQL. Tables cover every supported type; the
// workload has a snapshot, multi-row transactions, hot rows, delete + re-insert, primary-key
// updates, an unchanged TOASTed column and a truncate. Then: replay from the beginning, duplicated
// and reordered delivery, SIGKILL in the middle of a large transaction, and poison messages.
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectClient } from '../../core/connect-client.js';
import { type PgferryProcess, startPgferry } from '../support/pgferry-process.js';
import { loadStackEnv } from '../support/stack-env.js';
import { tableFingerprint, waitForEqual } from '../support/table-checksum.js';
import { applyTestConnector, removeTestConnector } from '../support/test-connector.js';

const stack = loadStackEnv();
const run = Date.now().toString(36);
const prefix = `e2e_${run}`;
const groupId = `pgferry-e2e-${run}`;
const connectorName = `pgferry-e2e-${run}`;
const t = (name: string) => `e2e_${name}_${run}`;
const USERS = t('users');
const ORDERS = t('orders');
const TYPES = t('types');
const DOCS = t('docs');
const ITEMS = t('items');
const BULK = t('bulk');
// Columns named like the properties every JavaScript object has: a row or key built as a plain
// object by column name would lose "__proto__" (its setter) or read the inherited member instead.
const ODD = t('odd');
const ODD_DOCS = t('odd_docs');
const STATUS = t('status');
const topicOf = (table: string) => `${prefix}.public.${table}`;

const TABLES = [
  { name: USERS, orderBy: 'id' },
  { name: ORDERS, orderBy: 'id' },
  { name: TYPES, orderBy: 'id' },
  { name: DOCS, orderBy: 'id' },
  { name: ITEMS, orderBy: 'order_id, line' },
  { name: ODD, orderBy: '"__proto__", "constructor"' },
  { name: ODD_DOCS, orderBy: 'id' },
];

const kafka = new Kafka({
  brokers: [stack.kafkaBootstrap],
  clientId: 'pgferry-e2e',
  logLevel: logLevel.NOTHING,
});
const source = new pg.Client({ connectionString: stack.sourceDatabaseUrl });
const connect = new ConnectClient({ baseUrl: stack.connectUrl });
let pgferry: PgferryProcess | undefined;

const pgferryEnv = (): Record<string, string> => ({
  ...stack.vars,
  KAFKA_TOPIC_PATTERN: `^${prefix}\\.public\\..*`,
  KAFKA_GROUP_ID: groupId,
  BATCH_SIZE: '500',
  TOPIC_REFRESH_SECONDS: '2',
  RETRY_MAX_DELAY_SECONDS: '2',
  LOG_LEVEL: 'info',
});

async function sql(text: string, params: unknown[] = []): Promise<pg.QueryResult> {
  return source.query(text, params);
}

/** Waits until the group's committed offsets reach the end of every e2e topic. */
async function waitForCaughtUp(topics: string[], timeoutMs: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let behind = 0;
      for (const topic of topics) {
        const ends = await admin.fetchTopicOffsets(topic);
        const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
        for (const end of ends) {
          const c = committed?.partitions.find((p) => p.partition === end.partition);
          // Negative = no committed offset (-1) or the EARLIEST sentinel after a reset (-2).
          const at = c && BigInt(c.offset) > 0n ? BigInt(c.offset) : 0n;
          if (BigInt(end.high) > at) behind += Number(BigInt(end.high) - at);
        }
      }
      if (behind === 0) return;
      if (Date.now() > deadline) throw new Error(`group still ${behind} records behind`);
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    await admin.disconnect();
  }
}

function sumMetric(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n'))
    if (line.startsWith(`${name}{`)) sum += Number(line.split(' ').pop());
  return sum;
}

async function stopPgferry(signal: NodeJS.Signals): Promise<number | string> {
  const running = pgferry;
  pgferry = undefined;
  if (!running) return 0;
  running.child.kill(signal);
  return running.exited;
}

async function e2eTopics(): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.listTopics()).filter(
      (name) => name.startsWith(`${prefix}.public.`) && !name.endsWith('.dlq'),
    );
  } finally {
    await admin.disconnect();
  }
}

describe.sequential('replication end to end', () => {
  beforeAll(async () => {
    await source.connect();
    await sql(`CREATE TYPE ${STATUS} AS ENUM ('new', 'paid', 'shipped', 'it''s "odd"')`);
    await sql(`CREATE TABLE ${USERS} (id serial PRIMARY KEY, username varchar(50) NOT NULL, email text,
      created_at timestamptz NOT NULL DEFAULT now(), active boolean, score real, balance numeric(12,2))`);
    await sql(`CREATE TABLE ${ORDERS} (id bigint PRIMARY KEY, user_id integer, amount numeric(14,4),
      status ${STATUS}, placed_at timestamp(3), ship_date date, ship_time time, meta jsonb, tags text[], note text)`);
    await sql(`CREATE TABLE ${TYPES} (id uuid PRIMARY KEY, n numeric, f8 double precision, f4 real, iv interval,
      b bytea, bits bit(4), ints integer[], j json, m money, big bigint, small smallint, ch char(2), tz timetz,
      ts timestamp, d date)`);
    await sql(
      `CREATE TABLE ${DOCS} (id integer PRIMARY KEY, title text, body text, version integer)`,
    );
    await sql(
      `CREATE TABLE ${ITEMS} (order_id integer, line integer, sku text, qty integer, PRIMARY KEY (order_id, line))`,
    );
    await sql(`CREATE TABLE ${BULK} (id integer PRIMARY KEY, payload text)`);
    await sql(`CREATE TABLE ${ODD} ("__proto__" integer, "constructor" text, "toString" text,
      "valueOf" integer, "hasOwnProperty" boolean, PRIMARY KEY ("__proto__", "constructor"))`);
    await sql(
      `CREATE TABLE ${ODD_DOCS} (id integer PRIMARY KEY, "__proto__" text, "toJSON" text, "prototype" integer)`,
    );
    await sql(
      `INSERT INTO ${ODD} SELECT g, 'c' || g, 'ts' || g, g * 2, g % 2 = 0 FROM generate_series(1, 5) g`,
    );
    // Rows present before the connector starts: they arrive as snapshot reads (op r).
    await sql(`INSERT INTO ${USERS} (username, email, active, score, balance)
      SELECT 'snap' || g, 'snap' || g || '@example.com', g % 2 = 0, g / 3.0, g * 1.25 FROM generate_series(1, 50) g`);
    await sql(
      `INSERT INTO ${DOCS} VALUES (1, 'toasted', (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 800) g), 1)`,
    );
    await sql(
      `INSERT INTO ${ITEMS} SELECT o, l, 'sku-' || o || '-' || l, l FROM generate_series(1, 5) o, generate_series(1, 3) l`,
    );

    await applyTestConnector(connect, {
      name: connectorName,
      topicPrefix: prefix,
      slotName: `pgferry_e2e_${run}`,
      tableIncludeList: `public\\.e2e_.*_${run}`,
    });
    pgferry = await startPgferry(pgferryEnv());
  });

  afterAll(async () => {
    await stopPgferry('SIGTERM').catch(() => undefined);
    await removeTestConnector(stack.connectUrl, connectorName, source, `pgferry_e2e_${run}`);
    await source.end();
  });

  it('replicates the snapshot and a mixed workload so that every table equals its source', async () => {
    // Multi-row transaction.
    await sql('BEGIN');
    await sql(`INSERT INTO ${USERS} (username, email, active, score, balance)
      SELECT 'user' || g, CASE WHEN g % 7 = 0 THEN NULL ELSE 'u' || g || '@example.com' END, g % 3 = 0, g * 0.5, -g * 10.01
      FROM generate_series(1, 100) g`);
    await sql(`INSERT INTO ${ORDERS}
      SELECT g, 1 + g % 50, round((g * 13.3333)::numeric, 4), (ARRAY['new','paid','shipped','it''s "odd"']::${STATUS}[])[1 + g % 4],
        timestamp '2026-01-01 00:00:00' + g * interval '1 hour 0.123 seconds', date '2026-02-01' - g, time '08:00' + g * interval '1 minute',
        jsonb_build_object('g', g, 'nested', jsonb_build_array(g, 'x', NULL)), ARRAY['a' || g, NULL, 'tab	and "quote" \\ back'],
        CASE WHEN g % 5 = 0 THEN NULL ELSE E'line1\\nline2\\ttab ✓' END
      FROM generate_series(1, 200) g`);
    await sql('COMMIT');
    // A hot row: many updates, separately and in one transaction.
    for (let i = 0; i < 30; i++)
      await sql(`UPDATE ${USERS} SET score = $1, balance = balance + 1 WHERE id = 1`, [i]);
    await sql('BEGIN');
    for (let i = 0; i < 20; i++)
      await sql(`UPDATE ${ORDERS} SET amount = amount + 0.0001, note = $1 WHERE id = 10`, [
        `v${i}`,
      ]);
    await sql('COMMIT');
    // Delete and re-insert the same keys.
    await sql(`DELETE FROM ${ORDERS} WHERE id = 5`);
    await sql(
      `INSERT INTO ${ORDERS} (id, user_id, amount, note) VALUES (5, 2, 0.0001, 're-inserted')`,
    );
    await sql(`DELETE FROM ${USERS} WHERE id = 7`);
    await sql(`INSERT INTO ${USERS} (id, username) VALUES (7, 'seven again')`);
    await sql(`DELETE FROM ${ORDERS} WHERE id BETWEEN 100 AND 120`);
    // Primary-key updates (Debezium: delete of the old key + create of the new one).
    await sql(`UPDATE ${USERS} SET id = 100000 WHERE id = 2`);
    await sql(`UPDATE ${ITEMS} SET line = line + 100 WHERE order_id = 1`);
    // An update that leaves the TOASTed body unchanged: Debezium sends the placeholder.
    await sql(`UPDATE ${DOCS} SET version = version + 1, title = 'still toasted' WHERE id = 1`);
    // Every type, with the awkward values.
    await sql(`INSERT INTO ${TYPES} VALUES
      ('00000000-0000-0000-0000-000000000001', 123456789012345678901234567890.123456789, 'NaN', 'Infinity', '1 year 2 mons -3 days 04:05:06.789',
       '\\x00ff10', B'1010', '{1,NULL,-3}', '{"a": [1, "two", null]}', -12.34, 9223372036854775807, -32768, 'ab', '10:11:12.345+00',
       '1999-12-31 23:59:59.999999', '0001-01-01 BC'),
      ('00000000-0000-0000-0000-000000000002', -0.000000001, '-Infinity', '-Infinity', '-1 days', '', B'0001', '{}', '[]', 0, -9223372036854775808, 0, '  ', '00:00:00+00',
       '1970-01-01 00:00:00', '1970-01-01'),
      ('00000000-0000-0000-0000-000000000003', NULL, 1.7976931348623157e308, 1.17549435e-38, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       '1900-03-04 05:06:07.5', '2262-04-11')`);
    // Columns named __proto__, constructor, toString...: inserts, updates, a delete, a key
    // update, and a TOASTed "__proto__" left unchanged by later updates.
    await sql(
      `INSERT INTO ${ODD} SELECT g, 'c' || g, 'ts' || g, g * 2, g % 2 = 0 FROM generate_series(6, 20) g`,
    );
    await sql(`UPDATE ${ODD} SET "toString" = 'changed', "valueOf" = -1 WHERE "__proto__" <= 8`);
    await sql(`UPDATE ${ODD} SET "__proto__" = 100 WHERE "__proto__" = 9`);
    await sql(`DELETE FROM ${ODD} WHERE "__proto__" = 10`);
    await sql(`INSERT INTO ${ODD_DOCS} VALUES
      (1, (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 800) g), '{"a":1}', 1),
      (2, 'short', NULL, 2)`);
    await sql(`UPDATE ${ODD_DOCS} SET "prototype" = "prototype" + 10, "toJSON" = 'x'`);
    await sql(`UPDATE ${ODD_DOCS} SET "prototype" = "prototype" + 10`);
    // A truncate, then rows after it.
    await sql(`TRUNCATE ${ITEMS}`);
    await sql(
      `INSERT INTO ${ITEMS} VALUES (9, 1, 'after truncate', 1), (9, 2, 'after truncate', 2)`,
    );

    await waitForEqual(stack.sourceDatabaseUrl, stack.targetDatabaseUrl, TABLES, 180_000);
    // The unchanged TOASTed value survived (the placeholder was never written).
    const target = new pg.Client({ connectionString: stack.targetDatabaseUrl });
    await target.connect();
    const doc = await target.query(
      `SELECT length(body) AS len, body LIKE '%unavailable%' AS placeholder FROM ${DOCS} WHERE id = 1`,
    );
    await target.end();
    expect(doc.rows[0]).toEqual({ len: 800 * 32, placeholder: false });
    const metrics = await (pgferry as PgferryProcess).metrics();
    // 50 snapshot reads; the workload updates ids 1, 2 and 7, and a read that lands in one batch
    // with a later change of its key folds into that change (dedupe), so 47..50 are counted.
    const reads = Number(
      metrics.match(
        /pgferry_changes_applied_total\{table="public\.e2e_users_\w+",op="r"\} (\d+)/,
      )?.[1],
    );
    expect(reads).toBeGreaterThanOrEqual(47);
    expect(reads).toBeLessThanOrEqual(50);
  });

  it('replays from the beginning without changing the target (offsets reset in Kafka and in the target)', async () => {
    const before = new Map<string, string | null>();
    for (const table of TABLES)
      before.set(
        table.name,
        (await tableFingerprint(stack.targetDatabaseUrl, table.name, table.orderBy)).md5,
      );
    expect(await stopPgferry('SIGTERM')).toBe(0);
    const topics = await e2eTopics();
    const admin = kafka.admin();
    await admin.connect();
    for (const topic of topics) await admin.resetOffsets({ groupId, topic, earliest: true });
    await admin.disconnect();
    // Forget the target's offsets too, so every change really goes through the merge again and
    // only the position guard stands between old events and newer rows.
    const target = new pg.Client({ connectionString: stack.targetDatabaseUrl });
    await target.connect();
    await target.query('DELETE FROM pgferry.offsets WHERE group_id = $1', [groupId]);
    await target.end();

    pgferry = await startPgferry(pgferryEnv());
    await waitForCaughtUp(topics, 120_000);
    for (const table of TABLES) {
      const after = await tableFingerprint(stack.targetDatabaseUrl, table.name, table.orderBy);
      expect(after.md5, table.name).toBe(before.get(table.name));
    }
    await waitForEqual(stack.sourceDatabaseUrl, stack.targetDatabaseUrl, TABLES, 10_000);
  });

  it('absorbs duplicated and reordered delivery of the same events', async () => {
    const topics = [topicOf(USERS), topicOf(ORDERS), topicOf(DOCS), topicOf(ITEMS)];
    const consumer = kafka.consumer({ groupId: `${groupId}-copy` });
    const copies: { topic: string; partition: number; key: Buffer | null; value: Buffer | null }[] =
      [];
    const admin = kafka.admin();
    await admin.connect();
    let total = 0;
    for (const topic of topics)
      for (const p of await admin.fetchTopicOffsets(topic)) total += Number(p.high) - Number(p.low);
    await admin.disconnect();
    await consumer.connect();
    for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`copied ${copies.length} of ${total}`)),
        60_000,
      );
      void consumer.run({
        eachMessage: async ({ topic, partition, message }) => {
          copies.push({ topic, partition, key: message.key, value: message.value });
          if (copies.length >= total) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
    await consumer.disconnect();
    expect(total).toBeGreaterThan(100);
    expect(copies).toHaveLength(total);
    const consumedBefore = sumMetric(
      await (pgferry as PgferryProcess).metrics(),
      'pgferry_events_consumed_total',
    );
    // Shuffle, then send every event again into its own partition, in the new order.
    for (let i = copies.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [copies[i], copies[j]] = [
        copies[j] as (typeof copies)[number],
        copies[i] as (typeof copies)[number],
      ];
    }
    const producer = kafka.producer();
    await producer.connect();
    for (const copy of copies) {
      await producer.send({
        topic: copy.topic,
        messages: [{ partition: copy.partition, key: copy.key, value: copy.value }],
      });
    }
    await producer.disconnect();
    await waitForCaughtUp(await e2eTopics(), 120_000);
    await waitForEqual(stack.sourceDatabaseUrl, stack.targetDatabaseUrl, TABLES, 30_000);
    // pgferry really consumed every copy (and the position guard made them no-ops).
    const consumedAfter = sumMetric(
      await (pgferry as PgferryProcess).metrics(),
      'pgferry_events_consumed_total',
    );
    expect(consumedAfter - consumedBefore).toBeGreaterThanOrEqual(total);
  });

  it('survives SIGKILL in the middle of a large transaction: nothing lost, nothing doubled', async () => {
    await sql(
      `INSERT INTO ${BULK} SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 30000) g`,
    );
    const target = new pg.Client({ connectionString: stack.targetDatabaseUrl });
    await target.connect();
    const deadline = Date.now() + 120_000;
    let applied = 0;
    while (applied === 0) {
      applied = Number(
        (
          await target
            .query(`SELECT count(*) AS n FROM ${BULK}`)
            .catch(() => ({ rows: [{ n: 0 }] }))
        ).rows[0]?.n ?? 0,
      );
      if (Date.now() > deadline) throw new Error('bulk rows never started arriving');
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await stopPgferry('SIGKILL')).toBe('SIGKILL');
    const partial = Number((await target.query(`SELECT count(*) AS n FROM ${BULK}`)).rows[0]?.n);
    await target.end();
    pgferry = await startPgferry(pgferryEnv());
    await waitForEqual(
      stack.sourceDatabaseUrl,
      stack.targetDatabaseUrl,
      [...TABLES, { name: BULK, orderBy: 'id' }],
      180_000,
    );
    // The kill landed mid-stream (some but not all rows were in), and the end state is exact.
    expect(partial).toBeLessThan(30000);
  });

  it('sends corrupt and unknown-schema messages to the DLQ with headers and applies the rest', async () => {
    const topic = topicOf(USERS);
    const producer = kafka.producer();
    await producer.connect();
    const unknownId = Buffer.from([0, 0x7f, 0xff, 0xff, 0xfe, 1, 2, 3]);
    const sent = await producer.send({
      topic,
      messages: [
        { partition: 0, key: null, value: unknownId },
        { partition: 0, key: null, value: Buffer.from('definitely not avro') },
      ],
    });
    await producer.disconnect();
    await sql(`INSERT INTO ${USERS} (username) VALUES ('after poison')`);
    await waitForEqual(stack.sourceDatabaseUrl, stack.targetDatabaseUrl, TABLES, 120_000);

    const dlq = `${topic}.dlq`;
    const consumer = kafka.consumer({ groupId: `${groupId}-dlq` });
    const letters: { value: Buffer | null; headers: Record<string, string> }[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic: dlq, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`DLQ has ${letters.length} messages`)),
        60_000,
      );
      void consumer.run({
        eachMessage: async ({ message }) => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
          letters.push({ value: message.value, headers });
          if (letters.length >= 2) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
    await new Promise((r) => setTimeout(r, 1000));
    await consumer.disconnect();
    expect(letters).toHaveLength(2);
    const firstOffset = BigInt(sent[0]?.baseOffset ?? '0');
    const byOffset = new Map(letters.map((l) => [l.headers['__connect.errors.offset'], l]));
    const unknown = byOffset.get(firstOffset.toString());
    const corrupt = byOffset.get((firstOffset + 1n).toString());
    expect(unknown?.value?.equals(unknownId)).toBe(true);
    expect(unknown?.headers['__connect.errors.class.name']).toBe('UnknownSchemaError');
    expect(unknown?.headers['__connect.errors.topic']).toBe(topic);
    expect(unknown?.headers['__connect.errors.partition']).toBe('0');
    expect(corrupt?.value?.toString()).toBe('definitely not avro');
    expect(corrupt?.headers['__connect.errors.class.name']).toBe('PoisonMessageError');
    expect(corrupt?.headers['__connect.errors.exception.message']).toMatch(/wire format/);
    const metrics = await (pgferry as PgferryProcess).metrics();
    expect(metrics).toMatch(
      /pgferry_dlq_messages_total\{topic="[^"]+",reason="UnknownSchemaError"\} 1/,
    );
  });
});

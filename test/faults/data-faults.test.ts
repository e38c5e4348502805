// Fault cases 11-14 and 16: bad or awkward data rather than broken services. Poison messages
// (corrupt bytes, an unknown schema id, a truncated body) injected into live topics; schema
// changes on the source while it is written; a replay from the start plus shuffled duplicates;
// delete/re-insert, primary-key updates and updates of deleted rows; an update that leaves a
// TOASTed column unchanged. One scenario for the file; each case ends with the full check.
import { randomBytes } from 'node:crypto';
import type { IHeaders } from 'kafkajs';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  assertNothingLostNothingDoubled,
  FaultScenario,
  metricSum,
  sleep,
  stack,
  startWorkload,
  stopProcess,
  targetQuery,
  WORKLOAD_TABLES,
  type WorkloadStats,
  waitUntil,
} from '../support/fault-harness.js';
import type { PgferryProcess } from '../support/pgferry-process.js';

const scenario = new FaultScenario({
  id: 'd',
  tables: {
    ...WORKLOAD_TABLES,
    // Case 16: a large text column that is TOASTed out of line.
    docs: (n) =>
      `CREATE TABLE ${n} (id integer PRIMARY KEY, title text, body text, version integer)`,
    // Case 14: a composite key, and a plain one.
    items: (n) =>
      `CREATE TABLE ${n} (order_id integer, line integer, sku text, qty integer, PRIMARY KEY (order_id, line))`,
    keyed: (n) =>
      `CREATE TABLE ${n} (id integer PRIMARY KEY, val text, n integer NOT NULL DEFAULT 0)`,
    // Case 12: altered while it is written.
    evolve: (n) =>
      `CREATE TABLE ${n} (id integer PRIMARY KEY, label varchar(20) NOT NULL, qty integer NOT NULL,
        obsolete text NOT NULL, touched integer NOT NULL DEFAULT 0)`,
  },
});

const DOCS = scenario.table('docs');
const ITEMS = scenario.table('items');
const KEYED = scenario.table('keyed');
const EVOLVE = scenario.table('evolve');

interface TopicMessage {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders;
}

/** The poison messages of case 11 (topic/partition/offset): never copied by later cases. */
const poisoned = new Set<string>();

const sourceQuery = <R extends pg.QueryResultRow>(text: string, params: unknown[] = []) =>
  scenario.source.query<R>(text, params);

/** Every message now in `topics`, read from the beginning by a throwaway consumer group. */
async function readTopics(topics: string[], timeoutMs = 60_000): Promise<TopicMessage[]> {
  const admin = scenario.kafka.admin();
  await admin.connect();
  const want = new Map<string, bigint>();
  try {
    for (const topic of topics)
      for (const p of await admin.fetchTopicOffsets(topic))
        if (BigInt(p.high) > BigInt(p.low)) want.set(`${topic}/${p.partition}`, BigInt(p.high));
  } finally {
    await admin.disconnect();
  }
  const messages: TopicMessage[] = [];
  if (want.size === 0) return messages;
  const consumer = scenario.kafka.consumer({
    groupId: `${scenario.groupId}-reader-${Date.now().toString(36)}`,
  });
  await consumer.connect();
  try {
    for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(`read ${messages.length} messages; partitions left: ${[...want.keys()]}`),
          ),
        timeoutMs,
      );
      void consumer.run({
        eachMessage: async ({ topic, partition, message }) => {
          const at = `${topic}/${partition}`;
          const high = want.get(at);
          if (high === undefined || BigInt(message.offset) >= high) return;
          messages.push({
            topic,
            partition,
            offset: message.offset,
            key: message.key,
            value: message.value,
            headers: message.headers ?? {},
          });
          if (BigInt(message.offset) === high - 1n) want.delete(at);
          if (want.size === 0) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return messages;
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

/**
 * Sends copies (same partition, key, value, headers), each partition's in the given order (the
 * order across partitions means nothing to a consumer), in batches.
 */
async function reproduce(copies: TopicMessage[]): Promise<void> {
  const byPartition = new Map<string, TopicMessage[]>();
  for (const copy of copies) {
    const at = `${copy.topic}\u0000${copy.partition}`;
    byPartition.set(at, [...(byPartition.get(at) ?? []), copy]);
  }
  const producer = scenario.kafka.producer({ maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (const group of byPartition.values())
      for (let i = 0; i < group.length; i += 200)
        await producer.send({
          topic: (group[0] as TopicMessage).topic,
          messages: group.slice(i, i + 200).map((c) => ({
            partition: c.partition,
            key: c.key,
            value: c.value,
            headers: c.headers,
          })),
        });
  } finally {
    await producer.disconnect();
  }
}

/** Polls the target until `check` returns true (e.g. a row arrived). */

const waitForTarget = (what: string, check: () => Promise<boolean>, timeoutMs = 90_000) =>
  waitUntil(`target: ${what}`, check, timeoutMs, 250);

describe.sequential('bad and awkward data', () => {
  beforeAll(async () => {
    await scenario.setUp();
    const items = scenario.tables.find((t) => t.name === ITEMS);
    if (items) items.orderBy = 'order_id, line';
    // A row in every table, so that the target has them all from the first case on. The evolve
    // rows exist before case 12's changes: most are never touched again, so they keep what the
    // source's ALTERs gave them.
    await sourceQuery(`INSERT INTO ${DOCS} VALUES (100, 'small', 'short body', 1)`);
    await sourceQuery(`INSERT INTO ${ITEMS} VALUES (100, 1, 'seed', 1)`);
    await sourceQuery(`INSERT INTO ${KEYED} (id, val) VALUES (500, 'seed')`);
    await sourceQuery(
      `INSERT INTO ${EVOLVE} (id, label, qty, obsolete) SELECT g, 'row ' || g, g, 'old ' || g FROM generate_series(1, 100) g`,
    );
  });
  afterEach(() => scenario.endCase());
  afterAll(() => scenario.tearDown());

  it('case 11: corrupt bytes and unknown schema ids go to the DLQ with headers, the rest applies', async ({
    task,
  }) => {
    const workload = startWorkload(scenario);
    const p = await scenario.startPgferry();
    const topics = [scenario.topicOf('accounts'), scenario.topicOf('events')];
    // The topics exist once the first changes are through.
    await waitForTarget(
      'first workload changes',
      async () => (await scenario.topics()).length >= 2,
    );
    await sleep(2000);
    // An id the registry does not have.
    let unknownId = 0;
    for (;;) {
      unknownId = 2_000_000_000 + Math.floor(Math.random() * 100_000_000);
      const r = await fetch(`${stack.schemaRegistryUrl}/schemas/ids/${unknownId}`);
      if (r.status === 404) break;
    }
    const existing = await readTopics(topics);
    const producer = scenario.kafka.producer();
    await producer.connect();
    const injected: {
      topic: string;
      partition: number;
      offset: string;
      value: Buffer;
      kind: string;
    }[] = [];
    for (const topic of topics) {
      const real = existing.find((m) => m.topic === topic && m.value && m.value.length > 20);
      expect(real, `a real message in ${topic}`).toBeDefined();
      const realValue = real?.value as Buffer;
      const garbage = randomBytes(64);
      garbage[0] = 0x80 | (garbage[0] as number); // never the magic byte 0
      const unknown = Buffer.concat([Buffer.from([0]), Buffer.alloc(4), randomBytes(40)]);
      unknown.writeUInt32BE(unknownId, 1);
      // A real schema id with its body cut short: the id resolves, the bytes do not decode.
      const truncated = Buffer.from(realValue.subarray(0, Math.floor(realValue.length / 2)));
      const kinds = [
        { kind: 'garbage', value: garbage },
        { kind: 'unknown-schema', value: unknown },
        { kind: 'truncated', value: truncated },
      ];
      for (const k of kinds) {
        const [sent] = await producer.send({
          topic,
          messages: [{ key: null, value: k.value, headers: { injected: k.kind } }],
        });
        injected.push({
          topic,
          partition: sent?.partition ?? -1,
          offset: sent?.baseOffset ?? '-1',
          value: k.value,
          kind: k.kind,
        });
        poisoned.add(`${topic}/${sent?.partition}/${sent?.baseOffset}`);
        await sleep(300);
      }
    }
    await producer.disconnect();
    scenario.expectedDlq += injected.length;
    await sleep(3000);
    const stats = await workload.stop();
    expect(stats.errors).toBe(0);
    const figures = await assertNothingLostNothingDoubled(scenario);

    // Exactly the injected messages are in the DLQs, each with its original bytes and reason.
    const letters = await readTopics(topics.map((t) => `${t}.dlq`));
    expect(letters).toHaveLength(injected.length);
    const header = (m: TopicMessage, name: string) => m.headers[name]?.toString();
    const expectedClass: Record<string, string> = {
      garbage: 'PoisonMessageError',
      'unknown-schema': 'UnknownSchemaError',
      truncated: 'PoisonMessageError',
    };
    const expectedMessage: Record<string, RegExp> = {
      garbage: /not in the Confluent wire format/,
      'unknown-schema': new RegExp(String(unknownId)),
      truncated: /does not decode with its schema id/,
    };
    for (const sent of injected) {
      const letter = letters.find(
        (m) =>
          header(m, '__connect.errors.topic') === sent.topic &&
          header(m, '__connect.errors.partition') === String(sent.partition) &&
          header(m, '__connect.errors.offset') === sent.offset,
      );
      expect(letter, `DLQ message for ${sent.kind} in ${sent.topic}`).toBeDefined();
      if (!letter) continue;
      expect(letter.topic).toBe(`${sent.topic}.dlq`);
      expect(letter.value?.equals(sent.value)).toBe(true);
      expect(header(letter, 'injected')).toBe(sent.kind); // original headers kept
      expect(header(letter, '__connect.errors.class.name')).toBe(expectedClass[sent.kind]);
      expect(header(letter, '__connect.errors.exception.message')).toMatch(
        expectedMessage[sent.kind] as RegExp,
      );
      expect(header(letter, '__connect.errors.stage')).toBe('decode');
    }
    const metrics = await p.metrics();
    const counted = metricSum(metrics, 'pgferry_dlq_messages_total', [`topic="${scenario.prefix}`]);
    const unknownCounted = metricSum(metrics, 'pgferry_dlq_messages_total', [
      'reason="UnknownSchemaError"',
    ]);
    expect(counted).toBe(injected.length);
    expect(unknownCounted).toBe(topics.length);
    expect(await stopProcess(p, 'SIGTERM')).toBe(0);
    task.meta.fault = {
      case: 11,
      asserts:
        'garbage bytes, an unknown schema id and a truncated Avro body injected into live topics land in <topic>.dlq (original bytes and headers, __connect.errors.* reason, counted by pgferry_dlq_messages_total); everything else is applied',
      figures: {
        transactions: stats.transactions,
        injected: injected.length,
        dlqCounted: counted,
        ...figures,
      },
    };
  });

  it('case 12: ADD COLUMN with a default, DROP COLUMN, varchar and int widened while written', async ({
    task,
  }) => {
    const workload = startWorkload(scenario);
    // The table's own writer, following the source's shape phase by phase.
    let phase = 0;
    let iteration = 0;
    let running = true;
    const evolveStats: WorkloadStats = { transactions: 0, errors: 0 };
    const errors: string[] = [];
    const writer = new pg.Client({ connectionString: stack.sourceDatabaseUrl });
    await writer.connect();
    const loop = (async () => {
      let nextId = 1000;
      while (running) {
        const at = phase;
        iteration += 1;
        const i = evolveStats.transactions;
        const label =
          at >= 3 ? `long label ${i} ${'w'.repeat(100 + (i % 80))}` : `l${i}`.slice(0, 20);
        const qty = at >= 4 ? 3_000_000_000 + i : i;
        const cols = [
          'id',
          'label',
          'qty',
          ...(at < 2 ? ['obsolete'] : []),
          ...(at >= 1 ? ['extra'] : []),
        ];
        const vals: unknown[] = [
          nextId++,
          label,
          qty,
          ...(at < 2 ? [`ob ${i}`] : []),
          ...(at >= 1 ? [`ex ${i}`] : []),
        ];
        try {
          await writer.query('BEGIN');
          await writer.query(
            `INSERT INTO ${EVOLVE} (${cols.join(', ')}) VALUES (${vals.map((_, k) => `$${k + 1}`).join(', ')})`,
            vals,
          );
          // Updates only rows 1-30 and the new ones: rows 31-100 keep what the ALTERs gave them.
          const target = i % 2 ? 1 + (i % 30) : 1000 + Math.floor(i / 2);
          await writer.query(
            `UPDATE ${EVOLVE} SET label = $2, qty = qty + 1, touched = touched + 1${at < 2 ? ', obsolete = obsolete || $3' : ''} WHERE id = $1`,
            at < 2 ? [target, label, '+'] : [target, label],
          );
          if (i % 9 === 0) await writer.query(`DELETE FROM ${EVOLVE} WHERE id = $1`, [nextId - 3]);
          await writer.query('COMMIT');
          evolveStats.transactions += 1;
        } catch (error) {
          evolveStats.errors += 1;
          errors.push((error as Error).message);
          await writer.query('ROLLBACK').catch(() => undefined);
        }
        await sleep(25);
      }
    })();
    /** Switches the writer's shape, then waits until no transaction of the old shape is open. */
    const enterPhase = async (next: number) => {
      phase = next;
      const seen = iteration;
      while (iteration < seen + 2) await sleep(10);
    };
    const p = await scenario.startPgferry();
    await sleep(3000);
    await sourceQuery(
      `ALTER TABLE ${EVOLVE} ADD COLUMN extra text NOT NULL DEFAULT 'backfilled', ADD COLUMN price numeric(10,2) NOT NULL DEFAULT 1.50, ADD COLUMN flag boolean DEFAULT true`,
    );
    await enterPhase(1);
    await sleep(3000);
    // As an application would: stop requiring the column, stop writing it, then drop it.
    await sourceQuery(`ALTER TABLE ${EVOLVE} ALTER COLUMN obsolete DROP NOT NULL`);
    await enterPhase(2);
    await sourceQuery(`ALTER TABLE ${EVOLVE} DROP COLUMN obsolete`);
    await sleep(3000);
    await sourceQuery(`ALTER TABLE ${EVOLVE} ALTER COLUMN label TYPE varchar(200)`);
    await enterPhase(3);
    await sleep(3000);
    await sourceQuery(`ALTER TABLE ${EVOLVE} ALTER COLUMN qty TYPE bigint`);
    await enterPhase(4);
    await sleep(4000);
    running = false;
    await loop;
    await writer.end();
    const stats = await workload.stop();
    expect(errors).toEqual([]);
    expect(stats.errors).toBe(0);

    // pgferry keeps a column the source dropped (nullable): compare the source's columns only.
    const sourceColumns = (
      await sourceQuery<{ name: string }>(
        `SELECT attname AS name FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
        [EVOLVE],
      )
    ).rows.map((r) => r.name);
    expect(sourceColumns).toEqual(['id', 'label', 'qty', 'touched', 'extra', 'price', 'flag']);
    // The same view on both sides; the harness compares it instead of the table from now on.
    const view = scenario.table('evolve_cols');
    const viewSql = `CREATE VIEW ${view} AS SELECT ${sourceColumns.join(', ')} FROM ${EVOLVE}`;
    await sourceQuery(viewSql);
    // Only once the target has every change of the source's shape: a view on the target blocks
    // ALTER COLUMN TYPE ("cannot alter type of a column used by a view"), so pgferry would stop
    // the table if the widening came after the view.
    await waitForTarget('the widened columns on the target', async () => {
      const types = await targetQuery<{ name: string; type: string }>(
        `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
          WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`,
        [EVOLVE],
      );
      const typeOf = (n: string) => types.find((t) => t.name === n)?.type;
      return (
        /^(character varying\(200\)|character varying|text)$/.test(typeOf('label') ?? '') &&
        typeOf('qty') === 'bigint' &&
        sourceColumns.every((c) => typeOf(c) !== undefined)
      );
    });
    await targetQuery(viewSql);
    const spec = scenario.tables.find((t) => t.name === EVOLVE);
    if (spec) spec.name = view;
    const figures = await assertNothingLostNothingDoubled(scenario);

    const targetColumns = await targetQuery<{ name: string; type: string; not_null: boolean }>(
      `SELECT attname AS name, format_type(atttypid, atttypmod) AS type, attnotnull AS not_null
         FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
      [EVOLVE],
    );
    const col = (name: string) => targetColumns.find((c) => c.name === name);
    expect(col('obsolete'), 'the dropped column is kept').toMatchObject({ not_null: false });
    expect(col('qty')?.type).toBe('bigint');
    expect(col('label')?.type).toMatch(/^(character varying\(200\)|character varying|text)$/);
    expect(col('extra')).toBeDefined();
    // Rows never written after the ADD COLUMN carry the source's backfilled default.
    const untouched = await targetQuery<{ n: string }>(
      `SELECT count(*) AS n FROM ${EVOLVE} WHERE id BETWEEN 31 AND 100 AND extra = 'backfilled' AND price = 1.50 AND flag`,
    );
    expect(Number(untouched[0]?.n)).toBe(70);
    const schemaChanges = metricSum(await p.metrics(), 'pgferry_schema_changes_total');
    expect(schemaChanges).toBeGreaterThanOrEqual(3);
    expect(await stopProcess(p, 'SIGTERM')).toBe(0);
    task.meta.fault = {
      case: 12,
      asserts:
        'ADD COLUMN with defaults (text, numeric, boolean), DROP COLUMN, varchar(20)->varchar(200) and int->bigint on a table written throughout: the target adds the columns with the source’s defaults (rows never touched again carry the backfilled value), widens the types, keeps the dropped column as nullable (pgferry never drops a column, so the tables are compared on the source’s columns through the same view on both sides)',
      figures: {
        transactions: stats.transactions,
        evolveTransactions: evolveStats.transactions,
        schemaChanges,
        ...figures,
      },
    };
  });

  it('case 13: replay from earliest plus shuffled duplicates of a slice of the events', async ({
    task,
  }) => {
    const workload = startWorkload(scenario);
    let p: PgferryProcess = await scenario.startPgferry();
    await sleep(3000);
    expect(await stopProcess(p, 'SIGTERM')).toBe(0);
    const topics = await scenario.topics();
    const admin = scenario.kafka.admin();
    await admin.connect();
    try {
      // Offsets can only be reset in a group without members (a killed one lingers a session).
      const deadline = Date.now() + 60_000;
      for (;;) {
        const { groups } = await admin.describeGroups([scenario.groupId]);
        const state = groups[0]?.state ?? 'Empty';
        if (state === 'Empty' || state === 'Dead') break;
        if (Date.now() > deadline) throw new Error(`group still ${state} after 60 s`);
        await sleep(1000);
      }
      for (const topic of topics)
        await admin.resetOffsets({ groupId: scenario.groupId, topic, earliest: true });
    } finally {
      await admin.disconnect();
    }
    // A slice of the events already in the topics (not case 11's poison), sent again shuffled.
    const all = (await readTopics(topics)).filter(
      (m) => !poisoned.has(`${m.topic}/${m.partition}/${m.offset}`),
    );
    const slice = shuffle(all).slice(0, Math.min(all.length, 1500));
    expect(slice.length).toBeGreaterThan(500);
    await reproduce(slice);
    p = await scenario.startPgferry();
    await sleep(5000);
    const stats = await workload.stop();
    expect(stats.errors).toBe(0);
    const figures = await assertNothingLostNothingDoubled(scenario);
    const consumed = metricSum(await p.metrics(), 'pgferry_events_consumed_total');
    // Every copy went through pgferry again (and the position guard made it a no-op).
    expect(consumed).toBeGreaterThanOrEqual(slice.length);
    expect(await stopProcess(p, 'SIGTERM')).toBe(0);
    task.meta.fault = {
      case: 13,
      asserts:
        'with the group’s Kafka offsets reset to earliest and a shuffled slice of old events re-produced (same key, value, headers), pgferry re-consumes them and the tables still equal the source',
      figures: {
        transactions: stats.transactions,
        copies: slice.length,
        topicMessages: all.length,
        consumedAfterRestart: consumed,
        ...figures,
      },
    };
  });

  it('case 14: delete + re-insert, primary-key updates, updates of deleted rows: no resurrection', async ({
    task,
  }) => {
    const workload = startWorkload(scenario);
    let p = await scenario.startPgferry();
    await sourceQuery(
      `INSERT INTO ${KEYED} (id, val) SELECT g, 'v' || g FROM generate_series(1, 50) g`,
    );
    await sourceQuery(
      `INSERT INTO ${ITEMS} SELECT o, l, 'sku-' || o || '-' || l, l FROM generate_series(1, 6) o, generate_series(1, 3) l`,
    );
    for (let i = 0; i < 5; i++)
      await sourceQuery(`UPDATE ${KEYED} SET n = n + 1, val = val || '.' WHERE id <= 30`);
    await sleep(1500);
    // While pgferry runs: each statement likely in its own batch.
    await sourceQuery(`DELETE FROM ${KEYED} WHERE id BETWEEN 1 AND 10`);
    await sourceQuery(
      `INSERT INTO ${KEYED} (id, val) SELECT g, 'again ' || g FROM generate_series(1, 5) g`,
    );
    await sourceQuery(`UPDATE ${KEYED} SET id = id + 1000 WHERE id BETWEEN 11 AND 20`);
    const noop = await sourceQuery(`UPDATE ${KEYED} SET val = 'ghost' WHERE id BETWEEN 6 AND 10`);
    expect(noop.rowCount).toBe(0);
    await sourceQuery(`DELETE FROM ${ITEMS} WHERE order_id = 1`);
    await sourceQuery(`INSERT INTO ${ITEMS} VALUES (1, 1, 'back', 9)`);
    await sourceQuery(`UPDATE ${ITEMS} SET line = line + 100 WHERE order_id = 2`);
    await sleep(2000);
    // With pgferry stopped, the rest lands in one batch: dedupe sees delete, insert and update
    // of one key together.
    expect(await stopProcess(p, 'SIGTERM')).toBe(0);
    await sourceQuery('BEGIN');
    await sourceQuery(`DELETE FROM ${KEYED} WHERE id = 21`);
    await sourceQuery(`INSERT INTO ${KEYED} (id, val) VALUES (21, 'reborn')`);
    await sourceQuery(`UPDATE ${KEYED} SET n = n + 100 WHERE id = 21`);
    await sourceQuery(`DELETE FROM ${KEYED} WHERE id = 22`);
    await sourceQuery(`INSERT INTO ${KEYED} (id, val) VALUES (22, 'short-lived')`);
    await sourceQuery(`UPDATE ${KEYED} SET n = n + 100 WHERE id = 22`);
    await sourceQuery(`DELETE FROM ${KEYED} WHERE id = 22`);
    await sourceQuery('COMMIT');
    await sourceQuery(`UPDATE ${KEYED} SET val = 'ghost' WHERE id = 22`); // 0 rows
    await sourceQuery(`UPDATE ${KEYED} SET id = 7 WHERE id = 30`); // a deleted key reused
    await sourceQuery(`UPDATE ${ITEMS} SET order_id = 9 WHERE order_id = 3 AND line = 1`);
    await sourceQuery(`DELETE FROM ${ITEMS} WHERE order_id = 4`);
    await sourceQuery(`UPDATE ${ITEMS} SET qty = qty + 1 WHERE order_id = 4`); // 0 rows
    p = await scenario.startPgferry();
    await sleep(3000);
    const first = await workload.stop();
    const settled = await assertNothingLostNothingDoubled(scenario);
    // Late copies of every older event of these tables (creates and updates of the deleted keys
    // among them), shuffled: a stale change must never bring a deleted row back.
    const copies = shuffle(
      await readTopics([scenario.topicOf('keyed'), scenario.topicOf('items')]),
    );
    const second = startWorkload(scenario);
    await reproduce(copies);
    await sleep(3000);
    const stats = await second.stop();
    stats.transactions += first.transactions;
    stats.errors += first.errors;
    expect(stats.errors).toBe(0);
    const figures = await assertNothingLostNothingDoubled(scenario);
    const ghosts = await targetQuery<{ id: number }>(
      `SELECT id FROM ${KEYED} WHERE id IN (6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 22, 30) ORDER BY id`,
    );
    expect(ghosts).toEqual([]);
    const reborn = await targetQuery<{ id: number; val: string; n: number }>(
      `SELECT id, val, n FROM ${KEYED} WHERE id IN (1, 7, 21) ORDER BY id`,
    );
    expect(reborn).toEqual([
      { id: 1, val: 'again 1', n: 0 },
      { id: 7, val: 'v30.....', n: 5 },
      { id: 21, val: 'reborn', n: 100 },
    ]);
    const itemGhosts = await targetQuery<{ n: string }>(
      `SELECT count(*) AS n FROM ${ITEMS} WHERE (order_id = 1 AND line > 1) OR (order_id = 2 AND line < 100) OR order_id = 4 OR (order_id = 3 AND line = 1)`,
    );
    expect(Number(itemGhosts[0]?.n)).toBe(0);
    expect(await stopProcess(p, 'SIGTERM')).toBe(0);
    task.meta.fault = {
      case: 14,
      asserts:
        'delete + re-insert, primary-key updates (plain and composite), a deleted key reused, delete/insert/update of one key in one transaction, 0-row updates, then shuffled late copies of every older event: no deleted row comes back and the tables equal the source',
      figures: {
        transactions: stats.transactions,
        lateCopies: copies.length,
        sourceRowsBeforeCopies: settled.sourceRows ?? 0,
        ...figures,
      },
    };
  });

  it('case 16: an UPDATE that leaves a TOASTed column unchanged keeps the target’s value', async ({
    task,
  }) => {
    const workload = startWorkload(scenario);
    let p = await scenario.startPgferry();
    // ~32 kB of md5 hex per body: far over the TOAST threshold even compressed.
    const bigBody = `(SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 1000))`;
    await sourceQuery(`INSERT INTO ${DOCS} VALUES (1, 'first', ${bigBody}, 1)`);
    await waitForTarget('doc 1', async () => {
      const r = await targetQuery(`SELECT 1 FROM ${DOCS} WHERE id = 1`);
      return r.length === 1;
    });
    const external = await sourceQuery<{ n: string }>(
      `SELECT pg_column_size(body) AS n FROM ${DOCS} WHERE id = 1`,
    );
    expect(Number(external.rows[0]?.n)).toBeGreaterThan(8192);
    // Applied while pgferry runs: the update alone in its batch, the target has the body.
    await sourceQuery(`UPDATE ${DOCS} SET version = version + 1, title = 'second' WHERE id = 1`);
    await waitForTarget('doc 1 version 2', async () => {
      const r = await targetQuery<{ version: number }>(`SELECT version FROM ${DOCS} WHERE id = 1`);
      return r[0]?.version === 2;
    });
    // With pgferry stopped, several versions of one row fold into one batch: the unchanged body
    // must come from the insert (doc 2) or from the body update (doc 3) that came before.
    expect(await stopProcess(p, 'SIGTERM')).toBe(0);
    await sourceQuery(`INSERT INTO ${DOCS} VALUES (2, 'new', ${bigBody}, 1)`);
    await sourceQuery(`UPDATE ${DOCS} SET version = 2, title = 'new, retitled' WHERE id = 2`);
    await sourceQuery(`INSERT INTO ${DOCS} VALUES (3, 'three', ${bigBody}, 1)`);
    await sourceQuery(`UPDATE ${DOCS} SET body = ${bigBody}, version = 2 WHERE id = 3`);
    await sourceQuery(`UPDATE ${DOCS} SET title = 'three, retitled', version = 3 WHERE id = 3`);
    await sourceQuery(`UPDATE ${DOCS} SET version = version + 1 WHERE id = 1`);
    p = await scenario.startPgferry();
    await sleep(3000);
    const stats = await workload.stop();
    expect(stats.errors).toBe(0);
    const figures = await assertNothingLostNothingDoubled(scenario);
    // The placeholder really was on the wire (otherwise this case proves nothing).
    const docEvents = await readTopics([scenario.topicOf('docs')]);
    const placeholders = docEvents.filter((m) =>
      m.value?.includes(Buffer.from('__debezium_unavailable_value')),
    ).length;
    expect(placeholders).toBeGreaterThanOrEqual(4);
    const sourceDocs = await sourceQuery<{ id: number; md5: string; version: number }>(
      `SELECT id, md5(body) AS md5, version FROM ${DOCS} ORDER BY id`,
    );
    const targetDocs = await targetQuery<{ id: number; md5: string; version: number }>(
      `SELECT id, md5(body) AS md5, version FROM ${DOCS} ORDER BY id`,
    );
    expect(targetDocs).toEqual(sourceDocs.rows);
    const leaked = await targetQuery(`SELECT id FROM ${DOCS} WHERE body LIKE '%unavailable%'`);
    expect(leaked).toEqual([]);
    expect(await stopProcess(p, 'SIGTERM')).toBe(0);
    task.meta.fault = {
      case: 16,
      asserts:
        'updates that leave a >8 kB TOASTed body unchanged (Debezium’s placeholder on the wire), alone in a batch or folded with the insert/body update before them, keep the body on the target, never the placeholder',
      figures: { transactions: stats.transactions, placeholderEvents: placeholders, ...figures },
    };
  });
});

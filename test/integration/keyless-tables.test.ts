// Tables without a primary key on the real stack (issue 18, item 3): a REPLICA IDENTITY FULL table
// with duplicate rows and NULLs applies by full-row match (one row per event, two identical rows
// and one delete leave one), through a single-partition topic that `connector apply`'s keyless
// topic group creates; a REPLICA IDENTITY USING INDEX table is keyed by its index (Debezium puts
// the index columns in the Kafka key) onto a target with the same unique index, its older rows
// loaded by `pgferry copy` split on that index; a table with
// neither stops by name. A SIGKILLed run resumes without applying anything twice, changes
// Debezium sends again are skipped by their stream order, a replayed batch is skipped whole, and
// `pgferry verify` compares keyless tables as multisets.

import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectClient } from '../../core/connect-client.js';
import { createLogger } from '../../core/logger.js';
import {
  readKeylessTables,
  withKeylessTopicGroup,
} from '../../migrate/connector/keyless-topics.js';
import type { VerifyReport } from '../../migrate/verify/table-verify.js';
import type { RowChange } from '../../pipeline/row-change.js';
import { PostgresSink } from '../../sink/postgres-sink.js';
import { runPgferryCli } from '../support/cli-run.js';
import { type PgferryProcess, startPgferry } from '../support/pgferry-process.js';
import { loadStackEnv } from '../support/stack-env.js';
import { waitForEqual } from '../support/table-checksum.js';
import { applyTestConnector, removeTestConnector } from '../support/test-connector.js';

const stack = loadStackEnv();
const run = Date.now().toString(36);
const prefix = `nopk_${run}`;
const slot = `pgferry_nopk_${run}`;
const groupId = `pgferry-nopk-${run}`;
const connectorName = `pgferry-nopk-${run}`;
const FULL = `nopk_full_${run}`;
const IDX = `nopk_idx_${run}`;
const NONE = `nopk_none_${run}`;
const SINKONLY = `nopk_sink_${run}`;
const ALL = [FULL, IDX, NONE];

const env: Record<string, string> = {
  ...stack.vars,
  SOURCE_SLOT_NAME: slot,
  KAFKA_TOPIC_PATTERN: `^${prefix}\\.public\\..*`,
  KAFKA_GROUP_ID: groupId,
  BATCH_SIZE: '20',
  TOPIC_REFRESH_SECONDS: '2',
  RETRY_MAX_DELAY_SECONDS: '2',
  LOG_LEVEL: 'info',
};

const source = new pg.Client({ connectionString: stack.sourceDatabaseUrl });
const target = new pg.Client({ connectionString: stack.targetDatabaseUrl });
const connect = new ConnectClient({ baseUrl: stack.connectUrl });
let pgferry: PgferryProcess | undefined;

/** Compared as multisets: every row's text, sorted. */
const asMultiset = (name: string) => ({ name: `public.${name}`, orderBy: 't::text' });

async function sourceSql(...statements: string[]): Promise<void> {
  // One transaction each: the changes interleave in the log as an application's would.
  for (const sql of statements) await source.query(sql);
}

async function waitFor<T>(
  what: string,
  ms: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

beforeAll(async () => {
  await source.connect();
  await target.connect();
  await source.query(`
    CREATE TABLE public.${FULL} (a int, b text, c numeric(10,2), d jsonb, e timestamptz);
    ALTER TABLE public.${FULL} REPLICA IDENTITY FULL;
    CREATE TABLE public.${IDX} (id int NOT NULL, code text NOT NULL, v text);
    CREATE UNIQUE INDEX ${IDX}_u ON public.${IDX} (code, id);
    ALTER TABLE public.${IDX} REPLICA IDENTITY USING INDEX ${IDX}_u;
    CREATE TABLE public.${NONE} (id int, note text);
    INSERT INTO public.${IDX} SELECT g, 'old', 'copied ' || g FROM generate_series(1001, 1500) g;
    GRANT SELECT ON public.${IDX} TO ${stack.vars.SOURCE_DB_USER ?? 'pgferry_reader'};
  `);
  // The USING INDEX table's target as schema-sync makes it: the unique index, no primary key.
  await target.query(`
    CREATE TABLE public.${IDX} (id int NOT NULL, code text NOT NULL, v text);
    CREATE UNIQUE INDEX ${IDX}_u ON public.${IDX} (code, id);
    ALTER TABLE public.${IDX} OWNER TO ${stack.vars.TARGET_DB_USER ?? 'pgferry'};
  `);
  const keyless = (await readKeylessTables(source)).filter((t) => t.name.endsWith(`_${run}`));
  expect(keyless.map((t) => t.name).sort()).toEqual([FULL, NONE].sort());
  await applyTestConnector(connect, {
    name: connectorName,
    topicPrefix: prefix,
    slotName: slot,
    tableIncludeList: ALL.map((t) => `public\\.${t}`).join(','),
    snapshotMode: 'no_data',
    configure: (config) => withKeylessTopicGroup(config, keyless).config,
  });
  // The USING INDEX table's rows before the slot: `pgferry copy` splits it on its identity index.
  const copied = await runPgferryCli(
    ['copy', '--tables', `public.${IDX}`, '--chunk-rows', '200', '--progress', 'off'],
    env,
  );
  expect(copied.code, copied.stderr + copied.stdout).toBe(0);
  pgferry = await startPgferry(env);
}, 240_000);

afterAll(async () => {
  if (pgferry && pgferry.child.exitCode === null) {
    pgferry.child.kill('SIGTERM');
    await pgferry.exited;
  }
  await removeTestConnector(stack.connectUrl, connectorName, source, slot);
  for (const t of [...ALL, SINKONLY]) {
    await source.query(`DROP TABLE IF EXISTS public.${t}`).catch(() => undefined);
    await target.query(`DROP TABLE IF EXISTS public.${t}`).catch(() => undefined);
  }
  await source.end().catch(() => undefined);
  await target.end().catch(() => undefined);
});

describe('tables without a primary key', () => {
  it('applies a REPLICA IDENTITY FULL table row by row: duplicates, NULLs, updates, deletes', async () => {
    await sourceSql(
      `INSERT INTO public.${FULL} VALUES (1, 'dup', NULL, '{"k": 1}', NULL), (1, 'dup', NULL, '{"k": 1}', NULL),
         (2, NULL, 3.50, NULL, '2024-01-01 00:00:00+00'), (3, 'three', 1.00, '[1, 2]', now())`,
      // One of two identical rows: one must remain.
      `DELETE FROM public.${FULL} WHERE ctid = (SELECT min(ctid) FROM public.${FULL} WHERE a = 1)`,
      `INSERT INTO public.${FULL} VALUES (4, 'twin', NULL, NULL, NULL), (4, 'twin', NULL, NULL, NULL), (4, 'twin', NULL, NULL, NULL)`,
      // One of three identical rows changes, then all three (two still identical).
      `UPDATE public.${FULL} SET b = 'twin changed' WHERE ctid = (SELECT min(ctid) FROM public.${FULL} WHERE a = 4)`,
      `UPDATE public.${FULL} SET c = coalesce(c, 0) + 1 WHERE a = 4`,
      `UPDATE public.${FULL} SET b = NULL, c = NULL WHERE a = 2`,
      `UPDATE public.${FULL} SET d = NULL WHERE a = 1`,
      `DELETE FROM public.${FULL} WHERE a = 3`,
    );
    await sourceSql(
      `INSERT INTO public.${IDX} VALUES (1, 'a', 'one'), (2, 'a', 'two'), (1, 'b', NULL)`,
      `UPDATE public.${IDX} SET v = 'one changed' WHERE id = 1 AND code = 'a'`,
      // The identity index's columns change: Debezium sends delete + create.
      `UPDATE public.${IDX} SET code = 'c' WHERE id = 2 AND code = 'a'`,
      `DELETE FROM public.${IDX} WHERE id = 1 AND code = 'b'`,
    );
    const equal = await waitForEqual(
      stack.sourceDatabaseUrl,
      stack.targetDatabaseUrl,
      [asMultiset(FULL), asMultiset(IDX)],
      90_000,
    );
    expect(equal.get(`public.${FULL}`)?.rows).toBe(5);
    expect(equal.get(`public.${IDX}`)?.rows).toBe(502);
    const twins = await target.query(
      `SELECT b, c::text, count(*)::int AS n FROM public.${FULL} WHERE a IN (1, 4) GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    expect(twins.rows).toEqual([
      { b: 'dup', c: null, n: 1 },
      { b: 'twin', c: '1.00', n: 2 },
      { b: 'twin changed', c: '1.00', n: 1 },
    ]);
    // The keyless topic has one partition (the connector's topic group); the keyed one the default.
    const kafka = new Kafka({ brokers: [stack.kafkaBootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    try {
      const meta = await admin.fetchTopicMetadata({
        topics: [`${prefix}.public.${FULL}`, `${prefix}.public.${IDX}`],
      });
      const partitions = Object.fromEntries(meta.topics.map((t) => [t.name, t.partitions.length]));
      expect(partitions[`${prefix}.public.${FULL}`]).toBe(1);
      expect(partitions[`${prefix}.public.${IDX}`]).toBeGreaterThan(1);
    } finally {
      await admin.disconnect();
    }
    // The sink made the keyless target without a key and left the USING INDEX one as it was.
    const keys = await target.query(
      `SELECT c.relname AS name, count(i.*) FILTER (WHERE i.indisprimary)::int AS pk
         FROM pg_class c LEFT JOIN pg_index i ON i.indrelid = c.oid
        WHERE c.relname IN ($1, $2) GROUP BY 1 ORDER BY 1`,
      [FULL, IDX],
    );
    expect(keys.rows).toEqual(
      [
        { name: FULL, pk: 0 },
        { name: IDX, pk: 0 },
      ].sort((x, y) => x.name.localeCompare(y.name)),
    );
  });

  it('`pgferry verify` compares keyless tables as multisets and finds a surplus duplicate', async () => {
    const tables = ['--tables', `public.${FULL},public.${IDX}`, '--recheck-attempts', '0'];
    const equal = await runPgferryCli(['verify', ...tables, '--json'], env);
    expect(equal.code, equal.stderr).toBe(0);
    const report = JSON.parse(equal.stdout) as VerifyReport;
    expect(report.tables.map((t) => [t.source, t.match, t.sourceRows]).sort()).toEqual(
      [
        [`public.${FULL}`, true, 5],
        [`public.${IDX}`, true, 502],
      ].sort(),
    );
    // One more copy of a row on the target only: the same distinct rows, not the same multiset.
    await target.query(`INSERT INTO public.${FULL} SELECT * FROM public.${FULL} WHERE b = 'twin'`);
    try {
      const differs = await runPgferryCli(['verify', ...tables, '--json'], env);
      expect(differs.code).toBe(3);
      const full = (JSON.parse(differs.stdout) as VerifyReport).tables.find(
        (t) => t.source === `public.${FULL}`,
      );
      expect(full).toMatchObject({ match: false, sourceRows: 5, targetRows: 7 });
      expect(full?.differences).toEqual([
        { key: { row: '(4,twin,1.00,,)' }, kind: 'extra', copies: 2 },
      ]);
      const human = await runPgferryCli(['verify', ...tables], env);
      expect(human.stdout).toContain('extra   (row="(4,twin,1.00,,)") x2');
    } finally {
      await target.query(
        `DELETE FROM public.${FULL} WHERE ctid IN (SELECT ctid FROM public.${FULL} WHERE b = 'twin' LIMIT 2)`,
      );
    }
  });

  it('stops a table with neither a primary key nor REPLICA IDENTITY FULL, by name, with the fix', async () => {
    await sourceSql(`INSERT INTO public.${NONE} VALUES (1, 'no key here')`);
    const p = pgferry as PgferryProcess;
    await waitFor('the table without key stopped', 60_000, async () =>
      (await p.metrics()).includes(`pgferry_table_stopped{table="public.${NONE}"} 1`)
        ? true
        : undefined,
    );
    const line = p.logs.find((l) =>
      l.includes(`public.${NONE} has no primary key and REPLICA IDENTITY DEFAULT`),
    );
    expect(line).toContain(`ALTER TABLE public.${NONE} REPLICA IDENTITY FULL`);
    const exists = await target.query('SELECT to_regclass($1) AS t', [`public.${NONE}`]);
    expect(exists.rows[0]?.t).toBeNull();
  });

  it('a SIGKILLed run resumes without applying an insert twice', async () => {
    const first = pgferry as PgferryProcess;
    // Identical rows: an insert applied twice would show as one row too many.
    const inserts = Array.from(
      { length: 60 },
      (_, i) => `INSERT INTO public.${FULL} VALUES (100, 'same', ${i % 3}, NULL, NULL)`,
    );
    const writing = sourceSql(...inserts);
    await waitFor('some of the inserts applied', 60_000, async () => {
      const n = await target.query(`SELECT count(*)::int AS n FROM public.${FULL} WHERE a = 100`);
      return (n.rows[0]?.n ?? 0) >= 10 ? true : undefined;
    });
    first.child.kill('SIGKILL');
    await first.exited;
    await writing;
    await sourceSql(
      `DELETE FROM public.${FULL} WHERE ctid = (SELECT min(ctid) FROM public.${FULL} WHERE a = 100 AND c = 0)`,
    );
    pgferry = await startPgferry(env);
    const equal = await waitForEqual(
      stack.sourceDatabaseUrl,
      stack.targetDatabaseUrl,
      [asMultiset(FULL)],
      90_000,
    );
    expect(equal.get(`public.${FULL}`)?.rows).toBe(5 + 59);
  });

  it('skips the changes Debezium sends again (a Connect restart replays its tail): target unchanged', async () => {
    const topic = `${prefix}.public.${FULL}`;
    const kafka = new Kafka({ brokers: [stack.kafkaBootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    const high = async () =>
      Number((await admin.fetchTopicOffsets(topic)).find((p) => p.partition === 0)?.high ?? 0);
    const end = await high();
    // Every message so far, byte for byte: what Debezium re-sends after a restart looks so.
    const consumer = kafka.consumer({ groupId: `${groupId}-replay` });
    const copies: { key: Buffer | null; value: Buffer | null }[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          if (Number(message.offset) < end) copies.push({ key: message.key, value: message.value });
        },
      });
      await waitFor('the topic read back', 60_000, async () =>
        copies.length >= end ? true : undefined,
      );
    } finally {
      await consumer.disconnect();
    }
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: copies.map((m) => ({ ...m, partition: 0 })) });
    await producer.disconnect();
    const replayedTo = await high();
    await admin.disconnect();
    expect(replayedTo).toBe(2 * end);
    await waitFor('pgferry past the replayed messages', 60_000, async () => {
      const stored = await target.query(
        'SELECT next_offset::int AS n FROM pgferry.offsets WHERE group_id = $1 AND topic = $2 AND partition = 0',
        [groupId, topic],
      );
      return (stored.rows[0]?.n ?? 0) >= replayedTo ? true : undefined;
    });
    const equal = await waitForEqual(
      stack.sourceDatabaseUrl,
      stack.targetDatabaseUrl,
      [asMultiset(FULL)],
      10_000,
    );
    expect(equal.get(`public.${FULL}`)?.rows).toBe(5 + 59);
    const p = pgferry as PgferryProcess;
    expect(p.logs.some((l) => l.includes('skipped changes Debezium sent again'))).toBe(true);
  });

  it('skips a replayed batch of a keyless table whole (its offset commits with the rows)', async () => {
    const settings = {
      host: stack.vars.TARGET_DB_HOST ?? '127.0.0.1',
      port: Number(stack.vars.TARGET_DB_PORT),
      database: stack.vars.TARGET_DB_NAME ?? 'targetdb',
      user: stack.vars.TARGET_DB_USER ?? 'pgferry',
      password: stack.vars.TARGET_DB_PASSWORD ?? '',
      sslMode: 'disable' as const,
    };
    const sink = new PostgresSink({ settings, log: createLogger('silent') });
    await sink.start();
    try {
      const topic = `${prefix}.public.${SINKONLY}`;
      const schema = {
        id: 'none:1',
        columns: [{ name: 'v', pgType: 'text', nullable: true }],
        primaryKey: [],
      };
      const insert = (offset: number, v: string | null): RowChange => ({
        table: { schema: 'public', name: SINKONLY },
        op: 'c',
        key: {},
        after: { v },
        position: BigInt(1000 + offset),
        sourceTsMs: 0,
        txId: null,
        schema,
        origin: { topic, partition: 0, offset: String(offset) },
      });
      const batch = {
        groupId: `${groupId}-sink`,
        topic,
        partition: 0,
        nextOffset: '3',
        changes: [insert(0, 'x'), insert(1, 'x'), insert(2, null)],
      };
      expect((await sink.writeBatch(batch)).alreadyApplied).toBe(false);
      expect((await sink.writeBatch(batch)).alreadyApplied).toBe(true);
      const rows = await target.query(`SELECT v FROM public.${SINKONLY} ORDER BY v NULLS LAST`);
      expect(rows.rows).toEqual([{ v: 'x' }, { v: 'x' }, { v: null }]);
    } finally {
      await sink.stop();
      await target
        .query(`DELETE FROM pgferry.offsets WHERE group_id = $1`, [`${groupId}-sink`])
        .catch(() => undefined);
    }
  });
});

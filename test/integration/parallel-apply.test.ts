// Parallel apply (APPLY_CONCURRENCY, issue 17) on the real stack: two tables whose topics have six
// partitions each, applied four batches at a time in small batches, under a workload of inserts,
// hot-key updates, deletes and a truncate; then a SIGKILL while batches of several partitions are
// in flight. The target must equal the source, nothing doubled, with no deadlock between the
// sessions, and progress kept per partition.
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectClient } from '../../core/connect-client.js';
import { type PgferryProcess, startPgferry } from '../support/pgferry-process.js';
import { loadStackEnv } from '../support/stack-env.js';
import { waitForEqual } from '../support/table-checksum.js';
import {
  applyTestConnector,
  deleteTestTopics,
  removeMigrationBookkeeping,
  removeTestConnector,
} from '../support/test-connector.js';

const stack = loadStackEnv();
const run = Date.now().toString(36);
const prefix = `par_${run}`;
const slot = `pgferry_par_${run}`;
const groupId = `pgferry-par-${run}`;
const connectorName = `pgferry-par-${run}`;
const ITEMS = `par_items_${run}`;
const OTHER = `par_other_${run}`;
const TABLES = [
  { name: ITEMS, orderBy: 'id' },
  { name: OTHER, orderBy: 'id' },
];
const PARTITIONS = 6;

const source = new pg.Client({ connectionString: stack.sourceDatabaseUrl });
const target = new pg.Client({ connectionString: stack.targetDatabaseUrl });
const connect = new ConnectClient({ baseUrl: stack.connectUrl });
const kafka = new Kafka({
  brokers: [stack.kafkaBootstrap],
  clientId: 'pgferry-par-test',
  logLevel: logLevel.NOTHING,
});
const processes: PgferryProcess[] = [];

const env: Record<string, string> = {
  ...stack.vars,
  KAFKA_TOPIC_PATTERN: `^${prefix}\\.public\\..*`,
  KAFKA_GROUP_ID: groupId,
  APPLY_CONCURRENCY: '4',
  BATCH_SIZE: '50',
  TOPIC_REFRESH_SECONDS: '2',
  RETRY_MAX_DELAY_SECONDS: '2',
  LOG_LEVEL: 'info',
};

async function start(): Promise<PgferryProcess> {
  const p = await startPgferry(env);
  processes.push(p);
  return p;
}

/** One source transaction of the workload: inserts, updates of hot keys, deletes. */
async function writeRound(round: number): Promise<void> {
  const base = round * 100;
  await source.query('BEGIN');
  await source.query(
    `INSERT INTO ${ITEMS} (id, v, note) SELECT g, g % 97, 'row ' || g FROM generate_series($1::int, $1::int + 79) g`,
    [base],
  );
  // Hot keys: the same 40 rows change in every round, on every partition.
  await source.query(`UPDATE ${ITEMS} SET v = v + 1, note = note || '.' WHERE id % 250 < 40`);
  await source.query(`DELETE FROM ${ITEMS} WHERE id BETWEEN $1::int + 70 AND $1::int + 79`, [base]);
  await source.query(
    `INSERT INTO ${OTHER} (id, v) SELECT g, $1 FROM generate_series(1, 60) g
       ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v`,
    [round],
  );
  await source.query('COMMIT');
}

/** Deadlocks the target database has detected so far (pg_stat_database). */
async function targetDeadlocks(): Promise<number> {
  const r = await target.query<{ deadlocks: string }>(
    'SELECT deadlocks::text FROM pg_stat_database WHERE datname = current_database()',
  );
  return Number(r.rows[0]?.deadlocks ?? 0);
}

beforeAll(async () => {
  await source.connect();
  await target.connect();
  await source.query(`CREATE TABLE ${ITEMS} (id int PRIMARY KEY, v int NOT NULL, note text)`);
  await source.query(`CREATE TABLE ${OTHER} (id int PRIMARY KEY, v int NOT NULL)`);
  // The topics exist before the connector: Debezium then uses them as they are.
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [ITEMS, OTHER].map((table) => ({
        topic: `${prefix}.public.${table}`,
        numPartitions: PARTITIONS,
        replicationFactor: 1,
      })),
    });
  } finally {
    await admin.disconnect();
  }
  await applyTestConnector(connect, {
    name: connectorName,
    topicPrefix: prefix,
    slotName: slot,
    tableIncludeList: `public\\.${ITEMS},public\\.${OTHER}`,
  });
});

afterAll(async () => {
  for (const p of processes) {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
    await Promise.race([p.exited, new Promise((r) => setTimeout(r, 15_000))]);
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  }
  await removeTestConnector(stack.connectUrl, connectorName, source, slot);
  await deleteTestTopics(stack.kafkaBootstrap, prefix);
  await source.query(`DROP TABLE IF EXISTS ${ITEMS}, ${OTHER}`);
  await target.query(`DROP TABLE IF EXISTS ${ITEMS}, ${OTHER}`);
  await removeMigrationBookkeeping(target, groupId, ['public']).catch(() => undefined);
  await target
    .query('DELETE FROM pgferry.table_progress WHERE table_name = ANY($1)', [[ITEMS, OTHER]])
    .catch(() => undefined);
  await source.end();
  await target.end();
});

describe('parallel apply', () => {
  it('applies the partitions of two tables four at a time to the source state, without deadlocks', async () => {
    const deadlocksBefore = await targetDeadlocks();
    const pgferry = await start();
    for (let round = 0; round < 30; round++) await writeRound(round);
    await source.query(`TRUNCATE ${OTHER}`);
    for (let round = 30; round < 40; round++) await writeRound(round);
    await waitForEqual(stack.sourceDatabaseUrl, stack.targetDatabaseUrl, TABLES, 120_000);

    expect(pgferry.logs.filter((l) => l.includes('deadlock'))).toEqual([]);
    expect(await targetDeadlocks()).toBe(deadlocksBefore);
    // Progress per partition: every partition of the hot table has changes applied.
    const progress = await target.query<{ partition: number; changes: string }>(
      `SELECT partition, changes_applied::text AS changes FROM pgferry.table_progress
        WHERE table_name = $1 ORDER BY partition`,
      [ITEMS],
    );
    expect(progress.rows.map((r) => r.partition)).toEqual([0, 1, 2, 3, 4, 5]);
    // More than one session applied (a pool of four; each opens when a batch needs it).
    const sessions = await target.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM pg_stat_activity WHERE application_name = 'pgferry-sink' AND datname = current_database()`,
    );
    expect(Number(sessions.rows[0]?.n)).toBeGreaterThan(1);
  });

  it('survives SIGKILL with batches of several partitions in flight: nothing lost, nothing doubled', async () => {
    const first = processes[0] as PgferryProcess;
    let writing = true;
    let round = 40;
    const writer = (async () => {
      while (writing) {
        await writeRound(round++);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await new Promise((r) => setTimeout(r, 3_000));
    first.child.kill('SIGKILL');
    await first.exited;
    await new Promise((r) => setTimeout(r, 1_000));
    const second = await start();
    await new Promise((r) => setTimeout(r, 3_000));
    writing = false;
    await writer;
    expect(round).toBeGreaterThan(45);
    await waitForEqual(stack.sourceDatabaseUrl, stack.targetDatabaseUrl, TABLES, 120_000);
    expect(second.logs.filter((l) => l.includes('deadlock'))).toEqual([]);
    // The stored offsets are per partition and never ahead of what Kafka holds.
    const admin = kafka.admin();
    await admin.connect();
    try {
      for (const table of [ITEMS, OTHER]) {
        const topic = `${prefix}.public.${table}`;
        const ends = await admin.fetchTopicOffsets(topic);
        const stored = await target.query<{ partition: number; next_offset: string }>(
          'SELECT partition, next_offset::text FROM pgferry.offsets WHERE group_id = $1 AND topic = $2',
          [groupId, topic],
        );
        for (const row of stored.rows) {
          const end = ends.find((e) => e.partition === row.partition);
          expect(BigInt(row.next_offset)).toBeLessThanOrEqual(BigInt(end?.high ?? '0'));
        }
      }
    } finally {
      await admin.disconnect();
    }
  });
});

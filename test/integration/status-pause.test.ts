import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectClient } from '../../core/connect-client.js';
import type { PauseComponentResult } from '../../migrate/pause/pipeline-pause.js';
import type { MigrationStatus } from '../../migrate/status/migration-status-types.js';
import {
  deleteCopyPlan,
  insertCopyPlan,
  markChunkCopied,
} from '../../sink/bookkeeping/copy-rows.js';
import { runPgferryCli } from '../support/cli-run.js';
import { type PgferryProcess, startPgferry } from '../support/pgferry-process.js';
import { loadStackEnv } from '../support/stack-env.js';
import { waitForEqual } from '../support/table-checksum.js';
import { applyTestConnector, removeTestConnector } from '../support/test-connector.js';

const stack = loadStackEnv();
const run = Date.now().toString(36);
const prefix = `sp_${run}`;
const groupId = `pgferry-sp-${run}`;
const connectorName = `pgferry-sp-${run}`;
const slotName = `pgferry_sp_${run}`;
const ITEMS = `sp_items_${run}`;
const LATE = `sp_late_${run}`;
const BULK = `sp_bulk_${run}`;
const BULK_ROWS = 50_000;
/** A table loaded by (a stand-in for) pgferry copy: its plan and chunks written as copy writes them. */
const COPIED = `sp_copied_${run}`;

const source = new pg.Client({ connectionString: stack.sourceDatabaseUrl });
const target = new pg.Client({ connectionString: stack.targetDatabaseUrl });
const connect = new ConnectClient({ baseUrl: stack.connectUrl });
let pgferry: PgferryProcess | undefined;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const pipelineEnv = (): Record<string, string> => ({
  ...stack.vars,
  // This run's tables only: the status leaves out copy rows of other tests' tables.
  KAFKA_TOPIC_PATTERN: `^${prefix}\\.public\\.sp_.*_${run}$`,
  KAFKA_GROUP_ID: groupId,
  SOURCE_SLOT_NAME: slotName,
  CONNECTOR_NAME: connectorName,
  TOPIC_REFRESH_SECONDS: '2',
  RETRY_MAX_DELAY_SECONDS: '2',
  LOG_LEVEL: 'info',
});

function cli(argv: string[]) {
  return runPgferryCli(argv, {
    ...pipelineEnv(),
    METRICS_PORT: String(pgferry?.port ?? 1),
    LOG_LEVEL: 'silent',
  });
}

async function status(): Promise<{ code: number; status: MigrationStatus }> {
  const result = await cli(['status', '--json', '--control-url', controlUrl()]);
  expect(result.stderr).toBe('');
  return { code: result.code, status: JSON.parse(result.stdout) as MigrationStatus };
}

const controlUrl = () => `http://127.0.0.1:${pgferry?.port}`;

async function waitForStatus(
  what: string,
  timeoutMs: number,
  accept: (s: MigrationStatus) => boolean,
): Promise<{ code: number; status: MigrationStatus }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await status();
    if (accept(result.status)) return result;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}:\n${JSON.stringify(result.status, null, 2)}`);
    }
    await sleep(1000);
  }
}

async function targetCount(table: string): Promise<number> {
  const exists = await target.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [
    `public.${table}`,
  ]);
  if (exists.rows[0]?.t == null) return 0;
  const result = await target.query<{ n: string }>(`SELECT count(*) AS n FROM public.${table}`);
  return Number(result.rows[0]?.n);
}

const tableOf = (s: MigrationStatus, table: string) =>
  s.tables.find((t) => t.table === `public.${table}`);

describe.sequential('status, pause and resume', () => {
  beforeAll(async () => {
    await source.connect();
    await target.connect();
    await source.query(`CREATE TABLE ${ITEMS} (id integer PRIMARY KEY, note text)`);
    await source.query(`CREATE TABLE ${BULK} (id integer PRIMARY KEY, note text)`);
    // Snapshot rows (op r), then the connector, then pgferry.
    await source.query(`INSERT INTO ${ITEMS} SELECT g, 'snap ' || g FROM generate_series(1, 20) g`);
    await applyTestConnector(connect, {
      name: connectorName,
      topicPrefix: prefix,
      slotName,
      tableIncludeList: `public\\.sp_.*_${run}`,
    });
    pgferry = await startPgferry(pipelineEnv());
  });

  afterAll(async () => {
    const running = pgferry;
    pgferry = undefined;
    if (running) {
      running.child.kill('SIGTERM');
      await running.exited;
    }
    await removeTestConnector(stack.connectUrl, connectorName, source, slotName);
    await deleteCopyPlan(target, { schema: 'public', name: COPIED }).catch(() => undefined);
    await source.end();
    await target.end();
  });

  it('shows caught up with the exact changes applied once the target equals the source', async () => {
    await source.query(
      `INSERT INTO ${ITEMS} SELECT g, 'live ' || g FROM generate_series(21, 50) g`,
    );
    await waitForEqual(
      stack.sourceDatabaseUrl,
      stack.targetDatabaseUrl,
      [{ name: ITEMS, orderBy: 'id' }],
      120_000,
    );
    const { code, status: s } = await waitForStatus('caught up', 60_000, (x) => x.caughtUp);
    expect(code).toBe(0);
    expect(s.reasons).toEqual([]);
    expect(s.connector).toMatchObject({ name: connectorName, state: 'RUNNING' });
    expect(s.slot).toMatchObject({ name: slotName, exists: true, active: true });
    expect(s.consumer.groupId).toBe(groupId);
    expect(s.consumer.totalLag).toBe(0);
    const topic = `${prefix}.public.${ITEMS}`;
    const partitions = s.consumer.partitions.filter((p) => p.topic === topic);
    expect(partitions.length).toBeGreaterThan(0);
    // Every message of the topic is applied: 20 snapshot reads + 30 inserts.
    const messages = partitions.reduce((n, p) => n + Number(p.endOffset), 0);
    expect(messages).toBe(50);
    for (const p of partitions) {
      if (p.endOffset !== '0') expect(p.appliedOffset).toBe(p.endOffset);
    }
    // Distinct keys, so no dedupe: one change applied per row.
    expect(tableOf(s, ITEMS)).toMatchObject({ topic, changesApplied: 50, dlqMessages: 0 });
    expect(tableOf(s, ITEMS)?.endToEndLagSeconds).toBeGreaterThanOrEqual(0);
    expect(s.pgferry).toEqual([
      { url: controlUrl(), state: 'running', paused: false, pausing: false },
    ]);
    // No copy bookkeeping for this pipeline: no copy part, as before pgferry copy existed.
    expect(s.copy).toBeUndefined();

    const human = await cli(['status']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/: caught up\n/);
    expect(human.stdout).toContain(`public.${ITEMS}`);
    expect(human.stdout).not.toContain('Copy ');
  });

  it('pause stops the connector and pgferry; the target does not move while the source does', async () => {
    // A large transaction, so that pgferry is likely applying batches when the pause arrives:
    // the pause answers only once the batch in flight is committed, so nothing moves after it.
    await source.query(
      `INSERT INTO ${BULK} SELECT g, 'bulk ' || g FROM generate_series(1, ${BULK_ROWS}) g`,
    );
    const deadline = Date.now() + 60_000;
    while ((await targetCount(BULK)) === 0) {
      if (Date.now() > deadline) throw new Error(`no ${BULK} row reached the target`);
      await sleep(100);
    }
    // pgferry alone first, sampling the target right away: "paused" means committed and still.
    const pgferryPaused = await cli(['pause', '--pgferry-only', '--control-url', controlUrl()]);
    const bulkAtPause = await targetCount(BULK);
    expect(pgferryPaused.stdout).toBe(`pgferry ${controlUrl()}: paused\n`);
    expect(pgferryPaused.code).toBe(0);
    console.info(`${BULK}: ${bulkAtPause} of ${BULK_ROWS} rows applied when paused`);
    // Then both (pgferry again: idempotent).
    const paused = await cli(['pause', '--control-url', controlUrl(), '--json']);
    expect(paused.stderr).toBe('');
    const body = JSON.parse(paused.stdout) as { ok: boolean; components: PauseComponentResult[] };
    expect(body.components).toEqual([
      expect.objectContaining({ component: 'connector', state: 'PAUSED', reached: true }),
      expect.objectContaining({ component: 'pgferry', state: 'paused', reached: true }),
    ]);
    expect(body.ok).toBe(true);
    expect(paused.code).toBe(0);
    const metrics = await pgferry?.metrics();
    expect(metrics).toMatch(/^pgferry_paused 1$/m);

    await source.query(
      `INSERT INTO ${ITEMS} SELECT g, 'while paused ' || g FROM generate_series(51, 90) g`,
    );
    for (let i = 0; i < 6; i++) {
      expect(await targetCount(ITEMS)).toBe(50);
      expect(await targetCount(BULK)).toBe(bulkAtPause);
      await sleep(1000);
    }
    const { code, status: s } = await status();
    expect(code).toBe(3);
    expect(s.caughtUp).toBe(false);
    expect(s.connector.state).toBe('PAUSED');
    expect(s.connector.tasks.every((t) => t.state === 'PAUSED')).toBe(true);
    // Paused, not stopped: the slot stays (and retains the WAL of the 40 new rows).
    expect(s.slot).toMatchObject({ exists: true });
    expect(s.slot.lagBytes).toBeGreaterThan(0);
    expect(s.pgferry?.[0]).toMatchObject({ paused: true, state: 'running' });
    expect(s.reasons).toContain(`connector ${connectorName} is PAUSED`);
    expect(s.reasons).toContain(`pgferry ${controlUrl()} is paused`);
    // /readyz stays 200: a pause is intended, not a fault.
    const ready = await fetch(`${controlUrl()}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, paused: true });
  });

  it('a paused pgferry stays paused while messages arrive and a new topic is subscribed', async () => {
    const connectorResumed = await cli(['resume', '--connector-only']);
    expect(connectorResumed.stdout).toMatch(/^connector .*: connector RUNNING/);
    expect(connectorResumed.code).toBe(0);
    // A table created now gets a topic; pgferry's topic refresh re-subscribes (a new consumer).
    await source.query(`CREATE TABLE ${LATE} (id integer PRIMARY KEY, note text)`);
    await source.query(`INSERT INTO ${LATE} SELECT g, 'late ' || g FROM generate_series(1, 7) g`);
    const lagOf = (x: MigrationStatus, tables: string[]) =>
      x.consumer.partitions
        .filter((p) => tables.some((t) => p.topic === `${prefix}.public.${t}`))
        .reduce((n, p) => n + p.lag, 0);
    const { status: s } = await waitForStatus(
      'the 47 new messages in Kafka',
      120_000,
      (x) => lagOf(x, [ITEMS, LATE]) === 47,
    );
    const bulkFrozen = await targetCount(BULK);
    expect(s.pgferry?.[0]).toMatchObject({ paused: true });
    expect(s.tables.map((t) => t.table)).toContain(`public.${LATE}`);
    // pgferry found the new topic and restarted its consumer: the new one must start paused.
    const lateTopic = `${prefix}.public.${LATE}`;
    const deadline = Date.now() + 30_000;
    while (!pgferry?.logs.some((l) => l.includes('"added":[') && l.includes(lateTopic))) {
      if (Date.now() > deadline) throw new Error(`pgferry never subscribed to ${lateTopic}`);
      await sleep(500);
    }
    await sleep(6000);
    expect(await targetCount(ITEMS)).toBe(50);
    expect(await targetCount(LATE)).toBe(0);
    expect(await targetCount(BULK)).toBe(bulkFrozen);
    const after = (await status()).status;
    expect(lagOf(after, [ITEMS, LATE])).toBe(47);
    expect(after.consumer.totalLag).toBe(47 + lagOf(after, [BULK]));
  });

  it('resume continues from where it stopped: nothing lost, nothing doubled', async () => {
    const resumed = await cli(['resume', '--control-url', controlUrl()]);
    expect(resumed.stdout).toContain(`pgferry ${controlUrl()}: resumed`);
    expect(resumed.code).toBe(0);
    const result = await waitForEqual(
      stack.sourceDatabaseUrl,
      stack.targetDatabaseUrl,
      [
        { name: ITEMS, orderBy: 'id' },
        { name: LATE, orderBy: 'id' },
        { name: BULK, orderBy: 'id' },
      ],
      180_000,
    );
    expect(result.get(ITEMS)?.rows).toBe(90);
    expect(result.get(LATE)?.rows).toBe(7);
    expect(result.get(BULK)?.rows).toBe(BULK_ROWS);
    const { code, status: s } = await waitForStatus('caught up again', 60_000, (x) => x.caughtUp);
    expect(code).toBe(0);
    // Each message applied exactly once across the pause.
    expect(tableOf(s, ITEMS)?.changesApplied).toBe(90);
    expect(tableOf(s, LATE)?.changesApplied).toBe(7);
    expect(tableOf(s, BULK)?.changesApplied).toBe(BULK_ROWS);
    expect(await pgferry?.metrics()).toMatch(/^pgferry_paused 0$/m);
  });

  it('shows a table’s copy and that its stream waits for it; cutover refuses at gate 2; caught up once the copy is done', async () => {
    const table = { schema: 'public', name: COPIED };
    for (const db of [source, target]) {
      await db.query(`CREATE TABLE ${COPIED} (id integer PRIMARY KEY, note text)`);
    }
    await target.query(`ALTER TABLE ${COPIED} OWNER TO ${stack.vars.TARGET_DB_USER}`);
    // The plan, as pgferry copy records it: two key-range chunks, (.., 10] and (10, ..).
    await insertCopyPlan(target, {
      target: table,
      source: table,
      keyColumns: ['id'],
      bounds: [['10']],
    });
    const copyChunk = async (chunk: number, from: number, to: number) => {
      // Its rows and its done mark in one target transaction, as pgferry copy commits a chunk.
      await target.query('BEGIN');
      try {
        await target.query(
          `INSERT INTO ${COPIED} SELECT g, 'row ' || g FROM generate_series($1::int, $2::int) g`,
          [from, to],
        );
        const rows = to - from + 1;
        await markChunkCopied(target, table, { chunk, rows, bytes: rows * 16, copyRun: 'status' });
        await target.query('COMMIT');
      } catch (error) {
        await target.query('ROLLBACK');
        throw error;
      }
    };
    // The application writes during the copy: 20 changes pgferry run must hold back.
    await source.query(`INSERT INTO ${COPIED} SELECT g, 'row ' || g FROM generate_series(1, 20) g`);
    await copyChunk(0, 1, 10);
    const copyOf = (x: MigrationStatus) =>
      x.copy?.tables.find((t) => t.table === `public.${COPIED}`);
    const { code, status: s } = await waitForStatus(
      'the copy with its 20 changes held back',
      120_000,
      (x) => copyOf(x)?.queuedMessages === 20,
    );
    expect(code).toBe(3);
    expect(s.caughtUp).toBe(false);
    expect(copyOf(s)).toMatchObject({
      source: `public.${COPIED}`,
      state: 'copying',
      chunksDone: 1,
      chunksTotal: 2,
      rowsCopied: 10,
      bytesCopied: 160,
      streamWaiting: true,
      lastError: null,
    });
    expect(copyOf(s)?.rowsPerSecond).toBeGreaterThan(0);
    expect(copyOf(s)?.etaSeconds).toBeGreaterThan(0);
    expect(s.copy?.tables).toHaveLength(1);
    expect(s.reasons).toContain(
      `copy of public.${COPIED} not done (1/2 chunks): its stream waits until pgferry copy finishes it`,
    );
    // The stream applied nothing: the target holds the copied chunk only.
    expect(await targetCount(COPIED)).toBe(10);

    const human = await cli(['status']);
    expect(human.code).toBe(3);
    const lines = human.stdout.split('\n');
    expect(lines[0]).toMatch(/; copy not done: 0 of 1 tables copied$/);
    expect(human.stdout).toMatch(
      /\nCopy +0 of 1 table done, 1 copying; 1\/2 chunks, 10 rows, 160 bytes copied/,
    );
    expect(human.stdout).toMatch(
      new RegExp(
        `\\n  public\\.${COPIED} +copying +1/2 +10 +160 bytes .* waits for the copy \\(20 changes held back\\)\\n`,
      ),
    );

    // Cutover refuses at gate 2, naming the table, without waiting for the lag.
    const cutover = await cli(['cutover', '--dry-run', '--tables', COPIED, '--quiet-seconds', '2']);
    expect(cutover.code).toBe(3);
    expect(cutover.stdout).toContain(`caught-up       FAILED`);
    expect(cutover.stdout).toContain(
      `the initial copy is not done: copy of public.${COPIED} not done (1/2 chunks)`,
    );

    // The last chunk: the table is done, its stream flows.
    await copyChunk(1, 11, 20);
    await waitForEqual(
      stack.sourceDatabaseUrl,
      stack.targetDatabaseUrl,
      [{ name: COPIED, orderBy: 'id' }],
      120_000,
    );
    const { code: afterCode, status: after } = await waitForStatus(
      'caught up once the copy is done',
      60_000,
      (x) => x.caughtUp,
    );
    expect(afterCode).toBe(0);
    expect(copyOf(after)).toMatchObject({
      state: 'done',
      chunksDone: 2,
      rowsCopied: 20,
      streamWaiting: false,
      etaSeconds: 0,
      queuedMessages: 0,
    });
    expect(after.copy?.tablesDone).toBe(1);
    expect(tableOf(after, COPIED)?.changesApplied).toBe(20);
    const done = await cli(['status']);
    expect(done.stdout).toMatch(/: caught up\n/);
    expect(done.stdout).toMatch(new RegExp(`public\\.${COPIED} +done +2/2 .* streaming\\n`));
  });
});

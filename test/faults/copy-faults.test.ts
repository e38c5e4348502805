// Fault cases 23-25: `pgferry copy` while a database under it goes away. The target stopped
// (-m immediate) mid-copy and restarted: the chunks in flight roll back and are retried, each
// chunk is committed once. The source stopped and restarted: the exported snapshot dies with its
// session, a new one is taken (any snapshot after the slot's start is as good: chunks are key
// ranges), and the copy completes. A target down for longer than --retry-for: the copy stops with
// an error naming the chunk, and the next run resumes. Every case restarts what it stopped.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CopyReport } from '../../migrate/copy/copy-command.js';
import { readCopyChunks } from '../../sink/bookkeeping/copy-rows.js';
import { readRssMb, sleep, stack, stackService, waitUntil } from '../support/fault-harness.js';
import { repoPath } from '../support/stack-env.js';
import { tableFingerprint } from '../support/table-checksum.js';

const run = Date.now().toString(36);
const slot = `pgferry_copyfault_${run}`;
const ROWS = 60_000;
const CHUNK_ROWS = 1_500;
const env: Record<string, string> = {
  ...stack.vars,
  SOURCE_SLOT_NAME: slot,
  COPY_METRICS_PORT: '0',
  RETRY_MAX_DELAY_SECONDS: '1',
  LOG_LEVEL: 'info',
};
/** The copy's peak RSS bound (the issue's: under 200 MB whatever the table size). */
const COPY_RSS_BOUND_MB = 200;

interface CopyChild {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | string>;
  peakRssMb: () => number;
}

const children = new Set<ChildProcess>();

function spawnCopy(
  table: string,
  args: string[],
  extraEnv: Record<string, string> = {},
): CopyChild {
  const child = spawn(
    process.execPath,
    [
      repoPath('bin/pgferry.js'),
      'copy',
      '--tables',
      table,
      '--jobs',
      '2',
      '--chunk-rows',
      String(CHUNK_ROWS),
      '--json',
      '--progress',
      'log',
      ...args,
    ],
    {
      env: { PATH: process.env.PATH ?? '', ...env, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  children.add(child);
  let out = '';
  let err = '';
  let peak = 0;
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString('utf8');
  });
  child.stderr?.on('data', (c: Buffer) => {
    err += c.toString('utf8');
  });
  const sampler = setInterval(() => {
    const rss = child.pid ? readRssMb(child.pid) : undefined;
    if (rss !== undefined && rss > peak) peak = rss;
  }, 100);
  const exited = once(child, 'exit').then(([code, signal]) => {
    clearInterval(sampler);
    children.delete(child);
    return (code ?? signal) as number | string;
  });
  return { child, stdout: () => out, stderr: () => err, exited, peakRssMb: () => peak };
}

async function admin(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

async function chunks(table: string) {
  const client = await admin(stack.targetDatabaseUrl);
  try {
    return await readCopyChunks(client, { schema: 'public', name: table });
  } finally {
    await client.end();
  }
}

async function createTable(table: string): Promise<void> {
  const source = await admin(stack.sourceDatabaseUrl);
  const target = await admin(stack.targetDatabaseUrl);
  try {
    const ddl = `CREATE TABLE ${table} (id bigint PRIMARY KEY, branch int NOT NULL, balance numeric(14,2), filler char(84))`;
    await source.query(`${ddl};
      INSERT INTO ${table} SELECT g, g % 10, g * 1.5, 'f' || g FROM generate_series(1, ${ROWS}) g;
      GRANT SELECT ON ${table} TO ${stack.vars.SOURCE_DB_USER ?? 'pgferry_reader'}`);
    await target.query(
      `${ddl}; GRANT ALL ON ${table} TO ${stack.vars.TARGET_DB_USER ?? 'pgferry'}`,
    );
  } finally {
    await source.end();
    await target.end();
  }
}

async function expectEqual(table: string): Promise<void> {
  const source = await tableFingerprint(stack.sourceDatabaseUrl, table, 'id');
  const target = await tableFingerprint(stack.targetDatabaseUrl, table, 'id');
  expect(target).toEqual(source);
  expect(source.rows).toBe(ROWS);
}

const tables: string[] = [];

beforeAll(async () => {
  const source = await admin(stack.sourceDatabaseUrl);
  try {
    await source.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
  } finally {
    await source.end();
  }
}, 120_000);

afterAll(async () => {
  for (const child of children) if (child.pid) process.kill(-child.pid, 'SIGKILL');
  await stackService('start', 'pg-source').catch(() => undefined);
  await stackService('start', 'pg-target').catch(() => undefined);
  const source = await admin(stack.sourceDatabaseUrl);
  const target = await admin(stack.targetDatabaseUrl);
  try {
    await source.query('SELECT pg_drop_replication_slot($1)', [slot]).catch(() => undefined);
    for (const table of tables) {
      await source.query(`DROP TABLE IF EXISTS ${table}`);
      await target.query(`DROP TABLE IF EXISTS ${table}`);
    }
    await target
      .query('DELETE FROM pgferry.copy_tables WHERE table_name = ANY($1)', [tables])
      .catch(() => undefined);
  } finally {
    await source.end();
    await target.end();
  }
}, 300_000);

describe.sequential('pgferry copy: databases failing under it', () => {
  it('case 23: target PostgreSQL stopped (-m immediate) mid-copy and restarted', async ({
    task,
  }) => {
    const table = `copyfault_target_${run}`;
    tables.push(table);
    await createTable(table);
    const copy = spawnCopy(table, [], { PGFERRY_FAULT_INJECTION: 'copy-chunk:delay=100@*' });
    await waitUntil(
      '5 chunks copied',
      async () => (await chunks(table)).filter((c) => c.done).length >= 5,
      60_000,
      100,
    );
    const downAt = Date.now();
    try {
      await stackService('stop', 'pg-target');
      await sleep(4_000);
    } finally {
      await stackService('start', 'pg-target');
    }
    const downtimeSeconds = Math.round((Date.now() - downAt) / 100) / 10;
    expect(await copy.exited, copy.stderr().slice(-2000)).toBe(0);
    const report = JSON.parse(copy.stdout()) as CopyReport;
    expect(report.ok).toBe(true);
    const retries = copy
      .stderr()
      .split('\n')
      .filter((l) => l.includes('retrying')).length;
    expect(retries).toBeGreaterThan(0);
    const all = await chunks(table);
    expect(all.every((c) => c.done && c.copies === 1)).toBe(true);
    await expectEqual(table);
    expect(copy.peakRssMb()).toBeLessThan(COPY_RSS_BOUND_MB);
    task.meta.fault = {
      case: 23,
      asserts:
        'pgferry copy retries the chunks in flight when the target crashes and comes back, commits every chunk exactly once, and the target equals the source',
      figures: {
        rows: ROWS,
        chunks: all.length,
        downtimeSeconds,
        retryLogLines: retries,
        peakRssMb: Math.round(copy.peakRssMb()),
      },
    };
  });

  it('case 24: source PostgreSQL stopped mid-copy and restarted: a new snapshot, the copy completes', async ({
    task,
  }) => {
    const table = `copyfault_source_${run}`;
    tables.push(table);
    await createTable(table);
    const copy = spawnCopy(table, [], { PGFERRY_FAULT_INJECTION: 'copy-chunk:delay=100@*' });
    await waitUntil(
      '5 chunks copied',
      async () => (await chunks(table)).filter((c) => c.done).length >= 5,
      60_000,
      100,
    );
    const downAt = Date.now();
    try {
      await stackService('stop', 'pg-source');
      await sleep(4_000);
    } finally {
      await stackService('start', 'pg-source');
    }
    const downtimeSeconds = Math.round((Date.now() - downAt) / 100) / 10;
    expect(await copy.exited, copy.stderr().slice(-2000)).toBe(0);
    const report = JSON.parse(copy.stdout()) as CopyReport;
    expect(report.ok).toBe(true);
    expect(report.snapshots).toBeGreaterThanOrEqual(2);
    const all = await chunks(table);
    expect(all.every((c) => c.done && c.copies === 1)).toBe(true);
    await expectEqual(table);
    task.meta.fault = {
      case: 24,
      asserts:
        'when the source restarts mid-copy the exported snapshot is gone; pgferry copy takes a new one (the slot still exists), finishes the chunks left, and the target equals the source',
      figures: {
        rows: ROWS,
        chunks: all.length,
        downtimeSeconds,
        snapshots: report.snapshots,
        peakRssMb: Math.round(copy.peakRssMb()),
      },
    };
  });

  it('case 25: target down for longer than --retry-for: a clear error naming the chunk, then a resume', async ({
    task,
  }) => {
    const table = `copyfault_giveup_${run}`;
    tables.push(table);
    await createTable(table);
    const copy = spawnCopy(table, ['--retry-for', '3'], {
      PGFERRY_FAULT_INJECTION: 'copy-chunk:delay=100@*',
    });
    await waitUntil(
      '3 chunks copied',
      async () => (await chunks(table)).filter((c) => c.done).length >= 3,
      60_000,
      100,
    );
    let code: number | string;
    try {
      await stackService('stop', 'pg-target');
      code = await copy.exited;
    } finally {
      await stackService('start', 'pg-target');
    }
    expect(code).toBe(1);
    expect(copy.stderr()).toMatch(
      new RegExp(`chunk \\d+ of public\\.${table} failed for \\d+ s \\(\\d+ attempts\\)`),
    );
    const before = (await chunks(table)).filter((c) => c.done).length;
    const resumed = spawnCopy(table, []);
    expect(await resumed.exited, resumed.stderr().slice(-2000)).toBe(0);
    const report = JSON.parse(resumed.stdout()) as CopyReport;
    expect(report.tables[0]).toMatchObject({ start: 'resumed', state: 'done' });
    expect(report.tables[0]?.chunksCopiedNow).toBe((report.tables[0]?.chunksTotal ?? 0) - before);
    await expectEqual(table);
    task.meta.fault = {
      case: 25,
      asserts:
        'a target down longer than --retry-for stops pgferry copy with exit 1 and an error naming the chunk; the next run copies only the chunks left and the target equals the source',
      figures: {
        rows: ROWS,
        chunksBefore: before,
        chunksResumed: report.tables[0]?.chunksCopiedNow ?? 0,
      },
    };
  });
});

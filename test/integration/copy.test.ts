// `pgferry copy` and its hand-over to the stream, on the real stack: a connector registered with
// snapshot.mode=no_data (its slot exists before any copy snapshot), a source written all along,
// a copy SIGKILLed mid-table and resumed while `pgferry run` already waits for it, a transaction
// opened before the slot and committed after the copy's snapshot, a table truncated and refilled
// during the copy, unchanged-TOAST updates after it, composite keys, many types, an empty table.
// The end: target = source (fingerprints) and `pgferry verify` exits 0.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectClient } from '../../core/connect-client.js';
import type { CopyReport } from '../../migrate/copy/copy-command.js';
import { findCopiesNotDone } from '../../migrate/cutover/cutover.js';
import { readCopyChunks, readCopyTables } from '../../sink/bookkeeping/copy-rows.js';
import { runPgferryCli } from '../support/cli-run.js';
import { type PgferryProcess, startPgferry } from '../support/pgferry-process.js';
import { loadStackEnv, repoPath } from '../support/stack-env.js';
import { waitForEqual } from '../support/table-checksum.js';
import { applyTestConnector, removeTestConnector } from '../support/test-connector.js';

const stack = loadStackEnv();
const run = Date.now().toString(36);
const prefix = `copy_${run}`;
const slot = `pgferry_copy_${run}`;
const groupId = `pgferry-copy-${run}`;
const connectorName = `pgferry-copy-${run}`;
const t = (name: string) => `cp_${name}_${run}`;
const ACCOUNTS = t('accounts');
const ITEMS = t('items');
const TYPES = t('types');
const ORDERS = t('orders');
const MOOD = t('mood');
const DOCS = t('docs');
const TRUNC = t('trunc');
const EMPTY = t('empty');
const ALL = [ACCOUNTS, ITEMS, TYPES, ORDERS, DOCS, TRUNC, EMPTY];
const ORDER_BY: Record<string, string> = { [ITEMS]: 'order_id, line' };
const ACCOUNT_ROWS = 40_000;
const CHUNK_ROWS = 2_000;

const env: Record<string, string> = {
  ...stack.vars,
  SOURCE_SLOT_NAME: slot,
  KAFKA_TOPIC_PATTERN: `^${prefix}\\.public\\..*`,
  KAFKA_GROUP_ID: groupId,
  COPY_METRICS_PORT: '0',
  BATCH_SIZE: '500',
  TOPIC_REFRESH_SECONDS: '2',
  RETRY_MAX_DELAY_SECONDS: '2',
  PROGRESS_LOG_SECONDS: '1',
  LOG_LEVEL: 'info',
};

const source = new pg.Client({ connectionString: stack.sourceDatabaseUrl });
const target = new pg.Client({ connectionString: stack.targetDatabaseUrl });
/** Opened before the connector (and its slot) exists; commits after a copy's snapshot. */
const early = new pg.Client({ connectionString: stack.sourceDatabaseUrl });
const connect = new ConnectClient({ baseUrl: stack.connectUrl });
let pgferry: PgferryProcess | undefined;
const children = new Set<ChildProcess>();
let writer: { stop: () => Promise<number> } | undefined;

interface CopyChild {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | string>;
}

/** `pgferry copy` as a child process in its own process group (killable as a whole). */
function spawnCopy(args: string[], extraEnv: Record<string, string> = {}): CopyChild {
  const child = spawn(process.execPath, [repoPath('bin/pgferry.js'), 'copy', ...args], {
    env: { PATH: process.env.PATH ?? '', ...env, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString('utf8');
  });
  child.stderr?.on('data', (c: Buffer) => {
    err += c.toString('utf8');
  });
  const exited = once(child, 'exit').then(([code, signal]) => {
    children.delete(child);
    return (code ?? signal) as number | string;
  });
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function chunksDone(table: string): Promise<number> {
  const chunks = await readCopyChunks(target, { schema: 'public', name: table }).catch(() => []);
  return chunks.filter((c) => c.done).length;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Inserts, updates and deletes on two tables until stopped: the application during the copy. */
function startWriter(): { stop: () => Promise<number> } {
  const client = new pg.Client({ connectionString: stack.sourceDatabaseUrl });
  let running = true;
  let writes = 0;
  const done = (async () => {
    await client.connect();
    let next = 1_000_000;
    while (running) {
      const id = 1 + Math.floor(Math.random() * ACCOUNT_ROWS);
      const op = writes % 4;
      if (op === 0)
        await client.query(`INSERT INTO ${ACCOUNTS} VALUES ($1, 1, 0, 'new')`, [next++]);
      else if (op === 1)
        await client.query(
          `UPDATE ${ACCOUNTS} SET balance = balance + 1, note = 'upd' WHERE id = $1`,
          [id],
        );
      else if (op === 2) await client.query(`DELETE FROM ${ACCOUNTS} WHERE id = $1`, [id]);
      else
        await client.query(
          `INSERT INTO ${ITEMS} VALUES ($1, 1, 'w', 1) ON CONFLICT (order_id, line) DO UPDATE SET qty = ${ITEMS}.qty + 1`,
          [1 + (writes % 700)],
        );
      writes += 1;
      await new Promise((r) => setTimeout(r, 2));
    }
    await client.end();
  })().catch((error: unknown) => error);
  return {
    stop: async () => {
      running = false;
      const failure = await done;
      if (failure) throw failure;
      return writes;
    },
  };
}

beforeAll(async () => {
  await source.connect();
  await target.connect();
  await early.connect();
  const reader = stack.vars.SOURCE_DB_USER ?? 'pgferry_reader';
  await source.query(`
    CREATE TYPE ${MOOD} AS ENUM ('calm', 'busy', 'it''s "odd"');
    CREATE TABLE ${ACCOUNTS} (id bigint PRIMARY KEY, branch int NOT NULL, balance numeric(14,2) NOT NULL, note text);
    INSERT INTO ${ACCOUNTS} SELECT g, g % 10, g * 1.25, 'row ' || g FROM generate_series(1, ${ACCOUNT_ROWS}) g;
    CREATE TABLE ${ITEMS} (order_id int, line int, sku text, qty int, PRIMARY KEY (order_id, line));
    INSERT INTO ${ITEMS} SELECT o, l, 'sku-' || o || '-' || l, l FROM generate_series(1, 1000) o, generate_series(1, 3) l;
    CREATE TABLE ${TYPES} (id uuid PRIMARY KEY, n numeric, f8 double precision, f4 real, iv interval,
      b bytea, bits bit(4), ints integer[], j json, jb jsonb, m money, big bigint, small smallint, ch char(2),
      tz timetz, ts timestamp, tstz timestamptz, d date, tags text[], flag boolean, vc varchar(20));
    INSERT INTO ${TYPES} SELECT md5(g::text)::uuid, g / 7.0, g / 3.0, g / 9.0, make_interval(days => g, secs => g / 10.0),
      decode(md5(g::text), 'hex'), (g % 16)::bit(4), ARRAY[g, -g, NULL], json_build_object('g', g),
      jsonb_build_object('g', g, 'q', 'it''s "x"'), g * 1.01, g * 10000000000, g % 30000, 'c' || (g % 10),
      '12:34:56.789+02'::timetz, '2024-02-29 23:59:59.123456'::timestamp + g * interval '1 hour',
      '2024-01-01 00:00:00+00'::timestamptz + g * interval '17 minutes', '2000-02-29'::date + g,
      ARRAY['a,b', 'q"uote', NULL], g % 2 = 0, 'v' || g
      FROM generate_series(1, 300) g;
    CREATE TABLE ${ORDERS} (id bigint PRIMARY KEY, mood ${MOOD}, moods ${MOOD}[], amount numeric(14,4), note text);
    INSERT INTO ${ORDERS} SELECT g, (ARRAY['calm','busy','it''s "odd"']::${MOOD}[])[1 + g % 3], ARRAY['calm']::${MOOD}[], g / 3.0, NULL FROM generate_series(1, 500) g;
    CREATE TABLE ${DOCS} (id int PRIMARY KEY, title text, body text, version int);
    INSERT INTO ${DOCS} SELECT g, 'doc ' || g, (SELECT string_agg(md5(g::text || x::text), '') FROM generate_series(1, 400) x), 1 FROM generate_series(1, 20) g;
    CREATE TABLE ${TRUNC} (id int PRIMARY KEY, v text);
    INSERT INTO ${TRUNC} SELECT g, 'before' FROM generate_series(1, 5000) g;
    CREATE TABLE ${EMPTY} (id int PRIMARY KEY, v text);
    GRANT SELECT ON ${ALL.join(', ')} TO ${reader};
    ANALYZE ${ACCOUNTS};
  `);
  // The target tables, as a user creates them before the copy.
  const synced = await runPgferryCli(['schema-sync', '--tables', ALL.join(',')], env);
  expect(synced.code, synced.stderr + synced.stdout).toBe(0);
}, 300_000);

afterAll(async () => {
  await writer?.stop().catch(() => undefined);
  for (const child of children) {
    if (child.pid) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  if (pgferry) {
    pgferry.child.kill('SIGTERM');
    await pgferry.exited;
  }
  await early.query('ROLLBACK').catch(() => undefined);
  await early.end().catch(() => undefined);
  await removeTestConnector(stack.connectUrl, connectorName, source, slot);
  for (const table of ALL) {
    await source.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    await target.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
  }
  await source.query(`DROP TYPE IF EXISTS ${MOOD}`).catch(() => undefined);
  await target.query(`DROP TYPE IF EXISTS ${MOOD}`).catch(() => undefined);
  await target
    .query('DELETE FROM pgferry.copy_tables WHERE table_name = ANY($1)', [ALL])
    .catch(() => undefined);
  await source.end();
  await target.end();
});

describe.sequential('pgferry copy hands over to the stream', () => {
  it('refuses before the slot exists', async () => {
    const refused = await runPgferryCli(
      ['copy', '--tables', ACCOUNTS, '--progress', 'off', '--slot-wait', '0'],
      env,
    );
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(new RegExp(`replication slot ${slot} does not exist`));
  });

  it('copies under load, is SIGKILLed mid-table, resumes while pgferry run waits, and the stream converges', async () => {
    // (b) A transaction opened before the slot exists (it has written nothing yet, or slot
    // creation would wait for it to end); it writes and commits after the second copy's snapshot.
    await early.query('BEGIN');
    await early.query(`SELECT count(*) FROM ${ACCOUNTS}`);

    await applyTestConnector(connect, {
      name: connectorName,
      topicPrefix: prefix,
      slotName: slot,
      tableIncludeList: ALL.map((name) => `public.${name}`).join(','),
      snapshotMode: 'no_data',
    });
    // (a) The application writes from before the copy until after it.
    writer = startWriter();

    // (c) The first copy, slowed per chunk, killed with SIGKILL once part of the big table is in.
    const first = spawnCopy(
      // The publication holds every public table, other test files' leftovers included.
      [
        '--tables',
        ALL.join(','),
        '--jobs',
        '2',
        '--chunk-rows',
        String(CHUNK_ROWS),
        '--json',
        '--progress',
        'log',
      ],
      { PGFERRY_FAULT_INJECTION: 'copy-chunk:delay=150@*' },
    );
    await waitFor(
      '4 chunks of the big table',
      async () => {
        if (first.child.exitCode !== null) throw new Error(`copy exited: ${first.stderr()}`);
        return (await chunksDone(ACCOUNTS)) >= 4;
      },
      180_000,
    );
    if (first.child.pid) process.kill(-first.child.pid, 'SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    // Planning read every table's chunk bounds one query at a time: node-postgres warns of a
    // query sent to a client still busy with another (pg@9 refuses it).
    expect(first.stderr()).not.toContain('DeprecationWarning');
    const plannedAccounts = await readCopyChunks(target, { schema: 'public', name: ACCOUNTS });
    const doneBefore = plannedAccounts.filter((c) => c.done).length;
    expect(plannedAccounts.length).toBeGreaterThanOrEqual(ACCOUNT_ROWS / CHUNK_ROWS);
    expect(doneBefore).toBeGreaterThanOrEqual(4);
    expect(doneBefore).toBeLessThan(plannedAccounts.length);

    // pgferry run starts now: the tables whose copy is not done must wait for it.
    pgferry = await startPgferry(env);
    await waitFor(
      'pgferry run to hold back a table whose copy is not done',
      async () => pgferry?.logs.some((l) => l.includes('is not done')) ?? false,
      90_000,
    );
    const registered = await target.query(
      'SELECT table_name FROM pgferry.tables WHERE table_schema = $1 AND table_name = $2',
      ['public', ACCOUNTS],
    );
    expect(registered.rowCount).toBe(0);

    // The resumed copy, slowed again so that (b) and (d) land while it runs.
    const second = spawnCopy(
      // The publication holds every public table, other test files' leftovers included.
      [
        '--tables',
        ALL.join(','),
        '--jobs',
        '2',
        '--chunk-rows',
        String(CHUNK_ROWS),
        '--json',
        '--progress',
        'log',
      ],
      { PGFERRY_FAULT_INJECTION: 'copy-chunk:delay=100@*' },
    );
    await waitFor(
      'the resumed copy to commit a chunk',
      async () => (await chunksDone(ACCOUNTS)) > doneBefore,
    );
    // (b) commits after the resumed copy's snapshot: new rows, and changes to already-copied rows.
    await early.query(
      `INSERT INTO ${ACCOUNTS} SELECT g, 7, 7, 'early' FROM generate_series(900001, 900050) g`,
    );
    await early.query(`UPDATE ${ACCOUNTS} SET note = 'early update' WHERE id <= 100`);
    await early.query('COMMIT');
    // (d) Truncated and refilled while the copy runs.
    await source.query(
      `BEGIN; TRUNCATE ${TRUNC}; INSERT INTO ${TRUNC} SELECT g, 'after' FROM generate_series(100, 2100) g; COMMIT`,
    );
    expect(await second.exited).toBe(0);
    const report = JSON.parse(second.stdout()) as CopyReport;
    expect(report.ok).toBe(true);
    const accounts = report.tables.find((x) => x.table === `public.${ACCOUNTS}`);
    expect(accounts?.start).toBe('resumed');
    expect(accounts?.chunksCopiedNow).toBe(plannedAccounts.length - doneBefore);
    expect(report.tables.find((x) => x.table === `public.${EMPTY}`)).toMatchObject({
      state: 'done',
      rows: 0,
    });
    expect(report.tables.find((x) => x.table === `public.${ORDERS}`)?.format).toBe('text');
    expect(report.tables.find((x) => x.table === `public.${TYPES}`)?.format).toBe('binary');
    // Every chunk committed exactly once; the bookkeeping says which run copied it.
    const chunks = await readCopyChunks(target, { schema: 'public', name: ACCOUNTS });
    expect(chunks.every((c) => c.done && c.copies === 1)).toBe(true);
    const runs = await target.query<{ copy_run: string; n: string }>(
      'SELECT copy_run, count(*) AS n FROM pgferry.copy_chunks WHERE table_name = $1 GROUP BY copy_run',
      [ACCOUNTS],
    );
    expect(runs.rows.map((r) => Number(r.n)).sort((a, b) => a - b)).toEqual(
      [doneBefore, plannedAccounts.length - doneBefore].sort((a, b) => a - b),
    );
    const states = await readCopyTables(target);
    expect(states.filter((s) => ALL.includes(s.name)).every((s) => s.state === 'done')).toBe(true);

    // (e) Updates that leave the TOASTed body unchanged (Debezium sends a placeholder for it).
    await source.query(
      `UPDATE ${DOCS} SET version = version + 1, title = title || ' v2' WHERE id <= 10`,
    );
    const writes = await writer.stop();
    writer = undefined;
    expect(writes).toBeGreaterThan(100);

    await waitForEqual(
      stack.sourceDatabaseUrl,
      stack.targetDatabaseUrl,
      ALL.map((name) => ({ name, orderBy: ORDER_BY[name] ?? 'id' })),
      180_000,
    );
    const early50 = await target.query(
      `SELECT count(*)::int AS n FROM ${ACCOUNTS} WHERE id BETWEEN 900001 AND 900050`,
    );
    expect(early50.rows[0]?.n).toBe(50);
    const verified = await runPgferryCli(['verify', '--tables', ALL.join(',')], env);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
  }, 420_000);
});

describe.sequential('pgferry copy refuses what it could double and fails only the table it cannot fill', () => {
  const NOPK = t('nopk');
  const FILLED = t('filled');
  const BAD = t('bad');
  const GOOD = t('good');
  const SIG = t('sig');
  const IDX = t('idx');
  const MORE = [NOPK, FILLED, BAD, GOOD, SIG, IDX];

  beforeAll(async () => {
    const reader = stack.vars.SOURCE_DB_USER ?? 'pgferry_reader';
    const writer = stack.vars.TARGET_DB_USER ?? 'pgferry';
    await source.query(`
      CREATE TABLE ${NOPK} (id int, v text);
      CREATE TABLE ${FILLED} (id int PRIMARY KEY, v text);
      INSERT INTO ${FILLED} SELECT g, 's' || g FROM generate_series(1, 100) g;
      CREATE TABLE ${BAD} (id int PRIMARY KEY, v text);
      INSERT INTO ${BAD} VALUES (1, '1'), (2, 'not a number');
      CREATE TABLE ${GOOD} (id int PRIMARY KEY, v text);
      INSERT INTO ${GOOD} SELECT g, 'g' || g FROM generate_series(1, 50) g;
      CREATE TABLE ${SIG} (id int PRIMARY KEY, v text);
      INSERT INTO ${SIG} SELECT g, 'x' || g FROM generate_series(1, 2000) g;
      CREATE TABLE ${IDX} (id int PRIMARY KEY, v text, n int, code text);
      CREATE INDEX ${IDX}_n ON ${IDX} (n DESC) WHERE n > 10;
      CREATE UNIQUE INDEX ${IDX}_code ON ${IDX} (lower(code));
      INSERT INTO ${IDX} SELECT g, 'i' || g, g % 97, 'C' || g FROM generate_series(1, 3000) g;
      GRANT SELECT ON ${MORE.join(', ')} TO ${reader};`);
    await target.query(`
      CREATE TABLE ${NOPK} (id int, v text);
      CREATE TABLE ${FILLED} (id int PRIMARY KEY, v text);
      INSERT INTO ${FILLED} VALUES (1, 'already here');
      CREATE TABLE ${BAD} (id int PRIMARY KEY, v integer);
      CREATE TABLE ${GOOD} (id int PRIMARY KEY, v text);
      CREATE TABLE ${SIG} (id int PRIMARY KEY, v text);
      GRANT ALL ON ${MORE.filter((x) => x !== IDX).join(', ')} TO ${writer};`);
  });

  afterAll(async () => {
    for (const table of MORE) {
      await source.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
      await target.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    }
    await target
      .query('DELETE FROM pgferry.copy_tables WHERE table_name = ANY($1)', [MORE])
      .catch(() => undefined);
    await target
      .query('DELETE FROM pgferry.deferred_indexes WHERE table_name = ANY($1)', [MORE])
      .catch(() => undefined);
  });

  it('refuses a table without primary key and a filled target table, by name, copying nothing', async () => {
    const refused = await runPgferryCli(
      ['copy', '--tables', `${NOPK},${FILLED},${GOOD}`, '--progress', 'off'],
      env,
    );
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain(`public.${NOPK} has no primary key`);
    expect(refused.stderr).toContain(
      `public.${FILLED}: the target table has rows but no copy bookkeeping`,
    );
    const good = await target.query(`SELECT count(*)::int AS n FROM ${GOOD}`);
    expect(good.rows[0]?.n).toBe(0);
  });

  it('--restart says what it would empty and asks; with --yes it replaces the target rows', async () => {
    const asked = await runPgferryCli(
      ['copy', '--tables', FILLED, '--restart', '--progress', 'off'],
      env,
    );
    expect(asked.code).toBe(2);
    expect(asked.stdout).toContain('pgferry copy --restart will, in this order:');
    expect(asked.stdout).toContain('TRUNCATE these tables');
    expect(asked.stdout).toContain(`\n       public.${FILLED}\n`);
    expect(asked.stdout).toContain('Nothing changed: add --yes to do it.');
    const still = await target.query(`SELECT v FROM ${FILLED}`);
    expect(still.rows).toEqual([{ v: 'already here' }]);
    const done = await runPgferryCli(
      ['copy', '--tables', FILLED, '--restart', '--yes', '--progress', 'off'],
      env,
    );
    expect(done.code, done.stderr).toBe(0);
    const rows = await target.query(`SELECT count(*)::int AS n, min(v) AS v FROM ${FILLED}`);
    expect(rows.rows[0]).toEqual({ n: 100, v: 's1' });
  });

  it('fails the table whose target column cannot take a value, naming the column; the others are copied', async () => {
    const result = await runPgferryCli(
      ['copy', '--tables', `${BAD},${GOOD}`, '--json', '--progress', 'off'],
      env,
    );
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as CopyReport;
    const bad = report.tables.find((x) => x.table === `public.${BAD}`);
    expect(bad?.state).toBe('failed');
    expect(bad?.error).toMatch(/column v/);
    expect(bad?.error).toMatch(/not a number/);
    expect(report.tables.find((x) => x.table === `public.${GOOD}`)?.state).toBe('done');
    const states = await readCopyTables(target);
    expect(states.find((s) => s.name === BAD)).toMatchObject({ state: 'failed' });
    expect(states.find((s) => s.name === BAD)?.lastError).toMatch(/column v/);
    const good = await target.query(`SELECT count(*)::int AS n FROM ${GOOD}`);
    expect(good.rows[0]?.n).toBe(50);
  });

  it('stops after the chunks in flight on SIGINT (exit 0) and a second run completes it', async () => {
    const interrupted = spawnCopy(
      ['--tables', SIG, '--jobs', '1', '--chunk-rows', '100', '--json', '--progress', 'off'],
      { PGFERRY_FAULT_INJECTION: 'copy-chunk:delay=200@*' },
    );
    await waitFor('a chunk of the table', async () => (await chunksDone(SIG)) >= 1);
    interrupted.child.kill('SIGINT');
    expect(await interrupted.exited).toBe(0);
    const report = JSON.parse(interrupted.stdout()) as CopyReport;
    expect(report.interrupted).toBe(true);
    const partial = await chunksDone(SIG);
    expect(partial).toBeLessThan(20);
    const resumed = await runPgferryCli(
      ['copy', '--tables', SIG, '--json', '--progress', 'off'],
      env,
    );
    expect(resumed.code, resumed.stderr).toBe(0);
    const second = JSON.parse(resumed.stdout) as CopyReport;
    expect(second.tables[0]).toMatchObject({ start: 'resumed', state: 'done', chunksTotal: 20 });
    expect(second.tables[0]?.chunksCopiedNow).toBe(20 - partial);
    const rows = await target.query(`SELECT count(*)::int AS n FROM ${SIG}`);
    expect(rows.rows[0]?.n).toBe(2000);
  });

  it('schema-sync --defer-indexes leaves the indexes to the copy, which builds them after the rows; cutover waits for them', async () => {
    const indexesOnTarget = async () =>
      (
        await target.query<{ indexname: string }>(
          'SELECT indexname FROM pg_indexes WHERE tablename = $1 ORDER BY indexname',
          [IDX],
        )
      ).rows.map((r) => r.indexname);
    const synced = await runPgferryCli(['schema-sync', '--tables', IDX, '--defer-indexes'], env);
    expect(synced.code, synced.stdout + synced.stderr).toBe(0);
    expect(synced.stdout).toContain(`index ${IDX}_n on public.${IDX}`);
    expect(synced.stdout).toMatch(/2 index\(es\) left for pgferry copy to build/);
    expect(await indexesOnTarget()).toEqual([`${IDX}_pkey`]);
    const pending = await findCopiesNotDone(target, [{ schema: 'public', name: IDX }]);
    expect(pending).toEqual([
      expect.stringContaining(`index ${IDX}_code not built yet`),
      expect.stringContaining(`index ${IDX}_n not built yet`),
    ]);

    const copied = await runPgferryCli(
      ['copy', '--tables', IDX, '--chunk-rows', '1000', '--json', '--progress', 'off'],
      env,
    );
    expect(copied.code, copied.stderr).toBe(0);
    const report = JSON.parse(copied.stdout) as CopyReport;
    expect(report.ok).toBe(true);
    expect(report.indexes.map((i) => [i.index, i.state])).toEqual([
      [`${IDX}_code`, 'built'],
      [`${IDX}_n`, 'built'],
    ]);
    expect(await indexesOnTarget()).toEqual([`${IDX}_code`, `${IDX}_n`, `${IDX}_pkey`]);
    const definition = await target.query<{ indexdef: string }>(
      'SELECT indexdef FROM pg_indexes WHERE indexname = $1',
      [`${IDX}_n`],
    );
    expect(definition.rows[0]?.indexdef).toMatch(/\(n DESC\) WHERE \(n > 10\)/);
    expect(await findCopiesNotDone(target, [{ schema: 'public', name: IDX }])).toEqual([]);
    const rows = await target.query(`SELECT count(*)::int AS n FROM ${IDX}`);
    expect(rows.rows[0]?.n).toBe(3000);

    // A second run finds rows and indexes done; schema-sync finds nothing to do.
    const again = await runPgferryCli(['copy', '--tables', IDX, '--progress', 'off'], env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`index ${IDX}_n on public.${IDX}: already built`);
    const resynced = await runPgferryCli(['schema-sync', '--tables', IDX, '--defer-indexes'], env);
    expect(resynced.stdout).toContain('target schema is up to date');
    expect(resynced.stdout).not.toContain('left for pgferry copy');
  });
});

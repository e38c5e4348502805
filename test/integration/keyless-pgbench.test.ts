// pgbench through the real stack (issue 18, item 3 acceptance): pgbench's four tables, made by
// `pgbench -i -s 1` and renamed so that they cannot collide with other tests; pgbench_history has
// no primary key and gets REPLICA IDENTITY FULL, as a user would. The recommended load: schema-sync,
// `pgferry connector apply --snapshot-keyless` (Debezium's snapshot for the keyless table only, a
// one-partition topic for it), `pgferry copy` for the keyed tables, `pgferry run`, while
// pgbench's TPC-B-like transaction runs for ~10 s. The end: equal fingerprints and verify 0.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectClient } from '../../core/connect-client.js';
import { readConnectorDefinition } from '../../migrate/connector/connector-definition.js';
import { readKeylessTables } from '../../migrate/connector/keyless-topics.js';
import { runPgferryCli } from '../support/cli-run.js';
import { type PgferryProcess, startPgferry } from '../support/pgferry-process.js';
import { loadStackEnv, repoPath } from '../support/stack-env.js';
import { waitForEqual } from '../support/table-checksum.js';
import { removeTestConnector } from '../support/test-connector.js';

const PGBENCH = '/usr/lib/postgresql/15/bin/pgbench';
const stack = loadStackEnv();
const run = Date.now().toString(36);
const prefix = `nopkb_${run}`;
const slot = `pgferry_nopkb_${run}`;
const groupId = `pgferry-nopkb-${run}`;
const connectorName = `pgferry-nopkb-${run}`;
const scratch = `nopkb_init_${run}`;
const t = (name: string) => `nopkb_${name}_${run}`;
const ACCOUNTS = t('accounts');
const BRANCHES = t('branches');
const TELLERS = t('tellers');
const HISTORY = t('history');
const KEYED = [ACCOUNTS, BRANCHES, TELLERS];
const ALL = [...KEYED, HISTORY];
const exec = promisify(execFile);

const env: Record<string, string> = {
  ...stack.vars,
  SOURCE_SLOT_NAME: slot,
  KAFKA_TOPIC_PATTERN: `^${prefix}\\.public\\..*`,
  KAFKA_GROUP_ID: groupId,
  TOPIC_REFRESH_SECONDS: '2',
  RETRY_MAX_DELAY_SECONDS: '2',
  COPY_METRICS_PORT: '0',
  LOG_LEVEL: 'info',
};

/** pgbench's built-in tpcb-like transaction on the renamed tables. */
const SCRIPT = `\\set aid random(1, 100000 * :scale)
\\set bid random(1, 1 * :scale)
\\set tid random(1, 10 * :scale)
\\set delta random(-5000, 5000)
BEGIN;
UPDATE ${ACCOUNTS} SET abalance = abalance + :delta WHERE aid = :aid;
SELECT abalance FROM ${ACCOUNTS} WHERE aid = :aid;
UPDATE ${TELLERS} SET tbalance = tbalance + :delta WHERE tid = :tid;
UPDATE ${BRANCHES} SET bbalance = bbalance + :delta WHERE bid = :bid;
INSERT INTO ${HISTORY} (tid, bid, aid, delta, mtime) VALUES (:tid, :bid, :aid, :delta, CURRENT_TIMESTAMP);
END;
`;
const scriptPath = repoPath(`.stack/logs/${prefix}.sql`);

const source = new pg.Client({ connectionString: stack.sourceDatabaseUrl });
const target = new pg.Client({ connectionString: stack.targetDatabaseUrl });
const connect = new ConnectClient({ baseUrl: stack.connectUrl });
let pgferry: PgferryProcess | undefined;
let bench: ChildProcess | undefined;

/** pgbench against the source as its superuser, with the test's script; resolves with its output. */
async function pgbench(args: string[]): Promise<string> {
  const { stdout, stderr } = await exec(PGBENCH, [...args, stack.sourceDatabaseUrl], {
    env: { PATH: process.env.PATH ?? '', PGOPTIONS: `-c search_path=${scratch},public` },
    timeout: 120_000,
  });
  return stdout + stderr;
}

beforeAll(async () => {
  await source.connect();
  await target.connect();
  // pgbench -i makes pgbench_* in the first schema of the search path: a scratch one, then the
  // tables move to public (the stack's publication) under this run's names.
  await source.query(`CREATE SCHEMA ${scratch}`);
  await pgbench(['-i', '-s', '1', '-q']);
  for (const name of ['accounts', 'branches', 'tellers', 'history']) {
    await source.query(`ALTER TABLE ${scratch}.pgbench_${name} RENAME TO ${t(name)}`);
    await source.query(`ALTER TABLE ${scratch}.${t(name)} SET SCHEMA public`);
  }
  await source.query(`DROP SCHEMA ${scratch}`);
  await source.query(`ALTER TABLE ${HISTORY} REPLICA IDENTITY FULL`);
  const { writeFile } = await import('node:fs/promises');
  await writeFile(scriptPath, SCRIPT);
  // History rows from before the connector: Debezium's snapshot of the keyless table loads them.
  await pgbench(['-n', '-f', scriptPath, '-t', '40']);

  const synced = await runPgferryCli(['schema-sync', '--tables', ALL.join(',')], env);
  expect(synced.code, synced.stderr + synced.stdout).toBe(0);
  // After schema-sync (which would carry grants to roles the target may not have): the copy's
  // role and Debezium's read the tables.
  await source.query(
    `GRANT SELECT ON ${ALL.join(', ')} TO ${stack.vars.SOURCE_DB_USER ?? 'pgferry_reader'}, debezium`,
  );
  const keyless = (await readKeylessTables(source)).filter((k) => k.name === HISTORY);
  expect(keyless).toEqual([{ schema: 'public', name: HISTORY, identity: 'f' }]);
  // `pgferry connector apply --snapshot-keyless`, as a user runs it (the stack's connector file
  // with this run's prefix, slot and tables).
  const definition = await readConnectorDefinition(repoPath('connect-config/debezium-source.json'));
  const file = join(mkdtempSync(join(tmpdir(), 'pgferry-nopkb-')), 'connector.json');
  writeFileSync(
    file,
    JSON.stringify({
      name: connectorName,
      config: {
        ...definition.config,
        'topic.prefix': prefix,
        'slot.name': slot,
        'slot.drop.on.stop': 'true',
        'table.include.list': ALL.map((name) => `public\\.${name}`).join(','),
      },
    }),
  );
  const applied = await runPgferryCli(
    [
      'connector',
      'apply',
      '--file',
      file,
      '--name',
      connectorName,
      '--snapshot-keyless',
      '--timeout',
      '150',
    ],
    env,
  );
  expect(applied.code, applied.stderr + applied.stdout).toBe(0);
  const stored = await connect.getConnectorConfig(connectorName);
  expect(stored?.['snapshot.mode']).toBe('initial');
  expect(stored?.['snapshot.include.collection.list']?.split(',')).toContain(`public\\.${HISTORY}`);
  expect(stored?.['topic.creation.pgferrykeyless.include']?.split(',')).toContain(
    `${prefix}\\.public\\.${HISTORY}`,
  );
  expect(stored?.['topic.creation.pgferrykeyless.partitions']).toBe('1');
}, 300_000);

afterAll(async () => {
  if (bench?.pid && bench.exitCode === null) bench.kill('SIGTERM');
  if (pgferry && pgferry.child.exitCode === null) {
    pgferry.child.kill('SIGTERM');
    await pgferry.exited;
  }
  await removeTestConnector(stack.connectUrl, connectorName, source, slot);
  for (const name of ALL) {
    await source.query(`DROP TABLE IF EXISTS public.${name}`).catch(() => undefined);
    await target.query(`DROP TABLE IF EXISTS public.${name}`).catch(() => undefined);
  }
  await source.query(`DROP SCHEMA IF EXISTS ${scratch} CASCADE`).catch(() => undefined);
  await source.end().catch(() => undefined);
  await target.end().catch(() => undefined);
});

describe('pgbench through the stack', () => {
  it('replicates pgbench (history without a primary key) under load: equal checksums, verify 0', async () => {
    const copied = await runPgferryCli(
      ['copy', '--tables', KEYED.join(','), '--progress', 'off'],
      env,
    );
    expect(copied.code, copied.stderr).toBe(0);
    pgferry = await startPgferry(env);
    // pgbench's transaction for ~10 s, with pgferry applying it at the same time.
    bench = spawn(
      PGBENCH,
      ['-n', '-f', scriptPath, '-T', '10', '-c', '2', stack.sourceDatabaseUrl],
      {
        env: { PATH: process.env.PATH ?? '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    bench.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
    });
    bench.stderr?.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const [code] = await once(bench, 'exit');
    expect(code, out).toBe(0);
    const transactions = Number(/number of transactions actually processed: (\d+)/.exec(out)?.[1]);
    expect(transactions).toBeGreaterThan(100);
    console.info(`pgbench: ${transactions} transactions in 10 s while pgferry run applied them`);

    const equal = await waitForEqual(
      stack.sourceDatabaseUrl,
      stack.targetDatabaseUrl,
      [
        { name: `public.${ACCOUNTS}`, orderBy: 'aid' },
        { name: `public.${BRANCHES}`, orderBy: 'bid' },
        { name: `public.${TELLERS}`, orderBy: 'tid' },
        { name: `public.${HISTORY}`, orderBy: 't::text' },
      ],
      120_000,
    );
    expect(equal.get(`public.${ACCOUNTS}`)?.rows).toBe(100_000);
    expect(equal.get(`public.${HISTORY}`)?.rows).toBe(40 + transactions);
    const verified = await runPgferryCli(
      ['verify', '--tables', ALL.join(','), '--recheck-attempts', '0'],
      env,
    );
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    expect(verified.stdout).toContain(`public.${HISTORY}: ${40 + transactions} source rows`);
  });
});

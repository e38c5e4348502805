// The migration's last mile on the real stack: schema-sync, replication by a dedicated connector
// and `pgferry run`, then `pgferry cutover` (refused while writes continue, passes once they stop,
// raises the target's sequences, writes its report), then the rollback plan: `rollback prepare`
// (forward connector stopped, reverse connector on the target), `pgferry run --reverse`, writes on
// the target flow back to the source, and `pgferry rollback` passes in reverse.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectClient } from '../../core/connect-client.js';
import type { CutoverResult } from '../../migrate/cutover/cutover-result.js';
import type { PrepareResult } from '../../migrate/cutover/reverse-replication.js';
import type { DestructivePlan } from '../../migrate/destructive-plan.js';
import { runPgferryCli } from '../support/cli-run.js';
import { type PgferryProcess, startPgferry } from '../support/pgferry-process.js';
import { loadStackEnv, repoPath } from '../support/stack-env.js';
import { waitForEqual } from '../support/table-checksum.js';
import { applyTestConnector, removeTestConnector } from '../support/test-connector.js';

const stack = loadStackEnv();
const run = Date.now().toString(36);
const prefix = `cut_${run}`;
const reversePrefix = `rcut_${run}`;
const ACCOUNTS = `cut_accounts_${run}`;
const ENTRIES = `cut_entries_${run}`;
const TABLES = [
  { name: ACCOUNTS, orderBy: 'id' },
  { name: ENTRIES, orderBy: 'account_id, line' },
];
const tableList = TABLES.map((t) => `public.${t.name}`).join(',');
const forwardConnector = `pgferry-cut-${run}`;
const forwardSlot = `cut_${run}`;
const reverseConnector = `pgferry-rcut-${run}`;
const reverseSlot = `rcut_${run}`;
const reversePublication = `rcut_pub_${run}`;
const reportDir = mkdtempSync(join(tmpdir(), 'pgferry-cutover-'));
/** Cutover/rollback on this test's tables, with a short quiet window. */
const GATE_ARGS = ['--tables', tableList, '--quiet-seconds', '5', '--report-dir', reportDir];

// The reverse connector's own topic prefix: the user-facing way is a reverse override file.
const reverseFile = join(reportDir, 'debezium-reverse.json');
writeFileSync(
  reverseFile,
  JSON.stringify({
    ...JSON.parse(readFileSync(repoPath('connect-config/debezium-reverse.json'), 'utf8')),
    name: reverseConnector,
  }).replace('"topic.prefix":"rev"', `"topic.prefix":"${reversePrefix}"`),
);

const env: Record<string, string> = {
  ...stack.vars,
  KAFKA_TOPIC_PATTERN: `^${prefix}\\.public\\..*`,
  KAFKA_GROUP_ID: `pgferry-cut-${run}`,
  CONNECTOR_NAME: forwardConnector,
  SOURCE_SLOT_NAME: forwardSlot,
  TOPIC_REFRESH_SECONDS: '2',
  RETRY_MAX_DELAY_SECONDS: '2',
  REVERSE_CONNECTOR_NAME: reverseConnector,
  REVERSE_CONNECTOR_CONFIG_FILE: reverseFile,
  REVERSE_SLOT_NAME: reverseSlot,
  REVERSE_PUBLICATION: reversePublication,
  REVERSE_KAFKA_TOPIC_PATTERN: `^${reversePrefix}\\.public\\..*`,
  LOG_LEVEL: 'warn',
};

const source = new pg.Client({ connectionString: stack.sourceDatabaseUrl });
const target = new pg.Client({ connectionString: stack.targetDatabaseUrl });
const connect = new ConnectClient({ baseUrl: stack.connectUrl });
let forward: PgferryProcess | undefined;
let reverse: PgferryProcess | undefined;

async function pgferryCli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const { code, stdout, stderr } = await runPgferryCli(args, env);
  return { code, out: stdout, err: stderr };
}

/** Inserts and updates on the source every 100 ms until stopped (the application still writing). */
function startWriter(): { stop: () => Promise<number> } {
  let running = true;
  let writes = 0;
  const loop = (async () => {
    while (running) {
      await source.query(`UPDATE ${ACCOUNTS} SET balance = balance + 1 WHERE id = 1`);
      await source.query(`INSERT INTO ${ACCOUNTS} (name, balance) VALUES ('w', 0.5)`);
      writes += 2;
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return writes;
    },
  };
}

beforeAll(async () => {
  await source.connect();
  await target.connect();
  await source.query(`
    CREATE TABLE ${ACCOUNTS} (
      id bigserial PRIMARY KEY,
      name text NOT NULL,
      balance numeric(12,2) NOT NULL DEFAULT 0);
    CREATE TABLE ${ENTRIES} (
      account_id bigint NOT NULL,
      line int NOT NULL,
      amount numeric(12,2),
      PRIMARY KEY (account_id, line));
    INSERT INTO ${ACCOUNTS} (name, balance) SELECT 'a' || g, g FROM generate_series(1, 200) g;
    INSERT INTO ${ENTRIES} SELECT a, l, a * l FROM generate_series(1, 50) a, generate_series(1, 4) l;`);
  const sync = await pgferryCli(['schema-sync', '--tables', tableList]);
  expect(sync.code, `${sync.out}\n${sync.err}`).toBe(0);
  await applyTestConnector(connect, {
    name: forwardConnector,
    topicPrefix: prefix,
    slotName: forwardSlot,
    tableIncludeList: TABLES.map((t) => `public.${t.name}`).join(','),
  });
  forward = await startPgferry(env);
  await waitForEqual(stack.sourceDatabaseUrl, stack.targetDatabaseUrl, TABLES, 120_000);
}, 300_000);

afterAll(async () => {
  for (const p of [forward, reverse]) {
    if (p && p.child.exitCode === null) {
      p.child.kill('SIGTERM');
      await p.exited;
    }
  }
  await removeTestConnector(stack.connectUrl, forwardConnector, source, forwardSlot);
  // The reverse connector keeps its slot (slot.drop.on.stop is off, as in production).
  await removeTestConnector(stack.connectUrl, reverseConnector, target, reverseSlot);
  await source.end();
  await target.end();
});

describe('pgferry cutover', () => {
  it('refuses while the source still takes writes, naming the table', async () => {
    const writer = startWriter();
    try {
      const result = await pgferryCli(['cutover', ...GATE_ARGS, '--json', '--yes']);
      expect(result.code, result.err).toBe(3);
      const report = JSON.parse(result.out) as CutoverResult;
      expect(report.ok).toBe(false);
      expect(report.gates).toHaveLength(1);
      expect(report.gates[0]?.gate).toBe('writes-stopped');
      expect(report.gates[0]?.status).toBe('failed');
      expect(report.gates[0]?.summary).toContain(ACCOUNTS);
      expect(report.reportFiles).toEqual([]);
    } finally {
      expect(await writer.stop()).toBeGreaterThan(0);
    }
  }, 60_000);

  it('refuses when a write reaches the source after the quiet window (not frozen after all)', async () => {
    const cutover = pgferryCli(['cutover', '--dry-run', ...GATE_ARGS, '--json']);
    // The window is 5 s; this write lands while the later gates run.
    await new Promise((r) => setTimeout(r, 7_000));
    await source.query(`UPDATE ${ACCOUNTS} SET balance = balance + 1 WHERE id = 1`);
    const result = await cutover;
    expect(result.code, result.err).toBe(3);
    const report = JSON.parse(result.out) as CutoverResult;
    expect(report.ok).toBe(false);
    expect(report.gates[0]?.status).toBe('passed');
    // Caught by verify if it runs before the change is applied, else by the final re-check.
    const failed = report.gates.find((g) => g.status === 'failed');
    expect(['verified', 'report']).toContain(failed?.gate);
    expect(failed?.summary).toContain(ACCOUNTS);
  }, 120_000);

  it('a dry run passes every gate once writes stop, and changes nothing', async () => {
    // A session's statistics reach the shared counters up to ~10 s after it goes idle; the gate
    // would (rightly) count those as writes inside its window.
    await new Promise((r) => setTimeout(r, 11_000));
    const before = await target.query(
      `SELECT last_value::text FROM pg_sequences WHERE sequencename = $1`,
      [`${ACCOUNTS}_id_seq`],
    );
    const result = await pgferryCli(['cutover', '--dry-run', ...GATE_ARGS]);
    expect(result.code, `${result.out}\n${result.err}`).toBe(0);
    expect(result.out).toMatch(/DRY RUN: every gate would pass/);
    expect(result.out).toMatch(/\[4\/5\] sequences\s+SKIPPED/);
    const after = await target.query(
      `SELECT last_value::text FROM pg_sequences WHERE sequencename = $1`,
      [`${ACCOUNTS}_id_seq`],
    );
    expect(after.rows).toEqual(before.rows);
  }, 240_000);

  it('without --yes and without a terminal: prints what it would change, changes nothing (exit 2)', async () => {
    const result = await pgferryCli(['cutover', ...GATE_ARGS]);
    expect(result.code, `${result.out}\n${result.err}`).toBe(2);
    expect(result.out).toContain('pgferry cutover will, in this order:');
    expect(result.out).toContain(
      `(target ${stack.vars.TARGET_DB_HOST}:${stack.vars.TARGET_DB_PORT}/${stack.vars.TARGET_DB_NAME})`,
    );
    expect(result.out).toContain(`public.${ACCOUNTS}_id_seq (public.${ACCOUNTS}.id)`);
    expect(result.out).toContain('Nothing changed: add --yes to do it.');
    // No gate ran: no gate line, no report.
    expect(result.out).not.toContain('[1/5]');
    const json = await pgferryCli(['cutover', ...GATE_ARGS, '--json']);
    expect(json.code).toBe(2);
    const answer = JSON.parse(json.out) as { applied: boolean; plan: DestructivePlan };
    expect(answer.applied).toBe(false);
    expect(answer.plan.steps[0]?.objects).toContain(
      `public.${ACCOUNTS}_id_seq (public.${ACCOUNTS}.id)`,
    );
  }, 60_000);

  it('passes once writes stop: sequences raised, report written, new target ids above every source id', async () => {
    const result = await pgferryCli(['cutover', ...GATE_ARGS, '--yes']);
    expect(result.code, `${result.out}\n${result.err}`).toBe(0);
    expect(result.out).toMatch(/READY TO CUT OVER/);
    for (const gate of ['writes-stopped', 'caught-up', 'verified', 'sequences', 'report']) {
      expect(result.out).toMatch(new RegExp(`${gate}\\s+PASSED`));
    }
    const files = result.out.match(/Report: (.*)$/m)?.[1]?.split(', ') ?? [];
    expect(files.some((f) => f.endsWith('.md') && existsSync(f))).toBe(true);
    const json = files.find((f) => f.endsWith('.json')) ?? '';
    const report = JSON.parse(readFileSync(json, 'utf8')) as CutoverResult;
    expect(report.ok).toBe(true);
    expect(report.gates.map((g) => g.gate)).toEqual([
      'writes-stopped',
      'caught-up',
      'verified',
      'sequences',
      'report',
    ]);
    const markdown = readFileSync(files.find((f) => f.endsWith('.md')) ?? '', 'utf8');
    expect(markdown).toContain(`public.${ACCOUNTS}`);

    const sourceMax = await source.query<{ max: string }>(
      `SELECT max(id)::text AS max FROM ${ACCOUNTS}`,
    );
    // The application's first insert on the target (as the least-privilege role would do it).
    const inserted = await target.query<{ id: string }>(
      `INSERT INTO ${ACCOUNTS} (name) VALUES ('first on target') RETURNING id::text`,
    );
    expect(BigInt(inserted.rows[0]?.id ?? '0')).toBeGreaterThan(
      BigInt(sourceMax.rows[0]?.max ?? '0'),
    );
    await target.query(`DELETE FROM ${ACCOUNTS} WHERE name = 'first on target'`);
  }, 240_000);
});

describe('pgferry cutover on a misconfigured slot', () => {
  it('refuses at gate 2 when SOURCE_SLOT_NAME is not the connector’s slot, naming both', async () => {
    const result = await runPgferryCli(['cutover', '--dry-run', ...GATE_ARGS, '--json'], {
      ...env,
      SOURCE_SLOT_NAME: 'not_the_connectors_slot',
    });
    expect(result.code, result.stderr).toBe(3);
    const report = JSON.parse(result.stdout) as CutoverResult;
    expect(report.gates.map((g) => `${g.gate}:${g.status}`)).toEqual([
      'writes-stopped:passed',
      'caught-up:failed',
    ]);
    expect(report.gates[1]?.summary).toContain(`reads slot ${forwardSlot}`);
    expect(report.gates[1]?.summary).toContain('not_the_connectors_slot');
  }, 60_000);
});

describe('pgferry rollback', () => {
  it('prepare: stops the forward connector, starts the reverse one; target writes reach the source', async () => {
    // Without --yes (no terminal here): the checks, the plan, nothing changed.
    const planned = await pgferryCli(['rollback', 'prepare', '--tables', tableList]);
    expect(planned.code, `${planned.out}\n${planned.err}`).toBe(2);
    expect(planned.out).toContain('pgferry rollback prepare will, in this order:');
    expect(planned.out).toContain(`create publication ${reversePublication} of these tables`);
    expect(planned.out).toContain(`${forwardConnector} (now RUNNING)`);
    expect(planned.out).toContain(`       ${reverseConnector}\n`);
    expect(planned.out).toContain(`       ${reverseSlot}\n`);
    expect(planned.out).toContain('Nothing changed: add --yes to do it.');
    expect((await connect.getConnectorStatus(forwardConnector))?.connector.state).toBe('RUNNING');
    expect(await connect.getConnectorStatus(reverseConnector)).toBeUndefined();

    const prepared = await pgferryCli([
      'rollback',
      'prepare',
      '--tables',
      tableList,
      '--json',
      '--yes',
    ]);
    expect(prepared.code, `${prepared.out}\n${prepared.err}`).toBe(0);
    const result = JSON.parse(prepared.out) as PrepareResult & {
      applied: boolean;
      plan: DestructivePlan;
    };
    expect(result.applied).toBe(true);
    expect(result.plan.steps.map((s) => s.objects)).toEqual([
      [`public.${ACCOUNTS}`, `public.${ENTRIES}`],
      [`${forwardConnector} (now RUNNING)`],
      [reverseConnector],
      [reverseSlot],
    ]);
    expect(result.steps.map((s) => `${s.step}:${s.status}`)).toEqual([
      'target-wal-level:passed',
      'forward-drained:passed',
      'reverse-publication:passed',
      'forward-connector-stopped:passed',
      'reverse-connector:passed',
      'reverse-slot:passed',
    ]);
    expect((await connect.getConnectorStatus(forwardConnector))?.connector.state).toBe('STOPPED');

    reverse = await startPgferry(env, undefined, ['--reverse']);
    // The application now writes on the target.
    await target.query(`INSERT INTO ${ACCOUNTS} (name, balance) VALUES ('after cutover', 42.42)`);
    await target.query(`UPDATE ${ACCOUNTS} SET balance = 7.77 WHERE id = 2`);
    await target.query(`DELETE FROM ${ACCOUNTS} WHERE id = 3`);
    await target.query(`INSERT INTO ${ENTRIES} VALUES (999, 1, 1.25)`);
    await waitForEqual(stack.targetDatabaseUrl, stack.sourceDatabaseUrl, TABLES, 120_000);
    const back = await source.query(
      `SELECT balance::text FROM ${ACCOUNTS} WHERE name = 'after cutover'`,
    );
    expect(back.rows).toEqual([{ balance: '42.42' }]);
  }, 300_000);

  it('verify --reverse passes and rollback says it is safe to switch back, raising source sequences', async () => {
    const verified = await pgferryCli(['verify', '--reverse', '--tables', tableList]);
    expect(verified.code, `${verified.out}\n${verified.err}`).toBe(0);

    const targetMax = await target.query<{ max: string }>(
      `SELECT max(id)::text AS max FROM ${ACCOUNTS}`,
    );
    const result = await pgferryCli(['rollback', ...GATE_ARGS, '--yes']);
    expect(result.code, `${result.out}\n${result.err}`).toBe(0);
    // The plan first: the old source's sequences, on the source.
    expect(result.out).toContain('pgferry rollback will, in this order:');
    expect(result.out).toContain(`public.${ACCOUNTS}_id_seq (public.${ACCOUNTS}.id)`);
    expect(result.out).toMatch(/READY TO SWITCH BACK/);
    const inserted = await source.query<{ id: string }>(
      `INSERT INTO ${ACCOUNTS} (name) VALUES ('back on source') RETURNING id::text`,
    );
    expect(BigInt(inserted.rows[0]?.id ?? '0')).toBeGreaterThan(
      BigInt(targetMax.rows[0]?.max ?? '0'),
    );
  }, 300_000);
});

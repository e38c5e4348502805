// Fault case 17: the source's replication slot is dropped while everything runs. Debezium (3.x on
// this stack) does not recreate it: the task restarts after the walsender is killed, finds no
// slot for its stored offset and FAILS ("... no longer available on the server"). Writes made
// meanwhile never reach Kafka. pgferry must say so plainly (its log, `status`), durably (the
// target's pgferry.slot_losses), and the runbook's re-snapshot path must restore equality.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readConnectorDefinition } from '../../migrate/connector/connector-definition.js';
import type { DestructivePlan } from '../../migrate/destructive-plan.js';
import { insertCopyPlan, readCopyTables } from '../../sink/bookkeeping/copy-rows.js';
import { runPgferryCli } from '../support/cli-run.js';
import {
  assertNothingLostNothingDoubled,
  FaultScenario,
  sleep,
  stack,
  startWorkload,
  stopProcess,
} from '../support/fault-harness.js';
import { repoPath } from '../support/stack-env.js';

const scenario = new FaultScenario({ id: 'r' });

/** The scenario's pipeline as `pgferry` commands see it: its connector, slot, group, topics. */
const cliEnv = () =>
  scenario.env({
    CONNECTOR_NAME: scenario.connectorName,
    SOURCE_SLOT_NAME: scenario.slotName,
  });

async function waitFor<T>(what: string, read: () => Promise<T | undefined>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(500);
  }
}

/** Runs `use` on a connection to the target (pgferry's bookkeeping lives there). */
async function withTarget<T>(use: (target: pg.Client) => Promise<T>): Promise<T> {
  const target = new pg.Client({ connectionString: stack.targetDatabaseUrl });
  await target.connect();
  try {
    return await use(target);
  } finally {
    await target.end();
  }
}

async function slotExists(): Promise<boolean> {
  const r = await scenario.source.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [
    scenario.slotName,
  ]);
  return (r.rowCount ?? 0) > 0;
}

/** The runbook's `connector apply`, with the scenario's connector file (its prefix, slot, tables). */
async function connectorFile(): Promise<string> {
  const definition = await readConnectorDefinition(repoPath('connect-config/debezium-source.json'));
  const file = join(mkdtempSync(join(tmpdir(), 'pgferry-fr-')), 'connector.json');
  writeFileSync(
    file,
    JSON.stringify({
      name: scenario.connectorName,
      config: {
        ...definition.config,
        'topic.prefix': scenario.prefix,
        'slot.name': scenario.slotName,
        'slot.drop.on.stop': 'true',
        'table.include.list': `public\\.fr_.*_${scenario.run}`,
      },
    }),
  );
  return file;
}

describe.sequential('the replication slot dropped on the source', () => {
  beforeAll(() => scenario.setUp());
  afterEach(() => scenario.endCase());
  afterAll(() => scenario.tearDown());

  it('case 17: slot dropped: pgferry and status report it, the runbook re-snapshot restores equality', async ({
    task,
  }) => {
    const slot = scenario.slotName;
    const extra = { CONNECTOR_NAME: scenario.connectorName, SOURCE_SLOT_NAME: slot };
    const workload = startWorkload(scenario);
    const first = await scenario.startPgferry(extra);
    // pgferry's slot monitor has seen the slot (it reports only a slot it saw disappear).
    await waitFor('the slot monitor to see the slot', async () =>
      (await first.metrics()).includes(`pgferry_source_slot_active{slot="${slot}"} 1`)
        ? true
        : undefined,
    );
    await sleep(2000);

    // The fault: the walsender terminated, the slot dropped (retried while it is still active).
    await scenario.source.query(
      'SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
    await waitFor('the slot to be dropped', async () => {
      try {
        await scenario.source.query('SELECT pg_drop_replication_slot($1)', [slot]);
        return true;
      } catch {
        return undefined;
      }
    });
    const txAtDrop = workload.stats.transactions;
    const droppedAt = Date.now();

    // The workload goes on: these writes never reach Kafka.
    const logLine = await scenario.waitForLog(
      first,
      new RegExp(`replication slot ${slot} was dropped on the source`),
      30_000,
    );
    expect(logLine).toContain('"level":"error"');
    expect(logLine).toContain('If the replication slot was lost');
    const detectSeconds = (Date.now() - droppedAt) / 1000;
    expect(await first.metrics()).toContain(`pgferry_source_slot_lost{slot="${slot}"} 1`);

    // Debezium does not recreate the slot and carry on: its task fails, the slot stays missing.
    const trace = await waitFor('the connector task to fail', async () => {
      const s = await scenario.connect.getConnectorStatus(scenario.connectorName);
      const failed = s?.tasks.find((t) => t.state === 'FAILED');
      return failed ? (failed.trace ?? '') : undefined;
    });
    expect(trace).toContain('no longer available on the server');
    expect(await slotExists()).toBe(false);

    const status = await runPgferryCli(['status'], cliEnv());
    expect(status.code, status.stdout + status.stderr).toBe(3);
    const headline = status.stdout.split('\n')[0] ?? '';
    expect(headline).toContain('REPLICATION SLOT LOST: re-snapshot needed');
    expect(status.stdout).toContain(`slot ${slot} was LOST (dropped on the source`);
    expect(status.stdout).toContain('"If the replication slot was lost"');
    const lostTransactions = workload.stats.transactions - txAtDrop;
    expect(lostTransactions).toBeGreaterThan(0);

    // A slot of that name re-created (by hand, or by a tool) does not hide the loss.
    await scenario.source.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [
      slot,
    ]);
    const recreated = await runPgferryCli(['status'], cliEnv());
    expect(recreated.code).toBe(3);
    expect(recreated.stdout.split('\n')[0]).toContain('REPLICATION SLOT LOST');
    // Cutover refuses at gate 2 on the recorded loss, slot or no slot. (A table of the
    // scenario the workload never writes passes gate 1 at once.)
    const quiet = scenario.table('quiet');
    await scenario.source.query(`CREATE TABLE ${quiet} (id integer PRIMARY KEY)`);
    const cutover = await runPgferryCli(
      ['cutover', '--dry-run', '--tables', quiet, '--quiet-seconds', '1', '--lag-timeout', '5'],
      cliEnv(),
    );
    expect(cutover.code, cutover.stdout + cutover.stderr).toBe(3);
    expect(cutover.stdout).toMatch(new RegExp(`replication slot ${slot} was lost`));
    expect(cutover.stdout).toContain('pgferry resnapshot');
    await scenario.source.query(`DROP TABLE ${quiet}`);
    await scenario.source.query('SELECT pg_drop_replication_slot($1)', [slot]);

    // resnapshot refuses while a pgferry of the pipeline runs (its group has a member).
    const refused = await runPgferryCli(['resnapshot', '--yes'], cliEnv());
    expect(refused.code, refused.stdout + refused.stderr).toBe(3);
    expect(refused.stderr).toContain('refused: pgferry is running');

    // The runbook, "If the replication slot was lost", as written: stop pgferry, ...
    expect(await stopProcess(first, 'SIGTERM')).toBe(0);
    // (A copy of one of its tables left half done, as a `pgferry copy` killed mid-way leaves it:
    // resnapshot must forget it with the rows, or the new stream of that table would wait for it.)
    const halfCopied = { schema: 'public', name: scenario.table('accounts') };
    await withTarget((target) =>
      insertCopyPlan(target, {
        target: halfCopied,
        source: halfCopied,
        keyColumns: ['id'],
        bounds: [['10']],
      }),
    );
    // ... `pgferry resnapshot` prints its plan and changes nothing (no terminal, no --yes), ...
    const plan = await runPgferryCli(['resnapshot', '--json'], cliEnv());
    expect(plan.code, plan.stderr).toBe(2);
    expect(plan.stderr).toContain('Nothing changed: add --yes to do it.');
    const planned = JSON.parse(plan.stdout) as { applied: boolean; plan: DestructivePlan };
    expect(planned.applied).toBe(false);
    // The order: the target reset before the connector's offsets are deleted, the mark last.
    expect(planned.plan.steps.map((s) => s.objects[0])).toEqual([
      // The connector itself RUNNING, its task FAILED on the missing slot.
      `${scenario.connectorName} (now RUNNING, task 0 FAILED)`,
      expect.stringMatching(/^public\.fr_/),
      expect.stringMatching(new RegExp(`^${scenario.prefix}\\.public\\.fr_`)),
      scenario.connectorName,
      `slot ${slot}`,
    ]);
    expect(planned.plan.steps[1]?.objects).toHaveLength(scenario.tables.length);
    expect(await scenario.connect.getConnectorStatus(scenario.connectorName)).toBeDefined();
    // ... `pgferry resnapshot --yes`, ...
    const reset = await runPgferryCli(['resnapshot', '--yes'], cliEnv());
    expect(reset.code, reset.stdout + reset.stderr).toBe(0);
    expect(reset.stdout).toContain('pgferry resnapshot will, in this order:');
    const said = (line: string) => reset.stdout.indexOf(line);
    expect(said(`connector ${scenario.connectorName}: stopped`)).toBeGreaterThan(0);
    expect(said('target: emptied public.fr_')).toBeGreaterThan(
      said(`connector ${scenario.connectorName}: stopped`),
    );
    expect(said(`connector ${scenario.connectorName}: offsets deleted, removed`)).toBeGreaterThan(
      said('target: emptied'),
    );
    expect(said(`slot-loss mark of ${slot}: cleared`)).toBeGreaterThan(
      said('offsets deleted, removed'),
    );
    const copies = await withTarget((target) => readCopyTables(target));
    expect(copies.map((c) => c.name)).not.toContain(halfCopied.name);
    // ... `pgferry connector apply` (a new slot, a full snapshot), ...
    const file = await connectorFile();
    const apply = await runPgferryCli(['connector', 'apply', '--file', file], cliEnv());
    expect(apply.code, apply.stdout + apply.stderr).toBe(0);
    // ... `pgferry run`, while the application keeps writing.
    const second = await scenario.startPgferry(extra);
    await sleep(4000);
    const stats = await workload.stop();
    expect(stats.errors).toBe(0);
    const figures = await assertNothingLostNothingDoubled(scenario);
    // ... and `pgferry status` is back to caught up: no LOST, exit 0.
    let lastStatus = '';
    const after = await waitFor('status to exit 0', async () => {
      const s = await runPgferryCli(['status'], cliEnv());
      lastStatus = s.stdout + s.stderr;
      return s.code === 0 ? s : undefined;
    }).catch((error: Error) => {
      throw new Error(`${error.message}; the last status said:\n${lastStatus}`);
    });
    expect(after.stdout).not.toContain('LOST');
    expect(second.logs.some((l) => l.includes('was dropped on the source'))).toBe(false);
    expect(await stopProcess(second, 'SIGTERM')).toBe(0);
    task.meta.fault = {
      case: 17,
      asserts:
        'a dropped slot fails the Debezium task, pgferry logs one error and records the loss, status exits 3 with "REPLICATION SLOT LOST"; the runbook path (resnapshot --yes, connector apply, run) restores every table',
      figures: {
        transactions: stats.transactions,
        lostTransactions,
        detectSeconds: Math.round(detectSeconds * 10) / 10,
        ...figures,
      },
    };
  });
});

// Fault cases 7-10: a shared service of the stack dies under pgferry while the workload runs:
// the Kafka broker (SIGKILL), the Kafka Connect worker (SIGKILL), the target PostgreSQL
// (immediate stop mid-COPY) and the schema registry (stopped for a minute while pgferry needs it).
// pgferry must retry, never exit, never dead-letter, and converge. Every case restarts what it
// killed, also when it fails (try/finally). Run with `flock -x` (the services are shared).
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectorStatus } from '../../core/connect-client.js';
import {
  assertNothingLostNothingDoubled,
  FaultScenario,
  metricSum,
  type Service,
  sleep,
  stack,
  stackService,
  startWorkload,
  stopProcess,
} from '../support/fault-harness.js';
import type { PgferryProcess } from '../support/pgferry-process.js';

// The slot survives a task stop (as in production): Connect stops the task for the rebalance
// after a broker or worker restart, and a dropped slot would lose the changes meanwhile.
const scenario = new FaultScenario({ id: 's', slotDropOnStop: false });

/** tearDown drops the slot once inactive; the task may take a few seconds to let go of it. */
async function dropScenarioSlot(): Promise<void> {
  const client = new pg.Client({ connectionString: stack.sourceDatabaseUrl });
  await client.connect();
  try {
    for (let i = 0; i < 20; i++) {
      const { rows } = await client.query<{ active: boolean }>(
        'SELECT active FROM pg_replication_slots WHERE slot_name = $1',
        [scenario.slotName],
      );
      if (rows.length === 0) return;
      if (!rows[0]?.active) {
        await client.query('SELECT pg_drop_replication_slot($1)', [scenario.slotName]);
        return;
      }
      await sleep(1000);
    }
  } finally {
    await client.end();
  }
}

function isAlive(p: PgferryProcess): boolean {
  return p.child.exitCode === null && p.child.signalCode === null;
}

/**
 * Takes `service` down with `action`, runs `during` (the outage), then starts it again, also when
 * `during` throws. Returns the seconds from the kill to the service being healthy again.
 */
async function outage(
  service: Service,
  action: 'kill' | 'stop',
  during: () => Promise<unknown>,
): Promise<number> {
  const downAt = Date.now();
  try {
    await stackService(action, service);
    await during();
  } finally {
    await stackService('start', service);
  }
  return Math.round((Date.now() - downAt) / 100) / 10;
}

function describeStatus(status: ConnectorStatus | undefined): string {
  if (!status) return 'unknown to Connect';
  return `connector ${status.connector.state}, tasks ${status.tasks.map((t) => `${t.id}:${t.state}`).join(',') || 'none'}`;
}

/**
 * Waits until the connector and its tasks have run for `stableMs`. A FAILED task is a test
 * failure (`false`), or left to `pgferry run`'s CONNECTOR_AUTO_RESTART (`'by-pgferry'`): nobody
 * restarts it by hand. Returns how long it took and the first failure's trace.
 */
async function connectorRunningAgain(
  onFailed: false | 'by-pgferry',
  { stableMs = 15_000, timeoutMs = 150_000 } = {},
): Promise<{ seconds: number; failedTrace: string | undefined }> {
  const started = Date.now();
  let runningSince: number | undefined;
  let failedTrace: string | undefined;
  let last: ConnectorStatus | undefined;
  for (;;) {
    last = await scenario.connect.getConnectorStatus(scenario.connectorName).catch(() => undefined);
    const running =
      last?.connector.state === 'RUNNING' &&
      last.tasks.length > 0 &&
      last.tasks.every((t) => t.state === 'RUNNING');
    if (!running) runningSince = undefined;
    else {
      runningSince ??= Date.now();
      if (Date.now() - runningSince >= stableMs)
        return { seconds: Math.round((runningSince - started) / 100) / 10, failedTrace };
    }
    for (const task of last?.tasks ?? []) {
      if (task.state !== 'FAILED') continue;
      const trace = task.trace ?? '';
      failedTrace ??= (trace.split('\n')[0] ?? '').slice(0, 240);
      if (onFailed === false)
        throw new Error(`connector task ${task.id} FAILED: ${trace.slice(0, 2000)}`);
    }
    if (Date.now() - started > timeoutMs)
      throw new Error(
        `connector not RUNNING ${timeoutMs / 1000} s after the restart: ${describeStatus(last)}`,
      );
    await sleep(1000);
  }
}

/**
 * Records in the events topic beyond the changes the source made: every event row inserted once
 * (bigserial, no rollbacks: max(id) inserts) and every delete twice (delete + tombstone). What is
 * left are duplicates Debezium or the producer re-emitted. Cumulative over the scenario.
 */
async function eventsTopicExcess(): Promise<number> {
  const events = scenario.table('events');
  const { rows } = await scenario.source.query<{ inserted: string; present: string }>(
    `SELECT coalesce(max(id), 0) AS inserted, count(*) AS present FROM ${events}`,
  );
  const inserted = Number(rows[0]?.inserted ?? 0);
  const deleted = inserted - Number(rows[0]?.present ?? 0);
  const admin = scenario.kafka.admin();
  await admin.connect();
  try {
    let records = 0;
    for (const p of await admin.fetchTopicOffsets(scenario.topicOf('events')))
      records += Number(p.high) - Number(p.low);
    return records - inserted - 2 * deleted;
  } finally {
    await admin.disconnect();
  }
}

async function targetReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: stack.targetDatabaseUrl });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

describe.sequential('a shared service dies under pgferry', () => {
  beforeAll(() => scenario.setUp());
  afterEach(() => scenario.endCase());
  afterAll(async () => {
    await scenario.tearDown();
    await dropScenarioSlot();
  });

  it('case 7: Kafka broker killed (SIGKILL) and restarted while pgferry applies', async ({
    task,
  }) => {
    const workload = startWorkload(scenario);
    const p = await scenario.startPgferry();
    await sleep(5000);
    const downtimeSeconds = await outage('kafka', 'kill', () => sleep(5000));
    // No hand on the connector: a task the outage failed is restarted by pgferry itself.
    const connector = await connectorRunningAgain('by-pgferry', { timeoutMs: 240_000 });
    await sleep(5000);
    const stats = await workload.stop();
    expect(stats.errors).toBe(0);
    const figures = await assertNothingLostNothingDoubled(scenario);
    expect(isAlive(p), 'pgferry still running after the broker came back').toBe(true);
    const metrics = await p.metrics();
    const autoRestarts = metricSum(metrics, 'pgferry_connector_restarts_total');
    if (connector.failedTrace !== undefined) expect(autoRestarts).toBeGreaterThan(0);
    expect(await stopProcess(p, 'SIGTERM')).toBe(0);
    task.meta.fault = {
      case: 7,
      asserts:
        'pgferry rides out a killed and restarted broker without exiting and converges with the source; a connector task the outage failed is restarted by pgferry, not by hand',
      figures: {
        transactions: stats.transactions,
        downtimeSeconds,
        connectorBackSeconds: connector.seconds,
        connectorRestartsByPgferry: autoRestarts,
        connectorFailure: connector.failedTrace ?? 'none',
        retries: metricSum(metrics, 'pgferry_retries_total'),
        eventsTopicDuplicates: await eventsTopicExcess(),
        ...figures,
      },
    };
  });

  it('case 8: Kafka Connect worker killed and restarted: Debezium resumes from its offsets', async ({
    task,
  }) => {
    const duplicatesBefore = await eventsTopicExcess();
    const workload = startWorkload(scenario);
    const p = await scenario.startPgferry();
    await sleep(5000);
    const downtimeSeconds = await outage('connect', 'kill', () => sleep(3000));
    // Once the worker is back the connector and its task must run again by themselves.
    const connector = await connectorRunningAgain(false);
    await sleep(5000);
    const stats = await workload.stop();
    expect(stats.errors).toBe(0);
    const figures = await assertNothingLostNothingDoubled(scenario);
    expect(isAlive(p)).toBe(true);
    expect(await stopProcess(p, 'SIGTERM')).toBe(0);
    task.meta.fault = {
      case: 8,
      asserts:
        'after a Connect crash the connector resumes by itself from its stored offsets; the changes it re-emits are absorbed (tables equal, nothing backwards)',
      figures: {
        transactions: stats.transactions,
        downtimeSeconds,
        connectorBackSeconds: connector.seconds,
        reEmittedEvents: (await eventsTopicExcess()) - duplicatesBefore,
        ...figures,
      },
    };
  });

  it('case 9: target PostgreSQL stopped (-m immediate) mid-COPY and restarted', async ({
    task,
  }) => {
    const workload = startWorkload(scenario);
    const p = await scenario.startPgferry({ PGFERRY_FAULT_INJECTION: 'staging-copy:delay=8000@3' });
    await scenario.waitForLog(p, /fault point staging-copy reached/);
    const downtimeSeconds = await outage('pg-target', 'kill', async () => {
      expect(await targetReachable(), 'target down').toBe(false);
      await sleep(5000);
    });
    await sleep(5000);
    const stats = await workload.stop();
    expect(stats.errors).toBe(0);
    const figures = await assertNothingLostNothingDoubled(scenario);
    expect(isAlive(p), 'pgferry still running after the target came back').toBe(true);
    const metrics = await p.metrics();
    // The COPY that was cut off is retried, not dropped or dead-lettered.
    const retries = metricSum(metrics, 'pgferry_retries_total');
    expect(retries).toBeGreaterThan(0);
    expect(await stopProcess(p, 'SIGTERM')).toBe(0);
    task.meta.fault = {
      case: 9,
      asserts:
        'the target crashes while a COPY into staging is open; pgferry retries the batch, reconnects and converges, nothing dead-lettered',
      figures: { transactions: stats.transactions, downtimeSeconds, retries, ...figures },
    };
  });

  it('case 10: schema registry down for a minute while new schemas and records arrive', async ({
    task,
  }) => {
    const workload = startWorkload(scenario);
    const first = await scenario.startPgferry();
    await sleep(3000);
    // Records pile up in Kafka while no pgferry runs: the next one must decode them.
    expect(await stopProcess(first, 'SIGTERM')).toBe(0);
    await sleep(3000);
    let fresh: PgferryProcess | undefined;
    let freshRetriedAfterSeconds = 0;
    let statusDuringOutage = '';
    const outageSeconds = await outage('registry', 'stop', async () => {
      const stoppedAt = Date.now();
      // A new process has an empty schema cache: it needs the registry for its first record.
      fresh = await scenario.startPgferry();
      await scenario.waitForLog(fresh, /transient fault; retrying the batch/, 30_000);
      freshRetriedAfterSeconds = Math.round((Date.now() - stoppedAt) / 1000);
      // A new schema version while the registry is away: Connect must register it.
      await scenario.source.query(`ALTER TABLE ${scenario.table('accounts')} ADD COLUMN tier text`);
      await scenario.source.query(
        `UPDATE ${scenario.table('accounts')} SET tier = 'gold' WHERE id % 10 = 0`,
      );
      await sleep(Math.max(0, 60_000 - (Date.now() - stoppedAt)));
      expect(isAlive(fresh as PgferryProcess), 'pgferry waits for the registry').toBe(true);
      statusDuringOutage = describeStatus(
        await scenario.connect.getConnectorStatus(scenario.connectorName),
      );
    });
    const p = fresh as unknown as PgferryProcess;
    // No hand on the connector: a task the outage failed is restarted by pgferry itself.
    const connector = await connectorRunningAgain('by-pgferry', { timeoutMs: 240_000 });
    await sleep(5000);
    const stats = await workload.stop();
    expect(stats.errors).toBe(0);
    const figures = await assertNothingLostNothingDoubled(scenario);
    expect(isAlive(p)).toBe(true);
    const metrics = await p.metrics();
    const retries = metricSum(metrics, 'pgferry_retries_total');
    expect(retries).toBeGreaterThan(0);
    const autoRestarts = metricSum(metrics, 'pgferry_connector_restarts_total');
    if (connector.failedTrace !== undefined) expect(autoRestarts).toBeGreaterThan(0);
    expect(metricSum(metrics, 'pgferry_connector_restarts_exhausted')).toBe(0);
    expect(await stopProcess(p, 'SIGTERM')).toBe(0);
    task.meta.fault = {
      case: 10,
      asserts:
        'a pgferry with an empty schema cache waits out a registry outage (retries, no exit, no DLQ) while a new schema version appears; the connector task the outage failed is restarted by pgferry (CONNECTOR_AUTO_RESTART), not by hand; converges',
      figures: {
        transactions: stats.transactions,
        outageSeconds,
        freshRetriedAfterSeconds,
        retries,
        connectorDuringOutage: statusDuringOutage,
        connectorRestartsByPgferry: autoRestarts,
        connectorFailure: connector.failedTrace ?? 'none',
        ...figures,
      },
    };
  });
});

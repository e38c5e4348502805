import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  assertNothingLostNothingDoubled,
  FaultScenario,
  metricSum,
  sleep,
  startWorkload,
  stopProcess,
  targetQuery,
} from '../support/fault-harness.js';
import type { PgferryProcess } from '../support/pgferry-process.js';

const scenario = new FaultScenario({ id: 'p' });

/** The sink's sessions on the target as pg_stat_activity sees them. */
function sinkSessions() {
  return targetQuery<{ state: string; query: string }>(
    `SELECT state, left(query, 60) AS query FROM pg_stat_activity WHERE application_name = 'pgferry-sink'`,
  );
}

/** Kills the process holding at `point`, restarts pgferry, and lets the workload run on. */
async function killAtFaultPoint(point: string, check: () => Promise<void>) {
  const workload = startWorkload(scenario);
  const victim = await scenario.startPgferry({ PGFERRY_FAULT_INJECTION: `${point}:hold@3` });
  await scenario.waitForLog(victim, new RegExp(`fault point ${point} reached`));
  await check();
  expect(await stopProcess(victim, 'SIGKILL')).toBe('SIGKILL');
  const next = await scenario.startPgferry();
  await sleep(4000);
  const stats = await workload.stop();
  expect(stats.errors).toBe(0);
  const figures = await assertNothingLostNothingDoubled(scenario);
  await stopProcess(next, 'SIGTERM');
  return { transactions: stats.transactions, ...figures };
}

/** Partitions whose offset stored in the target is ahead of the group's committed Kafka offset. */
async function partitionsAheadOfKafka(): Promise<string[]> {
  const admin = scenario.kafka.admin();
  await admin.connect();
  const ahead: string[] = [];
  try {
    const stored = await targetQuery<{ topic: string; partition: number; next_offset: string }>(
      'SELECT topic, partition, next_offset FROM pgferry.offsets WHERE group_id = $1',
      [scenario.groupId],
    );
    for (const row of stored) {
      const [committed] = await admin.fetchOffsets({
        groupId: scenario.groupId,
        topics: [row.topic],
      });
      const c = committed?.partitions.find((p) => p.partition === row.partition);
      if (BigInt(row.next_offset) > BigInt(c?.offset ?? '-1'))
        ahead.push(`${row.topic}/${row.partition}`);
    }
  } finally {
    await admin.disconnect();
  }
  return ahead;
}

describe.sequential('pgferry killed or stopped mid-batch', () => {
  beforeAll(() => scenario.setUp());
  afterEach(() => scenario.endCase());
  afterAll(() => scenario.tearDown());

  it('case 1: SIGKILL while copying into staging', async ({ task }) => {
    const figures = await killAtFaultPoint('staging-copy', async () => {
      // The COPY is open on the target, half its rows sent.
      const sessions = await sinkSessions();
      expect(sessions.some((s) => s.state === 'active' && s.query.startsWith('COPY'))).toBe(true);
    });
    task.meta.fault = {
      case: 1,
      asserts:
        'the COPY into staging is open when pgferry is killed; a new pgferry converges with the source',
      figures,
    };
  });

  it('case 2: SIGKILL while merging', async ({ task }) => {
    const figures = await killAtFaultPoint('merge', async () => {
      // The merge ran on the server; its transaction is open and uncommitted.
      const sessions = await sinkSessions();
      expect(
        sessions.some((s) => s.state.startsWith('idle in transaction') || s.state === 'active'),
      ).toBe(true);
    });
    task.meta.fault = {
      case: 2,
      asserts:
        'killed with the merge sent and its transaction uncommitted; the target rolls it back and the next pgferry applies it once',
      figures,
    };
  });

  it('case 3: SIGKILL after the target commit, before the Kafka offset commit', async ({
    task,
  }) => {
    const workload = startWorkload(scenario);
    const victim = await scenario.startPgferry({
      PGFERRY_FAULT_INJECTION: 'after-target-commit:hold@3',
    });
    await scenario.waitForLog(victim, /fault point after-target-commit reached/);
    // The window: the target's stored offset is ahead of the one Kafka has for the group.
    const ahead = await partitionsAheadOfKafka();
    expect(ahead.length).toBeGreaterThan(0);
    expect(await stopProcess(victim, 'SIGKILL')).toBe('SIGKILL');
    // The next pgferry starts from the target's offsets (or recognises the re-delivered batch as
    // applied): the invariants below would catch a batch applied twice out of order.
    const next: PgferryProcess = await scenario.startPgferry();
    await sleep(4000);
    const stats = await workload.stop();
    const figures = await assertNothingLostNothingDoubled(scenario);
    // Kafka's committed offsets caught up with the target's once pgferry went on.
    expect(await partitionsAheadOfKafka()).toEqual([]);
    const replayed = metricSum(await next.metrics(), 'pgferry_batches_total', 'outcome="replayed"');
    await stopProcess(next, 'SIGTERM');
    task.meta.fault = {
      case: 3,
      asserts:
        'killed with the target ahead of Kafka’s committed offset; the next pgferry resumes from the target’s offsets, Kafka catches up, nothing applied twice',
      figures: {
        transactions: stats.transactions,
        partitionsAhead: ahead.length,
        replayedBatches: replayed,
        ...figures,
      },
    };
  });

  it('case 4: SIGTERM mid-batch: a clean stop, exit 0', async ({ task }) => {
    const workload = startWorkload(scenario);
    const p = await scenario.startPgferry({ PGFERRY_FAULT_INJECTION: 'merge:delay=3000@3' });
    await scenario.waitForLog(p, /fault point merge reached/);
    const signalled = Date.now();
    const code = await stopProcess(p, 'SIGTERM');
    const stopSeconds = (Date.now() - signalled) / 1000;
    expect(code).toBe(0);
    expect(stopSeconds).toBeLessThan(30);
    const next = await scenario.startPgferry();
    await sleep(3000);
    const stats = await workload.stop();
    const figures = await assertNothingLostNothingDoubled(scenario);
    await stopProcess(next, 'SIGTERM');
    task.meta.fault = {
      case: 4,
      asserts: 'SIGTERM during a merge finishes or abandons the batch and exits 0 within 30 s',
      figures: { transactions: stats.transactions, exitCode: 0, stopSeconds, ...figures },
    };
  });

  it('case 5: two instances in one group, one killed and restarted repeatedly; then 1 -> 3 -> 1', async ({
    task,
  }) => {
    const workload = startWorkload(scenario, 60);
    const steady = await scenario.startPgferry();
    let restarts = 0;
    for (let i = 0; i < 3; i++) {
      const flaky = await scenario.startPgferry();
      await sleep(4000);
      expect(await stopProcess(flaky, 'SIGKILL')).toBe('SIGKILL');
      restarts += 1;
      await sleep(1000);
    }
    // Scale out to 3, then back to 1.
    const extra = [await scenario.startPgferry(), await scenario.startPgferry()];
    await sleep(8000);
    for (const p of extra) expect(await stopProcess(p, 'SIGTERM')).toBe(0);
    await sleep(4000);
    const stats = await workload.stop();
    const figures = await assertNothingLostNothingDoubled(scenario);
    expect(await stopProcess(steady, 'SIGTERM')).toBe(0);
    task.meta.fault = {
      case: 5,
      asserts:
        'rebalances after kills and scale-out/in: every table equals the source, offsets never backwards, clean exits',
      figures: { transactions: stats.transactions, killedAndRestarted: restarts, ...figures },
    };
  });
});

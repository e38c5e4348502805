// Fault cases 6 and 15: load rather than crashes. A target table locked by someone else for
// longer than the sink's lock_timeout (consumption waits and retries, nothing dead-lettered), and
// one source transaction of 1,000,000 rows (memory bounded, the apply rate steady from start to
// end). One scenario for the file, with a narrow table for the big transaction.
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  assertNothingLostNothingDoubled,
  FaultScenario,
  memoryBoundMb,
  metricSum,
  readRssMb,
  sleep,
  stack,
  startWorkload,
  stopProcess,
  targetQuery,
  waitUntil,
} from '../support/fault-harness.js';
import type { PgferryProcess } from '../support/pgferry-process.js';

const scenario = new FaultScenario({ id: 'l' });

/** The narrow table of the big transaction, created by case 15 (an empty table never reaches the target). */
const bulkTable = (n: string) =>
  `CREATE TABLE ${n} (id bigint PRIMARY KEY, v integer NOT NULL, note text NOT NULL)`;

/**
 * The sink's target sessions run with lock_timeout=30s (core/pg-connection.ts). The 30 s
 * lock, plus 5 s: the sink's statement starts waiting within a second or two of the lock, so its
 * 30 s lock_timeout fires before the lock goes and the retry path of a 55P03 is exercised every
 * run, not only when the timing happens to fall that way.
 */
const LOCK_HOLD_MS = 35_000;
const BIG_TX_ROWS = 1_000_000;
/**
 * Rows per target transaction for the big transaction: the harness's 500 means 2,000 batches and
 * took 294 s end to end here (5,000: 160-177 s); memory was the same (V8's heap, not the batch).
 */
const BIG_TX_BATCH_SIZE = 5_000;
const SAMPLE_MS = 5_000;
/** The slowest interval of the big transaction's apply against the median (see case 15). */
const STEADY_FLOOR = 0.1;
/**
 * Rows waiting in Kafka at an interval's start for the interval to measure pgferry (case 15).
 * Not a whole batch: a fetch hands pgferry what is there, and since pgferry keeps pace with
 * Debezium (~11-13k rows/s here, no context headers) a backlog of 5,000 was rare, and a 94 s
 * apply left 4 intervals to judge. A stall or a slowdown makes the backlog grow, so those
 * intervals still count.
 */
const MEASURED_BACKLOG = 1_000;

/** The offset stored in the target for every partition of one topic (summed). */
async function storedOffset(topic: string): Promise<bigint> {
  const rows = await targetQuery<{ n: string | null }>(
    'SELECT sum(next_offset)::text AS n FROM pgferry.offsets WHERE group_id = $1 AND topic = $2',
    [scenario.groupId, topic],
  );
  return BigInt(rows[0]?.n ?? '0');
}

/** Samples the RSS of `p` every 250 ms; stop() returns the peak in MiB. */
function sampleRss(p: PgferryProcess): { stop: () => number } {
  const pid = p.child.pid as number;
  let peak = 0;
  const timer = setInterval(() => {
    const mb = readRssMb(pid);
    if (mb !== undefined) peak = Math.max(peak, mb);
  }, 250);
  return {
    stop: () => {
      clearInterval(timer);
      return peak;
    },
  };
}

/** A metric without labels. */
function metricValue(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ').pop()) : 0;
}

interface Sample {
  at: number;
  /** Bulk rows applied (pgferry_changes_applied_total). */
  rows: number;
  /** Bulk rows in Kafka (Debezium's progress). */
  produced: number;
  rssMb: number;
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

describe.sequential('load: a locked target table, one huge source transaction', () => {
  beforeAll(() => scenario.setUp());
  afterEach(() => scenario.endCase());
  afterAll(() => scenario.tearDown());

  it('case 6: a target table locked (ACCESS EXCLUSIVE) for longer than the sink’s lock_timeout', async ({
    task,
  }) => {
    const events = scenario.table('events');
    const eventsTopic = scenario.topicOf('events');
    const workload = startWorkload(scenario);
    const p = await scenario.startPgferry();
    const rss = sampleRss(p);
    // pgferry has created the target table and applied some events.
    await waitUntil('the first events in the target', async () => {
      const rows = await targetQuery<{ n: string }>(`SELECT count(*)::text AS n FROM ${events}`);
      return Number(rows[0]?.n) > 0;
    });
    const locker = new pg.Client({ connectionString: stack.targetDatabaseUrl });
    await locker.connect();
    let lagMax = 0;
    let offsetAtLock: bigint;
    let offsetAtRelease: bigint;
    const lockedAt = Date.now();
    try {
      await locker.query('BEGIN');
      await locker.query(`LOCK TABLE ${events} IN ACCESS EXCLUSIVE MODE`);
      offsetAtLock = await storedOffset(eventsTopic);
      while (Date.now() - lockedAt < LOCK_HOLD_MS) {
        lagMax = Math.max(lagMax, await scenario.lag());
        await sleep(2000);
      }
      offsetAtRelease = await storedOffset(eventsTopic);
      // The sink's session is the one waiting for the lock (or retrying after its lock_timeout).
      await locker.query('COMMIT');
    } finally {
      await locker.end().catch(() => undefined);
    }
    const releasedAt = Date.now();
    // Consumption of the locked table paused: no events offset stored while the lock was held.
    expect(offsetAtRelease).toBe(offsetAtLock);
    // The workload kept writing: ~40 events/s for 35 s piled up in Kafka.
    expect(lagMax).toBeGreaterThan(500);
    // Catches up with the workload still running.
    await waitUntil(
      'the lag to drain after the lock',
      async () => (await scenario.lag()) < 50,
      120_000,
    );
    const catchUpSeconds = (Date.now() - releasedAt) / 1000;
    await sleep(3000);
    const stats = await workload.stop();
    expect(stats.errors).toBe(0);
    const figures = await assertNothingLostNothingDoubled(scenario);
    expect(p.child.exitCode, 'pgferry kept running through the lock').toBeNull();
    const metrics = await p.metrics();
    const retries = metricSum(metrics, 'pgferry_retries_total');
    // The 55P03 from the sink's lock_timeout was retried (not dead-lettered: dlq is checked above).
    expect(retries).toBeGreaterThan(0);
    const lockTimeouts = p.logs.filter((l) => /lock timeout/i.test(l)).length;
    // The sink heartbeats while it waits: the group kept this member (no eviction, no rejoin).
    expect(p.logs.filter((l) => /not aware of this member|re-joining the group/.test(l))).toEqual(
      [],
    );
    expect(await stopProcess(p, 'SIGTERM')).toBe(0);
    const peak = rss.stop();
    task.meta.fault = {
      case: 6,
      asserts:
        'with a target table locked 35 s the events offset does not move, the sink’s lock_timeout (55P03) is retried and not dead-lettered, memory stays bounded, and it catches up and converges',
      figures: {
        transactions: stats.transactions,
        lockSeconds: (releasedAt - lockedAt) / 1000,
        maxLagDuringLock: lagMax,
        retries,
        lockTimeoutLogLines: lockTimeouts,
        catchUpSeconds: Math.round(catchUpSeconds * 10) / 10,
        peakRssMbCase: Math.round(peak),
        ...figures,
      },
    };
  });

  it('case 15: one source transaction of 1,000,000 rows', async ({ task }) => {
    const bulk = scenario.table('bulk');
    await scenario.source.query(bulkTable(bulk));
    scenario.tables.push({ name: bulk, orderBy: 'id' });
    const workload = startWorkload(scenario, 10);
    const p = await scenario.startPgferry({
      BATCH_SIZE: String(BIG_TX_BATCH_SIZE),
      // Diagnosis only, e.g. FL_NODE_OPTIONS=--max-old-space-size=64 to tell pgferry's live
      // memory from V8's uncollected garbage; the suite runs pgferry as deployed, without it.
      ...(process.env.FL_NODE_OPTIONS ? { NODE_OPTIONS: process.env.FL_NODE_OPTIONS } : {}),
    });
    const rss = sampleRss(p);
    const admin = scenario.kafka.admin();
    await admin.connect();
    // Debezium's progress: the bulk topic's end offsets (it does not exist before the first row).
    const produced = async () => {
      if (!(await admin.listTopics()).includes(scenario.topicOf('bulk'))) return 0;
      const ends = await admin.fetchTopicOffsets(scenario.topicOf('bulk'));
      return ends.reduce((n, e) => n + Number(e.high), 0);
    };
    const started = Date.now();
    await scenario.source.query(
      `INSERT INTO ${bulk} (id, v, note)
       SELECT g, g % 1000, 'row ' || lpad(g::text, 16, '0') FROM generate_series(1, $1) g`,
      [BIG_TX_ROWS],
    );
    const committedSeconds = (Date.now() - started) / 1000;
    // Applied rows every SAMPLE_MS until all are in.
    const samples: Sample[] = [];
    const deadline = started + 540_000;
    let firstRowsAt = 0;
    for (;;) {
      const metrics = await p.metrics();
      const rows = metricSum(metrics, 'pgferry_changes_applied_total', `table="public.${bulk}"`);
      const mb = (name: string) => Math.round(metricValue(metrics, name) / 2 ** 20);
      samples.push({
        at: Date.now(),
        rows,
        produced: await produced(),
        rssMb: Math.round(readRssMb(p.child.pid as number) ?? 0),
        heapUsedMb: mb('pgferry_nodejs_heap_size_used_bytes'),
        heapTotalMb: mb('pgferry_nodejs_heap_size_total_bytes'),
        externalMb: mb('pgferry_nodejs_external_memory_bytes'),
      });
      if (rows > 0 && firstRowsAt === 0) firstRowsAt = Date.now();
      if (rows >= BIG_TX_ROWS) break;
      if (Date.now() > deadline)
        throw new Error(
          `only ${rows} of ${BIG_TX_ROWS} rows applied after ${(Date.now() - started) / 1000} s`,
        );
      await sleep(SAMPLE_MS);
    }
    const doneSeconds = (Date.now() - started) / 1000;
    await admin.disconnect();
    // Rows/s per interval, from the first interval that saw rows to the last full one: the
    // first (ramp-up, rows arrive mid-interval) and the last (the tail ends mid-interval) are
    // left out. Only intervals that start with a backlog in Kafka (MEASURED_BACKLOG) measure
    // pgferry; in the others it waits for Debezium and its rate is Debezium's.
    const rates: number[] = [];
    const lines: string[] = [];
    for (let i = 1; i < samples.length; i++) {
      const a = samples[i - 1] as Sample;
      const b = samples[i] as Sample;
      const seconds = (b.at - a.at) / 1000;
      const rate = (b.rows - a.rows) / seconds;
      const backlog = a.produced - a.rows;
      lines.push(
        `${Math.round((b.at - started) / 1000)} s: applied ${Math.round(rate)}/s, debezium ${Math.round((b.produced - a.produced) / seconds)}/s, backlog ${backlog}, RSS ${b.rssMb} heap ${b.heapUsedMb}/${b.heapTotalMb} ext ${b.externalMb} MiB`,
      );
      if (a.rows === 0 || b.rows >= BIG_TX_ROWS || backlog < MEASURED_BACKLOG) continue;
      rates.push(rate);
    }
    console.log(`case 15 intervals:\n${lines.join('\n')}`);
    const peak = rss.stop();
    const med = rates.length > 0 ? median(rates) : 0;
    const min = rates.length > 0 ? Math.min(...rates) : 0;
    const applySeconds = (Date.now() - firstRowsAt) / 1000;
    console.log(
      `case 15: rates ${rates.map((r) => Math.round(r)).join(' ')} rows/s; done in ${doneSeconds} s; peak ${Math.round(peak)} MiB`,
    );
    const producedAll = samples.find((x) => x.produced >= BIG_TX_ROWS);
    // The figures go to the report before the checks, so a failed run still shows them.
    const fault = {
      case: 15,
      asserts:
        'a 1,000,000-row source transaction is applied with bounded memory (peak RSS under the harness bound) and a steady rate (no interval below 10% of the median, no decay from the first third to the last), and every table converges',
      figures: {
        rows: BIG_TX_ROWS,
        batchSize: BIG_TX_BATCH_SIZE,
        sourceCommitSeconds: Math.round(committedSeconds * 10) / 10,
        debeziumAllInKafkaSeconds: producedAll ? Math.round((producedAll.at - started) / 1000) : -1,
        firstRowsAfterSeconds: Math.round((firstRowsAt - started) / 100) / 10,
        endToEndSeconds: Math.round(doneSeconds * 10) / 10,
        applySeconds: Math.round(applySeconds * 10) / 10,
        rowsPerSecondMin: Math.round(min),
        rowsPerSecondMedian: Math.round(med),
        rowsPerSecondOverall: Math.round(BIG_TX_ROWS / applySeconds),
        peakRssMbCase: Math.round(peak),
        peakHeapUsedMb: Math.max(...samples.map((x) => x.heapUsedMb)),
        peakHeapTotalMb: Math.max(...samples.map((x) => x.heapTotalMb)),
      } as Record<string, number>,
    };
    task.meta.fault = fault;
    expect(rates.length, 'full sampling intervals during the apply').toBeGreaterThanOrEqual(6);
    // Steady: no interval stalls, and the rate does not decay as the target table grows. The
    // floor is 10% of the median: on this 2-core machine pgferry shares the cores with Connect
    // (Java, busiest while Debezium streams the transaction out), Kafka and both Postgres, and
    // measured intervals fell to 0.2-0.5 of the median while Connect was busy and rose 2-3x once
    // it was done; a stalled interval (0 rows/s) or a quadratic slowdown (10x slower by the end
    // of 1M rows) still falls below it. The last third of the intervals against the first third
    // catches a decay that stays above the floor.
    expect(
      min,
      `slowest interval against the median ${Math.round(med)} rows/s`,
    ).toBeGreaterThanOrEqual(STEADY_FLOOR * med);
    const third = Math.floor(rates.length / 3);
    const early = median(rates.slice(0, third));
    const late = median(rates.slice(-third));
    expect(
      late,
      `median of the last third against the first third's ${Math.round(early)} rows/s`,
    ).toBeGreaterThanOrEqual(0.5 * early);
    // Sampled every 250 ms (sampleRss); the V8 heap figures in the message tell live data from
    // garbage V8 has not collected yet.
    expect(
      peak,
      `peak RSS (MiB) of the case's pgferry against ${memoryBoundMb()} (V8 heap used peak ${fault.figures.peakHeapUsedMb}, heap total peak ${fault.figures.peakHeapTotalMb} MiB)`,
    ).toBeLessThan(memoryBoundMb());
    await sleep(2000);
    const stats = await workload.stop();
    expect(stats.errors).toBe(0);
    const figures = await assertNothingLostNothingDoubled(scenario);
    expect(await stopProcess(p, 'SIGTERM')).toBe(0);
    Object.assign(fault.figures, { transactions: stats.transactions, ...figures });
  });
});

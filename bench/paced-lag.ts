// Paced mode: the source written at steady rates (1k, 5k, 10k rows/s by default) while the real
// connector and `pgferry run` replicate live; end-to-end lag per row from the source write
// (clock_timestamp() just before the source commit) to the target commit, observed on the target
// through a logical slot (target-commit-watcher.ts). Each step starts caught up; `isFlat` says
// whether the rate was sustained without the lag climbing.
import pg from 'pg';
import { tableFingerprint } from '../test/support/table-checksum.js';
import { applyBenchConnector, removeBenchConnector } from './bench-connector.js';
import type { BenchSettings } from './bench-settings.js';
import { KafkaArrivalWatcher } from './kafka-arrival-watcher.js';
import { PACED_DDL, PACED_TABLE, PacedWriter } from './paced-workload.js';
import { startPgferryChild } from './pgferry-child.js';
import { round } from './round.js';
import { type CommittedRow, TargetCommitWatcher } from './target-commit-watcher.js';
import { createTargetDatabase, databaseUrl } from './target-database.js';

export interface LagFigures {
  rows: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface PacedStep {
  rate: number;
  seconds: number;
  rowsWritten: number;
  achievedRate: number;
  lag: LagFigures | null;
  /**
   * Source commit -> Kafka (Debezium's share of the lag, from the records' timestamps); what is
   * left of `lag` is Kafka -> target commit (pgferry's share).
   */
  captureLag: Omit<LagFigures, 'maxMs'> | null;
  /** p99 lag of each consecutive window of the step (by source write time). */
  windowP99Ms: number[];
  /** Seconds after the step's end until the target had its last row; null = not within 120 s. */
  caughtUpSeconds: number | null;
  flat: boolean;
}

export interface PacedResult {
  ok: boolean;
  error?: string;
  /** The figures of a run the stack's faults disturbed (not to be trusted). */
  withheld?: PacedResult;
  steps: PacedStep[];
  highestFlatRate: number | null;
  checksum?: 'equal';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

export function lagFigures(rows: CommittedRow[]): LagFigures | null {
  if (rows.length === 0) return null;
  const lags = rows.map((r) => r.committedAtMs - r.writtenAtMs).sort((a, b) => a - b);
  return {
    rows: lags.length,
    p50Ms: round(percentile(lags, 50), 0),
    p99Ms: round(percentile(lags, 99), 0),
    maxMs: round(lags.at(-1) ?? Number.NaN, 0),
  };
}

/**
 * A rate is sustained with a flat p99 when the writer kept >= 95% of it, the target caught up
 * within 5 s of the step's end, and over at least three windows the last one's p99 is at most
 * 1.5x the first's + 250 ms (a backlog that grows makes the lag climb window after window).
 */
export function isFlat(step: {
  rate: number;
  achievedRate: number;
  caughtUpSeconds: number | null;
  windowP99Ms: readonly number[];
}): boolean {
  const first = step.windowP99Ms[0];
  const last = step.windowP99Ms.at(-1);
  return (
    step.caughtUpSeconds !== null &&
    step.caughtUpSeconds <= 5 &&
    step.achievedRate >= 0.95 * step.rate &&
    step.windowP99Ms.length >= 3 &&
    first !== undefined &&
    last !== undefined &&
    last <= 1.5 * first + 250
  );
}

async function waitCaughtUp(
  watcher: TargetCommitWatcher,
  lastWriteMs: number,
  timeoutMs: number,
): Promise<number | null> {
  const start = Date.now();
  while (watcher.newestWrittenAtMs < lastWriteMs) {
    if (Date.now() - start > timeoutMs) return null;
    await sleep(100);
  }
  return (Date.now() - start) / 1000;
}

export async function runPacedMode(
  settings: BenchSettings,
  options: { rates: number[]; seconds: number },
  log: (line: string) => void,
): Promise<PacedResult> {
  const { stack, runId } = settings;
  const database = `${runId}_paced`;
  const prefix = `${runId}p`;
  const connector = {
    name: `${runId}-paced-source`,
    topicPrefix: prefix,
    slotName: `${runId}_pslot`,
    tableIncludeList: `public.${PACED_TABLE}`,
  };
  const writer = await PacedWriter.connect(stack.sourceDatabaseUrl, settings.seed);
  const targetUrl = await createTargetDatabase(stack, database, [
    { name: PACED_TABLE, ddl: PACED_DDL },
  ]);
  const source = new pg.Client({ connectionString: stack.sourceDatabaseUrl });
  await source.connect();
  let watcher: TargetCommitWatcher | undefined;
  let pgferry: Awaited<ReturnType<typeof startPgferryChild>> | undefined;
  let arrivals: KafkaArrivalWatcher | undefined;
  const steps: PacedStep[] = [];
  try {
    watcher = await TargetCommitWatcher.start(
      databaseUrl(stack.targetDatabaseUrl, database),
      `${runId}_lag`,
      PACED_TABLE,
    );
    await applyBenchConnector(stack.connectUrl, source, connector);
    pgferry = await startPgferryChild(settings, {
      name: 'pgferry-paced',
      database,
      groupId: `${runId}-paced`,
      topicPattern: `^${prefix}\\.public\\.${PACED_TABLE}$`,
    });
    // Warm-up (topic created, pgferry subscribed): not measured.
    const warm = await writer.write(Math.min(...options.rates), 5);
    if ((await waitCaughtUp(watcher, warm.lastTransactionAtMs, 120_000)) === null) {
      throw new Error(
        `pgferry did not apply the warm-up rows within 120 s; see ${pgferry.logFile}`,
      );
    }
    arrivals = await KafkaArrivalWatcher.start(
      stack.kafkaBootstrap,
      `${runId}-arrival`,
      `${prefix}.public.${PACED_TABLE}`,
    );
    for (const rate of options.rates) {
      log(`  paced: ${rate} rows/s for ${options.seconds} s`);
      const w = await writer.write(rate, options.seconds);
      const caughtUpSeconds = await waitCaughtUp(watcher, w.lastTransactionAtMs, 120_000);
      const rows = watcher.rows.filter(
        (r) => r.writtenAtMs >= w.startedAtMs && r.writtenAtMs <= w.endedAtMs,
      );
      const windowMs = Math.max(2000, (w.endedAtMs - w.startedAtMs) / 6);
      const windowP99Ms: number[] = [];
      for (let from = w.startedAtMs; from < w.endedAtMs - windowMs / 2; from += windowMs) {
        const lags = rows
          .filter((r) => r.writtenAtMs >= from && r.writtenAtMs < from + windowMs)
          .map((r) => r.committedAtMs - r.writtenAtMs)
          .sort((a, b) => a - b);
        if (lags.length > 0) windowP99Ms.push(round(percentile(lags, 99), 0));
      }
      const flat = isFlat({ rate, achievedRate: w.achievedRate, caughtUpSeconds, windowP99Ms });
      const capture = arrivals.captureLags(writer.commitTimes, w.startedAtMs, w.endedAtMs);
      const step: PacedStep = {
        rate,
        seconds: round(w.seconds, 1),
        rowsWritten: w.rows,
        achievedRate: w.achievedRate,
        lag: lagFigures(rows),
        captureLag:
          capture.length === 0
            ? null
            : {
                rows: capture.length,
                p50Ms: round(percentile(capture, 50), 0),
                p99Ms: round(percentile(capture, 99), 0),
              },
        windowP99Ms,
        caughtUpSeconds: caughtUpSeconds === null ? null : round(caughtUpSeconds, 1),
        flat,
      };
      steps.push(step);
      log(
        `  paced ${rate}: achieved ${w.achievedRate} rows/s, lag ${JSON.stringify(step.lag)}, capture ${JSON.stringify(step.captureLag)}, flat ${flat}`,
      );
      if (caughtUpSeconds === null) break;
    }
    // Every row (deletes too) must be on the target: same checksum as the source.
    const deadline = Date.now() + 120_000;
    for (;;) {
      const s = await tableFingerprint(stack.sourceDatabaseUrl, `public.${PACED_TABLE}`, 'id');
      const t = await tableFingerprint(targetUrl, `public.${PACED_TABLE}`, 'id');
      if (s.rows === t.rows && s.md5 === t.md5) break;
      if (Date.now() > deadline) {
        return {
          ok: false,
          error: `target checksum differs from the source: source ${s.rows} rows ${s.md5}, target ${t.rows} rows ${t.md5}`,
          steps: [],
          highestFlatRate: null,
        };
      }
      await sleep(1000);
    }
    const flatRates = steps.filter((s) => s.flat).map((s) => s.rate);
    return {
      ok: true,
      steps,
      highestFlatRate: flatRates.length ? Math.max(...flatRates) : null,
      checksum: 'equal',
    };
  } finally {
    await arrivals?.stop();
    await pgferry?.stop();
    await removeBenchConnector(stack.connectUrl, source, connector);
    await watcher?.stop();
    await source.end();
    await writer.close(!settings.keep);
  }
}

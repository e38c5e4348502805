// Progress of `pgferry run` as a person watches it: samples the metrics each tick and turns the
// difference between the newest sample and one a window ago into rates, per-table progress
// against the source's row estimates, and ETAs. The arithmetic is pure (buildProgressSnapshot);
// the tracker only keeps the samples of the window.
import type { PgferryMetrics } from '../../core/metrics.js';
import {
  type HistogramReading,
  type ProgressSample,
  readProgressSample,
} from './progress-sample.js';

/** Ops that create a row in the target: a snapshot read or an insert. */
const ROW_CREATING_OPS = ['r', 'c'];

export interface TableProgress {
  /** Source table, schema.table (the `table` label of the metrics). */
  table: string;
  /** Rows created in the target by this process: snapshot reads + inserts. */
  rows: number;
  /** Every change applied to the table by this process (all ops). */
  changes: number;
  /** Changes applied within the window (the activity the list is sorted by). */
  changesInWindow: number;
  /** Rows created per second over the window. */
  rowsPerSecond: number;
  /** The source's estimate (pg_class.reltuples); null when unknown or SOURCE_DB_* is not set. */
  estimatedRows: number | null;
  /** rows / estimatedRows, capped at 100; null without an estimate. */
  percent: number | null;
  /** Seconds until rows reach the estimate at the current rate; null when not below it or idle. */
  etaSeconds: number | null;
  stopped: boolean;
}

/**
 * Where the largest value lies, from the histogram's buckets (the metrics keep buckets, not
 * values): at most `le`, or above the last finite bound `gt`.
 */
export type BucketBound = { le: number } | { gt: number };

export interface Summary {
  mean: number | null;
  /** null when the window had no observation. */
  max: BucketBound | null;
}

export interface ProgressSnapshot {
  atMs: number;
  uptimeSeconds: number;
  /** Seconds between the two samples the window figures come from (0 on the first tick). */
  windowSeconds: number;
  state: string;
  paused: boolean;
  pausing: boolean;
  stoppedTables: { table: string; reason: string }[];
  /** Row changes applied per second over the window (every op). */
  rowsPerSecond: number;
  changesInWindow: number;
  changesInWindowByOp: Record<string, number>;
  changesTotal: number;
  changesTotalByOp: Record<string, number>;
  batchesInWindow: { applied: number; replayed: number; failed: number };
  batchesTotal: number;
  batchRows: Summary;
  applySeconds: Summary;
  retriesInWindow: number;
  retriesTotal: number;
  dlqInWindow: number;
  dlqTotal: number;
  consumerLag: number | null;
  /** Now − source commit time of the newest change applied (grows while idle). */
  endToEndLagSeconds: number | null;
  /** Over the window's applied batches, from the histogram's buckets. */
  endToEndLagP50Seconds: number | null;
  endToEndLagMax: BucketBound | null;
  tables: TableProgress[];
}

export interface RunnerView {
  readonly state: string;
  readonly pauseStatus: { paused: boolean; pausing: boolean };
  /** topic -> reason. */
  readonly stoppedTopics: ReadonlyMap<string, string>;
  readonly topics: readonly string[];
}

export interface ProgressContext {
  startedAtMs: number;
  state: string;
  paused: boolean;
  pausing: boolean;
  /** topic -> reason. */
  stoppedTopics: ReadonlyMap<string, string>;
  /** Subscribed topics: their tables are listed before their first change. */
  topics: readonly string[];
  /** schema.table -> estimated rows on the source. */
  estimates: ReadonlyMap<string, number>;
}

/** delta / seconds; 0 when no time has passed. */
export function computeRate(delta: number, seconds: number): number {
  return seconds > 0 ? delta / seconds : 0;
}

/** rows / estimate in percent, capped at 100 (estimates lag behind); null without an estimate. */
export function computePercent(rows: number, estimate: number | null): number | null {
  if (estimate === null || !(estimate > 0)) return null;
  return Math.min(100, (rows / estimate) * 100);
}

/** Seconds until `rows` reaches `estimate` at `ratePerSecond`; null when not below it or idle. */
export function estimateEtaSeconds(
  rows: number,
  estimate: number | null,
  ratePerSecond: number,
): number | null {
  if (estimate === null || rows >= estimate || !(ratePerSecond > 0)) return null;
  return (estimate - rows) / ratePerSecond;
}

/** `to` − `from`, bucket by bucket (both cumulative, same buckets). */
export function diffHistogram(from: HistogramReading, to: HistogramReading): HistogramReading {
  return {
    buckets: to.buckets.map((b) => ({
      le: b.le,
      count: b.count - (from.buckets.find((f) => f.le === b.le)?.count ?? 0),
    })),
    sum: to.sum - from.sum,
    count: to.count - from.count,
  };
}

/**
 * The q-quantile as Prometheus' histogram_quantile estimates it: linear within the bucket that
 * holds the rank; in the +Inf bucket, the highest finite bound. Null for an empty histogram.
 */
export function estimateQuantile(q: number, histogram: HistogramReading): number | null {
  if (histogram.count <= 0 || histogram.buckets.length === 0) return null;
  const rank = q * histogram.count;
  let lower = 0;
  let below = 0;
  for (const bucket of histogram.buckets) {
    if (bucket.count >= rank) {
      if (bucket.le === Number.POSITIVE_INFINITY) return lower;
      const inBucket = bucket.count - below;
      return inBucket > 0 ? lower + ((bucket.le - lower) * (rank - below)) / inBucket : bucket.le;
    }
    lower = bucket.le;
    below = bucket.count;
  }
  return lower;
}

/** The mean and the bucket bound of the largest value; nulls for an empty histogram. */
export function summarizeHistogram(histogram: HistogramReading): Summary {
  if (histogram.count <= 0) return { mean: null, max: null };
  const mean = histogram.sum / histogram.count;
  const top = histogram.buckets.find((b) => b.count >= histogram.count);
  if (top !== undefined && top.le !== Number.POSITIVE_INFINITY)
    return { mean, max: { le: top.le } };
  const finite = histogram.buckets.filter((b) => b.le !== Number.POSITIVE_INFINITY);
  const last = finite[finite.length - 1];
  return { mean, max: last === undefined ? null : { gt: last.le } };
}

/** `<prefix>.<schema>.<table>` -> schema.table; null for a topic of another shape. */
export function tableOfTopic(topic: string): string | null {
  const parts = topic.split('.');
  if (parts.length < 3) return null;
  return `${parts[parts.length - 2]}.${parts[parts.length - 1]}`;
}

export function buildProgressSnapshot(
  baseline: ProgressSample,
  latest: ProgressSample,
  context: ProgressContext,
): ProgressSnapshot {
  const seconds = Math.max(0, (latest.atMs - baseline.atMs) / 1000);
  const stoppedTables = [...context.stoppedTopics].map(([topic, reason]) => ({
    table: tableOfTopic(topic) ?? topic,
    reason,
  }));
  const stopped = new Set(stoppedTables.map((t) => t.table));
  const names = new Set([
    ...Object.keys(latest.applied),
    ...context.topics.map(tableOfTopic).filter((t): t is string => t !== null),
    ...stopped,
  ]);
  const changesTotalByOp: Record<string, number> = {};
  const changesInWindowByOp: Record<string, number> = {};
  const tables: TableProgress[] = [];
  for (const table of names) {
    const now = latest.applied[table] ?? {};
    const before = baseline.applied[table] ?? {};
    let changes = 0;
    let changesInWindow = 0;
    let rows = 0;
    let rowsInWindow = 0;
    for (const [op, count] of Object.entries(now)) {
      // Every op's series of a table exists from its first change on, at 0 until that op comes.
      if (count === 0) continue;
      const delta = count - (before[op] ?? 0);
      changes += count;
      changesInWindow += delta;
      changesTotalByOp[op] = (changesTotalByOp[op] ?? 0) + count;
      if (delta > 0) changesInWindowByOp[op] = (changesInWindowByOp[op] ?? 0) + delta;
      if (ROW_CREATING_OPS.includes(op)) {
        rows += count;
        rowsInWindow += delta;
      }
    }
    // Rows against the source's size mean something only for a table whose snapshot this process
    // copies (or has yet to start): after a restart (offsets stored) or with several processes in
    // the group, its own count of a table it only sees live changes of is a fraction of the
    // estimate, and the ETA would be nonsense.
    const liveOnly = (now.r ?? 0) === 0 && changes > 0;
    const estimatedRows = liveOnly ? null : (context.estimates.get(table) ?? null);
    const rowsPerSecond = computeRate(rowsInWindow, seconds);
    tables.push({
      table,
      rows,
      changes,
      changesInWindow,
      rowsPerSecond,
      estimatedRows,
      percent: computePercent(rows, estimatedRows),
      etaSeconds: estimateEtaSeconds(rows, estimatedRows, rowsPerSecond),
      stopped: stopped.has(table),
    });
  }
  // Busiest first; then the largest; then by name, so the order is stable while idle.
  tables.sort(
    (a, b) =>
      b.changesInWindow - a.changesInWindow ||
      b.changes - a.changes ||
      a.table.localeCompare(b.table),
  );
  const changesTotal = sumValues(changesTotalByOp);
  const changesInWindow = sumValues(changesInWindowByOp);
  const lagWindow = diffHistogram(baseline.endToEndLag, latest.endToEndLag);
  return {
    atMs: latest.atMs,
    uptimeSeconds: Math.max(0, (latest.atMs - context.startedAtMs) / 1000),
    windowSeconds: seconds,
    state: context.state,
    paused: context.paused,
    pausing: context.pausing,
    stoppedTables,
    rowsPerSecond: computeRate(changesInWindow, seconds),
    changesInWindow,
    changesInWindowByOp,
    changesTotal,
    changesTotalByOp,
    batchesInWindow: {
      applied: latest.batches.applied - baseline.batches.applied,
      replayed: latest.batches.replayed - baseline.batches.replayed,
      failed: latest.batches.failed - baseline.batches.failed,
    },
    batchesTotal: latest.batches.applied + latest.batches.replayed + latest.batches.failed,
    batchRows: summarizeHistogram(diffHistogram(baseline.batchRows, latest.batchRows)),
    applySeconds: summarizeHistogram(diffHistogram(baseline.applySeconds, latest.applySeconds)),
    retriesInWindow: latest.retries - baseline.retries,
    retriesTotal: latest.retries,
    dlqInWindow: latest.dlqMessages - baseline.dlqMessages,
    dlqTotal: latest.dlqMessages,
    consumerLag: latest.consumerLag,
    endToEndLagSeconds:
      latest.newestSourceTsMs === null
        ? null
        : Math.max(0, (latest.atMs - latest.newestSourceTsMs) / 1000),
    endToEndLagP50Seconds: estimateQuantile(0.5, lagWindow),
    endToEndLagMax: summarizeHistogram(lagWindow).max,
    tables,
  };
}

function sumValues(counts: Record<string, number>): number {
  return Object.values(counts).reduce((n, v) => n + v, 0);
}

/**
 * Samples the metrics on each `tick` and keeps what the window needs: the newest sample at least
 * `windowMs` old (minus a little slack for timer drift) is the baseline of the rates; with
 * `windowMs` 0, the previous tick's sample.
 */
export class ProgressTracker {
  private readonly samples: ProgressSample[] = [];
  private readonly startedAtMs: number;

  constructor(
    private readonly options: {
      metrics: PgferryMetrics;
      runner: RunnerView;
      estimates: () => ReadonlyMap<string, number>;
      windowMs: number;
      now?: () => number;
    },
  ) {
    this.startedAtMs = this.now();
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  async tick(): Promise<ProgressSnapshot> {
    const latest = await readProgressSample(this.options.metrics, this.now());
    this.samples.push(latest);
    const slack = Math.min(1000, this.options.windowMs / 2);
    const oldEnough = latest.atMs - this.options.windowMs + slack;
    while (this.samples.length > 2 && (this.samples[1] as ProgressSample).atMs <= oldEnough) {
      this.samples.shift();
    }
    const baseline = this.samples.length > 1 ? (this.samples[0] as ProgressSample) : latest;
    const { runner } = this.options;
    return buildProgressSnapshot(baseline, latest, {
      startedAtMs: this.startedAtMs,
      state: runner.state,
      paused: runner.pauseStatus.paused,
      pausing: runner.pauseStatus.pausing,
      stoppedTopics: runner.stoppedTopics,
      topics: runner.topics,
      estimates: this.options.estimates(),
    });
  }
}

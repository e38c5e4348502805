// One reading of the metrics `pgferry run` already keeps (core/metrics.ts): the cumulative
// counters and histograms at one instant. Progress is the difference of two readings, so nothing
// on the data path counts twice.
import type { Counter, Gauge, Histogram } from 'prom-client';
import type { PgferryMetrics } from '../../core/metrics.js';

/** A histogram's cumulative bucket counts (upper bound `le`, +Inf last), sum and count. */
export interface HistogramReading {
  buckets: { le: number; count: number }[];
  sum: number;
  count: number;
}

export interface ProgressSample {
  atMs: number;
  /** Changes applied by table (schema.table), then op (c r u d t). */
  applied: Record<string, Record<string, number>>;
  batches: { applied: number; replayed: number; failed: number };
  batchRows: HistogramReading;
  applySeconds: HistogramReading;
  endToEndLag: HistogramReading;
  dlqMessages: number;
  retries: number;
  /** Summed over partitions; null until the lag monitor's first measurement. */
  consumerLag: number | null;
  /** Source commit time (ms) of the newest change applied, over all tables; null before any. */
  newestSourceTsMs: number | null;
}

export async function readProgressSample(
  metrics: PgferryMetrics,
  atMs: number,
): Promise<ProgressSample> {
  const applied: Record<string, Record<string, number>> = {};
  for (const v of (await metrics.changesApplied.get()).values) {
    const table = String(v.labels.table);
    const ops = applied[table] ?? {};
    ops[String(v.labels.op)] = v.value;
    applied[table] = ops;
  }
  const batches = { applied: 0, replayed: 0, failed: 0 };
  for (const v of (await metrics.batches.get()).values) {
    const outcome = String(v.labels.outcome);
    if (outcome === 'applied' || outcome === 'replayed' || outcome === 'failed')
      batches[outcome] += v.value;
  }
  const lag = (await metrics.consumerLag.get()).values;
  const newest = (await metrics.lastAppliedSourceTs.get()).values.map((v) => v.value);
  return {
    atMs,
    applied,
    batches,
    batchRows: await readHistogram(metrics.batchRows),
    applySeconds: await readHistogram(metrics.batchApplySeconds),
    endToEndLag: await readHistogram(metrics.endToEndLagHistogram),
    dlqMessages: await sumValues(metrics.dlqMessages),
    retries: await sumValues(metrics.retries),
    consumerLag: lag.length === 0 ? null : lag.reduce((n, v) => n + v.value, 0),
    newestSourceTsMs: newest.length === 0 ? null : Math.max(...newest) * 1000,
  };
}

async function sumValues(metric: Counter | Gauge): Promise<number> {
  return (await metric.get()).values.reduce((n, v) => n + v.value, 0);
}

async function readHistogram(metric: Histogram): Promise<HistogramReading> {
  const reading: HistogramReading = { buckets: [], sum: 0, count: 0 };
  for (const v of (await metric.get()).values) {
    const name = (v as { metricName?: string }).metricName ?? '';
    if (name.endsWith('_bucket')) {
      const le = v.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(v.labels.le);
      reading.buckets.push({ le, count: v.value });
    } else if (name.endsWith('_sum')) reading.sum = v.value;
    else if (name.endsWith('_count')) reading.count = v.value;
  }
  reading.buckets.sort((a, b) => a.le - b.le);
  return reading;
}

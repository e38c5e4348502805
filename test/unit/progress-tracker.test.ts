import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../core/metrics.js';
import {
  buildProgressSnapshot,
  computePercent,
  computeRate,
  estimateEtaSeconds,
  estimateQuantile,
  ProgressTracker,
  summarizeHistogram,
  tableOfTopic,
} from '../../ops/progress/progress-tracker.js';
import { BASELINE, CONTEXT, LATEST } from './progress-fixtures.js';

const INF = Number.POSITIVE_INFINITY;

describe('rate, percentage and ETA arithmetic', () => {
  it('computes a rate per second, 0 when no time has passed', () => {
    expect(computeRate(3100, 10)).toBe(310);
    expect(computeRate(5, 0)).toBe(0);
  });

  it('gives the percentage of the estimate, capped at 100, null without an estimate', () => {
    expect(computePercent(4100, 10_000)).toBeCloseTo(41, 10);
    expect(computePercent(12_000, 10_000)).toBe(100);
    expect(computePercent(10, null)).toBeNull();
    expect(computePercent(10, 0)).toBeNull();
  });

  it('estimates the time left at the current rate only while below the estimate and moving', () => {
    expect(estimateEtaSeconds(4100, 10_000, 310)).toBeCloseTo(5900 / 310, 10);
    expect(estimateEtaSeconds(10_000, 10_000, 310)).toBeNull();
    expect(estimateEtaSeconds(100, 10_000, 0)).toBeNull();
    expect(estimateEtaSeconds(100, null, 50)).toBeNull();
  });

  it('estimates quantiles like histogram_quantile and bounds the largest value by its bucket', () => {
    const h = {
      buckets: [
        { le: 0.5, count: 0 },
        { le: 1, count: 2 },
        { le: 5, count: 4 },
        { le: INF, count: 4 },
      ],
      sum: 6,
      count: 4,
    };
    expect(estimateQuantile(0.5, h)).toBe(1);
    expect(estimateQuantile(0.25, h)).toBe(0.75);
    expect(estimateQuantile(0.75, h)).toBe(3);
    expect(summarizeHistogram(h)).toEqual({ mean: 1.5, max: { le: 5 } });
    const beyond = {
      buckets: [
        { le: 1, count: 1 },
        { le: INF, count: 2 },
      ],
      sum: 30,
      count: 2,
    };
    expect(estimateQuantile(0.99, beyond)).toBe(1);
    expect(summarizeHistogram(beyond)).toEqual({ mean: 15, max: { gt: 1 } });
    expect(summarizeHistogram({ buckets: [], sum: 0, count: 0 })).toEqual({
      mean: null,
      max: null,
    });
    expect(estimateQuantile(0.5, { buckets: [], sum: 0, count: 0 })).toBeNull();
  });

  it('maps a topic to its source table', () => {
    expect(tableOfTopic('cdc.public.orders')).toBe('public.orders');
    expect(tableOfTopic('a.b.app.orders')).toBe('app.orders');
    expect(tableOfTopic('orders')).toBeNull();
  });
});

describe('buildProgressSnapshot', () => {
  const s = buildProgressSnapshot(BASELINE, LATEST, CONTEXT);

  it('takes throughput, ops, batches and errors from the difference of two samples', () => {
    expect(s.windowSeconds).toBe(10);
    expect(s.uptimeSeconds).toBe(75);
    expect(s.changesInWindow).toBe(3124);
    expect(s.rowsPerSecond).toBeCloseTo(312.4, 10);
    expect(s.changesInWindowByOp).toEqual({ r: 3000, c: 120, u: 4 });
    expect(s.changesTotal).toBe(4134);
    expect(s.changesTotalByOp).toEqual({ r: 4000, c: 130, u: 4 });
    expect(s.batchesInWindow).toEqual({ applied: 4, replayed: 1, failed: 0 });
    expect(s.batchesTotal).toBe(8);
    expect(s.batchRows).toEqual({ mean: 781.25, max: { le: 1000 } });
    expect(s.applySeconds.mean).toBeCloseTo(0.1, 10);
    expect(s.applySeconds.max).toEqual({ gt: 0.1 });
    expect(s.retriesInWindow).toBe(4);
    expect(s.retriesTotal).toBe(4);
    expect(s.dlqInWindow).toBe(2);
    expect(s.dlqTotal).toBe(3);
    expect(s.consumerLag).toBe(1234);
    expect(s.endToEndLagSeconds).toBe(2.5);
    expect(s.endToEndLagP50Seconds).toBe(1);
    expect(s.endToEndLagMax).toEqual({ le: 5 });
    expect(s.stoppedTables).toEqual([
      { table: 'public.broken', reason: 'incompatible schema change' },
    ]);
  });

  it('lists every table, the busiest first, with rows against the estimate', () => {
    expect(s.tables.map((t) => t.table)).toEqual([
      'public.orders',
      'public.users',
      'public.audit',
      'public.broken',
    ]);
    const [orders, users, audit, broken] = s.tables;
    expect(orders).toMatchObject({
      rows: 4100,
      changes: 4100,
      changesInWindow: 3100,
      rowsPerSecond: 310,
      estimatedRows: 10_000,
      stopped: false,
    });
    expect(orders?.percent).toBeCloseTo(41, 10);
    expect(orders?.etaSeconds).toBeCloseTo(5900 / 310, 10);
    // Updates are changes, not rows.
    expect(users).toMatchObject({ rows: 30, changes: 34, changesInWindow: 24, rowsPerSecond: 2 });
    expect(users).toMatchObject({ estimatedRows: null, percent: null, etaSeconds: null });
    expect(audit).toMatchObject({ rows: 0, estimatedRows: 500, percent: 0, etaSeconds: null });
    expect(broken).toMatchObject({ rows: 0, stopped: true });
  });
});

describe('ProgressTracker', () => {
  it('reads the metrics and keeps the baseline about one window back', async () => {
    const metrics = createMetrics();
    let now = 1_000_000;
    const tracker = new ProgressTracker({
      metrics,
      runner: {
        state: 'running',
        pauseStatus: { paused: false, pausing: false },
        stoppedTopics: new Map(),
        topics: ['cdc.public.t'],
      },
      estimates: () => new Map([['public.t', 100]]),
      windowMs: 3000,
      now: () => now,
    });
    const first = await tracker.tick();
    expect(first.windowSeconds).toBe(0);
    expect(first.tables).toMatchObject([{ table: 'public.t', rows: 0, percent: 0 }]);
    expect(first.consumerLag).toBeNull();
    for (let i = 1; i <= 5; i++) {
      now += 1000;
      // The table's snapshot: rows against the estimate.
      metrics.changesApplied.inc({ table: 'public.t', op: 'r' }, 10);
      metrics.batches.inc({ outcome: 'applied' });
      metrics.batchRows.observe(10);
      metrics.batchApplySeconds.observe(0.02);
    }
    metrics.consumerLag.set({ topic: 'cdc.public.t', partition: '0' }, 7);
    metrics.consumerLag.set({ topic: 'cdc.public.t', partition: '1' }, 3);
    const fifth = await tracker.tick();
    // Only two samples so far: the baseline is the first one, 5 s back.
    expect(fifth.windowSeconds).toBe(5);
    expect(fifth.changesInWindow).toBe(50);
    expect(fifth.rowsPerSecond).toBe(10);
    expect(fifth.consumerLag).toBe(10);
    expect(fifth.batchRows).toEqual({ mean: 10, max: { le: 10 } });
    expect(fifth.applySeconds.max).toEqual({ le: 0.025 });
    expect(fifth.tables[0]).toMatchObject({ rows: 50, percent: 50, etaSeconds: 5 });
    for (let i = 0; i < 4; i++) {
      now += 1000;
      metrics.changesApplied.inc({ table: 'public.t', op: 'c' }, 5);
      await tracker.tick();
    }
    const last = await tracker.tick();
    // Ticks at 5, 6, 7, 8, 9 and 9 s again: the baseline is the newest sample at least the
    // window minus 1 s of slack for timer drift back (7 s).
    expect(last.windowSeconds).toBe(2);
    expect(last.rowsPerSecond).toBe(5);
    expect(last.changesTotal).toBe(70);
  });

  it('shows no estimate, percentage or ETA for a table it only sees live changes of', async () => {
    const metrics = createMetrics();
    let now = 0;
    const tracker = new ProgressTracker({
      metrics,
      runner: {
        state: 'running',
        pauseStatus: { paused: false, pausing: false },
        stoppedTopics: new Map(),
        topics: ['cdc.public.t'],
      },
      estimates: () => new Map([['public.t', 1_000_000]]),
      windowMs: 3000,
      now: () => now,
    });
    await tracker.tick();
    now += 1000;
    // After a restart: offsets were stored, so only live inserts arrive, never the snapshot.
    metrics.changesApplied.inc({ table: 'public.t', op: 'c' }, 40);
    const snapshot = await tracker.tick();
    expect(snapshot.tables[0]).toMatchObject({
      rows: 40,
      estimatedRows: null,
      percent: null,
      etaSeconds: null,
    });
  });

  it('with a window of 0, measures from the previous tick however close it is', async () => {
    const metrics = createMetrics();
    let now = 0;
    const tracker = new ProgressTracker({
      metrics,
      runner: {
        state: 'running',
        pauseStatus: { paused: false, pausing: false },
        stoppedTopics: new Map(),
        topics: [],
      },
      estimates: () => new Map(),
      windowMs: 0,
      now: () => now,
    });
    let sum = 0;
    for (const [at, n] of [
      [0, 0],
      [2000, 7],
      [4000, 5],
      [4100, 3],
    ] as const) {
      now = at;
      if (n > 0) metrics.changesApplied.inc({ table: 'public.t', op: 'c' }, n);
      sum += (await tracker.tick()).changesInWindow;
    }
    // The intervals tile: nothing counted twice, nothing missed.
    expect(sum).toBe(15);
  });
});

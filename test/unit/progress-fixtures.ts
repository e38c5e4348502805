// Two metric samples ten seconds apart and the context they are read in, for the progress tests.
import type { ProgressSample } from '../../ops/progress/progress-sample.js';
import type { ProgressContext } from '../../ops/progress/progress-tracker.js';

const INF = Number.POSITIVE_INFINITY;
export const T0 = Date.parse('2025-01-01T00:00:00Z');
export const T1 = T0 + 10_000;

export const BASELINE: ProgressSample = {
  atMs: T0,
  applied: { 'public.orders': { r: 1000 }, 'public.users': { c: 10 } },
  batches: { applied: 3, replayed: 0, failed: 0 },
  batchRows: {
    buckets: [
      { le: 100, count: 2 },
      { le: 1000, count: 3 },
      { le: INF, count: 3 },
    ],
    sum: 1100,
    count: 3,
  },
  applySeconds: {
    buckets: [
      { le: 0.01, count: 1 },
      { le: 0.1, count: 3 },
      { le: INF, count: 3 },
    ],
    sum: 0.1,
    count: 3,
  },
  endToEndLag: {
    buckets: [
      { le: 0.5, count: 0 },
      { le: 1, count: 0 },
      { le: 5, count: 0 },
      { le: INF, count: 0 },
    ],
    sum: 0,
    count: 0,
  },
  dlqMessages: 1,
  retries: 0,
  consumerLag: 5000,
  newestSourceTsMs: T0 - 1000,
};

export const LATEST: ProgressSample = {
  atMs: T1,
  applied: {
    // Every op's series of a table exists from its first change on (at 0 until that op comes).
    'public.orders': { r: 4000, c: 100, u: 0, d: 0, t: 0 },
    'public.users': { c: 30, u: 4, r: 0, d: 0, t: 0 },
  },
  batches: { applied: 7, replayed: 1, failed: 0 },
  batchRows: {
    buckets: [
      { le: 100, count: 2 },
      { le: 1000, count: 7 },
      { le: INF, count: 7 },
    ],
    sum: 4225,
    count: 7,
  },
  applySeconds: {
    buckets: [
      { le: 0.01, count: 1 },
      { le: 0.1, count: 6 },
      { le: INF, count: 7 },
    ],
    sum: 0.5,
    count: 7,
  },
  endToEndLag: {
    buckets: [
      { le: 0.5, count: 0 },
      { le: 1, count: 2 },
      { le: 5, count: 4 },
      { le: INF, count: 4 },
    ],
    sum: 6,
    count: 4,
  },
  dlqMessages: 3,
  retries: 4,
  consumerLag: 1234,
  newestSourceTsMs: T1 - 2500,
};

export const CONTEXT: ProgressContext = {
  startedAtMs: T1 - 75_000,
  state: 'running',
  paused: false,
  pausing: false,
  stoppedTopics: new Map([['cdc.public.broken', 'incompatible schema change']]),
  topics: ['cdc.public.orders', 'cdc.public.users', 'cdc.public.audit', 'cdc.public.broken'],
  estimates: new Map([
    ['public.orders', 10_000],
    ['public.audit', 500],
  ]),
};

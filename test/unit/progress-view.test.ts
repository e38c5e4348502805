import { describe, expect, it } from 'vitest';
import { summarizeProgressForLog } from '../../ops/progress/progress-log.js';
import { buildProgressSnapshot } from '../../ops/progress/progress-tracker.js';
import {
  formatDuration,
  formatMilliseconds,
  formatProgressSummary,
  formatProgressView,
  formatRate,
} from '../../ops/progress/progress-view.js';
import { BASELINE, CONTEXT, LATEST, T1 } from './progress-fixtures.js';

const snapshot = buildProgressSnapshot(BASELINE, LATEST, CONTEXT);

describe('formatProgressView', () => {
  it('renders the header figures and the tables, busiest first', () => {
    expect(formatProgressView(snapshot, { maxTables: 10 })).toEqual([
      'pgferry run  running  up 1m15s  1 table STOPPED',
      'applied  312 rows/s (last 10s)  total 4,134 (r 4,000, c 130, u 4)',
      'lag      consumer 1,234 messages  end-to-end 2.5s (p50 1.0s, max ≤5.0s)',
      'batches  4 in 10s  rows mean 781, max ≤1,000  apply mean 100ms, max >100ms',
      'errors   retries 4  dead-lettered 3',
      'stopped  public.broken: incompatible schema change',
      '  TABLE                     ROWS  ESTIMATE   DONE  ROWS/S  ETA',
      '  public.orders            4,100   ~10,000  41.0%     310  19s',
      '  public.users                30         -      -     2.0    -',
      '  public.audit                 0      ~500   0.0%     0.0    -',
      '  public.broken (stopped)      0         -      -     0.0    -',
    ]);
  });

  it('caps the table list and sums up the rest', () => {
    expect(formatProgressView(snapshot, { maxTables: 2 }).slice(6)).toEqual([
      '  TABLE           ROWS  ESTIMATE   DONE  ROWS/S  ETA',
      '  public.orders  4,100   ~10,000  41.0%     310  19s',
      '  public.users      30         -      -     2.0    -',
      '  + 2 more tables (0 rows)',
    ]);
  });

  it('shows a paused, idle process before anything was measured', () => {
    const first = buildProgressSnapshot(LATEST, LATEST, {
      ...CONTEXT,
      paused: true,
      stoppedTopics: new Map(),
      topics: [],
    });
    const idle = { ...first, consumerLag: null, tables: [] };
    expect(formatProgressView(idle, { maxTables: 10 })).toEqual([
      'pgferry run  PAUSED  up 1m15s',
      'applied  0.0 rows/s (last 0s)  total 4,134 (r 4,000, c 130, u 4)',
      'lag      consumer ? messages  end-to-end 2.5s (idle)',
      'batches  0 in 0s',
      'errors   retries 4  dead-lettered 3',
      'tables   none yet',
    ]);
  });
});

describe('formatProgressSummary', () => {
  it('is one line of totals', () => {
    expect(formatProgressSummary({ ...snapshot, state: 'stopped' })).toBe(
      'pgferry run stopped after 1m15s: 4,134 changes applied (r 4,000, c 130, u 4), 8 batches, 4 retries, 3 dead-lettered',
    );
  });
});

describe('summarizeProgressForLog', () => {
  it('has the interval figures, the totals, errors and lag', () => {
    expect(summarizeProgressForLog(snapshot)).toEqual({
      state: 'running',
      paused: false,
      stoppedTables: ['public.broken'],
      intervalSeconds: 10,
      rowsPerSecond: 312.4,
      applied: 3124,
      appliedByOp: { r: 3000, c: 120, u: 4 },
      appliedTotal: 4134,
      appliedTotalByOp: { r: 4000, c: 130, u: 4 },
      batches: 4,
      batchesReplayed: 1,
      batchesFailed: 0,
      batchRows: { mean: 781.3, max: { le: 1000 } },
      applyMs: { mean: 100, max: { gt: 100 } },
      retries: 4,
      retriesTotal: 4,
      dlq: 2,
      dlqTotal: 3,
      consumerLag: 1234,
      endToEndLagSeconds: 2.5,
      endToEndLagP50Seconds: 1,
      endToEndLagMax: { le: 5 },
      tables: [
        {
          table: 'public.orders',
          applied: 3100,
          rows: 4100,
          estimatedRows: 10000,
          percent: 41,
          etaSeconds: 19,
        },
        { table: 'public.users', applied: 24, rows: 30 },
      ],
    });
  });

  it('marks the last line and survives JSON (no Infinity, no undefined)', () => {
    const quiet = buildProgressSnapshot(LATEST, { ...LATEST, atMs: T1 + 30_000 }, CONTEXT);
    const fields = summarizeProgressForLog(quiet, { final: true });
    expect(fields).toMatchObject({
      final: true,
      intervalSeconds: 30,
      rowsPerSecond: 0,
      applied: 0,
      appliedByOp: {},
      batchRows: { mean: null, max: null },
      applyMs: { mean: null, max: null },
      endToEndLagP50Seconds: null,
      tables: [],
    });
    expect(JSON.parse(JSON.stringify(fields))).toEqual(fields);
  });
});

describe('number formats', () => {
  it('formats rates, durations and milliseconds', () => {
    expect([formatRate(0), formatRate(9.94), formatRate(12_345.6)]).toEqual([
      '0.0',
      '9.9',
      '12,346',
    ]);
    expect([
      formatDuration(0.42),
      formatDuration(42.4),
      formatDuration(75),
      formatDuration(7300),
    ]).toEqual(['0.4s', '42s', '1m15s', '2h01m']);
    expect([
      formatMilliseconds(0.0042),
      formatMilliseconds(0.035),
      formatMilliseconds(2.5),
    ]).toEqual(['4.2ms', '35ms', '2.5s']);
  });
});

// The summary log line `pgferry run` writes every PROGRESS_LOG_SECONDS when no live view is shown
// (CI, systemd, docker): what the brief's consumer printed to stdout — throughput, changes by op,
// batch statistics, errors — plus lag. Pure: the fields of one snapshot.
import type { BucketBound, ProgressSnapshot } from './progress-tracker.js';

export const PROGRESS_LOG_MESSAGE = 'progress';
/** Tables listed in a line: the busiest of the interval. */
const MAX_LOGGED_TABLES = 10;

export interface ProgressLogFields {
  state: string;
  paused: boolean;
  stoppedTables: string[];
  /** Seconds the interval figures cover. */
  intervalSeconds: number;
  /** Row changes applied per second over the interval (every op). */
  rowsPerSecond: number;
  applied: number;
  appliedByOp: Record<string, number>;
  /** Since the process started. */
  appliedTotal: number;
  appliedTotalByOp: Record<string, number>;
  batches: number;
  batchesReplayed: number;
  batchesFailed: number;
  batchRows: { mean: number | null; max: BucketBound | null };
  applyMs: { mean: number | null; max: BucketBound | null };
  retries: number;
  retriesTotal: number;
  dlq: number;
  dlqTotal: number;
  consumerLag: number | null;
  endToEndLagSeconds: number | null;
  endToEndLagP50Seconds: number | null;
  endToEndLagMax: BucketBound | null;
  tables: {
    table: string;
    applied: number;
    rows: number;
    estimatedRows?: number;
    percent?: number;
    etaSeconds?: number;
  }[];
  /** The last line, written at shutdown. */
  final?: true;
}

export function summarizeProgressForLog(
  snapshot: ProgressSnapshot,
  options: { final?: boolean } = {},
): ProgressLogFields {
  const s = snapshot;
  const ms = (bound: BucketBound | null): BucketBound | null => {
    if (bound === null) return null;
    return 'le' in bound ? { le: round(bound.le * 1000) } : { gt: round(bound.gt * 1000) };
  };
  return {
    state: s.state,
    paused: s.paused || s.pausing,
    stoppedTables: s.stoppedTables.map((t) => t.table),
    intervalSeconds: round(s.windowSeconds),
    rowsPerSecond: round(s.rowsPerSecond),
    applied: s.changesInWindow,
    appliedByOp: s.changesInWindowByOp,
    appliedTotal: s.changesTotal,
    appliedTotalByOp: s.changesTotalByOp,
    batches: s.batchesInWindow.applied,
    batchesReplayed: s.batchesInWindow.replayed,
    batchesFailed: s.batchesInWindow.failed,
    batchRows: { mean: roundOrNull(s.batchRows.mean), max: s.batchRows.max },
    applyMs: {
      mean: s.applySeconds.mean === null ? null : round(s.applySeconds.mean * 1000),
      max: ms(s.applySeconds.max),
    },
    retries: s.retriesInWindow,
    retriesTotal: s.retriesTotal,
    dlq: s.dlqInWindow,
    dlqTotal: s.dlqTotal,
    consumerLag: s.consumerLag,
    endToEndLagSeconds: roundOrNull(s.endToEndLagSeconds),
    endToEndLagP50Seconds: roundOrNull(s.endToEndLagP50Seconds),
    endToEndLagMax: s.endToEndLagMax,
    tables: s.tables
      .filter((t) => t.changesInWindow > 0)
      .slice(0, MAX_LOGGED_TABLES)
      .map((t) => ({
        table: t.table,
        applied: t.changesInWindow,
        rows: t.rows,
        ...(t.estimatedRows === null ? {} : { estimatedRows: Math.round(t.estimatedRows) }),
        ...(t.percent === null ? {} : { percent: round(t.percent) }),
        ...(t.etaSeconds === null ? {} : { etaSeconds: Math.round(t.etaSeconds) }),
      })),
    ...(options.final ? { final: true as const } : {}),
  };
}

/** One decimal: enough for rates and seconds in a log line. */
function round(value: number): number {
  return Math.round(value * 10) / 10;
}

function roundOrNull(value: number | null): number | null {
  return value === null ? null : round(value);
}

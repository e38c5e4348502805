// The live view of `pgferry run` on a terminal, and its last line at shutdown. Pure: the same
// snapshot gives the same lines (the terminal layer redraws them in place).
import type { ProgressSnapshot, Summary, TableProgress } from './progress-tracker.js';

export const VIEW_HEADER = 'pgferry run';
/** Ops in the order they are listed (Debezium's codes). */
const OP_ORDER = ['r', 'c', 'u', 'd', 't'];

export interface ProgressViewOptions {
  /** At most this many table lines; the rest are summed up in one line. */
  maxTables: number;
}

export function formatProgressView(
  snapshot: ProgressSnapshot,
  options: ProgressViewOptions,
): string[] {
  const s = snapshot;
  const window = `${Math.round(s.windowSeconds)}s`;
  const stopped = s.stoppedTables.length;
  const lines = [
    `${VIEW_HEADER}  ${describeState(s)}  up ${formatDuration(s.uptimeSeconds)}${
      stopped > 0 ? `  ${stopped} table${stopped === 1 ? '' : 's'} STOPPED` : ''
    }`,
    `applied  ${formatRate(s.rowsPerSecond)} rows/s (last ${window})  total ${formatCount(
      s.changesTotal,
    )}${formatOps(s.changesTotalByOp)}`,
    `lag      consumer ${s.consumerLag === null ? '?' : formatCount(s.consumerLag)} messages  end-to-end ${formatEndToEnd(s)}`,
    `batches  ${formatCount(s.batchesInWindow.applied)} in ${window}${formatBatchFigures(s)}`,
    `errors   retries ${formatCount(s.retriesTotal)}  dead-lettered ${formatCount(s.dlqTotal)}${
      s.batchesInWindow.failed > 0 ? `  failed batches ${s.batchesInWindow.failed}` : ''
    }`,
  ];
  for (const t of s.stoppedTables.slice(0, 3)) lines.push(`stopped  ${t.table}: ${t.reason}`);
  lines.push(...formatTables(s.tables, options.maxTables));
  return lines;
}

/**
 * The line left on the screen when the view is cleared at shutdown: totals only (the consumer
 * lag is left out: it is polled every 10 s, so at shutdown it is stale).
 */
export function formatProgressSummary(snapshot: ProgressSnapshot): string {
  const s = snapshot;
  return `${VIEW_HEADER} ${s.state} after ${formatDuration(s.uptimeSeconds)}: ${formatCount(
    s.changesTotal,
  )} changes applied${formatOps(s.changesTotalByOp)}, ${formatCount(s.batchesTotal)} batches, ${formatCount(
    s.retriesTotal,
  )} retries, ${formatCount(s.dlqTotal)} dead-lettered`;
}

function describeState(s: ProgressSnapshot): string {
  if (s.paused) return 'PAUSED';
  if (s.pausing) return 'pausing';
  return s.state;
}

function formatOps(byOp: Record<string, number>): string {
  const ops = OP_ORDER.filter((op) => (byOp[op] ?? 0) > 0);
  if (ops.length === 0) return '';
  return ` (${ops.map((op) => `${op} ${formatCount(byOp[op] ?? 0)}`).join(', ')})`;
}

function formatEndToEnd(s: ProgressSnapshot): string {
  if (s.endToEndLagSeconds === null) return '-';
  const now = formatDuration(s.endToEndLagSeconds);
  if (s.endToEndLagP50Seconds === null || s.changesInWindow === 0) return `${now} (idle)`;
  const max = formatMax({ mean: null, max: s.endToEndLagMax }, formatDuration);
  return `${now} (p50 ${formatDuration(s.endToEndLagP50Seconds)}${max})`;
}

function formatBatchFigures(s: ProgressSnapshot): string {
  if (s.batchRows.mean === null) return '';
  const rows = `rows mean ${formatRate(s.batchRows.mean)}${formatMax(s.batchRows, formatCount)}`;
  const apply =
    s.applySeconds.mean === null
      ? ''
      : `  apply mean ${formatMilliseconds(s.applySeconds.mean)}${formatMax(
          s.applySeconds,
          formatMilliseconds,
        )}`;
  return `  ${rows}${apply}`;
}

function formatMax(summary: Summary, format: (value: number) => string): string {
  const max = summary.max;
  if (max === null) return '';
  return 'le' in max ? `, max ≤${format(max.le)}` : `, max >${format(max.gt)}`;
}

function formatTables(tables: TableProgress[], maxTables: number): string[] {
  if (tables.length === 0) return ['tables   none yet'];
  const shown = tables.slice(0, Math.max(1, maxTables));
  const rows = shown.map((t) => [
    t.stopped ? `${t.table} (stopped)` : t.table,
    formatCount(t.rows),
    t.estimatedRows === null ? '-' : `~${formatCount(Math.round(t.estimatedRows))}`,
    t.percent === null ? '-' : `${t.percent.toFixed(1)}%`,
    formatRate(t.rowsPerSecond),
    t.etaSeconds === null ? '-' : formatDuration(t.etaSeconds),
  ]);
  const lines = alignColumns(['TABLE', 'ROWS', 'ESTIMATE', 'DONE', 'ROWS/S', 'ETA'], rows);
  const rest = tables.slice(shown.length);
  if (rest.length > 0) {
    const restRows = rest.reduce((n, t) => n + t.rows, 0);
    lines.push(
      `  + ${rest.length} more table${rest.length === 1 ? '' : 's'} (${formatCount(restRows)} rows)`,
    );
  }
  return lines;
}

/** Two-space indent; the first column left-aligned, the numbers right-aligned. */
function alignColumns(headers: string[], rows: string[][]): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const render = (cells: string[]) =>
    `  ${cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ')}`;
  return [render(headers), ...rows.map(render)];
}

const COUNT_FORMAT = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** 12345 -> "12,345". */
export function formatCount(value: number): string {
  return COUNT_FORMAT.format(value);
}

/** 3.25 -> "3.3", 1234.5 -> "1,235". */
export function formatRate(value: number): string {
  return value < 10 ? value.toFixed(1) : formatCount(value);
}

/** Seconds to "0.4s", "42s", "1m15s", "2h01m". */
export function formatDuration(seconds: number): string {
  if (seconds < 10) return `${seconds.toFixed(1)}s`;
  if (seconds < 60) return `${Math.round(seconds)}s`;
  const whole = Math.round(seconds);
  if (whole < 3600) return `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s`;
  const hours = Math.floor(whole / 3600);
  return `${hours}h${String(Math.floor((whole % 3600) / 60)).padStart(2, '0')}m`;
}

/** Seconds to "4.2ms", "35ms", or a duration from 1 s up. */
export function formatMilliseconds(seconds: number): string {
  const ms = seconds * 1000;
  if (ms < 10) return `${ms.toFixed(1)}ms`;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  return formatDuration(seconds);
}

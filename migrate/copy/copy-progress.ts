// What `pgferry copy` has done and how fast, per table and in total: the live view on a terminal
// (redrawn each second), a JSON log line every PROGRESS_LOG_SECONDS elsewhere, and the
// pgferry_copy_* metrics. Rates count this run's committed rows and bytes; the ETA comes from the
// chunks left and this run's chunk rate (chunks of a table hold about the same number of rows).
import type { CopyMetrics } from '../../core/metrics.js';
import type { CopyTableWork } from './copy-plan.js';

interface TableState {
  work: CopyTableWork;
  chunksDone: number;
  rows: number;
  bytes: number;
  /** Bytes streamed for chunks not committed yet (the live rate). */
  bytesInFlight: number;
  chunksThisRun: number;
  failed?: string;
}

export interface CopyTableProgress {
  table: string;
  state: 'pending' | 'copying' | 'done' | 'failed';
  chunksDone: number;
  chunksTotal: number;
  rows: number;
  bytes: number;
  estimatedRows: number;
  rowsPerSecond: number;
  etaSeconds: number | null;
  error?: string;
}

export class CopyProgress {
  private readonly tables = new Map<string, TableState>();
  private readonly started = performance.now();
  private rowsThisRun = 0;
  private bytesThisRun = 0;
  private chunksThisRun = 0;

  constructor(
    work: readonly CopyTableWork[],
    private readonly metrics?: CopyMetrics,
  ) {
    for (const w of work) {
      this.tables.set(w.name, {
        work: w,
        chunksDone: w.chunksDoneBefore,
        rows: w.rowsBefore,
        bytes: w.bytesBefore,
        bytesInFlight: 0,
        chunksThisRun: 0,
      });
      metrics?.chunksTotal.set({ table: w.name }, w.chunksTotal);
      metrics?.chunksDone.set({ table: w.name }, w.chunksDoneBefore);
      metrics?.tablesFailed.set({ table: w.name }, 0);
    }
    metrics?.lastProgress.set(Date.now() / 1000);
  }

  bytes(table: string, bytes: number): void {
    const t = this.tables.get(table);
    if (t) t.bytesInFlight += bytes;
  }

  chunkDone(event: { table: string; rows: number; bytes: number; seconds: number }): void {
    const t = this.tables.get(event.table);
    if (!t) return;
    t.chunksDone += 1;
    t.chunksThisRun += 1;
    t.rows += event.rows;
    t.bytes += event.bytes;
    t.bytesInFlight = Math.max(0, t.bytesInFlight - event.bytes);
    this.rowsThisRun += event.rows;
    this.bytesThisRun += event.bytes;
    this.chunksThisRun += 1;
    const labels = { table: event.table };
    this.metrics?.rows.inc(labels, event.rows);
    this.metrics?.bytes.inc(labels, event.bytes);
    this.metrics?.chunksDone.set(labels, t.chunksDone);
    this.metrics?.chunkSeconds.observe(event.seconds);
    this.metrics?.lastProgress.set(Date.now() / 1000);
  }

  tableFailed(table: string, reason: string): void {
    const t = this.tables.get(table);
    if (t) t.failed = reason;
    this.metrics?.tablesFailed.set({ table }, 1);
  }

  /** Chunks of this table done so far (before this run included). */
  chunksDoneOf(table: string): number {
    return this.tables.get(table)?.chunksDone ?? 0;
  }

  get elapsedSeconds(): number {
    return (performance.now() - this.started) / 1000;
  }

  /** Per table, in plan order. */
  perTable(): CopyTableProgress[] {
    const seconds = Math.max(this.elapsedSeconds, 0.001);
    return [...this.tables.values()].map((t) => {
      const left = t.work.chunksTotal - t.chunksDone;
      const chunkRate = t.chunksThisRun / seconds;
      const state = t.failed
        ? 'failed'
        : left === 0
          ? 'done'
          : t.chunksThisRun > 0 || t.bytesInFlight > 0
            ? 'copying'
            : 'pending';
      return {
        table: t.work.name,
        state,
        chunksDone: t.chunksDone,
        chunksTotal: t.work.chunksTotal,
        rows: t.rows,
        bytes: t.bytes + t.bytesInFlight,
        estimatedRows: t.work.estimatedRows,
        rowsPerSecond: Math.round((t.rows - t.work.rowsBefore) / seconds),
        etaSeconds: left === 0 ? 0 : chunkRate > 0 ? Math.round(left / chunkRate) : null,
        ...(t.failed === undefined ? {} : { error: t.failed }),
      };
    });
  }

  totals() {
    const seconds = Math.max(this.elapsedSeconds, 0.001);
    const tables = this.perTable();
    const chunksLeft = tables.reduce(
      (n, t) => n + (t.state === 'failed' ? 0 : t.chunksTotal - t.chunksDone),
      0,
    );
    const chunkRate = this.chunksThisRun / seconds;
    return {
      tables: tables.length,
      tablesDone: tables.filter((t) => t.state === 'done').length,
      chunksDone: tables.reduce((n, t) => n + t.chunksDone, 0),
      chunksTotal: tables.reduce((n, t) => n + t.chunksTotal, 0),
      rowsThisRun: this.rowsThisRun,
      bytesThisRun: this.bytesThisRun,
      seconds: Number(seconds.toFixed(3)),
      rowsPerSecond: Math.round(this.rowsThisRun / seconds),
      mbPerSecond: Number((this.bytesThisRun / 1e6 / seconds).toFixed(2)),
      etaSeconds: chunksLeft === 0 ? 0 : chunkRate > 0 ? Math.round(chunksLeft / chunkRate) : null,
    };
  }

  /** The terminal view: one line per table still interesting, then the total. */
  viewLines(jobs: number): string[] {
    const t = this.totals();
    const lines = [
      `pgferry copy: ${t.tablesDone}/${t.tables} tables, ${t.chunksDone}/${t.chunksTotal} chunks, ${formatCount(t.rowsThisRun)} rows, ${formatBytes(t.bytesThisRun)} in ${formatSeconds(t.seconds)} — ${formatCount(t.rowsPerSecond)} rows/s, ${t.mbPerSecond} MB/s, ${jobs} job${jobs === 1 ? '' : 's'}, ETA ${formatEta(t.etaSeconds)}`,
    ];
    for (const table of this.perTable()) {
      const pct =
        table.chunksTotal === 0 ? 100 : Math.floor((table.chunksDone / table.chunksTotal) * 100);
      lines.push(
        `  ${table.table.padEnd(28)} ${table.state.padEnd(7)} ${String(pct).padStart(3)}%  chunks ${table.chunksDone}/${table.chunksTotal}  rows ${formatCount(table.rows)}  ${formatBytes(table.bytes)}  ${formatCount(table.rowsPerSecond)} rows/s  ETA ${formatEta(table.etaSeconds)}${table.error ? `  ${table.error}` : ''}`,
      );
    }
    return lines;
  }
}

const formatCount = (n: number): string =>
  n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e4 ? `${(n / 1e3).toFixed(1)}k` : String(n);

export const formatBytes = (n: number): string =>
  n >= 1e9
    ? `${(n / 1e9).toFixed(2)} GB`
    : n >= 1e6
      ? `${(n / 1e6).toFixed(1)} MB`
      : `${(n / 1e3).toFixed(1)} kB`;

const formatSeconds = (s: number): string =>
  s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;

const formatEta = (s: number | null): string =>
  s === null ? '?' : s === 0 ? '-' : formatSeconds(s);

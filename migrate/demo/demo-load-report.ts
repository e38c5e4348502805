// The lines `pgferry demo load` prints: one at the start, one per progress interval, one summary
// at the end. Stable prefixes ("demo load: started", "demo load: done") for scripts and tests.
import type { DemoLoadProgress, DemoLoadSummary } from './demo-load.js';

const formatNumber = (n: number): string => n.toLocaleString('en-US');
const formatRate = (rowsPerSecond: number): string => rowsPerSecond.toFixed(1);
const formatSeconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

function formatRows(p: DemoLoadProgress): string {
  return `${formatNumber(p.rows)} rows (${formatNumber(p.inserted)} inserted, ${formatNumber(p.updated)} updated, ${formatNumber(p.deleted)} deleted)`;
}

export function formatDemoLoadStart(options: {
  rate: number;
  durationMs: number | undefined;
  seed: number;
}): string {
  const until =
    options.durationMs === undefined
      ? 'until SIGINT/SIGTERM (Ctrl-C)'
      : `for ${formatSeconds(options.durationMs)}`;
  return `demo load: started: ${formatRate(options.rate)} rows/s ${until}, seed ${options.seed}`;
}

export function formatDemoLoadProgress(p: DemoLoadProgress): string {
  return `demo load: ${formatSeconds(p.elapsedMs)}: ${formatRows(p)} in ${formatNumber(p.transactions)} transactions, ${formatRate(p.achievedRate)} rows/s`;
}

export function formatDemoLoadSummary(s: DemoLoadSummary): string {
  const why = s.stoppedBy === 'duration' ? 'duration reached' : 'stopped';
  const rolledBack = s.rolledBack > 0 ? `, ${formatNumber(s.rolledBack)} rolled back` : '';
  return `demo load: done (${why}) after ${formatSeconds(s.elapsedMs)}: ${formatRows(s)} in ${formatNumber(s.transactions)} transactions${rolledBack}, ${formatRate(s.achievedRate)} rows/s (target ${formatRate(s.rate)}), seed ${s.seed}`;
}

/** The summary for --json: the counts, with the rate rounded to 0.1 row/s. */
export function toDemoLoadJson(s: DemoLoadSummary) {
  return {
    stoppedBy: s.stoppedBy,
    elapsedSeconds: Math.round(s.elapsedMs / 100) / 10,
    rows: s.rows,
    inserted: s.inserted,
    updated: s.updated,
    deleted: s.deleted,
    transactions: s.transactions,
    rolledBack: s.rolledBack,
    rate: s.rate,
    achievedRate: Math.round(s.achievedRate * 10) / 10,
    seed: s.seed,
  };
}

// Shows `pgferry run`'s progress as planned (ops/progress/progress-mode.ts): the live view redrawn
// every second, or a summary log line every PROGRESS_LOG_SECONDS. Off the data path: it only
// reads the metrics, the runner's state and the source's row estimates, and never throws.
import type { PostgresSettings } from '../../core/config.js';
import type { Logger } from '../../core/logger.js';
import type { PgferryMetrics } from '../../core/metrics.js';
import { startPoller } from '../poller.js';
import { type SourceRowEstimates, startSourceRowEstimates } from './progress-estimates.js';
import { PROGRESS_LOG_MESSAGE, summarizeProgressForLog } from './progress-log.js';
import type { ProgressPlan } from './progress-mode.js';
import type { ProgressTerminal, TerminalSize } from './progress-terminal.js';
import { type ProgressSnapshot, ProgressTracker, type RunnerView } from './progress-tracker.js';
import { formatProgressSummary, formatProgressView } from './progress-view.js';

const VIEW_REFRESH_MS = 1_000;
/** The view's rates are over the last 10 s: steady enough to read, recent enough to react. */
const VIEW_WINDOW_MS = 10_000;
/** Table lines at most, whatever the terminal's height. */
const VIEW_MAX_TABLES = 10;
/** Lines of the view besides the table lines (header lines, table header, "more" line). */
const VIEW_FIXED_LINES = 10;

export interface ProgressReporterOptions {
  plan: ProgressPlan;
  metrics: PgferryMetrics;
  runner: RunnerView;
  log: Logger;
  /** PROGRESS_LOG_SECONDS (log display). */
  logSeconds: number;
  /** SOURCE_DB_*: row estimates for the percentages; none without it. */
  source?: PostgresSettings;
  /** Where the view is drawn (view display). */
  terminal?: ProgressTerminal;
  terminalSize?: () => TerminalSize;
}

export interface ProgressReporter {
  /** Draws or logs the last figures (the view is replaced by one summary line). */
  stop(): Promise<void>;
}

export function startProgressReporter(options: ProgressReporterOptions): ProgressReporter {
  const { plan, log } = options;
  const terminal = options.terminal;
  if (plan.display === 'off' || (plan.display === 'view' && terminal === undefined)) {
    return { stop: async () => undefined };
  }
  let tables: readonly string[] = [];
  const estimates: SourceRowEstimates | undefined = options.source
    ? startSourceRowEstimates({ settings: options.source, tables: () => tables, log })
    : undefined;
  const view = plan.display === 'view';
  const tracker = new ProgressTracker({
    metrics: options.metrics,
    runner: options.runner,
    estimates: () => estimates?.estimates ?? new Map(),
    // A log line covers exactly the time since the previous one (so the lines add up).
    windowMs: view ? VIEW_WINDOW_MS : 0,
  });
  const show = (snapshot: ProgressSnapshot, final: boolean) => {
    tables = snapshot.tables.map((t) => t.table);
    if (view) {
      const t = terminal as ProgressTerminal;
      if (final) t.finish([formatProgressSummary(snapshot)]);
      else t.draw(formatProgressView(snapshot, { maxTables: maxTableLines(options.terminalSize) }));
    } else if (final || snapshot.windowSeconds > 0) {
      log.info(summarizeProgressForLog(snapshot, { final }), PROGRESS_LOG_MESSAGE);
    }
  };
  let inFlight: Promise<void> = Promise.resolve();
  const tick = (final: boolean): Promise<void> => {
    inFlight = inFlight
      .then(() => tracker.tick())
      .then(
        (snapshot) => show(snapshot, final),
        (error: unknown) => log.debug({ err: (error as Error).message }, 'progress sample failed'),
      );
    return inFlight;
  };
  const intervalMs = view ? VIEW_REFRESH_MS : options.logSeconds * 1000;
  // The first tick is the baseline of the first interval (a log line needs two samples).
  const stopPoller = startPoller(() => tick(false), { intervalMs, firstDelayMs: 0 });
  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= (async () => {
        stopPoller();
        estimates?.stop();
        await tick(true);
      })();
      return stopped;
    },
  };
}

function maxTableLines(size: (() => TerminalSize) | undefined): number {
  const rows = size?.().rows;
  if (rows === undefined) return VIEW_MAX_TABLES;
  return Math.max(1, Math.min(VIEW_MAX_TABLES, rows - VIEW_FIXED_LINES));
}

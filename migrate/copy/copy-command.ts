// `pgferry copy`: the initial load, straight from source to target at COPY speed, in parallel,
// resumable, handed over exactly to the Debezium stream (which `pgferry run` applies afterwards).
import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import type pg from 'pg';
import { loadConfig, type PostgresSettings } from '../../core/config.js';
import { PgferryError } from '../../core/errors.js';
import { configureFaultInjection } from '../../core/fault-points.js';
import { createLogger, type Logger } from '../../core/logger.js';
import { createCopyMetrics } from '../../core/metrics.js';
import { connectPg } from '../../core/pg-connection.js';
import { startMetricsServer } from '../../ops/metrics-server.js';
import {
  PROGRESS_MODES,
  type ProgressMode,
  quietLogLevel,
} from '../../ops/progress/progress-mode.js';
import { ProgressTerminal } from '../../ops/progress/progress-terminal.js';
import { SchemaMapping } from '../../pipeline/routing/schema-mapping.js';
import { mapTargetTable } from '../../pipeline/routing/target-table-name.js';
import {
  type CommandContext,
  EXIT_CHECK_FAILED,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  numberOption,
  type RegisterCommand,
  requireSource,
} from '../command-context.js';
import { type Confirmation, confirmDestructive } from '../confirm-destructive.js';
import type { DestructivePlan } from '../destructive-plan.js';
import {
  formatTableName,
  type MigrationTable,
  parseTableList,
  resolveMigrationTables,
} from '../migration-tables.js';
import { buildDeferredIndexes, type IndexBuild } from './copy-indexes.js';
import { CopyRefusedError, type CopyTableWork, planCopy, resetForRestart } from './copy-plan.js';
import { CopyProgress, formatBytes } from './copy-progress.js';
import { planCopyRestart } from './copy-restart-plan.js';
import { copyChunks } from './copy-run.js';
import { CopySnapshot, SlotNotReadyError, waitForSlot } from './copy-snapshot.js';

export const DEFAULT_CHUNK_ROWS = 100_000;
/** Workers by default: the machine's cores, at least 2 (the work is mostly waiting on sockets), at most 8. */
export const defaultJobs = (): number => Math.max(2, Math.min(8, availableParallelism()));

interface CopyCommandOptions {
  tables?: string;
  jobs: number;
  chunkRows: number;
  resume?: boolean;
  restart?: boolean;
  yes?: boolean;
  json?: boolean;
  progress: ProgressMode;
  retryFor: number;
  slotWait: number;
}

export const registerCopyCommand: RegisterCommand = (program, context) => {
  program
    .command('copy')
    .description(
      'initial load: copy the captured tables from source to target with parallel COPY in primary-key chunks from one snapshot taken after the replication slot exists; resumable (run pgferry run afterwards)',
    )
    .option(
      '--tables <list>',
      'comma-separated tables (schema.table or table; default: the publication)',
    )
    .option(
      '--jobs <n>',
      `parallel workers, each a source and a target connection (default: cores, 2 to 8; here ${defaultJobs()})`,
      numberOption({ integer: true, atLeast: 1, atMost: 64 }, 'an integer from 1 to 64'),
      defaultJobs(),
    )
    .option(
      '--chunk-rows <n>',
      'rows per chunk (a primary-key range committed with its done mark)',
      numberOption(
        { integer: true, atLeast: 1, atMost: 100_000_000 },
        'an integer from 1 to 100000000',
      ),
      DEFAULT_CHUNK_ROWS,
    )
    .option('--resume', 'copy only the chunks an earlier run left (the default)')
    .option(
      '--restart',
      'start over: empty the target tables and forget their copy and stream state (asks first)',
    )
    .option('--yes', 'with --restart: do it without asking (without: ask on a terminal, else stop)')
    .option('--json', 'print the report as JSON on stdout')
    .option(
      '--progress <mode>',
      `live view on a terminal (stderr), JSON log lines elsewhere: ${PROGRESS_MODES.join(', ')}`,
      (value: string) => {
        if (!(PROGRESS_MODES as readonly string[]).includes(value)) {
          throw new PgferryError(`--progress: expected one of ${PROGRESS_MODES.join(', ')}`, {
            retriable: false,
          });
        }
        return value as ProgressMode;
      },
      'auto',
    )
    .option(
      '--retry-for <seconds>',
      'retry a chunk through source or target outages for this long before giving up',
      numberOption({ integer: true, atLeast: 0, atMost: 86_400 }, 'seconds from 0 to 86400'),
      300,
    )
    .option(
      '--slot-wait <seconds>',
      'wait this long for the replication slot to exist and be consistent (the connector may still be creating it)',
      numberOption({ integer: true, atLeast: 0, atMost: 86_400 }, 'seconds from 0 to 86400'),
      120,
    )
    .action(async (options: CopyCommandOptions) => {
      if (options.resume && options.restart) {
        context.io.stderr('--resume and --restart exclude each other\n');
        context.setExitCode(EXIT_USAGE);
        return;
      }
      await runCopyCommand(options, context);
    });
};

async function runCopyCommand(options: CopyCommandOptions, context: CommandContext): Promise<void> {
  const { env, io, setExitCode } = context;
  const config = loadConfig(env);
  const sourceSettings = requireSource(config, 'copy');
  const view =
    io.isStderrTty === true && (options.progress === 'auto' || options.progress === 'tty');
  const terminal = view ? new ProgressTerminal(io.stderr, io.terminalSize) : undefined;
  const log = createLogger(
    view ? quietLogLevel(config.log.level) : config.log.level,
    terminal
      ? {
          write: (line: string) =>
            terminal.printAbove(line, (text) => io.logDestination.write(text)),
        }
      : io.logDestination,
  );
  configureFaultInjection(config.faultInjection, log);

  const source = await connectTo(sourceSettings, 'source');
  const target = await connectTo(config.target, 'target').catch(async (error) => {
    await source.end().catch(() => undefined);
    throw error;
  });
  let pairs: { source: MigrationTable; target: MigrationTable }[];
  let restartPlan: DestructivePlan | undefined;
  let restartConfirmation: Confirmation | undefined;
  try {
    const requested = options.tables === undefined ? undefined : parseTableList(options.tables);
    const tables = await resolveMigrationTables(source, {
      ...(requested === undefined ? {} : { tables: requested }),
      publication: config.replication.publication,
      selection: config.mapping,
    });
    const schemas = SchemaMapping.fromSettings(config.mapping);
    pairs = tables.map((t) => ({
      source: t,
      target: mapTargetTable(t, schemas),
    }));
    // Before anything else: without the slot, the copy could not hand over to the stream.
    await waitForSlot(source, config.replication.slotName, options.slotWait * 1000, (reason) =>
      log.warn(
        { slot: config.replication.slotName, waitSeconds: options.slotWait },
        `waiting: ${reason}`,
      ),
    );
    if (options.restart) {
      const names = pairs.map((p) => formatTableName(p.target));
      restartPlan = planCopyRestart(
        config.target,
        pairs.map((p) => p.target),
      );
      const confirmation = await confirmDestructive(restartPlan, options, io);
      if (!confirmation.confirmed) {
        if (options.json) {
          io.stdout(
            `${JSON.stringify({ ok: false, confirmation: confirmation.by, applied: false, plan: restartPlan }, null, 2)}\n`,
          );
        }
        await source.end().catch(() => undefined);
        await target.end().catch(() => undefined);
        setExitCode(EXIT_USAGE);
        return;
      }
      restartConfirmation = confirmation;
      await resetForRestart(
        target,
        pairs.map((p) => p.target),
      );
      log.info(
        { tables: names },
        'copy restart: target tables emptied, copy and stream state forgotten',
      );
    }
  } catch (error) {
    await source.end().catch(() => undefined);
    await target.end().catch(() => undefined);
    if (error instanceof SlotNotReadyError) {
      io.stderr(`pgferry copy refused: ${error.message}\n`);
      setExitCode(EXIT_CHECK_FAILED);
      return;
    }
    throw error;
  }

  const snapshot = new CopySnapshot(sourceSettings, config.replication.slotName);
  const metrics = createCopyMetrics();
  const server = await startMetricsServer({
    host: config.metrics.host,
    port: config.metrics.copyPort,
    registry: metrics.registry,
    log,
  }).catch((error: Error) => {
    log.warn(
      { err: error.message, port: config.metrics.copyPort },
      'copy metrics endpoint not started (port in use?)',
    );
    return undefined;
  });
  const stop = new AbortController();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals === 1) {
      log.warn({ signal }, 'stopping after the chunks in flight; run pgferry copy again to resume');
      stop.abort();
    } else {
      // A second signal: leave now. The chunks in flight roll back; a resume copies them again.
      process.exit(EXIT_FAILURE);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let progress: CopyProgress | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const work = await planCopy(await snapshot.client(), target, pairs, {
      chunkRows: options.chunkRows,
      // The first session reads the chunk bounds while the snapshot's session reads the facts.
      boundsSource: source,
    });
    await source.end().catch(() => undefined);
    await target.end().catch(() => undefined);
    progress = new CopyProgress(work, metrics);
    const shown = progress;
    metrics.running.set(1);
    log.info(
      {
        snapshotLsn: snapshot.lsn,
        slot: config.replication.slotName,
        jobs: options.jobs,
        tables: work.map((w) => ({
          table: w.name,
          start: w.start,
          chunks: w.chunksTotal,
          pending: w.pending.length,
          format: w.format,
        })),
        metricsPort: server?.port,
      },
      'copy planned',
    );
    if (terminal) {
      terminal.draw(shown.viewLines(options.jobs));
      timer = setInterval(() => terminal.draw(shown.viewLines(options.jobs)), 1000);
    } else if (options.progress !== 'off' && config.progress.logSeconds > 0) {
      timer = setInterval(() => logProgress(log, shown), config.progress.logSeconds * 1000);
    }
    timer?.unref();
    const result = await copyChunks(work, snapshot, {
      source: sourceSettings,
      target: config.target,
      jobs: options.jobs,
      copyRun: randomUUID(),
      retryForMs: options.retryFor * 1000,
      retryMaxDelayMs: config.retry.maxDelaySeconds * 1000,
      stop: stop.signal,
      events: {
        bytes: (table, bytes) => shown.bytes(table, bytes),
        chunkDone: (event) => shown.chunkDone(event),
        retry: (event) => {
          metrics.chunkRetries.inc();
          log.warn(event, 'copy chunk failed for a transient reason; retrying');
        },
        tableFailed: (table, reason) => {
          shown.tableFailed(table, reason);
          log.error({ table, reason }, 'copy of the table failed; other tables continue');
        },
      },
    });
    if (timer) clearInterval(timer);
    // The rows' figures first: the index builds below are reported on their own.
    const rowsReport = buildReport(work, shown, {
      jobs: options.jobs,
      chunkRows: options.chunkRows,
      snapshotLsn: snapshot.lsn,
      snapshots: snapshot.taken,
      slot: config.replication.slotName,
      interrupted: result.interrupted,
      failed: result.failed,
    });
    terminal?.finish(shown.viewLines(options.jobs));
    if (!terminal) logProgress(log, shown);
    // No more chunks: let the source forget the snapshot while the indexes build.
    await snapshot.close();
    // Indexes schema-sync --defer-indexes left out, on the tables whose copy is now complete.
    const copied = work.filter(
      (w) => !result.failed.has(w.name) && shown.chunksDoneOf(w.name) === w.chunksTotal,
    );
    const indexStarted = performance.now();
    const indexes = result.interrupted
      ? []
      : await buildDeferredIndexes(
          copied.map((w) => w.target),
          {
            target: config.target,
            jobs: options.jobs,
            retryForMs: options.retryFor * 1000,
            retryMaxDelayMs: config.retry.maxDelaySeconds * 1000,
            stop: stop.signal,
            events: {
              started: (table, index) => log.info({ table, index }, 'building a deferred index'),
              built: (build) =>
                build.state === 'failed'
                  ? log.error(
                      { table: build.table, index: build.index, reason: build.error },
                      'deferred index not built',
                    )
                  : log.info(
                      { table: build.table, index: build.index, seconds: build.seconds },
                      'deferred index built',
                    ),
              retry: (event) =>
                log.warn(event, 'deferred index build failed for a transient reason; retrying'),
            },
          },
        );
    const report: CopyReport = {
      ...rowsReport,
      ok: rowsReport.ok && indexes.every((i) => i.state === 'built' || i.state === 'already built'),
      indexes,
      indexSeconds: Math.round((performance.now() - indexStarted) / 10) / 100,
      ...(restartPlan && restartConfirmation
        ? {
            restart: { plan: restartPlan, confirmation: restartConfirmation.by, applied: true },
          }
        : {}),
    };
    io.stdout(options.json ? `${JSON.stringify(report, null, 2)}\n` : formatCopyReport(report));
    // A failed table or index is exit 1 even when interrupted; an interruption alone is 0.
    const failed = result.failed.size > 0 || report.indexes.some((i) => i.state === 'failed');
    setExitCode(failed ? EXIT_FAILURE : EXIT_OK);
  } catch (error) {
    if (timer) clearInterval(timer);
    if (progress) terminal?.finish(progress.viewLines(options.jobs));
    if (error instanceof CopyRefusedError || error instanceof SlotNotReadyError) {
      io.stderr(
        `${error instanceof SlotNotReadyError ? 'pgferry copy refused: ' : ''}${error.message}\n`,
      );
      setExitCode(EXIT_CHECK_FAILED);
      return;
    }
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    metrics.running.set(0);
    await snapshot.close();
    await source.end().catch(() => undefined);
    await target.end().catch(() => undefined);
    await server?.close();
  }
}

function logProgress(log: Logger, progress: CopyProgress): void {
  log.info({ copy: progress.totals(), tables: progress.perTable() }, 'copy progress');
}

async function connectTo(
  settings: PostgresSettings,
  side: 'source' | 'target',
): Promise<pg.Client> {
  try {
    return await connectPg(settings, 'pgferry-copy');
  } catch (error) {
    throw new PgferryError(
      `cannot connect to the ${side} database ${settings.host}:${settings.port}/${settings.database}: ${(error as Error).message}`,
      { retriable: true, cause: error },
    );
  }
}

export interface CopyReport {
  ok: boolean;
  interrupted: boolean;
  slot: string;
  snapshotLsn: string;
  /** Snapshots taken (more than 1 when the source lost the first one mid-copy). */
  snapshots: number;
  jobs: number;
  chunkRows: number;
  seconds: number;
  rows: number;
  bytes: number;
  rowsPerSecond: number;
  mbPerSecond: number;
  tables: {
    table: string;
    source: string;
    start: CopyTableWork['start'];
    state: 'done' | 'failed' | 'incomplete';
    format: 'binary' | 'text';
    chunksTotal: number;
    chunksDone: number;
    chunksCopiedNow: number;
    rows: number;
    bytes: number;
    error?: string;
  }[];
  /** Indexes `schema-sync --defer-indexes` left for the copy, on the tables copied. */
  indexes: IndexBuild[];
  /** Wall seconds of building them, after the rows (not in `seconds`). */
  indexSeconds: number;
  /** With --restart: what was emptied and forgotten first, and how it was confirmed. */
  restart?: { plan: DestructivePlan; confirmation: Confirmation['by']; applied: true };
}

function buildReport(
  work: readonly CopyTableWork[],
  progress: CopyProgress,
  facts: {
    jobs: number;
    chunkRows: number;
    snapshotLsn: string;
    snapshots: number;
    slot: string;
    interrupted: boolean;
    failed: Map<string, string>;
  },
): CopyReport {
  const totals = progress.totals();
  const perTable = new Map(progress.perTable().map((t) => [t.table, t]));
  const tables = work.map((w) => {
    const p = perTable.get(w.name);
    const chunksDone = p?.chunksDone ?? w.chunksDoneBefore;
    const error = facts.failed.get(w.name);
    return {
      table: w.name,
      source: formatTableName(w.source),
      start: w.start,
      state:
        error !== undefined
          ? ('failed' as const)
          : chunksDone === w.chunksTotal
            ? ('done' as const)
            : ('incomplete' as const),
      format: w.format,
      chunksTotal: w.chunksTotal,
      chunksDone,
      chunksCopiedNow: chunksDone - w.chunksDoneBefore,
      rows: p?.rows ?? w.rowsBefore,
      bytes: p?.bytes ?? w.bytesBefore,
      ...(error === undefined ? {} : { error }),
    };
  });
  return {
    ok: tables.every((t) => t.state === 'done'),
    interrupted: facts.interrupted,
    slot: facts.slot,
    snapshotLsn: facts.snapshotLsn,
    snapshots: facts.snapshots,
    jobs: facts.jobs,
    chunkRows: facts.chunkRows,
    seconds: totals.seconds,
    rows: totals.rowsThisRun,
    bytes: totals.bytesThisRun,
    rowsPerSecond: totals.rowsPerSecond,
    mbPerSecond: totals.mbPerSecond,
    tables,
    indexes: [],
    indexSeconds: 0,
  };
}

export function formatCopyReport(report: CopyReport): string {
  const lines = report.tables.map((t) => {
    const how =
      t.start === 'done'
        ? 'already copied'
        : `${t.chunksCopiedNow} chunk${t.chunksCopiedNow === 1 ? '' : 's'} copied now${t.start === 'resumed' ? ' (resumed)' : ''}`;
    return `${t.table}: ${t.state.toUpperCase()} ${t.chunksDone}/${t.chunksTotal} chunks, ${t.rows} rows, ${formatBytes(t.bytes)}, ${t.format} COPY, ${how}${t.error ? `\n  ${t.error}` : ''}`;
  });
  for (const i of report.indexes) {
    lines.push(
      `index ${i.index} on ${i.table}: ${i.state === 'failed' ? `FAILED: ${i.error}` : i.state === 'built' ? `built in ${i.seconds} s` : i.state}`,
    );
  }
  const failed = report.tables.filter((t) => t.state === 'failed').length;
  const built = report.indexes.filter((i) => i.state === 'built').length;
  const indexesFailed = report.indexes.filter(
    (i) => i.state === 'failed' || i.state === 'not built',
  ).length;
  const summary = report.interrupted
    ? `copy: INTERRUPTED after ${report.rows} rows; run pgferry copy again to resume (done chunks are kept)`
    : failed > 0
      ? `copy: FAILED for ${failed} of ${report.tables.length} tables (the others are copied); fix the cause and run pgferry copy again`
      : indexesFailed > 0
        ? `copy: rows copied, but ${indexesFailed} deferred index(es) not built; fix the cause and run pgferry copy again (it builds only what is missing)`
        : `copy: OK, ${report.tables.length} table${report.tables.length === 1 ? '' : 's'} copied: ${report.rows} rows, ${formatBytes(report.bytes)} in ${report.seconds} s (${report.rowsPerSecond} rows/s, ${report.mbPerSecond} MB/s, ${report.jobs} jobs) from the snapshot at ${report.snapshotLsn}${built > 0 ? `, then ${built} deferred index${built === 1 ? '' : 'es'} built in ${report.indexSeconds} s` : ''}; now start pgferry run`;
  return `${[...lines, '', summary].join('\n')}\n`;
}

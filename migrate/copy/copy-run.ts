// `pgferry copy`: plans every table (new plans, or the chunks an earlier run left), then N workers
// take chunks from one queue, each chunk piped source -> target in its own target transaction
// that also marks it done. Transient faults retry the chunk with backoff until a deadline; a
// fault of the data (a value the target column cannot take) fails that table only. A stop
// request lets the chunks in flight finish and leaves the rest for the next run.
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { backoffDelayMs } from '../../core/backoff.js';
import type { PostgresSettings } from '../../core/config.js';
import { PgferryError } from '../../core/errors.js';
import { faultPoint } from '../../core/fault-points.js';
import { connectPg } from '../../core/pg-connection.js';
import { classifyPgError } from '../../core/pg-errors.js';
import { ensureBookkeeping } from '../../sink/bookkeeping/bookkeeping-schema.js';
import { isChunkDone, markChunkCopied, markCopyFailed } from '../../sink/bookkeeping/copy-rows.js';
import type { MigrationTable } from '../migration-tables.js';
import { type ChunkCopySpec, pipeChunk } from './copy-chunks.js';
import type { CopyTableWork, PendingChunk } from './copy-plan.js';
import {
  COPY_SESSION_SETTINGS,
  COPY_SOURCE_SESSION_SETTINGS,
  type CopySnapshot,
} from './copy-snapshot.js';

export interface CopyEvents {
  /** Bytes just moved for a table (uncommitted: the live rate). */
  bytes?: (table: string, bytes: number) => void;
  chunkDone?: (event: {
    table: string;
    chunk: number;
    rows: number;
    bytes: number;
    seconds: number;
    tableDone: boolean;
  }) => void;
  retry?: (event: {
    table: string;
    chunk: number;
    attempt: number;
    error: string;
    delayMs: number;
  }) => void;
  tableFailed?: (table: string, reason: string) => void;
}

export interface CopyWorkOptions {
  source: PostgresSettings;
  target: PostgresSettings;
  jobs: number;
  /** Identifies this run in copy_chunks.copy_run. */
  copyRun: string;
  /** A chunk's transient faults are retried until this long after its first failure. */
  retryForMs: number;
  retryMaxDelayMs: number;
  /** Aborted: no new chunk starts; those in flight finish. */
  stop: AbortSignal;
  events: CopyEvents;
}

export interface CopyWorkResult {
  chunksCopied: number;
  failed: Map<string, string>;
  interrupted: boolean;
}

/** A chunk that kept failing for a transient reason past the retry deadline: the run stops. */
export class CopyChunkError extends PgferryError {
  constructor(message: string, cause: unknown) {
    super(message, { retriable: true, cause });
  }
}

/** Copies the pending chunks of `work` with `jobs` workers reading one snapshot. */
export async function copyChunks(
  work: readonly CopyTableWork[],
  snapshot: CopySnapshot,
  options: CopyWorkOptions,
): Promise<CopyWorkResult> {
  const queue: { table: CopyTableWork; chunk: PendingChunk }[] = [];
  for (const table of work) for (const chunk of table.pending) queue.push({ table, chunk });
  const failed = new Map<string, string>();
  let chunksCopied = 0;
  let fatal: unknown;
  const next = () => {
    while (queue.length > 0) {
      if (options.stop.aborted || fatal !== undefined) return undefined;
      const item = queue.shift();
      if (item && !failed.has(item.table.name)) return item;
    }
    return undefined;
  };
  const worker = async (n: number) => {
    const sessions = new WorkerSessions(options.source, options.target, n);
    try {
      for (let item = next(); item !== undefined; item = next()) {
        try {
          const tableDone = await copyOneChunk(item.table, item.chunk, snapshot, sessions, options);
          if (tableDone !== undefined) chunksCopied += 1;
        } catch (error) {
          if (error instanceof TableCopyError) {
            failed.set(item.table.name, error.message);
            options.events.tableFailed?.(item.table.name, error.message);
            await recordFailure(options.target, item.table.target, error.message);
          } else {
            fatal ??= error;
          }
        }
      }
    } finally {
      await sessions.close();
    }
  };
  const jobs = Math.max(1, Math.min(options.jobs, queue.length));
  await Promise.all(Array.from({ length: jobs }, (_, i) => worker(i + 1)));
  if (fatal !== undefined) throw fatal;
  return { chunksCopied, failed, interrupted: options.stop.aborted && queue.length > 0 };
}

/** The data, not the service, is the problem (a value, a constraint, a privilege): stop the table. */
class TableCopyError extends Error {}

/** Copies one chunk, retrying transient faults; resolves whether its table is now done. */
async function copyOneChunk(
  table: CopyTableWork,
  chunk: PendingChunk,
  snapshot: CopySnapshot,
  sessions: WorkerSessions,
  options: CopyWorkOptions,
): Promise<boolean | undefined> {
  const spec: ChunkCopySpec = {
    source: table.source,
    target: table.target,
    columns: table.columns,
    key: table.key,
    format: table.format,
    lower: chunk.lower,
    upper: chunk.upper,
  };
  let firstFailure: number | undefined;
  // What an attempt moved once it reached its target COMMIT: if that COMMIT landed and the
  // connection (or the source's) died after it, the retry finds the chunk done and reports it.
  let committing: { rows: number; bytes: number; tableDone: boolean; started: number } | undefined;
  for (let attempt = 1; ; attempt++) {
    await faultPoint('copy-chunk');
    const started = performance.now();
    let snapshotId: string | undefined;
    try {
      snapshotId = await snapshot.current();
      const { source, target } = await sessions.open();
      // An earlier attempt's COMMIT may have landed before its connection died: done is done.
      if (attempt > 1 && (await isChunkDone(target, table.target, chunk.chunk))) {
        if (!committing) return undefined;
        options.events.chunkDone?.({
          table: table.name,
          chunk: chunk.chunk,
          rows: committing.rows,
          bytes: committing.bytes,
          seconds: (performance.now() - committing.started) / 1000,
          tableDone: committing.tableDone,
        });
        return committing.tableDone;
      }
      committing = undefined;
      await source.query(
        `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '${snapshotId.replace(/'/g, '')}'`,
      );
      await target.query('BEGIN');
      const moved = await pipeChunk(source, target, spec, (bytes) =>
        options.events.bytes?.(table.name, bytes),
      );
      const { tableDone } = await markChunkCopied(target, table.target, {
        chunk: chunk.chunk,
        rows: moved.rows,
        bytes: moved.bytes,
        copyRun: options.copyRun,
      });
      // The source's read-only transaction ends first: a source lost now fails the attempt
      // before anything is committed on the target.
      await source.query('COMMIT');
      committing = { rows: moved.rows, bytes: moved.bytes, tableDone, started };
      await target.query('COMMIT');
      options.events.chunkDone?.({
        table: table.name,
        chunk: chunk.chunk,
        rows: moved.rows,
        bytes: moved.bytes,
        seconds: (performance.now() - started) / 1000,
        tableDone,
      });
      return tableDone;
    } catch (error) {
      await sessions.reset();
      const code = (error as { code?: unknown }).code;
      if (code === '22023' && snapshotId !== undefined && /snapshot/i.test(String(error))) {
        // The exporting session is gone (source restart): a new snapshot is just as good.
        await snapshot.renew(snapshotId).catch(() => undefined);
      }
      const kind =
        code === '22023' && /snapshot/i.test(String(error)) ? 'retriable' : classifyPgError(error);
      if (kind !== 'retriable') throw new TableCopyError(describeTableFailure(table, chunk, error));
      firstFailure ??= Date.now();
      const delayMs = backoffDelayMs(attempt, { initialMs: 250, maxMs: options.retryMaxDelayMs });
      const message = (error as Error).message;
      if (Date.now() + delayMs - firstFailure > options.retryForMs) {
        throw new CopyChunkError(
          `chunk ${chunk.chunk} of ${table.name} failed for ${Math.round((Date.now() - firstFailure) / 1000)} s (${attempt} attempts): ${message}`,
          error,
        );
      }
      options.events.retry?.({
        table: table.name,
        chunk: chunk.chunk,
        attempt,
        error: message,
        delayMs,
      });
      await sleep(delayMs);
    }
  }
}

/** "target column x ... : invalid input syntax ..." with the chunk, from the server's COPY context. */
function describeTableFailure(table: CopyTableWork, chunk: PendingChunk, error: unknown): string {
  const e = error as { message?: string; where?: string; code?: string; column?: string };
  const where = typeof e.where === 'string' ? e.where.split('\n')[0] : undefined;
  const column = where === undefined ? undefined : /column (\S+?)(?::|$)/.exec(where)?.[1];
  const duplicate = e.code === '23505' ? ' (the target already holds rows of this key range)' : '';
  return `${table.name}: chunk ${chunk.chunk}${column ? `, column ${column}` : ''}: ${e.message ?? String(error)}${duplicate}${where ? ` [${where}]` : ''}`;
}

async function recordFailure(
  settings: PostgresSettings,
  table: MigrationTable,
  reason: string,
): Promise<void> {
  const client = await connectPg(settings, 'pgferry-copy').catch(() => undefined);
  if (!client) return;
  try {
    await markCopyFailed(client, table, reason.slice(0, 2000));
  } catch {
    // The failure is reported by the command either way; the row is a convenience for status.
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** One worker's source and target sessions, opened on demand and dropped after any failure. */
class WorkerSessions {
  private source: pg.Client | undefined;
  private target: pg.Client | undefined;

  constructor(
    private readonly sourceSettings: PostgresSettings,
    private readonly targetSettings: PostgresSettings,
    private readonly n: number,
  ) {}

  async open(): Promise<{ source: pg.Client; target: pg.Client }> {
    if (!this.source) {
      const source = await connectPg(this.sourceSettings, `pgferry-copy-${this.n}`);
      await source.query(COPY_SOURCE_SESSION_SETTINGS);
      this.source = source;
    }
    if (!this.target) {
      const target = await connectPg(this.targetSettings, `pgferry-copy-${this.n}`);
      await target.query(COPY_SESSION_SETTINGS);
      await ensureBookkeeping(target);
      this.target = target;
    }
    return { source: this.source, target: this.target };
  }

  /**
   * After a failure both sessions go: a COPY cut off mid-stream leaves its session in no state to
   * trust (the server may still be sending), and the target's transaction rolls back as it closes.
   */
  async reset(): Promise<void> {
    await this.close();
  }

  async close(): Promise<void> {
    await this.source?.end().catch(() => undefined);
    await this.target?.end().catch(() => undefined);
    this.source = undefined;
    this.target = undefined;
  }
}

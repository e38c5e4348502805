// The demo write generator: inserts, updates, deletes and multi-statement transactions on the
// demo tables at a steady rate, until a duration passes or the signal aborts (then it stops after
// the transaction in flight). A library, so benchmarks and fault tests can drive the same load.
import pg from 'pg';
import { PgferryError } from '../../core/errors.js';
import { ignoreIdleErrors } from '../../core/pg-connection.js';
import { classifyPgError } from '../../core/pg-errors.js';
import { achievedRate, DemoLoadPacer, operationsPerTransaction } from './demo-load-pacer.js';
import { type DemoOperation, isMultiStatement, planDemoOperation } from './demo-operation.js';
import {
  addRowCounts,
  applyDemoOperation,
  type DemoRowCounts,
  NO_ROWS,
} from './demo-operation-apply.js';
import { chooseDemoSeed, DemoRandom } from './demo-random.js';
import { DEMO_TABLES, existingTables } from './demo-schema.js';

export interface DemoLoadCounts extends DemoRowCounts {
  /** Committed transactions (a single statement in autocommit counts as one). */
  transactions: number;
  /** Transactions rolled back after a serialization failure or deadlock with another writer. */
  rolledBack: number;
}

export interface DemoLoadProgress extends DemoLoadCounts {
  elapsedMs: number;
  /** inserted + updated + deleted */
  rows: number;
  /** Rows per second since the start. */
  achievedRate: number;
}

export interface DemoLoadSummary extends DemoLoadProgress {
  /** The rate asked for, rows per second. */
  rate: number;
  seed: number;
  stoppedBy: 'duration' | 'signal';
}

export interface DemoLoadOptions {
  /** A connected client (left open), or a connection URL (connected and closed here). */
  client?: pg.ClientBase;
  url?: string;
  /** Target rate in changed rows per second. */
  rate: number;
  /** Stop after this long; absent = until the signal aborts. */
  durationMs?: number;
  signal?: AbortSignal;
  /** Same seed, same sequence of operations (default: chosen from the clock, see the summary). */
  seed?: number;
  onProgress?: (progress: DemoLoadProgress) => void;
  /** How often onProgress is called (default 10 s). */
  progressIntervalMs?: number;
}

/** The load could not go on: the source refused a write or the connection was lost. */
export class DemoLoadError extends PgferryError {
  constructor(
    message: string,
    readonly counts: DemoLoadCounts,
    options: { retriable: boolean; cause?: unknown },
  ) {
    super(message, options);
  }
}

const CONFLICT_CODES = new Set(['40001', '40P01']);

export async function runDemoLoad(options: DemoLoadOptions): Promise<DemoLoadSummary> {
  if (options.client) return generateLoad(options.client, options);
  if (!options.url) throw new RangeError('runDemoLoad needs a client or a url');
  const client = new pg.Client({
    connectionString: options.url,
    application_name: 'pgferry-demo-load',
  });
  ignoreIdleErrors(client);
  await client.connect();
  try {
    return await generateLoad(client, options);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function generateLoad(
  client: pg.ClientBase,
  options: DemoLoadOptions,
): Promise<DemoLoadSummary> {
  const found = await existingTables(client);
  const missing = DEMO_TABLES.map((t) => t.name).filter((name) => !found.has(name));
  if (missing.length > 0) {
    throw new DemoLoadError(
      `the demo tables are missing on the source (${missing.join(', ')}): run \`pgferry demo setup\` first`,
      zeroCounts(),
      { retriable: false },
    );
  }

  const seed = options.seed ?? chooseDemoSeed();
  const random = new DemoRandom(seed);
  const perTransaction = operationsPerTransaction(options.rate);
  const progressIntervalMs = options.progressIntervalMs ?? 10_000;
  const startMs = performance.now();
  const pacer = new DemoLoadPacer(options.rate, startMs);
  let counts = zeroCounts();
  let nextProgressMs = startMs + progressIntervalMs;
  let stoppedBy: DemoLoadSummary['stoppedBy'] = 'signal';

  const progressAt = (nowMs: number): DemoLoadProgress => {
    const rows = counts.inserted + counts.updated + counts.deleted;
    const elapsedMs = nowMs - startMs;
    return { ...counts, rows, elapsedMs, achievedRate: achievedRate(rows, elapsedMs) };
  };

  for (;;) {
    // Checked between transactions only: the one in flight always completes.
    if (options.signal?.aborted) break;
    const nowMs = performance.now();
    if (options.durationMs !== undefined && nowMs - startMs >= options.durationMs) {
      stoppedBy = 'duration';
      break;
    }
    if (options.onProgress && nowMs >= nextProgressMs) {
      options.onProgress(progressAt(nowMs));
      nextProgressMs = nowMs + progressIntervalMs; // after a stall: one line, not a burst
    }
    if (pacer.owed(nowMs) <= 0) {
      const untilEnd =
        options.durationMs === undefined ? Infinity : startMs + options.durationMs - nowMs;
      await sleep(Math.max(1, Math.min(pacer.delayMs(nowMs), untilEnd)), options.signal);
      continue;
    }
    const operations: DemoOperation[] = [];
    for (let i = 0; i < perTransaction; i += 1) operations.push(planDemoOperation(random));
    const outcome = await applyTransaction(client, operations, counts);
    counts = {
      ...addRowCounts(counts, outcome.rows),
      transactions: counts.transactions + (outcome.committed ? 1 : 0),
      rolledBack: counts.rolledBack + (outcome.committed ? 0 : 1),
    };
    const rows = outcome.rows.inserted + outcome.rows.updated + outcome.rows.deleted;
    pacer.record(rows);
    // Picks that found nothing (empty tables) write nothing: yield instead of spinning.
    if (rows === 0) await sleep(1, options.signal);
  }
  return { ...progressAt(performance.now()), rate: options.rate, seed, stoppedBy };
}

/**
 * One transaction: a lone single-statement operation in autocommit, anything else between
 * BEGIN and COMMIT. A conflict with another writer rolls it back and the load goes on.
 */
async function applyTransaction(
  client: pg.ClientBase,
  operations: readonly DemoOperation[],
  countsSoFar: DemoLoadCounts,
): Promise<{ committed: boolean; rows: DemoRowCounts }> {
  const [first] = operations;
  const explicit = operations.length > 1 || (first !== undefined && isMultiStatement(first));
  try {
    if (explicit) await client.query('BEGIN');
    let rows = NO_ROWS;
    for (const operation of operations) {
      rows = addRowCounts(rows, await applyDemoOperation(client, operation));
    }
    if (explicit) await client.query('COMMIT');
    return { committed: true, rows };
  } catch (error) {
    if (explicit) await client.query('ROLLBACK').catch(() => undefined);
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && CONFLICT_CODES.has(code)) {
      return { committed: false, rows: NO_ROWS };
    }
    throw new DemoLoadError(
      `demo load stopped: ${operations.map((o) => o.kind).join(', ')} failed: ${(error as Error).message}`,
      countsSoFar,
      { retriable: classifyPgError(error) === 'retriable', cause: error },
    );
  }
}

function zeroCounts(): DemoLoadCounts {
  return { ...NO_ROWS, transactions: 0, rolledBack: 0 };
}

/** Resolves after `ms`, or at once when the signal aborts (never rejects). */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

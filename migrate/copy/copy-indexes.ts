// The indexes `schema-sync --defer-indexes` left out: built once their table's copy is done, up to
// `--jobs` at a time (one CREATE INDEX over the loaded table writes its entries sorted, in one
// pass, instead of one entry per copied row). A table's stream may already be applying changes:
// CREATE INDEX holds writes to that table for the build, then the stream catches up.
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelayMs } from '../../core/backoff.js';
import type { PostgresSettings } from '../../core/config.js';
import { connectPg } from '../../core/pg-connection.js';
import { classifyPgError } from '../../core/pg-errors.js';
import {
  type DeferredIndex,
  markIndexBuilt,
  markIndexFailed,
  readDeferredIndexes,
} from '../../sink/bookkeeping/deferred-indexes.js';
import type { MigrationTable } from '../migration-tables.js';

export interface IndexBuild {
  table: string;
  index: string;
  state: 'built' | 'already built' | 'failed' | 'not built';
  seconds: number;
  error?: string;
}

export interface IndexBuildOptions {
  target: PostgresSettings;
  jobs: number;
  retryForMs: number;
  retryMaxDelayMs: number;
  /** Aborted: no new build starts; those in flight finish. */
  stop: AbortSignal;
  events: {
    started?: (table: string, index: string) => void;
    built?: (build: IndexBuild) => void;
    retry?: (event: { table: string; index: string; error: string; delayMs: number }) => void;
  };
}

const nameOf = (i: { schema: string; table: string }) => `${i.schema}.${i.table}`;

/**
 * Builds the pending deferred indexes of these (copied) tables and reports every deferred index
 * of them, built before or now. A failure is recorded and reported; the next run tries again.
 */
export async function buildDeferredIndexes(
  tables: readonly MigrationTable[],
  options: IndexBuildOptions,
): Promise<IndexBuild[]> {
  if (tables.length === 0) return [];
  const reader = await connectPg(options.target, 'pgferry-copy');
  let indexes: DeferredIndex[];
  try {
    indexes = await readDeferredIndexes(reader, tables);
  } finally {
    await reader.end().catch(() => undefined);
  }
  const results: IndexBuild[] = indexes
    .filter((i) => i.builtAt !== null)
    .map((i) => ({
      table: nameOf(i),
      index: i.index,
      state: 'already built',
      seconds: i.buildSeconds ?? 0,
    }));
  const queue = indexes.filter((i) => i.builtAt === null);
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      if (options.stop.aborted) {
        results.push({ table: nameOf(next), index: next.index, state: 'not built', seconds: 0 });
        continue;
      }
      options.events.started?.(nameOf(next), next.index);
      const build = await buildIndex(next, options);
      results.push(build);
      options.events.built?.(build);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.jobs) }, worker));
  return results.sort((a, b) => `${a.table} ${a.index}`.localeCompare(`${b.table} ${b.index}`));
}

/** One index, retried with backoff while the target is unreachable, until the deadline. */
async function buildIndex(index: DeferredIndex, options: IndexBuildOptions): Promise<IndexBuild> {
  const table = nameOf(index);
  let firstFailure: number | undefined;
  for (let attempt = 1; ; attempt += 1) {
    const started = performance.now();
    const client = await connectPg(options.target, 'pgferry-copy').catch((error: Error) => error);
    try {
      if (client instanceof Error) throw client;
      await client.query(index.statement);
      const seconds = Math.round((performance.now() - started) / 10) / 100;
      await markIndexBuilt(client, index, seconds);
      return { table, index: index.index, state: 'built', seconds };
    } catch (error) {
      const message = (error as Error).message;
      firstFailure ??= Date.now();
      const delayMs = backoffDelayMs(attempt, { initialMs: 250, maxMs: options.retryMaxDelayMs });
      const transient = classifyPgError(error) === 'retriable';
      if (!transient || Date.now() + delayMs - firstFailure > options.retryForMs) {
        const reason = `CREATE INDEX ${index.index} on ${table} failed: ${message}`;
        // Recorded on a fresh session: this one may be the broken one.
        const recorder = await connectPg(options.target, 'pgferry-copy').catch(() => undefined);
        if (recorder) {
          await markIndexFailed(recorder, index, reason).catch(() => undefined);
          await recorder.end().catch(() => undefined);
        }
        return { table, index: index.index, state: 'failed', seconds: 0, error: reason };
      }
      options.events.retry?.({ table, index: index.index, error: message, delayMs });
      await sleep(delayMs);
    } finally {
      if (!(client instanceof Error)) await client.end().catch(() => undefined);
    }
  }
}

// The source's estimated row count of each replicated table, for the progress view's percentage
// and ETA: pg_class.reltuples (kept by ANALYZE and autovacuum); for a table never analyzed
// (reltuples = -1), the statistics collector's n_live_tup. Read with the optional read-only
// SOURCE_DB_* connection; without it there are no estimates and the view shows rows only.
import type pg from 'pg';
import type { PostgresSettings } from '../../core/config.js';
import type { Logger } from '../../core/logger.js';
import { connectPg } from '../../core/pg-connection.js';
import { startPoller } from '../poller.js';

/** Estimates are re-read this often; a table seen for the first time is read at the next tick. */
const REFRESH_MS = 30_000;
const TICK_MS = 2_000;

/** schema.table -> estimated rows, for the tables of `tables` that exist on the source. */
export async function readRowEstimates(
  client: pg.ClientBase,
  tables: readonly string[],
): Promise<Map<string, number>> {
  if (tables.length === 0) return new Map();
  const result = await client.query<{ table: string; rows: number | null }>(
    `SELECT n.nspname || '.' || c.relname AS table,
            CASE WHEN c.reltuples >= 0 THEN c.reltuples::float8 ELSE s.n_live_tup::float8 END AS rows
       FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
      WHERE c.relkind IN ('r', 'p') AND n.nspname || '.' || c.relname = ANY($1::text[])`,
    [[...tables]],
  );
  const estimates = new Map<string, number>();
  for (const row of result.rows) if (row.rows !== null) estimates.set(row.table, row.rows);
  return estimates;
}

export interface SourceRowEstimates {
  readonly estimates: ReadonlyMap<string, number>;
  stop(): void;
}

/** Polls the estimates of `tables()`; failures are logged at debug and never fatal. */
export function startSourceRowEstimates(options: {
  settings: PostgresSettings;
  tables: () => readonly string[];
  log: Logger;
  now?: () => number;
}): SourceRowEstimates {
  const now = options.now ?? Date.now;
  let estimates = new Map<string, number>();
  let asked = new Set<string>();
  let readAt = Number.NEGATIVE_INFINITY;
  let client: pg.Client | undefined;
  const tick = async () => {
    const tables = [...new Set(options.tables())];
    const unseen = tables.some((t) => !asked.has(t));
    if (tables.length === 0 || (!unseen && now() - readAt < REFRESH_MS)) return;
    try {
      client ??= await connectPg(options.settings, 'pgferry-progress');
      estimates = await readRowEstimates(client, tables);
      asked = new Set(tables);
      readAt = now();
    } catch (error) {
      options.log.debug(
        { err: (error as Error).message },
        'reading row estimates on the source failed',
      );
      await client?.end().catch(() => undefined);
      client = undefined;
      // Not again before the refresh interval: a down source is not hammered every tick.
      asked = new Set(tables);
      readAt = now();
    }
  };
  const stop = startPoller(tick, {
    intervalMs: TICK_MS,
    firstDelayMs: 500,
    onStop: () => void client?.end().catch(() => undefined),
  });
  return {
    get estimates() {
      return estimates;
    },
    stop,
  };
}

// Cutover gate 1: "the source no longer takes writes". Watched, not assumed: for a quiet window
// no transaction may hold a write lock on a migrated table and their insert/update/delete
// counters may not move. The database's read-only default is reported as supporting evidence
// (sessions opened before it was set can still write, so it cannot be the proof).
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import type { MigrationTable } from '../migration-tables.js';

export interface WriteActivityReport {
  quiet: boolean;
  watchedSeconds: number;
  /** `default_transaction_read_only` is on for the database (ALTER DATABASE ... SET). */
  readOnlyDefault: boolean;
  /** Why the window was not quiet: the first evidence of a write, in words. */
  evidence: string[];
  /** The source WAL position when the window closed quiet (changes up to here must be applied). */
  quietLsn: string | null;
  /** Insert/update/delete counters per table when the window began (text: bigint). */
  baseline: Record<string, string>;
  /** When the window closed. */
  closedAt: string;
}

interface Sample {
  counters: Map<string, bigint>;
  /** pid null: a prepared transaction (its locks belong to no backend). */
  writers: { pid: number | null; table: string; application: string; user: string }[];
}

async function sampleWrites(
  client: pg.ClientBase,
  tables: readonly MigrationTable[],
): Promise<Sample> {
  const schemas = tables.map((t) => t.schema);
  const names = tables.map((t) => t.name);
  const counters = await client.query<{ schema: string; name: string; changes: string }>(
    `SELECT s.schemaname AS schema, s.relname AS name,
            (s.n_tup_ins + s.n_tup_upd + s.n_tup_del)::text AS changes
       FROM pg_stat_user_tables s
       JOIN unnest($1::text[], $2::text[]) AS want(schema, name)
         ON s.schemaname = want.schema AND s.relname = want.name`,
    [schemas, names],
  );
  // A transaction holding RowExclusiveLock (or stronger) on a table is writing it right now,
  // even if its changes are not committed (and so not counted) yet.
  const writers = await client.query<{
    pid: number | null;
    schema: string;
    name: string;
    application: string | null;
    usename: string | null;
  }>(
    `SELECT DISTINCT l.pid, n.nspname AS schema, c.relname AS name,
            a.application_name AS application, a.usename
       FROM pg_locks l
       JOIN pg_class c ON c.oid = l.relation
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN unnest($1::text[], $2::text[]) AS want(schema, name)
         ON n.nspname = want.schema AND c.relname = want.name
       LEFT JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.granted AND l.pid IS DISTINCT FROM pg_backend_pid()
        AND l.mode IN ('RowExclusiveLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock')
        AND l.locktype = 'relation' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [schemas, names],
  );
  return {
    counters: new Map(counters.rows.map((r) => [`${r.schema}.${r.name}`, BigInt(r.changes)])),
    writers: writers.rows.map((r) => ({
      pid: r.pid,
      table: `${r.schema}.${r.name}`,
      application: r.application ?? '',
      user: r.usename ?? '',
    })),
  };
}

async function readOnlyDefault(client: pg.ClientBase): Promise<boolean> {
  const result = await client.query<{ on: boolean }>(
    `SELECT EXISTS (
       SELECT 1 FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
        WHERE d.datname = current_database() AND s.setrole = 0
          AND 'default_transaction_read_only=on' = ANY (s.setconfig)) AS on`,
  );
  return result.rows[0]?.on ?? false;
}

/**
 * Watches the tables for `quietSeconds`; returns at the first sign of a write (quiet: false) or
 * when the window passed without one. Statistics reach the shared counters up to ~1 s after a
 * commit (longer for an idle session), so keep the window well above that: 10 s or more.
 */
export async function watchWriteActivity(
  client: pg.ClientBase,
  tables: readonly MigrationTable[],
  options: { quietSeconds: number; pollMs?: number; signal?: AbortSignal },
): Promise<WriteActivityReport> {
  const pollMs = options.pollMs ?? 500;
  const started = Date.now();
  const readOnly = await readOnlyDefault(client);
  // PostgreSQL 15+ caches statistics per transaction by default; ask for fresh ones each sample
  // (older versions read fresh values per query anyway and do not know the setting).
  const version = await client.query<{ v: string }>('SHOW server_version_num');
  if (Number(version.rows[0]?.v ?? 0) >= 150000) {
    await client.query('SET stats_fetch_consistency = none');
  }
  const first = await sampleWrites(client, tables);
  const report = (quiet: boolean, evidence: string[], quietLsn: string | null) => ({
    quiet,
    watchedSeconds: Math.round((Date.now() - started) / 100) / 10,
    readOnlyDefault: readOnly,
    evidence,
    quietLsn,
    baseline: Object.fromEntries([...first.counters].map(([t, n]) => [t, n.toString()])),
    closedAt: new Date().toISOString(),
  });
  for (let sample = first; ; ) {
    const evidence = describeWrites(first.counters, sample);
    if (evidence.length > 0) return report(false, evidence, null);
    if (Date.now() - started >= options.quietSeconds * 1000) {
      const lsn = await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
      return report(true, [], lsn.rows[0]?.lsn ?? null);
    }
    await sleep(pollMs, undefined, options.signal ? { signal: options.signal } : undefined);
    sample = await sampleWrites(client, tables);
  }
}

/** Writes seen in `sample` against the counters of `baseline`, in words; empty = none. */
function describeWrites(baseline: ReadonlyMap<string, bigint>, sample: Sample): string[] {
  if (sample.writers.length > 0) {
    return sample.writers.map((w) =>
      w.pid === null
        ? `a prepared transaction (PREPARE TRANSACTION) holds a write lock on ${w.table}: COMMIT PREPARED or ROLLBACK PREPARED it first (pg_prepared_xacts)`
        : `pid ${w.pid} (${w.user || 'unknown user'}${w.application ? `, ${w.application}` : ''}) holds a write lock on ${w.table}`,
    );
  }
  return [...sample.counters]
    .filter(([table, n]) => baseline.get(table) !== undefined && baseline.get(table) !== n)
    .map(
      ([table, n]) =>
        `${table}: ${n - (baseline.get(table) ?? n)} rows inserted/updated/deleted since the quiet window began`,
    );
}

/**
 * Statistics reach the shared counters up to ~10 s after a session goes idle, so a write that
 * committed at the very end of the quiet window can surface only later. Called at the end of the
 * cutover (at least that long after the window closed): any write since the window began means
 * the source was not frozen after all.
 */
export const STATS_SETTLE_MS = 11_000;

export async function findWritesSince(
  client: pg.ClientBase,
  tables: readonly MigrationTable[],
  report: WriteActivityReport,
): Promise<string[]> {
  const baseline = new Map(Object.entries(report.baseline).map(([t, n]) => [t, BigInt(n)]));
  return describeWrites(baseline, await sampleWrites(client, tables));
}

// The copy phase's data set, in a schema of its own on the source (bench_copy): a narrow table
// shaped like pgbench_accounts (int key, int, int, char(84)), a wide one (jsonb, text, a body
// above the TOAST threshold in every BENCH_COPY_TOAST_EVERY-th row, timestamps, numeric) and
// many small tables; the same tables, empty, in a target database of the run's; the checksum every
// competitor's target must pass; and the secondary indexes of the "defer indexes" question.
import pg from 'pg';
import { ensureBookkeeping } from '../sink/bookkeeping/bookkeeping-schema.js';
import { recordDeferredIndexes } from '../sink/bookkeeping/deferred-indexes.js';
import type { StackEnv } from '../test/support/stack-env.js';
import type { CopyBenchSettings } from './copy-settings.js';
import { databaseUrl, targetRole } from './target-database.js';

export const COPY_SCHEMA = 'bench_copy';

export interface CopyTable {
  name: string;
  kind: 'narrow' | 'wide' | 'small';
  rows: number;
  key: string;
  ddl: string;
  /** Only the rows with key <= this (a subset for the Debezium snapshot path); rows says how many. */
  maxKey?: number;
}

export const qualified = (t: { name: string }) => `${COPY_SCHEMA}.${t.name}`;

export function copyTables(settings: CopyBenchSettings): CopyTable[] {
  const narrowRows = Math.max(1, Math.round(settings.rows * settings.narrowShare));
  return [
    {
      name: 'narrow',
      kind: 'narrow',
      rows: narrowRows,
      key: 'aid',
      ddl: 'aid integer PRIMARY KEY, bid integer NOT NULL, abalance integer NOT NULL, filler character(84)',
    },
    {
      name: 'wide',
      kind: 'wide',
      rows: Math.max(1, settings.rows - narrowRows),
      key: 'id',
      ddl: `id bigint PRIMARY KEY, account integer NOT NULL, doc jsonb NOT NULL, title text NOT NULL,
        body text, amount numeric(14,4) NOT NULL, created_at timestamptz NOT NULL,
        updated_at timestamp NOT NULL`,
    },
    ...Array.from({ length: settings.smallTables }, (_, i) => ({
      name: `small_${String(i + 1).padStart(3, '0')}`,
      kind: 'small' as const,
      rows: settings.smallRows,
      key: 'id',
      ddl: 'id integer PRIMARY KEY, name text NOT NULL, value numeric(10,2), created_at timestamptz NOT NULL',
    })),
  ];
}

/**
 * The Debezium path's tables: all, or the narrow one; `share` < 1 keeps that share of the narrow
 * and wide tables' rows (their keys are 1..rows), the small tables whole.
 */
export function snapshotSubset(
  tables: readonly CopyTable[],
  which: 'all' | 'narrow',
  share: number,
): CopyTable[] {
  return tables
    .filter((t) => which === 'all' || t.kind === 'narrow')
    .map((t) => {
      if (t.kind === 'small' || share >= 1) return t;
      const maxKey = Math.max(1, Math.ceil(t.rows * share));
      return { ...t, rows: maxKey, maxKey };
    });
}

/** The secondary indexes of the index step: a random int column and a near-ordered timestamp. */
export const SECONDARY_INDEXES = [
  { name: 'narrow_abalance_idx', table: 'narrow', columns: 'abalance' },
  { name: 'wide_created_at_idx', table: 'wide', columns: 'created_at' },
] as const;

function insertSql(table: CopyTable, toastEvery: number): string {
  switch (table.kind) {
    case 'narrow':
      return `INSERT INTO ${qualified(table)}
        SELECT g, 1 + (g - 1) / 100000, (random() * 2000000)::int - 1000000,
          md5(g::text) || md5((g + 1)::text)
        FROM generate_series($1::int, $2::int) AS g`;
    case 'wide':
      // The long body: 70-109 md5 strings of random input (2.3-3.6 kB, too random for pglz to
      // bring under 2 kB): stored out of line in the TOAST table.
      return `INSERT INTO ${qualified(table)}
        SELECT g, (g * 7919) % 100000,
          jsonb_build_object('id', g, 'kind', (ARRAY['order','refund','note','invoice'])[1 + (g % 4)::int],
            'tags', jsonb_build_array(md5(g::text), g % 17, g % 2 = 0),
            'lines', jsonb_build_array(
              jsonb_build_object('sku', 'sku-' || (g % 977), 'qty', 1 + g % 9, 'price', round((random() * 500)::numeric, 2)),
              jsonb_build_object('sku', 'sku-' || (g % 613), 'qty', 1 + g % 5, 'price', round((random() * 500)::numeric, 2))),
            'attrs', jsonb_build_object('a', random(), 'b', md5((g + 1)::text), 'c', g % 1000)),
          'title ' || g || ' ' || md5((g * 3)::text),
          CASE WHEN g % ${toastEvery} = 0
            THEN (SELECT string_agg(md5(g::text || '-' || i || random()::text), ' ')
                    FROM generate_series(1, 70 + (g % 40)::int) AS i)
            ELSE repeat(md5(g::text) || ' ', 2 + (g % 6)::int) END,
          round((random() * 1000000)::numeric, 4),
          timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second' + random() * interval '10 minutes',
          timestamp '2024-01-01 00:00:00' + g * interval '2 seconds'
        FROM generate_series($1::bigint, $2::bigint) AS g`;
    case 'small':
      return `INSERT INTO ${qualified(table)}
        SELECT g, 'item ' || g || ' ' || md5(g::text), round((random() * 10000)::numeric, 2),
          timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute'
        FROM generate_series($1::int, $2::int) AS g`;
  }
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * (Re)creates the schema on the source and fills it; readable by pgferry's source role and
 * Debezium's. Vacuumed and checkpointed afterwards, so no competitor pays for hint bits or the
 * load's dirty pages.
 */
export async function createSourceDataset(
  stack: StackEnv,
  runId: string,
  settings: CopyBenchSettings,
  log: (line: string) => void,
): Promise<CopyTable[]> {
  const tables = copyTables(settings);
  const readers = [stack.vars.SOURCE_DB_USER ?? 'pgferry_reader', 'debezium'];
  await withClient(stack.sourceDatabaseUrl, async (client) => {
    await client.query(`DROP SCHEMA IF EXISTS ${COPY_SCHEMA} CASCADE`);
    await client.query(`CREATE SCHEMA ${COPY_SCHEMA}`);
    // Whose it is: the cleanup of this run drops it, another run's cleanup leaves it alone.
    await client.query(`COMMENT ON SCHEMA ${COPY_SCHEMA} IS 'pgferry bench ${runId}'`);
    for (const t of tables) await client.query(`CREATE TABLE ${qualified(t)} (${t.ddl})`);
    for (const t of tables) {
      const step = t.kind === 'small' ? t.rows : 250_000;
      for (let from = 1; from <= t.rows; from += step) {
        await client.query(insertSql(t, settings.toastEvery), [
          from,
          Math.min(t.rows, from + step - 1),
        ]);
        if (t.kind !== 'small') log(`  ${t.name}: ${Math.min(t.rows, from + step - 1)} rows`);
      }
    }
    const roles = readers.map((r) => `"${r}"`).join(', ');
    await client.query(`GRANT USAGE ON SCHEMA ${COPY_SCHEMA} TO ${roles}`);
    await client.query(`GRANT SELECT ON ALL TABLES IN SCHEMA ${COPY_SCHEMA} TO ${roles}`);
    for (const t of tables) await client.query(`VACUUM (ANALYZE) ${qualified(t)}`);
    await client.query('CHECKPOINT');
  });
  return tables;
}

export interface CopyTableFacts {
  table: string;
  rows: number;
  /** Heap + TOAST + indexes on the source (pg_total_relation_size). */
  totalBytes: number;
  toastBytes: number;
}

export async function readDatasetFacts(
  sourceUrl: string,
  tables: readonly CopyTable[],
): Promise<CopyTableFacts[]> {
  return withClient(sourceUrl, async (client) => {
    const facts: CopyTableFacts[] = [];
    for (const t of tables) {
      const r = await client.query<{ rows: string; total: string; toast: string }>(
        `SELECT (SELECT count(*) FROM ${qualified(t)}) AS rows,
           pg_total_relation_size(c.oid) AS total,
           coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0) AS toast
         FROM pg_class c WHERE c.oid = $1::regclass`,
        [qualified(t)],
      );
      const row = r.rows[0];
      facts.push({
        table: t.name,
        rows: Number(row?.rows ?? 0),
        totalBytes: Number(row?.total ?? 0),
        toastBytes: Number(row?.toast ?? 0),
      });
    }
    return facts;
  });
}

/** A target database of the run's (owned by pgferry's target role) with the schema, empty. */
export async function createCopyTarget(
  stack: StackEnv,
  database: string,
  tables: readonly CopyTable[],
): Promise<{ url: string; adminUrl: string }> {
  const role = targetRole(stack);
  await withClient(stack.targetDatabaseUrl, async (admin) => {
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${database}" OWNER "${role.name}"`);
  });
  const url = databaseUrl(stack.targetDatabaseUrl, database, role);
  await withClient(url, async (client) => {
    await client.query(`CREATE SCHEMA ${COPY_SCHEMA}`);
    for (const t of tables) await client.query(`CREATE TABLE ${qualified(t)} (${t.ddl})`);
  });
  return { url, adminUrl: databaseUrl(stack.targetDatabaseUrl, database) };
}

/**
 * Empties every table of the target and drops pgferry's bookkeeping there (as the superuser): a
 * fresh target, as for a first `pgferry copy`. Then checkpoints both clusters.
 */
export async function emptyTarget(
  stack: StackEnv,
  adminUrl: string,
  tables: readonly CopyTable[],
): Promise<void> {
  await withClient(adminUrl, async (client) => {
    await client.query(`TRUNCATE ${tables.map(qualified).join(', ')}`);
    await client.query('DROP SCHEMA IF EXISTS pgferry CASCADE');
    await client.query('CHECKPOINT');
  });
  await withClient(stack.sourceDatabaseUrl, (client) => client.query('CHECKPOINT'));
}

export async function createSecondaryIndexes(url: string): Promise<Record<string, number>> {
  return withClient(url, async (client) => {
    const seconds: Record<string, number> = {};
    for (const index of SECONDARY_INDEXES) {
      const started = performance.now();
      await client.query(
        `CREATE INDEX ${index.name} ON ${COPY_SCHEMA}.${index.table} (${index.columns})`,
      );
      seconds[index.name] = (performance.now() - started) / 1000;
    }
    return seconds;
  });
}

/**
 * What `schema-sync --defer-indexes` records for the secondary indexes (as the role pgferry copy
 * runs as): the next `pgferry copy` builds them after the rows.
 */
export async function deferSecondaryIndexes(url: string): Promise<void> {
  await withClient(url, async (client) => {
    await ensureBookkeeping(client);
    await recordDeferredIndexes(
      client,
      SECONDARY_INDEXES.map((index) => ({
        schema: COPY_SCHEMA,
        table: index.table,
        index: index.name,
        statement: `CREATE INDEX IF NOT EXISTS ${index.name} ON ${COPY_SCHEMA}.${index.table} (${index.columns})`,
      })),
    );
  });
}

export async function dropSecondaryIndexes(url: string): Promise<void> {
  await withClient(url, async (client) => {
    for (const index of SECONDARY_INDEXES)
      await client.query(`DROP INDEX IF EXISTS ${COPY_SCHEMA}.${index.name}`);
  });
}

export interface CopyFingerprint {
  rows: number;
  md5: string | null;
}

/**
 * Row count and md5 of the rows' md5s in key order, per table (an md5 per row keeps the aggregate
 * small: the wide table's text would not fit in one string); of the subset when `maxKey` is set.
 */
export async function fingerprintCopyTables(
  url: string,
  tables: readonly CopyTable[],
): Promise<Record<string, CopyFingerprint>> {
  return withClient(url, async (client) => {
    await client.query(
      "SET TimeZone = 'UTC'; SET extra_float_digits = 3; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'",
    );
    const result: Record<string, CopyFingerprint> = {};
    for (const t of tables) {
      const r = await client.query<{ rows: string; md5: string | null }>(
        `SELECT count(*) AS rows, md5(string_agg(md5(t::text), '' ORDER BY ${t.key})) AS md5
           FROM ${qualified(t)} AS t${t.maxKey === undefined ? '' : ` WHERE ${t.key} <= ${t.maxKey}`}`,
      );
      result[t.name] = { rows: Number(r.rows[0]?.rows ?? 0), md5: r.rows[0]?.md5 ?? null };
    }
    return result;
  });
}

/** Empty when equal; otherwise one line per table that differs (at most 5). */
export function compareCopyFingerprints(
  expected: Record<string, CopyFingerprint>,
  actual: Record<string, CopyFingerprint>,
): string[] {
  const diffs = Object.entries(expected).flatMap(([name, e]) => {
    const a = actual[name];
    return a && a.rows === e.rows && a.md5 === e.md5
      ? []
      : [
          `${name}: expected ${e.rows} rows, got ${a?.rows ?? 'none'}${a?.rows === e.rows ? ' (content differs)' : ''}`,
        ];
  });
  return diffs.length > 5 ? [...diffs.slice(0, 5), `and ${diffs.length - 5} more`] : diffs;
}

/** Rows per table on the target now (the Debezium path's "done" test). */
export async function countRows(
  client: pg.ClientBase,
  tables: readonly CopyTable[],
): Promise<Map<string, number>> {
  if (tables.length === 0) return new Map();
  const r = await client.query<{ name: string; rows: string }>(
    tables
      .map((t) => `SELECT '${t.name}' AS name, count(*) AS rows FROM ${qualified(t)}`)
      .join(' UNION ALL '),
  );
  return new Map(r.rows.map((row) => [row.name, Number(row.rows)]));
}

/**
 * Removes the run's publications (always) and the source schema if this run made it (its comment
 * names the run) and the data is not kept.
 */
export async function dropSourceDataset(
  sourceUrl: string,
  runId: string,
  keepSchema: boolean,
): Promise<void> {
  await withClient(sourceUrl, async (client) => {
    const pubs = await client.query<{ pubname: string }>(
      'SELECT pubname FROM pg_publication WHERE starts_with(pubname, $1)',
      [runId],
    );
    for (const { pubname } of pubs.rows) await client.query(`DROP PUBLICATION "${pubname}"`);
    if (keepSchema) return;
    const owner = await client.query<{ comment: string | null }>(
      `SELECT obj_description(oid, 'pg_namespace') AS comment FROM pg_namespace WHERE nspname = $1`,
      [COPY_SCHEMA],
    );
    if (owner.rows[0]?.comment === `pgferry bench ${runId}`)
      await client.query(`DROP SCHEMA IF EXISTS ${COPY_SCHEMA} CASCADE`);
  });
}

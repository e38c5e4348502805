// A fresh target database per phase on the target cluster (owned by pgferry's target role, with
// the bench tables created as on the source), so the phases never share rows, offsets or
// bookkeeping; and the checksum every phase must pass.
import pg from 'pg';
import type { StackEnv } from '../test/support/stack-env.js';
import { type TableFingerprint, tableFingerprint } from '../test/support/table-checksum.js';
import { BENCH_TABLES, createTableSql } from './source-workload.js';

export function databaseUrl(
  baseUrl: string,
  database: string,
  user?: { name: string; password: string },
): string {
  const url = new URL(baseUrl);
  url.pathname = `/${database}`;
  if (user) {
    url.username = user.name;
    url.password = user.password;
  }
  return url.toString();
}

export function targetRole(stack: StackEnv): { name: string; password: string } {
  return {
    name: stack.vars.TARGET_DB_USER ?? 'pgferry',
    password: stack.vars.TARGET_DB_PASSWORD ?? '',
  };
}

export async function createTargetDatabase(
  stack: StackEnv,
  database: string,
  tables: readonly { name: string; ddl: string }[] = BENCH_TABLES,
): Promise<string> {
  const admin = new pg.Client({ connectionString: stack.targetDatabaseUrl });
  await admin.connect();
  const role = targetRole(stack);
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${database}" OWNER "${role.name}"`);
  } finally {
    await admin.end();
  }
  const url = databaseUrl(stack.targetDatabaseUrl, database, role);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const table of tables) await client.query(createTableSql(table));
  } finally {
    await client.end();
  }
  return url;
}

export type Fingerprints = Record<string, TableFingerprint>;

export async function fingerprintTables(url: string): Promise<Fingerprints> {
  const result: Fingerprints = {};
  for (const t of BENCH_TABLES)
    result[t.name] = await tableFingerprint(url, `public.${t.name}`, t.orderBy);
  return result;
}

/** Empty when equal; otherwise one line per table that differs. */
export function compareFingerprints(expected: Fingerprints, actual: Fingerprints): string[] {
  return BENCH_TABLES.flatMap((t) => {
    const e = expected[t.name];
    const a = actual[t.name];
    return e && a && e.rows === a.rows && e.md5 === a.md5
      ? []
      : [`${t.name}: expected ${e?.rows} rows ${e?.md5}, got ${a?.rows} rows ${a?.md5}`];
  });
}

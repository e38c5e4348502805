// A fresh target database per phase on the target cluster (owned by pgferry's target role, with
// the bench tables created as on the source), so the phases never share rows, offsets or
// bookkeeping; and the checksum every phase must pass.
import pg from 'pg';
import { quoteIdent } from '../core/sql-identifier.js';
import type { StackEnv } from '../test/support/stack-env.js';
import { type TableFingerprint, tableFingerprint } from '../test/support/table-checksum.js';
import { createTableSql } from './source-workload.js';

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
  tables: readonly { name: string; ddl: string }[],
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

/** Drops a phase's target database once it is checked (a run makes dozens; unless BENCH_KEEP). */
export async function dropTargetDatabase(stack: StackEnv, database: string): Promise<void> {
  const admin = new pg.Client({ connectionString: stack.targetDatabaseUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

export type Fingerprints = Record<string, TableFingerprint>;

export async function fingerprintTables(
  url: string,
  tables: readonly { name: string; orderBy: string }[],
): Promise<Fingerprints> {
  const result: Fingerprints = {};
  for (const t of tables)
    result[t.name] = await tableFingerprint(
      url,
      `public.${quoteIdent(t.name)}`,
      quoteIdent(t.orderBy),
    );
  return result;
}

/** Empty when equal; otherwise one line per table that differs. */
export function compareFingerprints(expected: Fingerprints, actual: Fingerprints): string[] {
  return Object.entries(expected).flatMap(([name, e]) => {
    const a = actual[name];
    return a && e.rows === a.rows && e.md5 === a.md5
      ? []
      : [`${name}: expected ${e.rows} rows ${e.md5}, got ${a?.rows} rows ${a?.md5}`];
  });
}

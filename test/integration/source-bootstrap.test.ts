// stack/sql/source-bootstrap.sql with the source schemas (PGFERRY_SOURCE_SCHEMAS -> psql variable
// `schemas`), on a throwaway cluster so the shared stack's roles and publication stay untouched:
// the publication publishes every listed schema as a whole (a schema added later is added to it),
// the roles may read each, and a second run changes nothing. Without the variable: public, as
// before.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findSchemasNotPublished } from '../../migrate/preflight/source-schema-checks.js';
import { repoPath } from '../support/stack-env.js';
import { startThrowawayPostgres, type ThrowawayPostgres } from '../support/throwaway-postgres.js';

const run = promisify(execFile);
let cluster: ThrowawayPostgres;
let client: pg.Client;

async function bootstrap(schemas?: string): Promise<void> {
  const vars = {
    dbz_user: 'h4_dbz',
    dbz_pw: 'x',
    rd_user: 'h4_reader',
    rd_pw: 'x',
    rb_user: 'h4_rollback',
    rb_pw: 'x',
    pub: 'h4_pub',
    db: 'postgres',
    ...(schemas === undefined ? {} : { schemas }),
  };
  await run('psql', [
    '-X',
    '-q',
    '-v',
    'ON_ERROR_STOP=1',
    ...Object.entries(vars).flatMap(([k, v]) => ['-v', `${k}=${v}`]),
    '-d',
    cluster.url,
    '-f',
    repoPath('stack/sql/source-bootstrap.sql'),
  ]);
}

async function published(): Promise<string[]> {
  const r = await client.query<{ name: string }>(
    `SELECT n.nspname AS name FROM pg_publication_namespace pn
       JOIN pg_publication p ON p.oid = pn.pnpubid JOIN pg_namespace n ON n.oid = pn.pnnspid
      WHERE p.pubname = 'h4_pub' ORDER BY 1`,
  );
  return r.rows.map((row) => row.name);
}

beforeAll(async () => {
  cluster = await startThrowawayPostgres({ wal_level: 'logical' });
  client = new pg.Client({ connectionString: cluster.url });
  await client.connect();
}, 60_000);

afterAll(async () => {
  await client?.end().catch(() => undefined);
  await cluster?.stop();
});

describe('source-bootstrap.sql and the source schemas', () => {
  it('publishes public without the variable, then every listed schema, idempotently', async () => {
    await bootstrap();
    expect(await published()).toEqual(['public']);

    await client.query(
      'CREATE SCHEMA sales; CREATE SCHEMA "Odd, Name"; CREATE TABLE sales.t (id int)',
    );
    // A listed schema that does not exist yet is left for a later run.
    await bootstrap('public, sales,Odd, Name,missing');
    // "Odd, Name" is two list entries ("Odd" and "Name"): neither exists, neither is published.
    expect(await published()).toEqual(['public', 'sales']);
    expect(await findSchemasNotPublished(client, 'h4_pub', ['public', 'sales'])).toEqual([]);
    const rights = await client.query<{ dbz: boolean; reader: boolean; table: boolean }>(
      `SELECT has_schema_privilege('h4_dbz', 'sales', 'USAGE') AS dbz,
              has_schema_privilege('h4_reader', 'sales', 'USAGE') AS reader,
              has_table_privilege('h4_dbz', 'sales.t', 'SELECT') AS table`,
    );
    expect(rights.rows[0]).toEqual({ dbz: true, reader: true, table: true });

    await bootstrap('public,sales');
    expect(await published()).toEqual(['public', 'sales']);
  }, 60_000);

  it('creates the publication over every listed schema when it does not exist', async () => {
    await client.query('DROP PUBLICATION h4_pub; CREATE SCHEMA hr');
    await bootstrap('sales,hr');
    expect(await published()).toEqual(['hr', 'sales']);
    const viaRoot = await client.query(
      "SELECT pubviaroot FROM pg_publication WHERE pubname = 'h4_pub'",
    );
    expect(viaRoot.rows[0]).toEqual({ pubviaroot: true });
  }, 60_000);
});

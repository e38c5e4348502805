// Row-level security on a source table must never make copy or verify see a subset of its rows
// (the stream, read from the WAL, carries them all): preflight FAILs a reading role the policies
// would filter, and the copy's and verify's sessions (row_security = off) stop with an error
// instead of reading what the policies let through. Real source PostgreSQL.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quoteIdent } from '../../core/sql-identifier.js';
import { COPY_SOURCE_SESSION_SETTINGS } from '../../migrate/copy/copy-snapshot.js';
import { findRowSecurityFilteredTables } from '../../migrate/preflight/source-copy-checks.js';
import { withRenderSettings } from '../../migrate/verify/verify-session.js';
import { loadStackEnv } from '../support/stack-env.js';

const stack = loadStackEnv();
const run = Date.now().toString(36);
const schema = `rls_${run}`;
const role = `rls_reader_${run}`;
const password = `pw_${run}`;
const table = { schema, name: 'accounts' };
const qualified = `${quoteIdent(schema)}.accounts`;

const admin = new pg.Client({ connectionString: stack.sourceDatabaseUrl });

function readerUrl(): string {
  const url = new URL(stack.sourceDatabaseUrl);
  url.username = role;
  url.password = password;
  return url.toString();
}

beforeAll(async () => {
  await admin.connect();
  await admin.query(`
    CREATE SCHEMA ${quoteIdent(schema)};
    CREATE TABLE ${qualified} (id integer PRIMARY KEY, region text NOT NULL);
    INSERT INTO ${qualified} SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END FROM generate_series(1, 10) g;
    ALTER TABLE ${qualified} ENABLE ROW LEVEL SECURITY;
    CREATE POLICY only_eu ON ${qualified} USING (region = 'eu');
    CREATE ROLE ${quoteIdent(role)} LOGIN PASSWORD '${password}';
    GRANT USAGE ON SCHEMA ${quoteIdent(schema)} TO ${quoteIdent(role)};
    GRANT SELECT ON ${qualified} TO ${quoteIdent(role)};`);
}, 30_000);

afterAll(async () => {
  await admin.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`).catch(() => {});
  await admin.query(`DROP ROLE IF EXISTS ${quoteIdent(role)}`).catch(() => {});
  await admin.end();
});

describe('row-level security on a source table', () => {
  it('preflight names the table for a role its policies filter, not for a BYPASSRLS one', async () => {
    expect(await findRowSecurityFilteredTables(admin, role, [table])).toEqual([table]);
    // The stack's reader role is BYPASSRLS (stack/sql/source-bootstrap.sql); so is a superuser.
    const reader = stack.vars.SOURCE_DB_USER ?? 'pgferry_reader';
    expect(await findRowSecurityFilteredTables(admin, reader, [table])).toEqual([]);
    expect(await findRowSecurityFilteredTables(admin, 'postgres', [table])).toEqual([]);
    await admin.query(`ALTER ROLE ${quoteIdent(role)} BYPASSRLS`);
    try {
      expect(await findRowSecurityFilteredTables(admin, role, [table])).toEqual([]);
    } finally {
      await admin.query(`ALTER ROLE ${quoteIdent(role)} NOBYPASSRLS`);
    }
  });

  it('copy and verify sessions fail instead of reading the rows the policy lets through', async () => {
    const reader = new pg.Client({ connectionString: readerUrl() });
    await reader.connect();
    try {
      // Without the setting, the role silently sees half of the rows: what must not happen.
      const plain = await reader.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${qualified}`,
      );
      expect(plain.rows[0]?.n).toBe(5);
      await reader.query(COPY_SOURCE_SESSION_SETTINGS);
      await expect(reader.query(`SELECT count(*) FROM ${qualified}`)).rejects.toThrow(
        /row-level security/,
      );
      await reader.query('SET row_security = on');
      await expect(
        withRenderSettings(reader, () => reader.query(`SELECT count(*) FROM ${qualified}`)),
      ).rejects.toThrow(/row-level security/);
    } finally {
      await reader.end();
    }
  });
});

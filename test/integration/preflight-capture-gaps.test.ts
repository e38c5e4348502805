// pgferry preflight on what logical replication cannot carry, on real servers: an UNLOGGED
// captured table (FAIL, then PASS once SET LOGGED), large objects and the captured oid column that
// refers to them (WARN), tables of the captured schema left out (WARN), sequences cutover's
// sequence sync does not set (WARN: explicit nextval only, or used by a table left out; not the
// serial or DEFAULT nextval of a captured column); and the source's extensions against the target
// server (a throw-away source cluster, so the stack's source keeps its extensions); and that the
// connector file carries numerics exactly (decimal.handling.mode=string).
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckResult, PreflightReport } from '../../migrate/preflight/preflight-check.js';
import { runPgferryCli } from '../support/cli-run.js';
import { loadStackEnv } from '../support/stack-env.js';
import { startThrowawayPostgres, type ThrowawayPostgres } from '../support/throwaway-postgres.js';

const stack = loadStackEnv();
const run = Date.now().toString(36);
const SCHEMA = `h5gap_${run}`;
const q = (name: string) => `${SCHEMA}.${name}`;

const source = new pg.Client({ connectionString: stack.sourceDatabaseUrl });
let largeObject: number | undefined;
let throwaway: ThrowawayPostgres | undefined;

async function preflight(args: string[], env: Record<string, string> = {}) {
  const result = await runPgferryCli(['preflight', '--json', ...args], {
    ...stack.vars,
    LOG_LEVEL: 'silent',
    CONNECTOR_NAME: `h5-gap-absent-${run}`,
    SOURCE_SLOT_NAME: `h5_gap_absent_${run}`,
    ...env,
  });
  expect(result.stderr).toBe('');
  const report = JSON.parse(result.stdout) as PreflightReport;
  return (id: string): CheckResult => {
    const found = report.sections.flatMap((s) => s.checks).find((c) => c.id === id);
    if (!found) throw new Error(`no check ${id} in ${result.stdout}`);
    return found;
  };
}

beforeAll(async () => {
  await source.connect();
  await source.query(`CREATE SCHEMA ${SCHEMA}`);
  await source.query(`GRANT USAGE ON SCHEMA ${SCHEMA} TO ${stack.vars.SOURCE_DB_USER}`);
  await source.query(`CREATE SEQUENCE ${q('by_default')}`);
  await source.query(`CREATE SEQUENCE ${q('lonely')}`);
  await source.query(`CREATE TABLE ${q('keyed')} (
      id serial PRIMARY KEY,
      ref bigint NOT NULL DEFAULT nextval('${q('by_default')}'),
      doc oid)`);
  await source.query(`CREATE UNLOGGED TABLE ${q('cache')} (id integer PRIMARY KEY, v text)`);
  await source.query(`CREATE TABLE ${q('left_out')} (id serial PRIMARY KEY)`);
  await source.query(
    `GRANT SELECT ON ALL TABLES IN SCHEMA ${SCHEMA} TO ${stack.vars.SOURCE_DB_USER}`,
  );
  const created = await source.query<{ oid: number }>(`SELECT lo_from_bytea(0, 'x') AS oid`);
  largeObject = created.rows[0]?.oid;
  await source.query(`INSERT INTO ${q('keyed')} (doc) VALUES ($1)`, [largeObject]);
});

afterAll(async () => {
  if (largeObject !== undefined) await source.query('SELECT lo_unlink($1)', [largeObject]);
  await source.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  await source.end();
  await throwaway?.stop();
});

describe.sequential('preflight: what logical replication cannot carry', () => {
  it('names the unlogged table, large objects, tables left out and sequences cutover does not set', async () => {
    const check = await preflight(['--tables', `${q('keyed')},${q('cache')}`]);

    const unlogged = check('source.unlogged');
    expect(unlogged.status).toBe('fail');
    expect(unlogged.details).toEqual([`${q('cache')}: ALTER TABLE ${q('cache')} SET LOGGED`]);

    const largeObjects = check('source.large_objects');
    expect(largeObjects.status).toBe('warn');
    expect(largeObjects.details).toEqual([`${q('keyed')}.doc`]);

    const leftOut = check('source.uncaptured');
    expect(leftOut.status).toBe('warn');
    expect(leftOut.details).toEqual([q('left_out')]);

    // No connector registered under that name: the file connector apply would register.
    expect(check('connect.numeric')).toMatchObject({
      status: 'pass',
      message: expect.stringMatching(
        /^connect-config\/debezium-source\.json: decimal\.handling\.mode=string with column\.propagate\.source\.type=\.\*/,
      ),
    });

    const sequences = check('source.sequences');
    expect(sequences.status).toBe('warn');
    expect(sequences.details).toEqual([
      `${q('left_out_id_seq')} (used by ${q('left_out')}.id, not captured)`,
      `${q('lonely')} (explicit nextval only)`,
    ]);
  });

  it('passes the unlogged check once the table is logged, and warns about one left out', async () => {
    await source.query(`ALTER TABLE ${q('cache')} SET LOGGED`);
    await source.query(`ALTER TABLE ${q('left_out')} SET UNLOGGED`);
    const check = await preflight(['--tables', `${q('keyed')},${q('cache')}`]);
    const unlogged = check('source.unlogged');
    expect(unlogged.status).toBe('warn');
    expect(unlogged.details).toEqual([`${q('left_out')}: ALTER TABLE ${q('left_out')} SET LOGGED`]);
    await source.query(`ALTER TABLE ${q('left_out')} SET LOGGED`);
    expect(
      (await preflight(['--tables', `${q('keyed')},${q('cache')}`]))('source.unlogged').status,
    ).toBe('pass');
  });

  it('fails an extension the target server cannot create, passes one it can', async () => {
    throwaway = await startThrowawayPostgres({ wal_level: 'logical' });
    const admin = new pg.Client({
      host: '127.0.0.1',
      port: throwaway.port,
      user: 'postgres',
      database: 'postgres',
    });
    await admin.connect();
    try {
      await admin.query('CREATE EXTENSION pg_trgm');
      // An extension whose package exists only on the source server: registered in the catalog
      // by hand, as no control file for it exists on this machine (the target has the same ones).
      await admin.query(`INSERT INTO pg_extension (oid, extname, extowner, extnamespace, extrelocatable, extversion)
        VALUES ((SELECT max(oid)::int + 1 FROM pg_extension)::oid, 'h5_only_on_source', 10, 2200, true, '9.9')`);
    } finally {
      await admin.end();
    }
    const env = {
      SOURCE_DB_HOST: '127.0.0.1',
      SOURCE_DB_PORT: String(throwaway.port),
      SOURCE_DB_NAME: 'postgres',
      SOURCE_DB_USER: 'postgres',
      SOURCE_DB_PASSWORD: 'unused',
    };
    const check = await preflight([], env);
    const extensions = check('target.extensions');
    expect(extensions.status).toBe('fail');
    expect(extensions.message).toContain(': h5_only_on_source.');
    expect(extensions.details).toEqual([
      'extension h5_only_on_source (9.9 on the source) is not available on the target server',
    ]);

    // Without it, pg_trgm alone: available on the target server, schema-sync creates it.
    const again = new pg.Client({
      host: '127.0.0.1',
      port: throwaway.port,
      user: 'postgres',
      database: 'postgres',
    });
    await again.connect();
    await again.query(`DELETE FROM pg_extension WHERE extname = 'h5_only_on_source'`);
    await again.end();
    const after = (await preflight([], env))('target.extensions');
    expect(after.status).toBe('pass');
    expect(after.details).toEqual([
      expect.stringMatching(
        /^pg_trgm [\d.]+: available on the target \([\d.]+\), schema-sync creates it$/,
      ),
    ]);
  });
});

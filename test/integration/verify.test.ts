// `pgferry verify` against the real source and target databases, with no replication involved:
// the test writes both sides directly (as superuser) in a schema of its own, outside the
// publication, and lets verify read them as the least-privilege roles pgferry runs as.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_CHECK_FAILED, EXIT_OK } from '../../cli/run-cli.js';
import { quoteIdent } from '../../core/sql-identifier.js';
import {
  type TableVerifyResult,
  type VerifyReport,
  verifyTables,
} from '../../migrate/verify/table-verify.js';
import { runPgferryCli } from '../support/cli-run.js';
import { loadStackEnv } from '../support/stack-env.js';

const stack = loadStackEnv();
const schema = `verify_it_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
const s = quoteIdent(schema);
let sourceAdmin: pg.Client;
let targetAdmin: pg.Client;

interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

function verify(args: string[], env: Record<string, string> = stack.vars): Promise<Captured> {
  return runPgferryCli(['verify', ...args], env);
}

async function verifyJson(args: string[]): Promise<{ code: number; report: VerifyReport }> {
  const result = await verify([...args, '--json']);
  if (result.stderr !== '') throw new Error(`verify wrote to stderr: ${result.stderr}`);
  return { code: result.code, report: JSON.parse(result.stdout) as VerifyReport };
}

const tablesArg = (...names: string[]): string[] => [
  '--tables',
  names.map((n) => `${schema}.${n}`).join(','),
];

function tableResult(report: VerifyReport, name: string): TableVerifyResult {
  const found = report.tables.find((t) => t.source === `${schema}.${name}`);
  if (found === undefined) throw new Error(`no result for ${name}: ${JSON.stringify(report)}`);
  return found;
}

// The same rows on both sides, written by the same SQL: the target's session uses another time
// zone, so only rendering in UTC makes the timestamptz values compare equal.
const MIXED_ROWS = `
  INSERT INTO ${s}.mixed (code, seq, amount, at, doc, blob, note, ratio)
  SELECT c.code, g,
         CASE WHEN g % 10 = 0 THEN NULL ELSE round(g * 1.2345, 4) END,
         timestamptz '2024-03-01 12:00:00+00' + g * interval '37 minutes 12.345678 seconds',
         jsonb_build_object('n', g, 'tags', jsonb_build_array(c.code, g % 3), 'nested', jsonb_build_object('ok', g % 2 = 0)),
         CASE WHEN g % 7 = 0 THEN NULL ELSE decode(md5(c.code || g), 'hex') END,
         CASE WHEN g % 5 = 0 THEN NULL ELSE 'note, "quoted" (' || g || ')' END,
         g / 3.0::float8
    FROM unnest(ARRAY['a b', 'o''x', 'zeta', 'ü']) AS c(code), generate_series(1, 100) AS g`;

beforeAll(async () => {
  sourceAdmin = new pg.Client({ connectionString: stack.sourceDatabaseUrl });
  targetAdmin = new pg.Client({ connectionString: stack.targetDatabaseUrl });
  await sourceAdmin.connect();
  await targetAdmin.connect();
  const reader = quoteIdent(stack.vars.SOURCE_DB_USER ?? 'pgferry_reader');
  const writer = quoteIdent(stack.vars.TARGET_DB_USER ?? 'pgferry');

  await sourceAdmin.query(`
    CREATE SCHEMA ${s};
    CREATE TABLE ${s}.big (id int PRIMARY KEY, v text NOT NULL, n numeric(12,2));
    CREATE TABLE ${s}.mixed (
      code text, seq int, amount numeric(14,4), at timestamptz, doc jsonb, blob bytea,
      note text, ratio float8, twice numeric GENERATED ALWAYS AS (amount * 2) STORED,
      PRIMARY KEY (code, seq));
    CREATE TABLE ${s}.live (id int PRIMARY KEY, v text);
    CREATE TABLE ${s}.only_source (id int PRIMARY KEY);
    CREATE TABLE ${s}.nopk (id int, v text);
    INSERT INTO ${s}.big SELECT 2 * g, 'row ' || g, round(g / 7.0, 2) FROM generate_series(1, 25000) g;
    ${MIXED_ROWS};
    INSERT INTO ${s}.live SELECT g, 'v' || g FROM generate_series(1, 50) g;
    INSERT INTO ${s}.nopk VALUES (1, 'a'), (1, 'a'), (2, NULL);
    GRANT USAGE ON SCHEMA ${s} TO ${reader};
    GRANT SELECT ON ALL TABLES IN SCHEMA ${s} TO ${reader};
  `);
  // Target: a wider type for note, a plain column where the source computes one, and a column
  // the source does not have (pgferry keeps columns dropped at the source).
  await targetAdmin.query(`
    SET TimeZone = 'America/New_York';
    SET DateStyle = 'SQL, DMY';
    CREATE SCHEMA ${s};
    CREATE TABLE ${s}.big (id int PRIMARY KEY, v text NOT NULL, n numeric(12,2));
    CREATE TABLE ${s}.mixed (
      code text, seq int, amount numeric(14,4), at timestamptz, doc jsonb, blob bytea,
      note varchar(200), ratio float8, twice numeric, legacy text,
      PRIMARY KEY (code, seq));
    CREATE TABLE ${s}.live (id int PRIMARY KEY, v text);
    CREATE TABLE ${s}.nopk (id int, v text);
    INSERT INTO ${s}.big SELECT 2 * g, 'row ' || g, round(g / 7.0, 2) FROM generate_series(1, 25000) g;
    ${MIXED_ROWS};
    UPDATE ${s}.mixed SET twice = -1, legacy = 'kept';
    INSERT INTO ${s}.live SELECT g, 'v' || g FROM generate_series(1, 50) g;
    INSERT INTO ${s}.nopk VALUES (2, NULL), (1, 'a'), (1, 'a');
    GRANT USAGE ON SCHEMA ${s} TO ${writer};
    GRANT SELECT ON ALL TABLES IN SCHEMA ${s} TO ${writer};
  `);
});

afterAll(async () => {
  await sourceAdmin?.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  await targetAdmin?.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  await sourceAdmin?.end();
  await targetAdmin?.end();
});

describe('pgferry verify', () => {
  it('exits 0 when the tables hold the same rows (several chunks, composite text key)', async () => {
    const { code, report } = await verifyJson([
      ...tablesArg('big', 'mixed', 'live'),
      '--chunk-rows',
      '10000',
      '--recheck-attempts',
      '0',
    ]);
    expect(report.tables.map((t) => t.error)).toEqual([undefined, undefined, undefined]);
    expect(code).toBe(EXIT_OK);
    expect(report.match).toBe(true);
    const big = tableResult(report, 'big');
    expect(big).toMatchObject({ sourceRows: 25_000, targetRows: 25_000, chunks: 3, match: true });
    expect(big.checksum).toMatch(/^[0-9a-f]{32}$/);
    expect(tableResult(report, 'mixed')).toMatchObject({ sourceRows: 400, targetRows: 400 });

    const human = await verify([...tablesArg('big', 'mixed'), '--recheck-attempts', '0']);
    expect(human.code).toBe(EXIT_OK);
    expect(human.stdout).toContain(
      `${schema}.big: 25000 source rows, 25000 target rows, 3 chunks: OK`,
    );
    expect(human.stdout).toContain('verify: OK, 2 tables match');
  });

  it('renders values alike whatever the session settings, restores them, and gives the same checksum with the databases swapped', async () => {
    await sourceAdmin.query("SET TimeZone = 'Asia/Tokyo'");
    const pairs = [{ source: { schema, name: 'big' }, target: { schema, name: 'big' } }];
    const forward = await verifyTables(sourceAdmin, targetAdmin, pairs, { chunkRows: 7000 });
    const backward = await verifyTables(targetAdmin, sourceAdmin, pairs, { chunkRows: 7000 });
    expect(forward.match).toBe(true);
    expect(backward.match).toBe(true);
    expect(forward.tables[0]?.chunks).toBe(4);
    // Sessions that render timestamptz and dates differently still compare equal.
    const mixed = await verifyTables(sourceAdmin, targetAdmin, [
      { source: { schema, name: 'mixed' }, target: { schema, name: 'mixed' } },
    ]);
    expect(mixed.tables[0]).toMatchObject({ match: true, sourceRows: 400, targetRows: 400 });
    expect(backward.tables[0]?.checksum).toBe(forward.tables[0]?.checksum);
    expect((await sourceAdmin.query('SHOW TimeZone')).rows[0]?.TimeZone).toBe('Asia/Tokyo');
    expect((await targetAdmin.query('SHOW DateStyle')).rows[0]?.DateStyle).toBe('SQL, DMY');
  });

  it('names exactly the changed, missing and extra keys and exits 3', async () => {
    await targetAdmin.query(`
      UPDATE ${s}.big SET v = 'changed' WHERE id = 30000;
      DELETE FROM ${s}.big WHERE id = 20000;
      INSERT INTO ${s}.big VALUES (101, 'extra inside', 1), (60000, 'extra beyond the source', 2);
      UPDATE ${s}.mixed SET doc = doc || '{"n": -1}' WHERE code = 'ü' AND seq = 7;
      DELETE FROM ${s}.mixed WHERE code = 'o''x' AND seq = 50;
    `);
    const { code, report } = await verifyJson([
      ...tablesArg('big', 'mixed', 'live'),
      '--recheck-attempts',
      '1',
      '--recheck-delay',
      '0.2',
    ]);
    expect(code).toBe(EXIT_CHECK_FAILED);
    expect(report.match).toBe(false);
    const big = tableResult(report, 'big');
    expect(big).toMatchObject({ match: false, sourceRows: 25_000, targetRows: 25_001, chunks: 3 });
    expect(big.differences).toEqual([
      { key: { id: '101' }, kind: 'extra' },
      { key: { id: '20000' }, kind: 'missing' },
      { key: { id: '30000' }, kind: 'changed' },
      { key: { id: '60000' }, kind: 'extra' },
    ]);
    expect(big.differencesTruncated).toBe(false);
    expect(big.mismatchedRanges).toEqual([
      { from: null, to: { id: '20000' } },
      { from: { id: '20000' }, to: { id: '40000' } },
      { from: { id: '40000' }, to: null },
    ]);
    const mixed = tableResult(report, 'mixed');
    expect(mixed.differences).toEqual([
      { key: { code: "o'x", seq: '50' }, kind: 'missing' },
      { key: { code: 'ü', seq: '7' }, kind: 'changed' },
    ]);
    expect(tableResult(report, 'live').match).toBe(true);

    const human = await verify([...tablesArg('big', 'mixed'), '--recheck-attempts', '0']);
    expect(human.code).toBe(EXIT_CHECK_FAILED);
    expect(human.stdout).toContain(
      `${schema}.big: 25000 source rows, 25001 target rows, 3 chunks: MISMATCH`,
    );
    expect(human.stdout).toContain('  keys <= (id=20000)\n');
    expect(human.stdout).toContain('  keys > (id=20000) and <= (id=40000)\n');
    expect(human.stdout).toContain('  keys > (id=40000)\n');
    expect(human.stdout).toContain('  extra   (id=101)\n');
    expect(human.stdout).toContain('  missing (id=20000)\n');
    expect(human.stdout).toContain('  changed (id=30000)\n');
    expect(human.stdout).toContain('  extra   (id=60000)\n');
    expect(human.stdout).toContain(`  missing (code="o'x", seq=50)\n`);
    expect(human.stdout).toContain('  changed (code=ü, seq=7)\n');
    expect(human.stdout).toContain('verify: MISMATCH in 2 of 2 tables\n');

    const capped = await verifyJson([
      ...tablesArg('big'),
      '--recheck-attempts',
      '0',
      '--max-keys',
      '2',
    ]);
    expect(capped.code).toBe(EXIT_CHECK_FAILED);
    expect(tableResult(capped.report, 'big').differences).toEqual([
      { key: { id: '101' }, kind: 'extra' },
      { key: { id: '20000' }, kind: 'missing' },
    ]);
    expect(tableResult(capped.report, 'big').differencesTruncated).toBe(true);
  });

  it('does not report a difference the target catches up on during the re-check delay', async () => {
    await targetAdmin.query(`UPDATE ${s}.live SET v = 'in flight' WHERE id = 10`);
    const pairs = [{ source: { schema, name: 'live' }, target: { schema, name: 'live' } }];
    // Without a re-check the difference is real.
    const once = await verifyTables(sourceAdmin, targetAdmin, pairs, {
      recheck: { attempts: 0, delayMs: 0 },
    });
    expect(once.tables[0]?.differences).toEqual([{ key: { id: '10' }, kind: 'changed' }]);

    let caughtUp: Promise<unknown> | undefined;
    const started = Date.now();
    const report = await verifyTables(sourceAdmin, targetAdmin, pairs, {
      recheck: { attempts: 2, delayMs: 1500 },
      onProgress: () => {
        // The first pass has seen the difference: the "pipeline" applies the change now.
        caughtUp ??= targetAdmin.query(`UPDATE ${s}.live SET v = 'v10' WHERE id = 10`);
      },
    });
    await caughtUp;
    expect(caughtUp).toBeDefined();
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
    expect(report.match).toBe(true);
    expect(report.tables[0]).toMatchObject({
      match: true,
      sourceRows: 50,
      targetRows: 50,
      mismatchedRanges: [],
      differences: [],
    });
  });

  it('reports a table missing on the target as an error; a table without a primary key compares as a multiset', async () => {
    const { code, report } = await verifyJson([
      ...tablesArg('live', 'nopk', 'only_source'),
      '--recheck-attempts',
      '0',
    ]);
    expect(code).toBe(EXIT_CHECK_FAILED);
    expect(tableResult(report, 'live').match).toBe(true);
    expect(tableResult(report, 'only_source')).toMatchObject({
      match: false,
      error: `${schema}.only_source does not exist on the target`,
    });
    // The same rows (a duplicate, a NULL) stored in another order: equal as multisets.
    expect(tableResult(report, 'nopk')).toMatchObject({
      match: true,
      sourceRows: 3,
      targetRows: 3,
      chunks: 1,
    });
    expect(tableResult(report, 'nopk').error).toBeUndefined();
    const human = await verify([...tablesArg('only_source'), '--recheck-attempts', '0']);
    expect(human.stdout).toContain(
      `${schema}.only_source: ERROR ${schema}.only_source does not exist on the target`,
    );
  });

  it('compares with TARGET_SCHEMA when it is set; exit 2 on bad usage, 1 on an unknown table', async () => {
    const mapped = await verify([...tablesArg('live'), '--recheck-attempts', '0'], {
      ...stack.vars,
      TARGET_SCHEMA: `${schema}_nowhere`,
    });
    expect(mapped.code).toBe(EXIT_CHECK_FAILED);
    expect(mapped.stdout).toContain(`${schema}_nowhere.live does not exist on the target`);
    expect((await verify(['--chunk-rows', '0'])).code).toBe(2);
    expect((await verify(['--tables', `${schema}.no_such_table`])).code).toBe(1);
  });
});

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPgferryCli } from '../support/cli-run.js';
import { loadStackEnv } from '../support/stack-env.js';

const stack = loadStackEnv();
const run = Date.now().toString(36);
const n = (name: string) => `sz_${name}_${run}`;
const MOOD = n('mood');
const ORDERS = n('orders');
const USERS = n('users');
const NOPK = n('nopk');
const FRESH = n('fresh');
const DRIFT = n('drift');
const MINE = [ORDERS, USERS, NOPK, FRESH, DRIFT];

const source = new pg.Client({ connectionString: stack.sourceDatabaseUrl });
const target = new pg.Client({ connectionString: stack.targetDatabaseUrl });

function schemaSync(...args: string[]) {
  return runPgferryCli(['schema-sync', ...args], { ...stack.vars, LOG_LEVEL: 'silent' });
}

/** Everything schema-sync promises about one table, read the same way on either side. */
async function describeTable(client: pg.Client, table: string) {
  const oid = `public.${table}`;
  const q = async (sql: string) => (await client.query(sql, [oid])).rows;
  await client.query('SET search_path = pg_catalog');
  try {
    return {
      columns: await q(`SELECT attname, format_type(atttypid, atttypmod) AS type, attnotnull,
          attidentity, attgenerated, pg_get_expr(d.adbin, d.adrelid) AS default
        FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`),
      constraints: await q(`SELECT conname, contype, pg_get_constraintdef(oid) AS def
        FROM pg_constraint WHERE conrelid = $1::regclass ORDER BY conname`),
      indexes: await q(`SELECT c.relname, pg_get_indexdef(i.indexrelid) AS def
        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid = $1::regclass ORDER BY c.relname`),
      sequences: await q(`SELECT s.relname, format_type(q.seqtypid, NULL) AS type, q.seqstart,
          q.seqincrement, q.seqmin, q.seqmax, q.seqcache, q.seqcycle, d.deptype,
          a.attname AS owned_by
        FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
        JOIN pg_sequence q ON q.seqrelid = s.oid
        JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
        WHERE d.refobjid = $1::regclass AND d.deptype IN ('a', 'i') ORDER BY s.relname`),
    };
  } finally {
    await client.query('RESET search_path');
  }
}

async function enumLabels(client: pg.Client, name: string): Promise<string[]> {
  const r = await client.query<{ labels: string[] }>(
    `SELECT array_agg(enumlabel::text ORDER BY enumsortorder) AS labels FROM pg_enum
      WHERE enumtypid = to_regtype($1)`,
    [`public.${name}`],
  );
  return r.rows[0]?.labels ?? [];
}

async function targetHas(table: string): Promise<boolean> {
  const r = await target.query('SELECT to_regclass($1) IS NOT NULL AS has', [`public.${table}`]);
  return r.rows[0].has as boolean;
}

describe.sequential('pgferry schema-sync', () => {
  beforeAll(async () => {
    await source.connect();
    await target.connect();
    await source.query(`CREATE TYPE ${MOOD} AS ENUM ('sad', 'ok', 'happy', 'it''s "odd"')`);
    await source.query(`CREATE TABLE ${USERS} (
      id serial PRIMARY KEY,
      name varchar(50) NOT NULL,
      ticket bigserial)`);
    await source.query(`CREATE TABLE ${ORDERS} (
      tenant integer NOT NULL,
      id bigint GENERATED ALWAYS AS IDENTITY (START WITH 100 INCREMENT BY 5),
      code text NOT NULL,
      mood ${MOOD} NOT NULL DEFAULT 'ok',
      amount numeric(12,2) NOT NULL DEFAULT 0,
      seen timestamptz NOT NULL DEFAULT now(),
      doc jsonb,
      u uuid,
      label varchar(40),
      tags text[],
      user_id integer REFERENCES ${USERS} (id),
      PRIMARY KEY (tenant, id),
      CONSTRAINT ${ORDERS}_code UNIQUE (tenant, code),
      CONSTRAINT ${ORDERS}_amount CHECK (amount >= 0))`);
    await source.query(
      `CREATE UNIQUE INDEX ${ORDERS}_lower ON ${ORDERS} (lower(code)) WHERE mood <> 'sad'`,
    );
    await source.query(`CREATE INDEX ${ORDERS}_seen ON ${ORDERS} (seen DESC)`);
    await source.query(`CREATE FUNCTION ${n('touch')}() RETURNS trigger LANGUAGE plpgsql
      AS $$ BEGIN NEW.seen := now(); RETURN NEW; END $$`);
    await source.query(`CREATE TRIGGER ${n('touch')} BEFORE UPDATE ON ${ORDERS}
      FOR EACH ROW EXECUTE FUNCTION ${n('touch')}()`);
    await source.query(`CREATE TABLE ${NOPK} (a integer, b text)`);
    await source.query(`CREATE TABLE ${FRESH} (id integer PRIMARY KEY, note text)`);
    await source.query(
      `CREATE TABLE ${DRIFT} (id integer PRIMARY KEY, amount numeric(12,2), note text)`,
    );
  });

  afterAll(async () => {
    for (const client of [source, target]) {
      for (const table of MINE) await client.query(`DROP TABLE IF EXISTS ${table} CASCADE`);
      await client.query(`DROP TYPE IF EXISTS ${MOOD}`);
    }
    await source.query(`DROP FUNCTION IF EXISTS ${n('touch')}()`);
    await target.query(`DROP FUNCTION IF EXISTS ${n('touch')}()`);
    await target
      .query('DELETE FROM pgferry.cutover_triggers WHERE table_name = ANY($1::text[])', [MINE])
      .catch(() => undefined);
    await source.end();
    await target.end();
  });

  it('creates the tables so that their catalog equals the source (identity BY DEFAULT, no FK)', async () => {
    const result = await schemaSync('--tables', `${ORDERS},public.${USERS}`);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`table public.${ORDERS}: create table`);
    expect(result.stdout).toContain(`enum public.${MOOD}: create type`);
    expect(result.stdout).toMatch(/applied \d+ statement\(s\) in one transaction/);
    expect(result.stdout).toContain(`foreign-key public.${ORDERS} ${ORDERS}_user_id_fkey`);
    // The trigger and its function come too; the trigger disabled until cutover.
    expect(result.stdout).toContain(`function public.${n('touch')}(): create function`);
    expect(result.stdout).toContain(
      `trigger public.${ORDERS} ${n('touch')}: create trigger (disabled until cutover)`,
    );

    expect(await enumLabels(target, MOOD)).toEqual(await enumLabels(source, MOOD));
    expect(await enumLabels(target, MOOD)).toEqual(['sad', 'ok', 'happy', `it's "odd"`]);

    const users = await describeTable(source, USERS);
    expect(await describeTable(target, USERS)).toEqual(users);
    expect(users.sequences).toHaveLength(2); // both serials, owned by their columns

    const want = await describeTable(source, ORDERS);
    const got = await describeTable(target, ORDERS);
    // Decided: identity columns are BY DEFAULT on the target until cutover.
    const byDefault = want.columns.map((c) =>
      c.attidentity === 'a' ? { ...c, attidentity: 'd' } : c,
    );
    expect(got.columns).toEqual(byDefault);
    expect(got.columns.find((c) => c.attname === 'mood')).toMatchObject({
      type: `public.${MOOD}`,
      attnotnull: true,
      default: `'ok'::public.${MOOD}`,
    });
    expect(got.columns.find((c) => c.attname === 'amount')?.type).toBe('numeric(12,2)');
    // Foreign keys are deferred to cutover; every other constraint is there.
    expect(got.constraints).toEqual(want.constraints.filter((c) => c.contype !== 'f'));
    expect(got.constraints.map((c) => c.contype).sort()).toEqual(['c', 'p', 'u']);
    expect(got.indexes).toEqual(want.indexes);
    expect(got.indexes).toHaveLength(4);
    expect(got.sequences).toEqual(want.sequences);
    expect(got.sequences[0]).toMatchObject({ seqstart: '100', seqincrement: '5', deptype: 'i' });
    // Only the user trigger (no foreign key triggers), disabled until cutover.
    const triggers = await target.query(
      'SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = $1::regclass',
      [`public.${ORDERS}`],
    );
    expect(triggers.rows).toEqual([{ tgname: n('touch'), tgenabled: 'D' }]);
    // Owned by the least-privilege role that will replicate into them.
    const owner = await target.query(
      'SELECT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE oid = $1::regclass',
      [`public.${ORDERS}`],
    );
    expect(owner.rows[0].owner).toBe(stack.vars.TARGET_DB_USER);
  });

  it('changes nothing when run again', async () => {
    const before = await describeTable(target, ORDERS);
    const result = await schemaSync('--tables', `${ORDERS},${USERS}`);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('target schema is up to date');
    expect(result.stdout).toContain(`table public.${ORDERS}: up to date`);
    const json = await schemaSync('--tables', `${ORDERS},${USERS}`, '--json');
    expect(json.code).toBe(0);
    const plan = JSON.parse(json.stdout);
    expect(plan).toMatchObject({ applied: false, upToDate: true, statements: [], mismatches: [] });
    expect(plan.deferred.map((d: { kind: string }) => d.kind).sort()).toEqual([
      'foreign-key',
      'identity-always',
    ]);
    expect(await describeTable(target, ORDERS)).toEqual(before);
  });

  it('adds an enum label the source gained, in its position', async () => {
    await source.query(`ALTER TYPE ${MOOD} ADD VALUE 'meh' AFTER 'sad'`);
    const result = await schemaSync('--tables', ORDERS);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`enum public.${MOOD}: add value 'meh' after 'sad'`);
    expect(await enumLabels(target, MOOD)).toEqual(await enumLabels(source, MOOD));
  });

  it('--dry-run prints the DDL and creates nothing', async () => {
    const result = await schemaSync('--tables', FRESH, '--dry-run');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      `CREATE TABLE "public"."${FRESH}" (\n  "id" integer NOT NULL,\n  "note" text,\n  CONSTRAINT "${FRESH}_pkey" PRIMARY KEY (id)\n);`,
    );
    // (The schema is public: other files' functions and views there may be planned too.)
    expect(result.stdout).toMatch(
      /dry run: \d+ statement\(s\) would be applied, nothing was changed/,
    );
    expect(await targetHas(FRESH)).toBe(false);
  });

  it('reports a column type mismatch (exit 3, not altered) and still adds what is missing', async () => {
    // The table exists on the target already, as the pgferry role made it, with another type.
    const role = new pg.Client({
      host: stack.vars.TARGET_DB_HOST,
      port: Number(stack.vars.TARGET_DB_PORT),
      database: stack.vars.TARGET_DB_NAME,
      user: stack.vars.TARGET_DB_USER,
      password: stack.vars.TARGET_DB_PASSWORD,
    });
    await role.connect();
    try {
      await role.query(
        `CREATE TABLE public.${DRIFT} (id integer PRIMARY KEY, amount numeric(10,2))`,
      );
    } finally {
      await role.end();
    }
    const result = await schemaSync('--tables', DRIFT);
    expect(result.code).toBe(3);
    expect(result.stdout).toContain(
      `table public.${DRIFT}: mismatch: column amount: type numeric(10,2) on the target, numeric(12,2) on the source (not changed) (applied: add column note)`,
    );
    const cols = await describeTable(target, DRIFT);
    expect(cols.columns.map((c) => [c.attname, c.type])).toEqual([
      ['id', 'integer'],
      ['amount', 'numeric(10,2)'],
      ['note', 'text'],
    ]);
    const json = JSON.parse((await schemaSync('--tables', DRIFT, '--json')).stdout);
    expect(json.mismatches).toEqual([
      { object: `public.${DRIFT}`, message: expect.stringContaining('column amount') },
    ]);
  });

  it('creates a table without a primary key too (pgferry run applies it when REPLICA IDENTITY FULL)', async () => {
    const result = await schemaSync('--tables', `${NOPK},${FRESH}`);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`table public.${NOPK}: create table`);
    expect(result.stdout).toContain(`table public.${FRESH}: create table`);
    expect(await targetHas(NOPK)).toBe(true);
    expect(await targetHas(FRESH)).toBe(true);
  });

  it('exits 1 naming the table when a --tables entry does not exist, 2 on a bad list', async () => {
    const missing = await schemaSync('--tables', n('nope'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`no such table on the source: public.${n('nope')}`);
    const bad = await schemaSync('--tables', 'a.b.c');
    expect(bad.code).toBe(2);
  });
});

// schema-sync beyond tables, on the real source and target: an extension, functions (a quoted
// plpgsql body, SQL-standard bodies, one used by a check, one reading a table), a procedure, a
// trigger (created disabled), views (one on another), a materialized view (WITH NO DATA), all from
// a dedicated source schema into a dedicated target schema (TARGET_SCHEMA). The created objects
// are compared with the source's by kind and definition, a re-run is a no-op, --dry-run prints
// the plan by section, and an extension the target cannot create fails naming it.
import { rmSync, writeFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  findEnabledTargetTriggers,
  judgeEnabledTargetTriggers,
} from '../../migrate/preflight/target-trigger-checks.js';
import { runPgferryCli } from '../support/cli-run.js';
import { loadStackEnv } from '../support/stack-env.js';

const stack = loadStackEnv();
const run = Date.now().toString(36);
const SRC = `h2_app_${run}`;
const TGT = `h2_tgt_${run}`;
const EXT_SRC = `h2_ext_${run}`;
const EXT_TGT = `h2_extt_${run}`;
const PROBE = `h2_probe_${run}`;
/** A role only the source cluster has: policies name it. */
const READER = `h2_reader_${run}`;

const source = new pg.Client({ connectionString: stack.sourceDatabaseUrl });
const target = new pg.Client({ connectionString: stack.targetDatabaseUrl });

function schemaSync(from: string, to: string, tables: string, ...args: string[]) {
  return schemaSyncRoles(from, to, tables, '--role-map', `${READER}:debezium`, ...args);
}

function schemaSyncRoles(from: string, to: string, tables: string, ...args: string[]) {
  return runPgferryCli(['schema-sync', '--tables', tables, ...args], {
    ...stack.vars,
    SOURCE_SCHEMAS: from,
    TARGET_SCHEMA: to,
    LOG_LEVEL: 'silent',
  });
}

/** The objects of one schema by kind and definition, read with search_path = that schema. */
async function describeSchema(client: pg.Client, schema: string) {
  await client.query('BEGIN');
  try {
    await client.query("SELECT set_config('search_path', $1, true)", [`"${schema}"`]);
    const q = async (sql: string) => (await client.query(sql, [schema])).rows;
    const rows = {
      functions:
        await q(`SELECT p.proname, p.prokind, pg_get_function_identity_arguments(p.oid) AS args,
          regexp_replace(pg_get_functiondef(p.oid), '^CREATE OR REPLACE (FUNCTION|PROCEDURE) [^(]*', '') AS def
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = $1 AND p.prokind IN ('f', 'p')
          AND NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.objid = p.oid AND x.deptype IN ('e', 'i'))
        ORDER BY 1, 3`),
      viewIndexes: await q(`SELECT ic.relname, pg_get_indexdef(i.indexrelid, 0, true) AS def
        FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class c ON c.oid = i.indrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'm'`),
      views: await q(`SELECT c.relname, c.relkind, pg_get_viewdef(c.oid) AS def
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relkind IN ('v', 'm') ORDER BY 1`),
      triggers:
        await q(`SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid, true) AS def, c.relkind
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND NOT t.tgisinternal ORDER BY 1, 2`),
      types: await q(`SELECT t.typname, t.typtype,
          (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                  || COALESCE(' ' || (SELECT collname FROM pg_collation WHERE oid = a.attcollation AND a.attcollation <> 100), ''), ', ' ORDER BY a.attnum)
             FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0) AS attributes,
          (SELECT format_type(r.rngsubtype, NULL) || ' ' || r.rngsubdiff::regproc::text || ' ' || format_type(r.rngmultitypid, NULL)
             FROM pg_range r WHERE r.rngtypid = t.oid) AS range
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = $1 AND t.typtype IN ('c', 'r', 'e', 'd')
          AND (t.typtype <> 'c' OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
        ORDER BY 1`),
      collations:
        await q(`SELECT c.collname, c.collprovider, c.collisdeterministic, c.colliculocale,
          (SELECT string_agg(a.attname, ',') FROM pg_attribute a JOIN pg_class r ON r.oid = a.attrelid
            WHERE a.attcollation = c.oid AND r.relname = 'items') AS used_by
        FROM pg_collation c JOIN pg_namespace n ON n.oid = c.collnamespace
        WHERE n.nspname = $1 ORDER BY 1`),
      comments: await q(`SELECT d.classoid::regclass::text AS catalog,
          COALESCE(c.relname, p.proname, tg.tgname, pol.polname) AS object, d.objsubid, d.description
        FROM pg_description d
        LEFT JOIN pg_class c ON d.classoid = 'pg_class'::regclass AND c.oid = d.objoid
        LEFT JOIN pg_proc p ON d.classoid = 'pg_proc'::regclass AND p.oid = d.objoid
        LEFT JOIN pg_trigger tg ON d.classoid = 'pg_trigger'::regclass AND tg.oid = d.objoid
        LEFT JOIN pg_policy pol ON d.classoid = 'pg_policy'::regclass AND pol.oid = d.objoid
        LEFT JOIN pg_class rel ON rel.oid = COALESCE(tg.tgrelid, pol.polrelid)
        WHERE COALESCE(c.relnamespace, p.pronamespace, rel.relnamespace)
              = (SELECT oid FROM pg_namespace WHERE nspname = $1)
        ORDER BY 1, 2, 3`),
      policies: await q(`SELECT policyname, permissive, roles::text AS roles, cmd, qual, with_check
        FROM pg_policies WHERE schemaname = $1 ORDER BY 1`),
      constraints: await q(`SELECT conname, pg_get_constraintdef(k.oid) AS def
        FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = 'items' ORDER BY 1`),
    };
    await client.query('COMMIT');
    return rows;
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  }
}

async function triggerStates(client: pg.Client, schema: string) {
  const r = await client.query<{ tgname: string; tgenabled: string }>(
    `SELECT t.tgname, t.tgenabled FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND NOT t.tgisinternal
      ORDER BY 1`,
    [schema],
  );
  return Object.fromEntries(r.rows.map((row) => [row.tgname, row.tgenabled]));
}

async function schemaExists(client: pg.Client, schema: string): Promise<boolean> {
  const r = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
  return r.rowCount === 1;
}

beforeAll(async () => {
  await source.connect();
  await target.connect();
  await source.query(`
    CREATE ROLE ${READER};
    CREATE SCHEMA ${SRC};
    GRANT USAGE ON SCHEMA ${SRC} TO ${stack.vars.SOURCE_DB_USER};
    SET search_path = ${SRC};
    CREATE EXTENSION hstore WITH SCHEMA ${SRC};
    CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN NEW.last_updated := clock_timestamp(); RETURN NEW; END $$;
    CREATE COLLATION nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
    CREATE TYPE dims AS (w numeric(6,2), h numeric(6,2), unit text COLLATE "C");
    CREATE TYPE price_band AS RANGE (subtype = float8, subtype_diff = float8mi);
    CREATE TYPE stock_level AS ENUM ('low', 'high');
    CREATE FUNCTION level_of(q integer) RETURNS stock_level LANGUAGE sql IMMUTABLE
      RETURN CASE WHEN q > 10 THEN 'high'::stock_level ELSE 'low'::stock_level END;
    CREATE FUNCTION qty_ok(q integer) RETURNS boolean LANGUAGE sql IMMUTABLE RETURN q >= 0;
    CREATE TABLE items (
      id integer PRIMARY KEY,
      name text NOT NULL,
      qty integer NOT NULL DEFAULT 0 CONSTRAINT items_qty_ok CHECK (qty_ok(qty)),
      attrs hstore,
      size dims,
      band price_band,
      code text COLLATE nocase,
      last_updated timestamptz NOT NULL DEFAULT now());
    CREATE TABLE not_synced (id integer PRIMARY KEY);
    CREATE FUNCTION item_count() RETURNS bigint LANGUAGE sql STABLE
      BEGIN ATOMIC SELECT count(*) FROM items; END;
    CREATE FUNCTION orphan_count() RETURNS bigint LANGUAGE sql STABLE
      BEGIN ATOMIC SELECT count(*) FROM not_synced; END;
    CREATE PROCEDURE bump(n integer) LANGUAGE plpgsql AS $$
      BEGIN UPDATE items SET qty = qty + n; END $$;
    CREATE TRIGGER items_touch BEFORE INSERT OR UPDATE ON items
      FOR EACH ROW EXECUTE FUNCTION touch();
    CREATE VIEW big_items WITH (security_barrier = true) AS
      SELECT id, name, attrs -> 'colour' AS colour FROM items WHERE qty > 10;
    CREATE VIEW big_names AS SELECT name FROM big_items;
    CREATE FUNCTION rename_big() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN UPDATE items SET name = NEW.name WHERE name = OLD.name; RETURN NEW; END $$;
    CREATE TRIGGER big_names_update INSTEAD OF UPDATE ON big_names
      FOR EACH ROW EXECUTE FUNCTION rename_big();
    CREATE MATERIALIZED VIEW item_totals AS SELECT count(*) AS n, sum(qty) AS total FROM items;
    CREATE UNIQUE INDEX item_totals_n ON item_totals (n);
    CREATE VIEW orphan AS SELECT id FROM not_synced;
    ALTER TABLE items ENABLE ROW LEVEL SECURITY;
    ALTER TABLE items FORCE ROW LEVEL SECURITY;
    CREATE POLICY everyone ON items FOR SELECT USING (qty >= 0);
    CREATE POLICY readers ON items AS RESTRICTIVE FOR UPDATE TO ${READER}
      USING (qty_ok(qty)) WITH CHECK (name <> '');
    COMMENT ON TABLE items IS 'what we sell';
    COMMENT ON COLUMN items.last_updated IS 'set by the touch trigger';
    COMMENT ON FUNCTION touch() IS 'stamps last_updated';
    COMMENT ON PROCEDURE bump(integer) IS 'adds n to every qty';
    COMMENT ON VIEW big_items IS 'it''s big';
    COMMENT ON MATERIALIZED VIEW item_totals IS 'refreshed at cutover';
    COMMENT ON TRIGGER items_touch ON items IS 'keeps last_updated';
    COMMENT ON POLICY everyone ON items IS 'no negative stock';
    GRANT SELECT, UPDATE ON items TO ${READER};
    GRANT SELECT ON big_items TO PUBLIC;
    GRANT EXECUTE ON FUNCTION touch() TO ${READER} WITH GRANT OPTION;
    INSERT INTO items (id, name, qty) VALUES (1, 'a', 20);
    RESET search_path;`);
}, 60_000);

afterAll(async () => {
  await source.query(`DROP SCHEMA IF EXISTS ${SRC} CASCADE`);
  await source.query(`DROP SCHEMA IF EXISTS ${EXT_SRC} CASCADE`);
  await source.query(`DROP ROLE IF EXISTS ${READER}`);
  await source.query(`DROP EXTENSION IF EXISTS ${PROBE} CASCADE`).catch(() => undefined);
  await target.query(`DROP SCHEMA IF EXISTS ${TGT} CASCADE`);
  await target.query(`DROP SCHEMA IF EXISTS ${EXT_TGT} CASCADE`);
  await target
    .query('DELETE FROM pgferry.cutover_triggers WHERE table_schema = ANY($1::text[])', [
      [TGT, EXT_TGT],
    ])
    .catch(() => undefined);
  await source.end();
  await target.end();
});

describe.sequential('pgferry schema-sync: the whole schema', () => {
  it('a role a policy names that the target lacks is reported; --role-map maps it', async () => {
    const unmapped = await schemaSyncRoles(SRC, TGT, `${SRC}.items`, '--dry-run');
    expect(unmapped.code, unmapped.stdout).toBe(3);
    expect(unmapped.stdout).toContain(
      `policy ${SRC}.items readers -> ${TGT}.items readers: mismatch: role ${READER} does not exist on the target: create it, or map it with --role-map`,
    );
    expect(unmapped.stdout).not.toContain('CREATE POLICY "readers"');
    const mapped = await schemaSync(SRC, TGT, `${SRC}.items`, '--dry-run');
    expect(mapped.stdout).toContain(
      `CREATE POLICY "readers" ON "${TGT}"."items" AS RESTRICTIVE FOR UPDATE TO "debezium" USING (qty_ok(qty)) WITH CHECK ((name <> ''::text))`,
    );
    expect(mapped.stdout).toContain(`-- ALTER TABLE "${TGT}"."items" FORCE ROW LEVEL SECURITY;`);
  });

  it('--dry-run prints the plan by section and changes nothing', async () => {
    const dry = await schemaSync(SRC, TGT, `${SRC}.items`, '--dry-run');
    expect(dry.code, dry.stderr).toBe(0);
    const out = dry.stdout;
    const section = (n: number) => out.indexOf(`-- Section ${n}:`);
    expect(section(1)).toBeGreaterThan(-1);
    expect(section(2)).toBeGreaterThan(section(1));
    expect(section(3)).toBeGreaterThan(section(2));
    const before = out.slice(section(1), section(2));
    const order = [
      `CREATE EXTENSION IF NOT EXISTS "hstore" WITH SCHEMA "${TGT}"`,
      `CREATE FUNCTION "${TGT}"."qty_ok"(q integer)`,
      `CREATE FUNCTION "${TGT}"."touch"()`,
      `CREATE TABLE "${TGT}"."items"`,
      `CREATE FUNCTION "${TGT}"."item_count"()`,
      `CREATE VIEW "${TGT}"."big_items" WITH (security_barrier=true) AS`,
      `CREATE VIEW "${TGT}"."big_names"`,
      `CREATE MATERIALIZED VIEW "${TGT}"."item_totals"`,
      `ALTER TABLE "${TGT}"."items" ENABLE ROW LEVEL SECURITY`,
      `CREATE POLICY "everyone" ON "${TGT}"."items" AS PERMISSIVE FOR SELECT TO PUBLIC USING ((qty >= 0))`,
      'CREATE TRIGGER items_touch BEFORE INSERT OR UPDATE ON items',
      `ALTER TABLE "${TGT}"."items" DISABLE TRIGGER "items_touch"`,
    ];
    let at = -1;
    for (const statement of order) {
      const i = before.indexOf(statement);
      expect(i, `${statement} after the previous one in:\n${before}`).toBeGreaterThan(at);
      at = i;
    }
    expect(before).toContain('WITH NO DATA');
    expect(before).toContain(`CREATE PROCEDURE "${TGT}"."bump"(IN n integer)`);
    expect(out.slice(section(3))).toContain(`enable trigger ${TGT}.items items_touch (state O)`);
    expect(out.slice(section(3))).toContain(`REFRESH MATERIALIZED VIEW ${TGT}.item_totals`);
    expect(out).toMatch(new RegExp(`view ${SRC}\\.orphan: it reads ${SRC}\\.not_synced`));
    expect(await schemaExists(target, TGT)).toBe(false);
  });

  it('creates every object; the target matches the source by kind and definition', async () => {
    const sync = await schemaSync(SRC, TGT, `${SRC}.items`);
    expect(sync.code, `${sync.stdout}\n${sync.stderr}`).toBe(0);
    const want = await describeSchema(source, SRC);
    const got = await describeSchema(target, TGT);
    // The view left out reads a table that is not synced; everything else is the same.
    expect(got.views).toEqual(want.views.filter((v) => v.relname !== 'orphan'));
    // The function reading a table that is not synced is left out, like the view.
    expect(got.viewIndexes).toEqual(want.viewIndexes);
    expect(got.viewIndexes).toEqual([
      {
        relname: 'item_totals_n',
        def: 'CREATE UNIQUE INDEX item_totals_n ON item_totals USING btree (n)',
      },
    ]);
    expect(got.functions).toEqual(want.functions.filter((f) => f.proname !== 'orphan_count'));
    expect(got.triggers).toEqual(want.triggers);
    expect(got.constraints).toEqual(want.constraints);
    // The policies as the source has them, the role mapped; row security enabled, FORCE at cutover.
    expect(got.policies).toEqual(
      want.policies.map((p) => (p.policyname === 'readers' ? { ...p, roles: '{debezium}' } : p)),
    );
    expect(got.policies).toHaveLength(2);
    expect(got.comments).toEqual(want.comments);
    // The collation, and the column using it uses the target's.
    expect(got.collations).toEqual(want.collations);
    expect(got.collations).toEqual([
      {
        collname: 'nocase',
        collprovider: 'i',
        collisdeterministic: false,
        colliculocale: 'und-u-ks-level2',
        used_by: 'code',
      },
    ]);
    // Composite and range types, attribute by attribute.
    expect(got.types).toEqual(want.types);
    // stock_level only a function uses: created for it.
    expect(got.types.map((t) => t.typname)).toEqual(['dims', 'price_band', 'stock_level']);
    expect(got.comments).toHaveLength(8);
    const rls = await target.query(
      'SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = to_regclass($1)',
      [`"${TGT}".items`],
    );
    expect(rls.rows[0]).toEqual({ relrowsecurity: true, relforcerowsecurity: false });
    expect(got.functions.map((f) => f.proname).sort()).toEqual(
      ['bump', 'item_count', 'level_of', 'qty_ok', 'rename_big', 'touch'].sort(),
    );
    const ext = await target.query(
      `SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
        WHERE e.extname = 'hstore'`,
    );
    expect(ext.rows[0]?.nspname).toBe(TGT);
    // Disabled until cutover, and recorded for it; the materialized view is empty until then.
    // The view's INSTEAD OF trigger is live at once: replication never writes a view.
    expect(await triggerStates(target, TGT)).toEqual({ big_names_update: 'O', items_touch: 'D' });
    const recorded = await target.query(
      'SELECT trigger_name, state, enabled_at FROM pgferry.cutover_triggers WHERE table_schema = $1',
      [TGT],
    );
    expect(recorded.rows).toEqual([{ trigger_name: 'items_touch', state: 'O', enabled_at: null }]);
    const mv = await target.query(
      `SELECT relispopulated FROM pg_class WHERE oid = to_regclass($1)`,
      [`"${TGT}".item_totals`],
    );
    expect(mv.rows[0]?.relispopulated).toBe(false);
    // The objects work: the check calls the function, the view reads the table.
    await target.query(
      `INSERT INTO "${TGT}".items (id, name, qty, attrs) VALUES (1, 'x', 11, 'colour=>red')`,
    );
    const view = await target.query(`SELECT colour FROM "${TGT}".big_items`);
    expect(view.rows).toEqual([{ colour: 'red' }]);
    await expect(
      target.query(`INSERT INTO "${TGT}".items (id, name, qty) VALUES (2, 'y', -1)`),
    ).rejects.toThrow(/items_qty_ok/);
  });

  it('a re-run is a no-op', async () => {
    const again = await schemaSync(SRC, TGT, `${SRC}.items`, '--json');
    expect(again.code, again.stderr).toBe(0);
    const json = JSON.parse(again.stdout);
    expect(json.statements).toEqual([]);
    expect(json.upToDate).toBe(true);
    expect(json.applied).toBe(false);
    // Still listed for cutover.
    expect(json.atCutover.map((a: { kind: string }) => a.kind).sort()).toEqual([
      'enable-trigger',
      'refresh-materialized-view',
    ]);
  });

  it('--check: the target matches the source; then names what differs and what is extra', async () => {
    const check = await schemaSync(SRC, TGT, `${SRC}.items`, '--check', '--json');
    expect(check.code, check.stdout).toBe(0);
    const report = JSON.parse(check.stdout);
    expect(report.match).toBe(true);
    expect(report.compared).toMatchObject({
      extension: 1,
      function: 6,
      procedure: 1,
      table: 1,
      view: 3,
      'materialized-view': 1,
      trigger: 2,
      policy: 2,
      collation: 1,
    });
    const statuses = (report.differences as { status: string; object: string }[]).map(
      (d) => `${d.status} ${d.object}`,
    );
    expect(statuses.sort()).toEqual(
      [
        `at-cutover ${TGT}.item_totals`,
        `at-cutover ${TGT}.items items_touch`,
        `at-cutover ${TGT}.items`,
        `not-carried ${SRC}.orphan`,
        `not-carried ${SRC}.orphan_count()`,
      ].sort(),
    );

    await target.query(`CREATE VIEW "${TGT}".only_here AS SELECT 1 AS one`);
    await target.query(`CREATE OR REPLACE FUNCTION "${TGT}".qty_ok(q integer) RETURNS boolean
      LANGUAGE sql IMMUTABLE RETURN q > -1`);
    try {
      const differs = await schemaSync(SRC, TGT, `${SRC}.items`, '--check');
      expect(differs.code, differs.stdout).toBe(3);
      expect(differs.stdout).toContain(
        `different:\n  function ${TGT}.qty_ok(q integer): function definition differs on the target (not changed)`,
      );
      expect(differs.stdout).toContain(`extra:\n  view ${TGT}.only_here: only on the target`);
      expect(differs.stdout).toContain(
        'the target differs from the source: 0 missing, 1 different, 1 extra',
      );
    } finally {
      await target.query(`DROP VIEW "${TGT}".only_here`);
      await target.query(`CREATE OR REPLACE FUNCTION "${TGT}".qty_ok(q integer) RETURNS boolean
        LANGUAGE sql IMMUTABLE RETURN q >= 0`);
    }
  });

  it('a trigger made enabled on the target by hand is disabled, with the plan printed', async () => {
    await target.query(`CREATE TRIGGER by_hand BEFORE UPDATE ON "${TGT}".items
      FOR EACH ROW EXECUTE FUNCTION "${TGT}".touch()`);
    await target.query(`ALTER TABLE "${TGT}".items ENABLE TRIGGER items_touch`);
    // Preflight's check names both.
    const tables = [{ schema: TGT, name: 'items' }];
    const verdict = judgeEnabledTargetTriggers(await findEnabledTargetTriggers(target, tables), 1);
    expect(verdict.status).toBe('fail');
    expect(verdict.details).toEqual([`${TGT}.items by_hand`, `${TGT}.items items_touch`]);
    const sync = await schemaSync(SRC, TGT, `${SRC}.items`);
    expect(sync.code, sync.stdout).toBe(0);
    expect(sync.stdout).toMatch(/trigger .*items_touch: disable trigger/);
    expect(sync.stdout).toMatch(/trigger .*by_hand: disable trigger \(only on the target/);
    expect(await triggerStates(target, TGT)).toEqual({
      big_names_update: 'O',
      by_hand: 'D',
      items_touch: 'D',
    });
    expect(await findEnabledTargetTriggers(target, tables)).toEqual([]);
  });

  it('--grants: the source privileges with the role map, owners listed for cutover; a re-run grants nothing', async () => {
    const acl = async (client: pg.Client, schema: string, role: string) =>
      (
        await client.query(
          `SELECT o.name, a.privilege_type, a.is_grantable
             FROM (SELECT relname AS name, relacl AS acl FROM pg_class
                    WHERE relnamespace = to_regnamespace($1) AND relname IN ('items', 'big_items')
                   UNION ALL SELECT proname, proacl FROM pg_proc
                    WHERE pronamespace = to_regnamespace($1) AND proname = 'touch') o,
                  aclexplode(o.acl) a
            WHERE a.grantee = CASE WHEN $2 = 'PUBLIC' THEN 0 ELSE to_regrole($2)::oid END
            ORDER BY 1, 2`,
          [schema, role],
        )
      ).rows;
    const sync = await schemaSync(SRC, TGT, `${SRC}.items`, '--grants');
    expect(sync.stdout).toContain(`table ${SRC}.items -> ${TGT}.items: grant to debezium`);
    expect(await acl(target, TGT, 'debezium')).toEqual(await acl(source, SRC, READER));
    expect(await acl(target, TGT, 'PUBLIC')).toEqual(await acl(source, SRC, 'PUBLIC'));
    expect((await acl(target, TGT, 'debezium')).length).toBe(3);
    const again = await schemaSync(SRC, TGT, `${SRC}.items`, '--grants', '--json');
    const json = JSON.parse(again.stdout);
    expect(json.statements).toEqual([]);
    // The owners are the source's at cutover, not before: pgferry's role owns what it replicates.
    expect(json.deferred).toContainEqual(
      expect.objectContaining({
        kind: 'owner',
        object: `${TGT}.items`,
        statements: [`ALTER TABLE "${TGT}"."items" OWNER TO "postgres"`],
      }),
    );
    // Without the role map the role is reported, not silently skipped.
    const unmapped = await schemaSyncRoles(SRC, TGT, `${SRC}.items`, '--grants', '--dry-run');
    expect(unmapped.stdout).toContain(
      `grant ${TGT}.items to ${READER}: role ${READER} does not exist on the target: create it, or map it with --role-map`,
    );
  });

  it('an extension the target cannot create: FAIL naming it, nothing applied', async () => {
    // An extension the source has and no server can create any more: its control file is gone
    // (both clusters of the stack share one installation).
    const dir = '/usr/share/postgresql/15/extension';
    writeFileSync(
      `${dir}/${PROBE}.control`,
      "default_version = '1.0'\nrelocatable = true\ntrusted = true\n",
    );
    writeFileSync(
      `${dir}/${PROBE}--1.0.sql`,
      'CREATE FUNCTION probe_one() RETURNS integer LANGUAGE sql AS $$SELECT 1$$;\n',
    );
    try {
      await source.query(`CREATE SCHEMA ${EXT_SRC}`);
      await source.query(`CREATE EXTENSION ${PROBE} WITH SCHEMA ${EXT_SRC}`);
      await source.query(
        `CREATE TABLE ${EXT_SRC}.t (id integer PRIMARY KEY, one integer DEFAULT ${EXT_SRC}.probe_one())`,
      );
    } finally {
      rmSync(`${dir}/${PROBE}.control`, { force: true });
      rmSync(`${dir}/${PROBE}--1.0.sql`, { force: true });
    }
    const sync = await schemaSync(EXT_SRC, EXT_TGT, `${EXT_SRC}.t`);
    expect(sync.code, sync.stdout).toBe(3);
    expect(sync.stdout).toContain(
      `extension ${PROBE} (1.0 on the source) is not available on the target server`,
    );
    expect(sync.stdout).toMatch(
      new RegExp(`FAIL: extension ${PROBE} is not available on the target; nothing was applied`),
    );
    expect(await schemaExists(target, EXT_TGT)).toBe(false);
  });
});

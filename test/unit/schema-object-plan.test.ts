// schema-sync's plan for the rest of a schema, pure (catalogs in, DDL by section out): extensions
// (created, installed, or a FAIL that blocks the apply), functions before the tables and SQL-body
// functions reading tables after them, views in dependency order, materialized views WITH NO DATA
// and refreshed at cutover, triggers created disabled and recorded for cutover, triggers found
// enabled disabled (unless cutover enabled them), an identical target needing nothing, and the
// function header mapped while its quoted body is left alone.
import { describe, expect, it } from 'vitest';
import type {
  SchemaCatalog,
  TableDefinition,
} from '../../migrate/schema-sync/schema-catalog-types.js';
import { mapFunctionDefinition } from '../../migrate/schema-sync/schema-object-plan.js';
import {
  emptySchemaObjects,
  type SchemaObjects,
} from '../../migrate/schema-sync/schema-object-types.js';
import {
  planSchemaSync,
  targetCatalogRequest,
} from '../../migrate/schema-sync/schema-sync-plan.js';

function table(schema: string, name: string): TableDefinition {
  return {
    schema,
    name,
    partitioned: false,
    columns: [{ name: 'id', type: { sql: 'integer', array: false }, notNull: true }],
    primaryKey: { name: `${name}_pkey`, definition: 'PRIMARY KEY (id)', columns: ['id'] },
    constraints: [],
    indexes: [],
    foreignKeys: [],
    triggers: [],
  };
}

const catalog = (
  tables: TableDefinition[],
  objects: Partial<SchemaObjects>,
  extra: Partial<SchemaCatalog> = {},
): SchemaCatalog => ({
  schemas: [...new Set(tables.map((t) => t.schema))],
  tables,
  enums: [],
  domains: [],
  otherTypes: [],
  sequences: [],
  objects: { ...emptySchemaObjects(), ...objects },
  ...extra,
});

const touch = {
  schema: 'app',
  name: 'touch',
  kind: 'function' as const,
  identity: '',
  definition:
    '()\n RETURNS trigger\n LANGUAGE plpgsql\nAS $function$BEGIN NEW.last_updated := now(); RETURN NEW; END$function$',
  readsRelations: false,
};
const itemCount = {
  schema: 'app',
  name: 'item_count',
  kind: 'function' as const,
  identity: '',
  definition:
    '()\n RETURNS bigint\n LANGUAGE sql\nBEGIN ATOMIC\n SELECT count(*) AS count FROM items;\nEND',
  readsRelations: true,
  uses: [{ schema: 'app', name: 'items' }],
};
const trigger = {
  table: { schema: 'app', name: 'items' },
  name: 'items_touch',
  definition:
    'CREATE TRIGGER items_touch BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION touch()',
  state: 'O' as const,
};
const view = (name: string, uses: string[], materialized = false) => ({
  schema: 'app',
  name,
  materialized,
  query: ` SELECT id FROM ${uses[0]}`,
  options: [],
  uses: uses.map((u) => ({ schema: 'app', name: u })),
  populated: true,
});

const source = catalog([table('app', 'items')], {
  extensions: [{ name: 'hstore', schema: 'app', version: '1.8', types: [] }],
  functions: [itemCount, touch],
  // big_names reads big_items: listed first, created second.
  views: [
    view('big_names', ['big_items']),
    view('big_items', ['items']),
    view('totals', ['items'], true),
    view('orphan', ['elsewhere']),
  ],
  triggers: [trigger],
});
const options = { targetSchema: 'tgt' };
const emptyTarget = catalog([], { availableExtensions: ['hstore'] }, { schemas: [] });

describe('planSchemaSync: the whole schema on an empty target', () => {
  const plan = planSchemaSync(source, emptyTarget, options);
  const before = plan.sections.beforeData;
  const at = (prefix: string) => before.findIndex((s) => s.startsWith(prefix));

  it('orders the DDL before the data: extension, functions, table, SQL-body functions, views, triggers', () => {
    const order = [
      'CREATE SCHEMA IF NOT EXISTS "tgt"',
      'CREATE EXTENSION IF NOT EXISTS "hstore" WITH SCHEMA "tgt"',
      'SET LOCAL check_function_bodies = off',
      'CREATE FUNCTION "tgt"."touch"()',
      'CREATE TABLE "tgt"."items"',
      'CREATE FUNCTION "tgt"."item_count"()',
      'CREATE VIEW "tgt"."big_items"',
      'CREATE VIEW "tgt"."big_names"',
      'CREATE MATERIALIZED VIEW "tgt"."totals"',
      'CREATE TRIGGER items_touch',
      'ALTER TABLE "tgt"."items" DISABLE TRIGGER "items_touch"',
    ];
    const positions = order.map(at);
    expect(
      positions.every((p) => p >= 0),
      JSON.stringify(before, null, 1),
    ).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    // Each object's DDL runs with search_path = the target schema.
    expect(before[at('CREATE FUNCTION "tgt"."touch"()') - 1]).toBe(
      'SET LOCAL search_path TO "tgt"',
    );
    expect(plan.statements).toEqual([...before, ...plan.sections.indexes]);
  });

  it('creates materialized views WITH NO DATA; cutover refreshes them and enables the trigger', () => {
    expect(before[at('CREATE MATERIALIZED VIEW')]).toMatch(/WITH NO DATA$/);
    expect(plan.atCutover).toEqual([
      expect.objectContaining({ kind: 'refresh-materialized-view', schema: 'tgt', name: 'totals' }),
      expect.objectContaining({
        kind: 'enable-trigger',
        schema: 'tgt',
        table: 'items',
        name: 'items_touch',
        state: 'O',
      }),
    ]);
  });

  it('leaves out a view that reads a table it does not create, and says so', () => {
    expect(before.some((s) => s.includes('"orphan"'))).toBe(false);
    expect(plan.notCopied).toEqual([
      expect.objectContaining({ kind: 'view', object: 'app.orphan' }),
    ]);
    expect(plan.blocked).toEqual([]);
  });

  it('asks the target for the objects of the mapped schemas and the extensions it could create', () => {
    expect(targetCatalogRequest(source, options)).toMatchObject({
      objectSchemas: ['tgt'],
      availableExtensions: true,
    });
  });
});

describe('planSchemaSync: the whole schema on a target that has it', () => {
  const target = catalog(
    [table('tgt', 'items')],
    {
      extensions: [{ name: 'hstore', schema: 'tgt', version: '1.8', types: [] }],
      availableExtensions: ['hstore'],
      functions: [itemCount, touch].map((f) => ({ ...f, schema: 'tgt' })),
      views: source.objects?.views
        .filter((v) => v.name !== 'orphan')
        // Created WITH NO DATA: not populated until cutover refreshes it.
        .map((v) => ({ ...v, schema: 'tgt', uses: [], populated: !v.materialized })),
      triggers: [{ ...trigger, table: { schema: 'tgt', name: 'items' }, state: 'D' }],
    },
    { schemas: ['tgt'] },
  );

  it('needs nothing (a re-run is a no-op) but still lists what cutover does', () => {
    const plan = planSchemaSync(source, target, options);
    expect(plan.statements).toEqual([]);
    expect(plan.mismatches).toEqual([]);
    expect(plan.atCutover.map((a) => a.kind)).toEqual([
      'refresh-materialized-view',
      'enable-trigger',
    ]);
  });

  it('a definition printed qualified (reader without USAGE) still compares equal', () => {
    const qualified = catalog([table('app', 'items')], {
      ...source.objects,
      triggers: [
        {
          ...trigger,
          definition:
            'CREATE TRIGGER items_touch BEFORE UPDATE ON app.items FOR EACH ROW EXECUTE FUNCTION app.touch()',
        },
      ],
    });
    expect(planSchemaSync(qualified, target, options).statements).toEqual([]);
  });

  it('a trigger enabled on the target is disabled, and a target-only enabled one too', () => {
    const enabled = catalog(
      [table('tgt', 'items')],
      {
        ...target.objects,
        triggers: [
          { ...trigger, table: { schema: 'tgt', name: 'items' }, state: 'O' },
          {
            table: { schema: 'tgt', name: 'items' },
            name: 'by_hand',
            definition: 'CREATE TRIGGER by_hand ...',
            state: 'A',
          },
        ],
      },
      { schemas: ['tgt'] },
    );
    const plan = planSchemaSync(source, enabled, options);
    expect(plan.statements).toEqual([
      'ALTER TABLE "tgt"."items" DISABLE TRIGGER "items_touch"',
      'ALTER TABLE "tgt"."items" DISABLE TRIGGER "by_hand"',
    ]);
    expect(
      plan.atCutover
        .filter((a) => a.kind === 'enable-trigger')
        .map((a) => [a.name, 'state' in a && a.state]),
    ).toEqual([
      ['items_touch', 'O'],
      ['by_hand', 'A'],
    ]);
    // After cutover enabled them (pgferry.cutover_triggers), they stay enabled.
    const after = planSchemaSync(source, enabled, {
      ...options,
      triggersEnabledAtCutover: ['tgt\u0000items\u0000items_touch', 'tgt\u0000items\u0000by_hand'],
    });
    expect(after.statements).toEqual([]);
  });

  it('a different definition is a mismatch, not changed', () => {
    const changed = catalog(
      [table('tgt', 'items')],
      {
        ...target.objects,
        functions: [
          touch,
          { ...itemCount, definition: '()\n RETURNS integer\n LANGUAGE sql\nRETURN 1' },
        ].map((f) => ({ ...f, schema: 'tgt' })),
      },
      { schemas: ['tgt'] },
    );
    const plan = planSchemaSync(source, changed, options);
    expect(plan.statements).toEqual([]);
    expect(plan.mismatches).toEqual([
      {
        object: 'tgt.item_count()',
        message: 'function definition differs on the target (not changed)',
      },
    ]);
  });
});

describe('extensions', () => {
  it('one the target cannot create blocks the apply, naming it', () => {
    const plan = planSchemaSync(source, catalog([], { availableExtensions: [] }), options);
    expect(plan.blocked).toEqual(['extension hstore is not available on the target']);
    expect(plan.mismatches[0]?.message).toMatch(
      /^extension hstore \(1\.8 on the source\) is not available on the target server/,
    );
  });

  it('its types count as present for the tables created after it', () => {
    const withHstore = catalog(
      [
        {
          ...table('app', 'items'),
          columns: [
            { name: 'id', type: { sql: 'integer', array: false }, notNull: true },
            {
              name: 'attrs',
              type: {
                sql: 'app.hstore',
                user: { schema: 'app', name: 'hstore', kind: 'other' },
                array: false,
              },
              notNull: false,
            },
          ],
        },
      ],
      {
        extensions: [
          {
            name: 'hstore',
            schema: 'app',
            version: '1.8',
            types: [{ schema: 'app', name: 'hstore' }],
          },
        ],
      },
      { otherTypes: [{ schema: 'app', name: 'hstore' }] },
    );
    const plan = planSchemaSync(withHstore, emptyTarget, options);
    expect(plan.mismatches).toEqual([]);
    expect(plan.statements.join('\n')).toContain('"attrs" "tgt".hstore');
  });
});

describe('mapFunctionDefinition', () => {
  const renames = new Map([['app', 'tgt']]);
  it('maps the header and SET search_path, leaves a quoted body alone', () => {
    const def =
      "(x app.mood)\n RETURNS app.mood\n LANGUAGE plpgsql\n SET search_path TO 'app', 'public'\nAS $function$BEGIN RETURN app.other(x); END$function$";
    expect(mapFunctionDefinition(renames, def)).toBe(
      `(x "tgt".mood)\n RETURNS "tgt".mood\n LANGUAGE plpgsql\n SET search_path TO '"tgt"', 'public'\nAS $function$BEGIN RETURN app.other(x); END$function$`,
    );
  });
  it('maps a SQL-standard body, which PostgreSQL parses', () => {
    expect(
      mapFunctionDefinition(renames, '()\n RETURNS bigint\n LANGUAGE sql\nRETURN app.f()'),
    ).toBe('()\n RETURNS bigint\n LANGUAGE sql\nRETURN "tgt".f()');
  });
});

describe('row-level security', () => {
  const withPolicies = catalog([table('app', 'items')], {
    rowSecurity: [{ table: { schema: 'app', name: 'items' }, enabled: true, forced: true }],
    policies: [
      {
        table: { schema: 'app', name: 'items' },
        name: 'mine',
        permissive: true,
        command: 'SELECT',
        roles: ['app_reader'],
        using: '(owner = CURRENT_USER)',
      },
    ],
  });
  const target = catalog([], { roles: ['pgferry', 'reader'] }, { schemas: [] });

  it('enables row security and creates the policy with the mapped role; FORCE waits for cutover', () => {
    const plan = planSchemaSync(withPolicies, target, {
      ...options,
      roleMap: { app_reader: 'reader' },
    });
    expect(plan.sections.beforeData).toContain(
      'ALTER TABLE "tgt"."items" ENABLE ROW LEVEL SECURITY',
    );
    expect(plan.sections.beforeData).toContain(
      'CREATE POLICY "mine" ON "tgt"."items" AS PERMISSIVE FOR SELECT TO "reader" USING ((owner = CURRENT_USER))',
    );
    expect(plan.deferred).toEqual([
      expect.objectContaining({
        kind: 'row-security',
        statements: ['ALTER TABLE "tgt"."items" FORCE ROW LEVEL SECURITY'],
      }),
    ]);
  });

  it('a role the target lacks is a mismatch naming it, and the policy is not created', () => {
    const plan = planSchemaSync(withPolicies, target, options);
    expect(plan.mismatches).toEqual([
      {
        object: 'tgt.items mine',
        message:
          'role app_reader does not exist on the target: create it, or map it with --role-map <source role>:<target role> (policy not created)',
      },
    ]);
    expect(plan.statements.join('\n')).not.toContain('CREATE POLICY');
  });
});

describe('comments', () => {
  const commented = catalog([table('app', 'items')], {
    ...source.objects,
    comments: [
      { kind: 'TABLE', schema: 'app', name: 'items', comment: "it's stock" },
      { kind: 'COLUMN', schema: 'app', name: 'items', sub: 'id', comment: 'the key' },
      { kind: 'TRIGGER', schema: 'app', name: 'items', sub: 'items_touch', comment: 'stamps' },
      // On a view schema-sync leaves out: no COMMENT ON it (it would fail the transaction).
      { kind: 'VIEW', schema: 'app', name: 'orphan', comment: 'left out' },
    ],
  });

  it('comments the objects it carries, after them, and not the ones it leaves out', () => {
    const plan = planSchemaSync(commented, emptyTarget, options);
    const comments = plan.statements.filter((s) => s.startsWith('COMMENT ON'));
    expect(comments).toEqual(
      [
        `COMMENT ON COLUMN "tgt"."items"."id" IS 'the key'`,
        `COMMENT ON TABLE "tgt"."items" IS 'it''s stock'`,
        `COMMENT ON TRIGGER "items_touch" ON "tgt"."items" IS 'stamps'`,
      ].sort((a, b) => plan.statements.indexOf(a) - plan.statements.indexOf(b)),
    );
    expect(plan.statements.indexOf(comments[0] as string)).toBeGreaterThan(
      plan.statements.findIndex((s) => s.startsWith('ALTER TABLE "tgt"."items" DISABLE TRIGGER')),
    );
  });

  it('a comment the target has is left alone; a different one is a note', () => {
    const target = catalog([], {
      availableExtensions: ['hstore'],
      comments: [
        { kind: 'TABLE', schema: 'tgt', name: 'items', comment: "it's stock" },
        { kind: 'COLUMN', schema: 'tgt', name: 'items', sub: 'id', comment: 'another' },
      ],
    });
    const plan = planSchemaSync(commented, target, options);
    const comments = plan.statements.filter((s) => s.startsWith('COMMENT ON'));
    expect(comments).toEqual([`COMMENT ON TRIGGER "items_touch" ON "tgt"."items" IS 'stamps'`]);
  });
});

describe('composite and range types', () => {
  const numeric = { sql: 'numeric(6,2)', array: false };
  const withTypes = catalog(
    [
      {
        ...table('app', 'items'),
        columns: [
          { name: 'id', type: { sql: 'integer', array: false }, notNull: true },
          {
            name: 'size',
            type: {
              sql: 'app.dims',
              user: { schema: 'app', name: 'dims', kind: 'composite' },
              array: false,
            },
            notNull: false,
          },
          {
            name: 'band',
            type: {
              sql: 'app.band',
              user: { schema: 'app', name: 'band', kind: 'range' },
              array: false,
            },
            notNull: false,
          },
        ],
      },
    ],
    {},
    {
      composites: [
        {
          schema: 'app',
          name: 'dims',
          attributes: [
            { name: 'w', type: numeric },
            { name: 'unit', type: { sql: 'text', array: false }, collation: 'pg_catalog."C"' },
          ],
        },
      ],
      ranges: [
        {
          schema: 'app',
          name: 'band',
          subtype: { sql: 'double precision', array: false },
          subtypeDiff: 'pg_catalog.float8mi',
          multirange: 'band_multirange',
        },
      ],
    },
  );

  it('creates them before the table, in the target schema', () => {
    const plan = planSchemaSync(withTypes, emptyTarget, options);
    const before = plan.sections.beforeData;
    const composite = before.indexOf(
      'CREATE TYPE "tgt"."dims" AS ("w" numeric(6,2), "unit" text COLLATE pg_catalog."C")',
    );
    const range = before.indexOf(
      'CREATE TYPE "tgt"."band" AS RANGE (SUBTYPE = double precision, SUBTYPE_DIFF = pg_catalog.float8mi, MULTIRANGE_TYPE_NAME = "tgt"."band_multirange")',
    );
    const created = before.findIndex((s) => s.startsWith('CREATE TABLE "tgt"."items"'));
    expect(composite).toBeGreaterThan(-1);
    expect(range).toBeGreaterThan(-1);
    expect(created).toBeGreaterThan(Math.max(composite, range));
    expect(before[created]).toContain('"size" "tgt"."dims"');
    expect(plan.mismatches).toEqual([]);
  });

  it('a composite with other attributes on the target is a mismatch', () => {
    const target = catalog(
      [],
      { availableExtensions: [] },
      {
        composites: [{ schema: 'tgt', name: 'dims', attributes: [{ name: 'w', type: numeric }] }],
      },
    );
    const plan = planSchemaSync(withTypes, target, options);
    expect(plan.mismatches).toContainEqual({
      object: 'tgt.dims',
      message: 'composite type attributes differ on the target (not changed)',
    });
  });
});

describe('collations', () => {
  const withCollation = catalog(
    [
      {
        ...table('app', 'items'),
        columns: [
          { name: 'id', type: { sql: 'integer', array: false }, notNull: true },
          {
            name: 'code',
            type: { sql: 'text', array: false },
            notNull: false,
            collation: 'app.nocase',
          },
        ],
      },
    ],
    {
      collations: [
        {
          schema: 'app',
          name: 'nocase',
          provider: 'icu',
          deterministic: false,
          locale: 'und-u-ks-level2',
        },
      ],
    },
  );

  it('creates the collation before the types and tables, and the column uses the mapped one', () => {
    const plan = planSchemaSync(withCollation, emptyTarget, options);
    const before = plan.sections.beforeData;
    const collation = before.indexOf(
      `CREATE COLLATION "tgt"."nocase" (provider = icu, locale = 'und-u-ks-level2', deterministic = false)`,
    );
    const created = before.findIndex((s) => s.startsWith('CREATE TABLE'));
    expect(collation).toBeGreaterThan(-1);
    expect(created).toBeGreaterThan(collation);
    expect(before[created]).toContain('"code" text COLLATE "tgt".nocase');
  });
});

describe('grants (--grants)', () => {
  const withGrants = catalog([table('app', 'items')], {
    grants: [
      {
        kind: 'TABLE',
        schema: 'app',
        name: 'items',
        owner: 'app_owner',
        privileges: [
          { grantee: 'app_reader', privilege: 'SELECT', grantable: false },
          { grantee: 'app_reader', privilege: 'UPDATE', grantable: false },
          { grantee: 'replicator', privilege: 'SELECT', grantable: false },
          { grantee: 'PUBLIC', privilege: 'SELECT', grantable: true },
        ],
      },
    ],
  });
  const target = catalog([], { roles: ['pgferry', 'reader', 'owner'] }, { schemas: [] });

  it('grants what the target lacks with the role map, reports missing roles, owners at cutover', () => {
    const plan = planSchemaSync(withGrants, target, {
      ...options,
      grants: true,
      roleMap: { app_reader: 'reader', app_owner: 'owner' },
    });
    expect(plan.sections.beforeData.filter((s) => s.startsWith('GRANT'))).toEqual([
      'GRANT SELECT, UPDATE ON TABLE "tgt"."items" TO "reader"',
      'GRANT SELECT ON TABLE "tgt"."items" TO PUBLIC WITH GRANT OPTION',
    ]);
    expect(plan.notCopied).toEqual([
      expect.objectContaining({ kind: 'grant', object: 'tgt.items to replicator' }),
    ]);
    expect(plan.deferred).toContainEqual(
      expect.objectContaining({
        kind: 'owner',
        statements: ['ALTER TABLE "tgt"."items" OWNER TO "owner"'],
      }),
    );
  });

  it('without --grants, no privileges are planned', () => {
    const plan = planSchemaSync(withGrants, target, options);
    expect(plan.statements.some((s) => s.startsWith('GRANT'))).toBe(false);
    expect(plan.deferred).toEqual([]);
  });
});

describe('SQL-standard bodies that read relations', () => {
  const reading = (name: string, rel: string) => ({
    ...itemCount,
    name,
    definition: `()\n RETURNS bigint\n LANGUAGE sql\nBEGIN ATOMIC\n SELECT count(*) AS count FROM ${rel};\nEND`,
    uses: [{ schema: 'app', name: rel }],
  });
  const withBodies = catalog([table('app', 'items')], {
    functions: [reading('of_view', 'big_items'), reading('of_other', 'elsewhere')],
    views: [view('big_items', ['items'])],
  });

  it('one reading a view comes after the views; one reading a table not synced is left out', () => {
    const plan = planSchemaSync(withBodies, emptyTarget, options);
    const before = plan.sections.beforeData;
    const fn = before.findIndex((s) => s.startsWith('CREATE FUNCTION "tgt"."of_view"'));
    expect(fn).toBeGreaterThan(
      before.findIndex((s) => s.startsWith('CREATE VIEW "tgt"."big_items"')),
    );
    expect(before.some((s) => s.includes('"of_other"'))).toBe(false);
    expect(plan.notCopied).toEqual([
      expect.objectContaining({ kind: 'function', object: 'app.of_other()' }),
    ]);
  });
});

describe('materialized view indexes', () => {
  const withIndex = catalog([table('app', 'items')], {
    views: [
      {
        ...view('totals', ['items'], true),
        indexes: [
          {
            name: 'totals_id',
            definition: 'CREATE UNIQUE INDEX totals_id ON totals USING btree (id)',
          },
        ],
      },
    ],
  });

  it('are created in the indexes section, in the target schema; present ones are left alone', () => {
    const plan = planSchemaSync(withIndex, emptyTarget, options);
    expect(plan.sections.indexes).toEqual([
      'SET LOCAL search_path TO "tgt"',
      'CREATE UNIQUE INDEX totals_id ON totals USING btree (id)',
    ]);
    const target = catalog(
      [table('tgt', 'items')],
      {
        views: withIndex.objects?.views.map((v) => ({
          ...v,
          schema: 'tgt',
          uses: [],
          populated: false,
        })),
      },
      { schemas: ['tgt'] },
    );
    expect(planSchemaSync(withIndex, target, options).statements).toEqual([]);
  });
});

describe('several schemas (SCHEMA_MAP)', () => {
  it('a view in one schema reading a table of another names the other target schema', () => {
    const two = catalog([table('a', 'items'), table('b', 'prices')], {
      views: [
        {
          schema: 'a',
          name: 'priced',
          materialized: false,
          // Read with search_path = a: b's table comes out qualified.
          query: ' SELECT i.id FROM items i JOIN b.prices p ON p.id = i.id',
          options: [],
          uses: [
            { schema: 'a', name: 'items' },
            { schema: 'b', name: 'prices' },
          ],
          populated: true,
        },
      ],
    });
    const plan = planSchemaSync(two, catalog([], {}, { schemas: [] }), {
      schemaMap: { a: 'a2', b: 'b2' },
    });
    const before = plan.sections.beforeData;
    const at = before.findIndex((s) => s.startsWith('CREATE VIEW "a2"."priced"'));
    expect(before[at]).toContain('JOIN "b2".prices p');
    expect(before[at - 1]).toBe('SET LOCAL search_path TO "a2"');
  });
});

describe('triggers on views', () => {
  it('are created enabled on a carried view (replication never writes a view), not on one left out', () => {
    const withViewTriggers = catalog([table('app', 'items')], {
      views: [view('big_items', ['items']), view('orphan', ['elsewhere'])],
      viewTriggers: ['big_items', 'orphan'].map((v) => ({
        table: { schema: 'app', name: v },
        name: `${v}_upd`,
        definition: `CREATE TRIGGER ${v}_upd INSTEAD OF UPDATE ON ${v} FOR EACH ROW EXECUTE FUNCTION f()`,
        state: 'O' as const,
      })),
    });
    const plan = planSchemaSync(withViewTriggers, emptyTarget, options);
    const triggers = plan.statements.filter((s) => s.includes('TRIGGER'));
    expect(triggers).toEqual([
      'CREATE TRIGGER big_items_upd INSTEAD OF UPDATE ON big_items FOR EACH ROW EXECUTE FUNCTION f()',
    ]);
    expect(plan.atCutover).toEqual([]);
  });
});

describe('a trigger whose function is in a schema not carried', () => {
  it('is left out and listed (CREATE TRIGGER would fail the transaction)', () => {
    const foreign = catalog([table('app', 'items')], {
      triggers: [
        {
          ...trigger,
          definition:
            'CREATE TRIGGER items_touch BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION audit.log()',
          foreignFunction: 'audit.log',
        },
      ],
    });
    const plan = planSchemaSync(foreign, emptyTarget, options);
    expect(plan.statements.some((s) => s.includes('TRIGGER'))).toBe(false);
    expect(plan.notCopied).toEqual([
      expect.objectContaining({ kind: 'trigger', object: 'app.items items_touch' }),
    ]);
    expect(plan.atCutover).toEqual([]);
  });
});

// Reads extensions, functions and procedures, views and materialized views and the triggers of
// the given tables, one schema at a time with search_path set to that schema: PostgreSQL's own
// deparsers (pg_get_viewdef, pg_get_functiondef, pg_get_triggerdef) then print names of that
// schema unqualified, so a definition read from source schema S and executed with search_path =
// the target schema T names T's objects — no text rewriting. Function bodies are strings: names
// inside them are not mapped (see README).
import type pg from 'pg';
import { quoteIdent } from '../../core/sql-identifier.js';
import type { QualifiedName } from './schema-catalog-types.js';
import {
  emptySchemaObjects,
  type FunctionDefinition,
  type SchemaObjects,
  type TriggerState,
} from './schema-object-types.js';

/** Not created by pg_dump either: it is in every database. */
const BUILT_IN_EXTENSIONS = ['plpgsql'];

/** The condition "not a member of an extension" for a catalog row (`alias`.oid of `catalog`). */
const notExtensionMember = (catalog: string, alias: string): string =>
  `NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = '${catalog}'::regclass
     AND x.objid = ${alias}.oid AND x.deptype = 'e')`;

/**
 * Reads the objects of `schemas` (and the triggers of `tables`) inside the caller's transaction;
 * leaves search_path = pg_catalog behind, as the table readers expect it.
 */
export async function readSchemaObjects(
  client: pg.ClientBase,
  schemas: readonly string[],
  tables: readonly QualifiedName[],
  options: { availableExtensions?: boolean } = {},
): Promise<SchemaObjects> {
  const objects = emptySchemaObjects();
  objects.extensions = await readExtensions(client, schemas, options.availableExtensions === true);
  if (options.availableExtensions) {
    const found = await client.query<{ name: string }>(
      'SELECT name FROM pg_available_extensions ORDER BY name',
    );
    objects.availableExtensions = found.rows.map((r) => r.name);
    const roles = await client.query<{ name: string }>(
      'SELECT rolname AS name FROM pg_roles ORDER BY 1',
    );
    objects.roles = roles.rows.map((r) => r.name);
  }
  try {
    for (const schema of schemas) {
      await client.query("SELECT set_config('search_path', $1, true)", [quoteIdent(schema)]);
      await readFunctions(client, schema, objects);
      await readViews(client, schema, objects);
      const schemaTables = await client.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1`,
        [schema],
      );
      for (const t of schemaTables.rows) objects.tables.push({ schema, name: t.name });
      const names = tables.filter((t) => t.schema === schema).map((t) => t.name);
      await readTriggers(client, schema, names, objects, schemas);
      await readViewTriggers(client, schema, objects);
      await readPolicies(client, schema, names, objects);
      await readComments(client, schema, objects);
      await readCollations(client, schema, objects);
      await readGrants(client, schema, objects);
    }
  } finally {
    await client.query("SELECT set_config('search_path', 'pg_catalog', true)");
  }
  return objects;
}

/**
 * Every extension installed (`all`: the target side), or those installed in one of the schemas,
 * or whose members (types, functions, operators) an
 * object of the schemas uses: column types, defaults, constraints, views, triggers, functions.
 */
async function readExtensions(client: pg.ClientBase, schemas: readonly string[], all: boolean) {
  const found = await client.query<{
    name: string;
    schema: string;
    version: string;
    types: QualifiedName[] | null;
  }>(
    `WITH sel AS (SELECT oid FROM pg_namespace WHERE nspname = ANY($1::text[])),
          rels AS (SELECT oid FROM pg_class WHERE relnamespace IN (SELECT oid FROM sel)),
          users AS (
            SELECT 'pg_class'::regclass AS classid, oid FROM rels
            UNION ALL SELECT 'pg_type'::regclass, oid FROM pg_type WHERE typnamespace IN (SELECT oid FROM sel)
            UNION ALL SELECT 'pg_proc'::regclass, oid FROM pg_proc WHERE pronamespace IN (SELECT oid FROM sel)
            UNION ALL SELECT 'pg_attrdef'::regclass, oid FROM pg_attrdef WHERE adrelid IN (SELECT oid FROM rels)
            UNION ALL SELECT 'pg_constraint'::regclass, oid FROM pg_constraint WHERE conrelid IN (SELECT oid FROM rels)
            UNION ALL SELECT 'pg_rewrite'::regclass, oid FROM pg_rewrite WHERE ev_class IN (SELECT oid FROM rels)
            UNION ALL SELECT 'pg_trigger'::regclass, oid FROM pg_trigger WHERE tgrelid IN (SELECT oid FROM rels)),
          used AS (
            SELECT DISTINCT m.refobjid AS ext
              FROM users u
              JOIN pg_depend d ON d.classid = u.classid AND d.objid = u.oid
              JOIN pg_depend m ON m.classid = d.refclassid AND m.objid = d.refobjid
                              AND m.deptype = 'e' AND m.refclassid = 'pg_extension'::regclass)
     SELECT e.extname AS name, n.nspname AS schema, e.extversion AS version,
            (SELECT json_agg(json_build_object('schema', tn.nspname, 'name', t.typname))
               FROM pg_depend m JOIN pg_type t ON t.oid = m.objid
               JOIN pg_namespace tn ON tn.oid = t.typnamespace
              WHERE m.classid = 'pg_type'::regclass AND m.refclassid = 'pg_extension'::regclass
                AND m.refobjid = e.oid AND m.deptype = 'e') AS types
       FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
      WHERE NOT (e.extname = ANY($2::text[]))
        AND ($3 OR e.extnamespace IN (SELECT oid FROM sel) OR e.oid IN (SELECT ext FROM used))
      ORDER BY e.extname`,
    [schemas, BUILT_IN_EXTENSIONS, all],
  );
  return found.rows.map((r) => ({ ...r, types: r.types ?? [] }));
}

async function readFunctions(client: pg.ClientBase, schema: string, objects: SchemaObjects) {
  const found = await client.query<{
    name: string;
    prokind: string;
    identity: string;
    definition: string | null;
    qualified: string;
    reads_relations: boolean;
    uses: QualifiedName[] | null;
    types: QualifiedName[] | null;
  }>(
    `SELECT p.proname AS name, p.prokind, pg_get_function_identity_arguments(p.oid) AS identity,
            CASE WHEN p.prokind IN ('f', 'p') THEN pg_get_functiondef(p.oid) END AS definition,
            quote_ident(n.nspname) || '.' || quote_ident(p.proname) AS qualified,
            EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                      AND d.objid = p.oid AND d.refclassid = 'pg_class'::regclass) AS reads_relations,
            (SELECT json_agg(DISTINCT jsonb_build_object('schema', rn.nspname, 'name', rc.relname))
               FROM pg_depend d JOIN pg_class rc ON rc.oid = d.refobjid
               JOIN pg_namespace rn ON rn.oid = rc.relnamespace
              WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                AND d.refclassid = 'pg_class'::regclass) AS uses,
            (SELECT json_agg(DISTINCT jsonb_build_object('schema', bn.nspname, 'name', bt.typname))
               FROM pg_depend d JOIN pg_type t ON t.oid = d.refobjid
               JOIN pg_type bt ON bt.oid = CASE WHEN t.typcategory = 'A' AND t.typelem <> 0
                                                THEN t.typelem ELSE t.oid END
               JOIN pg_namespace bn ON bn.oid = bt.typnamespace
              WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                AND d.refclassid = 'pg_type'::regclass
                AND bn.nspname NOT IN ('pg_catalog', 'information_schema')) AS types
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = $1 AND ${notExtensionMember('pg_proc', 'p')}
        -- A range type's constructors come with the type (an internal dependency).
        AND NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = 'pg_proc'::regclass
                          AND x.objid = p.oid AND x.deptype = 'i')
      ORDER BY p.proname, identity`,
    [schema],
  );
  for (const f of found.rows) {
    const label = `${schema}.${f.name}(${f.identity})`;
    if (f.definition === null) {
      objects.notCarried.push({
        object: label,
        kind: f.prokind === 'a' ? 'aggregate' : 'window function',
        reason: 'aggregates and window functions are not created by schema-sync: create by hand',
      });
      continue;
    }
    const kind: FunctionDefinition['kind'] = f.prokind === 'p' ? 'procedure' : 'function';
    const definition = definitionAfterName(f.definition, kind, [f.qualified, quoteIdent(f.name)]);
    if (definition === undefined) {
      objects.notCarried.push({
        object: label,
        kind,
        reason: `unexpected pg_get_functiondef() output: ${f.definition.split('\n')[0]}`,
      });
      continue;
    }
    objects.functions.push({
      schema,
      name: f.name,
      kind,
      identity: f.identity,
      definition,
      readsRelations: f.reads_relations,
      ...(f.uses ? { uses: f.uses } : {}),
      ...(f.types ? { types: f.types } : {}),
    });
  }
}

/** pg_get_functiondef() from the `(` after the (qualified or not) name on. */
function definitionAfterName(
  def: string,
  kind: FunctionDefinition['kind'],
  names: string[],
): string | undefined {
  for (const name of names) {
    const head = `CREATE OR REPLACE ${kind.toUpperCase()} ${name}(`;
    if (def.startsWith(head)) return def.slice(head.length - 1).replace(/\s+$/, '');
  }
  return undefined;
}

async function readViews(client: pg.ClientBase, schema: string, objects: SchemaObjects) {
  const found = await client.query<{
    name: string;
    relkind: string;
    query: string;
    options: string[] | null;
    populated: boolean;
    uses: { schema: string; name: string }[] | null;
    indexes: { name: string; definition: string }[] | null;
  }>(
    `SELECT c.relname AS name, c.relkind, pg_get_viewdef(c.oid) AS query, c.reloptions AS options,
            c.relispopulated AS populated,
            (SELECT json_agg(json_build_object('name', ic.relname,
                                               'definition', pg_get_indexdef(i.indexrelid, 0, true))
                             ORDER BY ic.relname)
               FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
              WHERE i.indrelid = c.oid) AS indexes,
            (SELECT json_agg(DISTINCT jsonb_build_object('schema', rn.nspname, 'name', rc.relname))
               FROM pg_rewrite r
               JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                               AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> c.oid
               JOIN pg_class rc ON rc.oid = d.refobjid
               JOIN pg_namespace rn ON rn.oid = rc.relnamespace
              WHERE r.ev_class = c.oid AND rn.nspname NOT IN ('pg_catalog', 'information_schema')) AS uses
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('v', 'm') AND ${notExtensionMember('pg_class', 'c')}
      ORDER BY c.relname`,
    [schema],
  );
  for (const v of found.rows) {
    objects.views.push({
      schema,
      name: v.name,
      materialized: v.relkind === 'm',
      query: v.query.trim().replace(/;$/, ''),
      options: v.options ?? [],
      uses: v.uses ?? [],
      populated: v.populated,
      ...(v.indexes ? { indexes: v.indexes } : {}),
    });
  }
}

async function readTriggers(
  client: pg.ClientBase,
  schema: string,
  tables: string[],
  objects: SchemaObjects,
  /** The schemas read: a trigger function elsewhere is not carried. */
  schemas: readonly string[],
) {
  if (tables.length === 0) return;
  // Clones on partitions (tgparentid) come with their parent's trigger.
  const found = await client.query<{
    table: string;
    name: string;
    definition: string;
    state: TriggerState;
    foreign_function: string | null;
  }>(
    `SELECT c.relname AS table, t.tgname AS name, pg_get_triggerdef(t.oid, true) AS definition,
            t.tgenabled AS state,
            CASE WHEN fn.nspname <> ALL($3::text[]) AND fn.nspname <> 'pg_catalog'
                  AND NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = 'pg_proc'::regclass
                                    AND x.objid = f.oid AND x.deptype = 'e')
                 THEN fn.nspname || '.' || f.proname END AS foreign_function
       FROM pg_trigger t
       JOIN pg_class c ON c.oid = t.tgrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_proc f ON f.oid = t.tgfoid
       JOIN pg_namespace fn ON fn.oid = f.pronamespace
      WHERE n.nspname = $1 AND c.relname = ANY($2::text[]) AND NOT t.tgisinternal
        AND t.tgparentid = 0
      ORDER BY c.relname, t.tgname`,
    [schema, tables, schemas],
  );
  for (const t of found.rows) {
    objects.triggers.push({
      table: { schema, name: t.table },
      name: t.name,
      definition: t.definition,
      state: t.state,
      ...(t.foreign_function !== null ? { foreignFunction: t.foreign_function } : {}),
    });
  }
}

async function readPolicies(
  client: pg.ClientBase,
  schema: string,
  tables: string[],
  objects: SchemaObjects,
) {
  if (tables.length === 0) return;
  const security = await client.query<{ table: string; enabled: boolean; forced: boolean }>(
    `SELECT c.relname AS table, c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = ANY($2::text[])
        AND (c.relrowsecurity OR c.relforcerowsecurity)
      ORDER BY 1`,
    [schema, tables],
  );
  for (const r of security.rows) {
    objects.rowSecurity.push({
      table: { schema, name: r.table },
      enabled: r.enabled,
      forced: r.forced,
    });
  }
  const found = await client.query<{
    table: string;
    name: string;
    permissive: boolean;
    cmd: string;
    roles: string[];
    using: string | null;
    check: string | null;
  }>(
    `SELECT c.relname AS table, p.polname AS name, p.polpermissive AS permissive,
            CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
                          WHEN 'd' THEN 'DELETE' ELSE 'ALL' END AS cmd,
            CASE WHEN p.polroles = '{0}' THEN ARRAY['PUBLIC']
                 ELSE ARRAY(SELECT r.rolname::text FROM pg_roles r WHERE r.oid = ANY(p.polroles)
                             ORDER BY r.rolname) END AS roles,
            pg_get_expr(p.polqual, p.polrelid) AS using,
            pg_get_expr(p.polwithcheck, p.polrelid) AS check
       FROM pg_policy p
       JOIN pg_class c ON c.oid = p.polrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = ANY($2::text[])
      ORDER BY c.relname, p.polname`,
    [schema, tables],
  );
  for (const p of found.rows) {
    objects.policies.push({
      table: { schema, name: p.table },
      name: p.name,
      permissive: p.permissive,
      command: p.cmd,
      roles: p.roles,
      ...(p.using !== null ? { using: p.using } : {}),
      ...(p.check !== null ? { check: p.check } : {}),
    });
  }
}

async function readComments(client: pg.ClientBase, schema: string, objects: SchemaObjects) {
  const found = await client.query<{
    kind: string;
    name: string;
    sub: string | null;
    comment: string;
  }>(
    `WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname = $1)
     SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                           WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind,
            c.relname AS name, NULL AS sub, d.description AS comment
       FROM pg_description d JOIN pg_class c ON c.oid = d.objoid
      WHERE d.classoid = 'pg_class'::regclass AND d.objsubid = 0
        AND c.relnamespace IN (SELECT oid FROM ns) AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
     UNION ALL
     SELECT 'COLUMN', c.relname, a.attname, d.description
       FROM pg_description d JOIN pg_class c ON c.oid = d.objoid
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid
      WHERE d.classoid = 'pg_class'::regclass AND d.objsubid > 0
        AND c.relnamespace IN (SELECT oid FROM ns) AND c.relkind IN ('r', 'p', 'v', 'm')
     UNION ALL
     SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END, p.proname,
            pg_get_function_identity_arguments(p.oid), d.description
       FROM pg_description d JOIN pg_proc p ON p.oid = d.objoid
      WHERE d.classoid = 'pg_proc'::regclass AND p.pronamespace IN (SELECT oid FROM ns)
        AND p.prokind IN ('f', 'p')
     UNION ALL
     SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, t.typname, NULL, d.description
       FROM pg_description d JOIN pg_type t ON t.oid = d.objoid
      WHERE d.classoid = 'pg_type'::regclass AND t.typnamespace IN (SELECT oid FROM ns)
        AND t.typtype IN ('e', 'd')
     UNION ALL
     SELECT 'TRIGGER', c.relname, tg.tgname, d.description
       FROM pg_description d JOIN pg_trigger tg ON tg.oid = d.objoid
       JOIN pg_class c ON c.oid = tg.tgrelid
      WHERE d.classoid = 'pg_trigger'::regclass AND c.relnamespace IN (SELECT oid FROM ns)
     UNION ALL
     SELECT 'POLICY', c.relname, pol.polname, d.description
       FROM pg_description d JOIN pg_policy pol ON pol.oid = d.objoid
       JOIN pg_class c ON c.oid = pol.polrelid
      WHERE d.classoid = 'pg_policy'::regclass AND c.relnamespace IN (SELECT oid FROM ns)
     ORDER BY 1, 2, 3`,
    [schema],
  );
  for (const c of found.rows) {
    objects.comments.push({
      kind: c.kind,
      schema,
      name: c.name,
      ...(c.sub !== null ? { sub: c.sub } : {}),
      comment: c.comment,
    });
  }
}

async function readCollations(client: pg.ClientBase, schema: string, objects: SchemaObjects) {
  // to_jsonb: the locale column is colliculocale on 15, colllocale from 17; icurules from 16.
  const found = await client.query<{ name: string; c: Record<string, unknown> }>(
    `SELECT c.collname AS name, to_jsonb(c) AS c
       FROM pg_collation c JOIN pg_namespace n ON n.oid = c.collnamespace
      WHERE n.nspname = $1 AND ${notExtensionMember('pg_collation', 'c')}
      ORDER BY 1`,
    [schema],
  );
  for (const { name, c } of found.rows) {
    const text = (key: string) =>
      typeof c[key] === 'string' && c[key] !== '' ? (c[key] as string) : undefined;
    if (c.collprovider !== 'i' && c.collprovider !== 'c') {
      objects.notCarried.push({
        object: `${schema}.${name}`,
        kind: 'collation',
        reason: 'a collation of the default provider cannot be created: create it by hand',
      });
      continue;
    }
    const locale = text('colllocale') ?? text('colliculocale');
    const lcCollate = text('collcollate');
    const lcCtype = text('collctype');
    const rules = text('collicurules');
    objects.collations.push({
      schema,
      name,
      provider: c.collprovider === 'i' ? 'icu' : 'libc',
      deterministic: c.collisdeterministic !== false,
      ...(locale !== undefined ? { locale } : {}),
      ...(lcCollate !== undefined ? { lcCollate } : {}),
      ...(lcCtype !== undefined ? { lcCtype } : {}),
      ...(rules !== undefined ? { rules } : {}),
    });
  }
}

async function readGrants(client: pg.ClientBase, schema: string, objects: SchemaObjects) {
  const found = await client.query<{
    kind: string;
    name: string;
    sub: string | null;
    owner: string;
    privileges: { grantee: string; privilege: string; grantable: boolean }[] | null;
  }>(
    `WITH o AS (
       SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind, c.relname AS name,
              NULL::text AS sub, c.relowner AS owner, c.relacl AS acl
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
       UNION ALL
       SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END, p.proname,
              pg_get_function_identity_arguments(p.oid), p.proowner, p.proacl
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = $1 AND p.prokind IN ('f', 'p'))
     SELECT o.kind, o.name, o.sub, pg_get_userbyid(o.owner) AS owner,
            (SELECT json_agg(json_build_object(
                      'grantee', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END,
                      'privilege', a.privilege_type, 'grantable', a.is_grantable)
                    ORDER BY a.grantee, a.privilege_type)
               FROM aclexplode(o.acl) a WHERE a.grantee <> o.owner) AS privileges
       FROM o ORDER BY 1, 2, 3`,
    [schema],
  );
  for (const g of found.rows) {
    objects.grants.push({
      kind: g.kind,
      schema,
      name: g.name,
      ...(g.sub !== null ? { sub: g.sub } : {}),
      owner: g.owner,
      privileges: g.privileges ?? [],
    });
  }
}

async function readViewTriggers(client: pg.ClientBase, schema: string, objects: SchemaObjects) {
  const found = await client.query<{
    table: string;
    name: string;
    definition: string;
    state: TriggerState;
  }>(
    `SELECT c.relname AS table, t.tgname AS name, pg_get_triggerdef(t.oid, true) AS definition,
            t.tgenabled AS state
       FROM pg_trigger t
       JOIN pg_class c ON c.oid = t.tgrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind = 'v' AND NOT t.tgisinternal
      ORDER BY c.relname, t.tgname`,
    [schema],
  );
  for (const t of found.rows) {
    objects.viewTriggers.push({
      table: { schema, name: t.table },
      name: t.name,
      definition: t.definition,
      state: t.state,
    });
  }
}

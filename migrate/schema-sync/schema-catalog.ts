// Reads tables, enum and domain types and sequences from a PostgreSQL catalog into a typed model,
// the same way for the source and the target so `schema-sync` can compare like with like.
// Expressions come from pg_get_expr/pg_get_constraintdef/pg_get_indexdef under search_path =
// pg_catalog, so every reference to a user object is schema-qualified and can be remapped.
import type pg from 'pg';

export interface QualifiedName {
  schema: string;
  name: string;
}

export const formatQualifiedName = (n: QualifiedName): string => `${n.schema}.${n.name}`;

/** A column's type: built-in types as format_type() spells them; user types by name. */
export interface ColumnType {
  /** format_type() under search_path = pg_catalog, e.g. `numeric(12,2)`, `public.mood[]`. */
  sql: string;
  /** Set when the (element) type lives outside pg_catalog: an enum, a domain or another type. */
  user?: QualifiedName & { kind: 'enum' | 'domain' | 'other' };
  array: boolean;
}

export interface ColumnDefinition {
  name: string;
  type: ColumnType;
  /** `pg_catalog."C"` when the column's collation differs from its type's. */
  collation?: string;
  notNull: boolean;
  /** Default expression (not for identity or generated columns). */
  default?: string;
  identity?: 'always' | 'by-default';
  /** The identity column's sequence. */
  identitySequence?: QualifiedName;
  /** Expression of a stored generated column. */
  generated?: string;
}

export interface ConstraintDefinition {
  name: string;
  /** pg_get_constraintdef(), e.g. `UNIQUE (a, b)`, `CHECK ((qty > 0))`. */
  definition: string;
}

export interface IndexDefinition {
  name: string;
  unique: boolean;
  /** pg_get_indexdef() after `... ON <table> USING `, e.g. `btree (lower(email)) WHERE ...`. */
  method: string;
}

export interface TableDefinition extends QualifiedName {
  partitioned: boolean;
  columns: ColumnDefinition[];
  primaryKey?: ConstraintDefinition & { columns: string[] };
  /** Unique, exclusion and check constraints. */
  constraints: (ConstraintDefinition & { kind: 'unique' | 'exclude' | 'check' })[];
  /** Indexes that back no constraint. */
  indexes: IndexDefinition[];
  foreignKeys: ConstraintDefinition[];
  triggers: string[];
}

export interface EnumDefinition extends QualifiedName {
  labels: string[];
}

export interface DomainDefinition extends QualifiedName {
  baseType: ColumnType;
  collation?: string;
  notNull: boolean;
  default?: string;
  checks: ConstraintDefinition[];
}

export interface SequenceDefinition extends QualifiedName {
  /** How a default names it: `'<regclassText>'::regclass` (search_path = pg_catalog). */
  regclassText: string;
  dataType: string;
  start: string;
  increment: string;
  min: string;
  max: string;
  cache: string;
  cycle: boolean;
  /** The column that owns it: a serial column, or an identity column (then `identity`). */
  ownedBy?: SequenceOwner;
}

export interface SequenceOwner {
  table: QualifiedName;
  column: string;
  identity: boolean;
}

export interface SchemaCatalog {
  /** The requested schemas that exist. */
  schemas: string[];
  tables: TableDefinition[];
  enums: EnumDefinition[];
  domains: DomainDefinition[];
  /** Requested types that exist and are neither enums nor domains (extension types...). */
  otherTypes: QualifiedName[];
  sequences: SequenceDefinition[];
}

export interface CatalogRequest {
  schemas?: readonly string[];
  tables: readonly QualifiedName[];
  types?: readonly QualifiedName[];
  sequences?: readonly QualifiedName[];
  /** Also read the user types and sequences the tables use (the source side). */
  followDependencies?: boolean;
}

const keyOf = (n: QualifiedName): string => `${n.schema}\u0000${n.name}`;

/**
 * Reads the requested objects that exist (missing ones are simply absent from the result). Runs
 * in a read-only transaction of its own unless `inTransaction` says the caller already has one
 * (the target side reads under schema-sync's lock, in the transaction that applies the DDL).
 */
export async function readSchemaCatalog(
  client: pg.ClientBase,
  request: CatalogRequest,
  options: { inTransaction?: boolean } = {},
): Promise<SchemaCatalog> {
  if (!options.inTransaction) await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    // Every user object in expressions and type names comes out schema-qualified.
    await client.query('SET LOCAL search_path = pg_catalog');
    const catalog = await readObjects(client, request);
    if (!options.inTransaction) await client.query('COMMIT');
    return catalog;
  } catch (error) {
    if (!options.inTransaction) await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

async function readObjects(client: pg.ClientBase, request: CatalogRequest): Promise<SchemaCatalog> {
  const schemas = request.schemas?.length
    ? (
        await client.query<{ nspname: string }>(
          'SELECT nspname FROM pg_namespace WHERE nspname = ANY($1::text[]) ORDER BY nspname',
          [request.schemas],
        )
      ).rows.map((r) => r.nspname)
    : [];
  const tables: TableDefinition[] = [];
  const sequenceOids = new Set<string>();
  const ownedBy = new Map<string, SequenceOwner>();
  for (const ref of request.tables) {
    const found = await readTable(client, ref);
    if (!found) continue;
    tables.push(found.table);
    for (const oid of found.sequenceOids) sequenceOids.add(oid);
    for (const [oid, owner] of found.ownedBy) ownedBy.set(oid, owner);
  }

  const typeRefs = new Map<string, QualifiedName>();
  for (const t of request.types ?? []) typeRefs.set(keyOf(t), t);
  if (request.followDependencies) {
    for (const table of tables)
      for (const c of table.columns) if (c.type.user) typeRefs.set(keyOf(c.type.user), c.type.user);
  }
  const types = await readTypes(client, [...typeRefs.values()], request.followDependencies);

  const sequences = await readSequences(client, [...sequenceOids], request.sequences ?? []);
  for (const s of sequences) {
    const owner = ownedBy.get(s.regclassText);
    if (owner) s.ownedBy = owner;
  }
  return { schemas, tables, ...types, sequences };
}

interface ColumnRow {
  attnum: number;
  name: string;
  type_sql: string;
  base_kind: string;
  base_schema: string;
  base_name: string;
  is_array: boolean;
  collation: string | null;
  not_null: boolean;
  identity: string;
  generated: string;
  default_sql: string | null;
}

function columnType(row: {
  type_sql: string;
  base_kind: string;
  base_schema: string;
  base_name: string;
  is_array: boolean;
}): ColumnType {
  const builtin = row.base_schema === 'pg_catalog' || row.base_schema === 'information_schema';
  if (builtin) return { sql: row.type_sql, array: row.is_array };
  const kind = row.base_kind === 'e' ? 'enum' : row.base_kind === 'd' ? 'domain' : 'other';
  return {
    sql: row.type_sql,
    user: { schema: row.base_schema, name: row.base_name, kind },
    array: row.is_array,
  };
}

// The element type of an array, else the type itself (what "user type" checks look at).
const BASE_TYPE_JOIN = `JOIN pg_type bt ON bt.oid = CASE WHEN t.typcategory = 'A' AND t.typelem <> 0 THEN t.typelem ELSE t.oid END
  JOIN pg_namespace bn ON bn.oid = bt.typnamespace`;

async function readTable(
  client: pg.ClientBase,
  ref: QualifiedName,
): Promise<
  | {
      table: TableDefinition;
      sequenceOids: string[];
      ownedBy: Map<string, SequenceOwner>;
    }
  | undefined
> {
  const rel = await client.query<{ oid: string; relkind: string }>(
    `SELECT c.oid, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`,
    [ref.schema, ref.name],
  );
  const row = rel.rows[0];
  if (!row) return undefined;
  const oid = row.oid;

  const columns = await client.query<ColumnRow>(
    `SELECT a.attnum, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type_sql,
            bt.typtype AS base_kind, bn.nspname AS base_schema, bt.typname AS base_name,
            (t.typcategory = 'A' AND t.typelem <> 0) AS is_array,
            CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
                 THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END AS collation,
            a.attnotnull AS not_null, a.attidentity AS identity, a.attgenerated AS generated,
            pg_get_expr(d.adbin, d.adrelid) AS default_sql
       FROM pg_attribute a
       JOIN pg_type t ON t.oid = a.atttypid
       ${BASE_TYPE_JOIN}
       LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
       LEFT JOIN pg_collation co ON co.oid = a.attcollation
       LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
      WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [oid],
  );
  // Sequences the table's columns use: owned ones (serial: 'a', identity: 'i') and the ones
  // column defaults call nextval() on.
  const owned = await client.query<{ attnum: number; deptype: string; seq: string }>(
    `SELECT dep.refobjsubid AS attnum, dep.deptype, s.oid::regclass::text AS seq
       FROM pg_depend dep JOIN pg_class s ON s.oid = dep.objid AND s.relkind = 'S'
      WHERE dep.classid = 'pg_class'::regclass AND dep.refclassid = 'pg_class'::regclass
        AND dep.refobjid = $1 AND dep.deptype IN ('a', 'i')`,
    [oid],
  );
  const used = await client.query<{ seq_oid: string }>(
    `SELECT DISTINCT dep.refobjid AS seq_oid
       FROM pg_attrdef ad
       JOIN pg_depend dep ON dep.classid = 'pg_attrdef'::regclass AND dep.objid = ad.oid
                         AND dep.refclassid = 'pg_class'::regclass
       JOIN pg_class s ON s.oid = dep.refobjid AND s.relkind = 'S'
      WHERE ad.adrelid = $1
     UNION
     SELECT dep.objid FROM pg_depend dep JOIN pg_class s ON s.oid = dep.objid AND s.relkind = 'S'
      WHERE dep.classid = 'pg_class'::regclass AND dep.refclassid = 'pg_class'::regclass
        AND dep.refobjid = $1 AND dep.deptype IN ('a', 'i')`,
    [oid],
  );
  const identitySeqs = await client.query<{ attnum: number; schema: string; name: string }>(
    `SELECT dep.refobjsubid AS attnum, n.nspname AS schema, s.relname AS name
       FROM pg_depend dep JOIN pg_class s ON s.oid = dep.objid AND s.relkind = 'S'
       JOIN pg_namespace n ON n.oid = s.relnamespace
      WHERE dep.classid = 'pg_class'::regclass AND dep.refclassid = 'pg_class'::regclass
        AND dep.refobjid = $1 AND dep.deptype = 'i'`,
    [oid],
  );
  const constraints = await client.query<{
    name: string;
    kind: string;
    definition: string;
    columns: string[] | null;
  }>(
    `SELECT k.conname AS name, k.contype AS kind, pg_get_constraintdef(k.oid) AS definition,
            (SELECT array_agg(a.attname::text ORDER BY u.ord)
               FROM unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum) AS columns
       FROM pg_constraint k
      WHERE k.conrelid = $1 AND k.contype IN ('p', 'u', 'x', 'c', 'f')
      ORDER BY k.conname`,
    [oid],
  );
  const indexes = await client.query<{
    name: string;
    unique: boolean;
    definition: string;
    prefix: string;
  }>(
    `SELECT ic.relname AS name, i.indisunique AS unique, pg_get_indexdef(i.indexrelid) AS definition,
            'CREATE ' || CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END || 'INDEX '
              || quote_ident(ic.relname) || ' ON ' || CASE WHEN tc.relkind = 'p' THEN 'ONLY ' ELSE '' END
              || quote_ident(tn.nspname) || '.' || quote_ident(tc.relname) || ' USING ' AS prefix
       FROM pg_index i
       JOIN pg_class ic ON ic.oid = i.indexrelid
       JOIN pg_class tc ON tc.oid = i.indrelid
       JOIN pg_namespace tn ON tn.oid = tc.relnamespace
      WHERE i.indrelid = $1 AND i.indisvalid
        AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = i.indrelid
                          AND k.conindid = i.indexrelid AND k.contype IN ('p', 'u', 'x'))
      ORDER BY ic.relname`,
    [oid],
  );
  const triggers = await client.query<{ name: string }>(
    'SELECT tgname AS name FROM pg_trigger WHERE tgrelid = $1 AND NOT tgisinternal ORDER BY tgname',
    [oid],
  );

  const identityByAttnum = new Map(
    identitySeqs.rows.map((r) => [r.attnum, { schema: r.schema, name: r.name }]),
  );
  const table: TableDefinition = {
    schema: ref.schema,
    name: ref.name,
    partitioned: row.relkind === 'p',
    columns: columns.rows.map((c) => {
      const column: ColumnDefinition = { name: c.name, type: columnType(c), notNull: c.not_null };
      if (c.collation) column.collation = c.collation;
      if (c.identity === 'a' || c.identity === 'd') {
        column.identity = c.identity === 'a' ? 'always' : 'by-default';
        const seq = identityByAttnum.get(c.attnum);
        if (seq) column.identitySequence = seq;
      } else if (c.generated === 's' && c.default_sql !== null) {
        column.generated = c.default_sql;
      } else if (c.default_sql !== null) {
        column.default = c.default_sql;
      }
      return column;
    }),
    constraints: [],
    indexes: indexes.rows.map((i) => {
      if (!i.definition.startsWith(i.prefix)) {
        throw new Error(`unexpected index definition of ${i.name}: ${i.definition}`);
      }
      return { name: i.name, unique: i.unique, method: i.definition.slice(i.prefix.length) };
    }),
    foreignKeys: [],
    triggers: triggers.rows.map((t) => t.name),
  };
  for (const k of constraints.rows) {
    const def = { name: k.name, definition: k.definition };
    if (k.kind === 'p') table.primaryKey = { ...def, columns: k.columns ?? [] };
    else if (k.kind === 'f') table.foreignKeys.push(def);
    else
      table.constraints.push({
        ...def,
        kind: k.kind === 'u' ? 'unique' : k.kind === 'x' ? 'exclude' : 'check',
      });
  }
  const columnNames = new Map(columns.rows.map((c) => [c.attnum, c.name]));
  const ownedBy = new Map<string, SequenceOwner>();
  for (const o of owned.rows) {
    const column = columnNames.get(o.attnum);
    if (column) ownedBy.set(o.seq, { table: ref, column, identity: o.deptype === 'i' });
  }
  return { table, sequenceOids: used.rows.map((u) => u.seq_oid), ownedBy };
}

async function readTypes(
  client: pg.ClientBase,
  refs: QualifiedName[],
  follow = false,
): Promise<Pick<SchemaCatalog, 'enums' | 'domains' | 'otherTypes'>> {
  const enums: EnumDefinition[] = [];
  const domains: DomainDefinition[] = [];
  const otherTypes: QualifiedName[] = [];
  const seen = new Set<string>();
  let pending = refs;
  // Domains over enums or other domains: follow their base types too (source side).
  while (pending.length > 0) {
    for (const r of pending) seen.add(keyOf(r));
    const found = await client.query<{
      schema: string;
      name: string;
      typtype: string;
      labels: string[] | null;
    }>(
      `SELECT n.nspname AS schema, t.typname AS name, t.typtype,
              (SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e
                WHERE e.enumtypid = t.oid) AS labels
         FROM unnest($1::text[], $2::text[]) AS want(schema, name)
         JOIN pg_namespace n ON n.nspname = want.schema
         JOIN pg_type t ON t.typnamespace = n.oid AND t.typname = want.name`,
      [pending.map((r) => r.schema), pending.map((r) => r.name)],
    );
    const next: QualifiedName[] = [];
    for (const t of found.rows) {
      if (t.typtype === 'e') {
        enums.push({ schema: t.schema, name: t.name, labels: t.labels ?? [] });
      } else if (t.typtype === 'd') {
        const domain = await readDomain(client, t);
        domains.push(domain);
        const base = domain.baseType.user;
        if (follow && base && !seen.has(keyOf(base))) next.push(base);
      } else {
        otherTypes.push({ schema: t.schema, name: t.name });
      }
    }
    pending = next;
  }
  return { enums, domains, otherTypes };
}

async function readDomain(client: pg.ClientBase, ref: QualifiedName): Promise<DomainDefinition> {
  const found = await client.query<{
    oid: string;
    type_sql: string;
    base_kind: string;
    base_schema: string;
    base_name: string;
    is_array: boolean;
    collation: string | null;
    not_null: boolean;
    default_sql: string | null;
  }>(
    `SELECT d.oid, format_type(d.typbasetype, d.typtypmod) AS type_sql,
            bt.typtype AS base_kind, bn.nspname AS base_schema, bt.typname AS base_name,
            (t.typcategory = 'A' AND t.typelem <> 0) AS is_array,
            CASE WHEN d.typcollation <> 0 AND d.typcollation <> t.typcollation
                 THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END AS collation,
            d.typnotnull AS not_null, pg_get_expr(d.typdefaultbin, 0) AS default_sql
       FROM pg_type d
       JOIN pg_namespace dn ON dn.oid = d.typnamespace
       JOIN pg_type t ON t.oid = d.typbasetype
       ${BASE_TYPE_JOIN}
       LEFT JOIN pg_collation co ON co.oid = d.typcollation
       LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
      WHERE dn.nspname = $1 AND d.typname = $2 AND d.typtype = 'd'`,
    [ref.schema, ref.name],
  );
  const row = found.rows[0];
  if (!row) throw new Error(`domain ${formatQualifiedName(ref)} vanished while reading`);
  const checks = await client.query<{ name: string; definition: string }>(
    `SELECT conname AS name, pg_get_constraintdef(oid) AS definition FROM pg_constraint
      WHERE contypid = $1 AND contype = 'c' ORDER BY conname`,
    [row.oid],
  );
  const domain: DomainDefinition = {
    schema: ref.schema,
    name: ref.name,
    baseType: columnType(row),
    notNull: row.not_null,
    checks: checks.rows,
  };
  if (row.collation) domain.collation = row.collation;
  if (row.default_sql !== null) domain.default = row.default_sql;
  return domain;
}

async function readSequences(
  client: pg.ClientBase,
  oids: string[],
  names: readonly QualifiedName[],
): Promise<SequenceDefinition[]> {
  if (oids.length === 0 && names.length === 0) return [];
  const found = await client.query<{
    schema: string;
    name: string;
    regclass_text: string;
    data_type: string;
    start: string;
    increment: string;
    min: string;
    max: string;
    cache: string;
    cycle: boolean;
  }>(
    `SELECT n.nspname AS schema, c.relname AS name, c.oid::regclass::text AS regclass_text,
            format_type(s.seqtypid, NULL) AS data_type, s.seqstart::text AS start,
            s.seqincrement::text AS increment, s.seqmin::text AS min, s.seqmax::text AS max,
            s.seqcache::text AS cache, s.seqcycle AS cycle
       FROM pg_sequence s
       JOIN pg_class c ON c.oid = s.seqrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE s.seqrelid = ANY($1::oid[])
         OR (n.nspname, c.relname) IN (SELECT * FROM unnest($2::text[], $3::text[]))
      ORDER BY n.nspname, c.relname`,
    [oids, names.map((n) => n.schema), names.map((n) => n.name)],
  );
  return found.rows.map((r) => ({
    schema: r.schema,
    name: r.name,
    regclassText: r.regclass_text,
    dataType: r.data_type,
    start: r.start,
    increment: r.increment,
    min: r.min,
    max: r.max,
    cache: r.cache,
    cycle: r.cycle,
  }));
}

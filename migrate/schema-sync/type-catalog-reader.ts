// Reads enum, domain and other user types from the catalog, and how a column or domain's type is
// read (built-in by format_type(), user types by name), which the table reader shares.
import type pg from 'pg';
import {
  type ColumnType,
  type CompositeDefinition,
  catalogKeyOf,
  type DomainDefinition,
  type EnumDefinition,
  formatQualifiedName,
  type QualifiedName,
  type RangeDefinition,
  type SchemaCatalog,
} from './schema-catalog-types.js';

/** The columns a catalog query selects through BASE_TYPE_JOIN to describe a column's type. */
export interface TypeColumns {
  type_sql: string;
  base_kind: string;
  base_schema: string;
  base_name: string;
  is_array: boolean;
  collation: string | null;
  not_null: boolean;
  default_sql: string | null;
}

/** A type as format_type() spells it, named as a user type when its (element) type is one. */
export function toColumnType(row: TypeColumns): ColumnType {
  const builtin = row.base_schema === 'pg_catalog' || row.base_schema === 'information_schema';
  if (builtin) return { sql: row.type_sql, array: row.is_array };
  const kind =
    row.base_kind === 'e'
      ? 'enum'
      : row.base_kind === 'd'
        ? 'domain'
        : row.base_kind === 'c'
          ? 'composite'
          : row.base_kind === 'r'
            ? 'range'
            : 'other';
  return {
    sql: row.type_sql,
    user: { schema: row.base_schema, name: row.base_name, kind },
    array: row.is_array,
  };
}

// The element type of an array, else the type itself (what "user type" checks look at).
export const BASE_TYPE_JOIN = `JOIN pg_type bt ON bt.oid = CASE WHEN t.typcategory = 'A' AND t.typelem <> 0 THEN t.typelem ELSE t.oid END
  JOIN pg_namespace bn ON bn.oid = bt.typnamespace`;

/** Reads the named types that exist; with `follow`, also the user types domains are based on. */
export async function readCatalogTypes(
  client: pg.ClientBase,
  refs: QualifiedName[],
  follow = false,
): Promise<
  Pick<SchemaCatalog, 'enums' | 'domains' | 'otherTypes'> & {
    composites: CompositeDefinition[];
    ranges: RangeDefinition[];
  }
> {
  const composites: CompositeDefinition[] = [];
  const ranges: RangeDefinition[] = [];
  const enums: EnumDefinition[] = [];
  const domains: DomainDefinition[] = [];
  const otherTypes: QualifiedName[] = [];
  const seen = new Set<string>();
  let pending = refs;
  // Domains over enums or other domains: follow their base types too (source side).
  while (pending.length > 0) {
    for (const r of pending) seen.add(catalogKeyOf(r));
    const found = await client.query<{
      schema: string;
      name: string;
      typtype: string;
      relkind: string | null;
      labels: string[] | null;
    }>(
      `SELECT n.nspname AS schema, t.typname AS name, t.typtype,
              (SELECT relkind FROM pg_class WHERE oid = t.typrelid) AS relkind,
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
        if (follow && base && !seen.has(catalogKeyOf(base))) next.push(base);
      } else if (t.typtype === 'c' && t.relkind === 'c') {
        const composite = await readComposite(client, t);
        composites.push(composite);
        for (const a of composite.attributes) {
          const user = a.type.user;
          if (follow && user && !seen.has(catalogKeyOf(user))) next.push(user);
        }
      } else if (t.typtype === 'r') {
        const range = await readRange(client, t);
        ranges.push(range);
        const user = range.subtype.user;
        if (follow && user && !seen.has(catalogKeyOf(user))) next.push(user);
      } else {
        // Extension types, and a table's row type (it comes with its table).
        otherTypes.push({ schema: t.schema, name: t.name });
      }
    }
    pending = next;
  }
  return { enums, domains, otherTypes, composites, ranges };
}

async function readDomain(client: pg.ClientBase, ref: QualifiedName): Promise<DomainDefinition> {
  const found = await client.query<TypeColumns & { oid: string }>(
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
    baseType: toColumnType(row),
    notNull: row.not_null,
    checks: checks.rows,
  };
  if (row.collation) domain.collation = row.collation;
  if (row.default_sql !== null) domain.default = row.default_sql;
  return domain;
}

async function readComposite(
  client: pg.ClientBase,
  ref: QualifiedName,
): Promise<CompositeDefinition> {
  const found = await client.query<TypeColumns & { name: string }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type_sql,
            bt.typtype AS base_kind, bn.nspname AS base_schema, bt.typname AS base_name,
            (t.typcategory = 'A' AND t.typelem <> 0) AS is_array,
            CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
                 THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END AS collation,
            false AS not_null, NULL AS default_sql
       FROM pg_type ct
       JOIN pg_namespace ctn ON ctn.oid = ct.typnamespace
       JOIN pg_attribute a ON a.attrelid = ct.typrelid AND a.attnum > 0 AND NOT a.attisdropped
       JOIN pg_type t ON t.oid = a.atttypid
       ${BASE_TYPE_JOIN}
       LEFT JOIN pg_collation co ON co.oid = a.attcollation
       LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
      WHERE ctn.nspname = $1 AND ct.typname = $2
      ORDER BY a.attnum`,
    [ref.schema, ref.name],
  );
  return {
    schema: ref.schema,
    name: ref.name,
    attributes: found.rows.map((r) => ({
      name: r.name,
      type: toColumnType(r),
      ...(r.collation ? { collation: r.collation } : {}),
    })),
  };
}

async function readRange(client: pg.ClientBase, ref: QualifiedName): Promise<RangeDefinition> {
  const found = await client.query<
    TypeColumns & { diff: string | null; multirange: string | null }
  >(
    `SELECT format_type(r.rngsubtype, NULL) AS type_sql,
            bt.typtype AS base_kind, bn.nspname AS base_schema, bt.typname AS base_name,
            (t.typcategory = 'A' AND t.typelem <> 0) AS is_array,
            CASE WHEN r.rngcollation <> 0 AND r.rngcollation <> t.typcollation
                 THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END AS collation,
            false AS not_null, NULL AS default_sql,
            CASE WHEN dn.nspname = 'pg_catalog' THEN 'pg_catalog.' || quote_ident(dp.proname) END AS diff,
            mt.typname AS multirange
       FROM pg_range r
       JOIN pg_type rt ON rt.oid = r.rngtypid
       JOIN pg_namespace rn ON rn.oid = rt.typnamespace
       JOIN pg_type t ON t.oid = r.rngsubtype
       ${BASE_TYPE_JOIN}
       LEFT JOIN pg_collation co ON co.oid = r.rngcollation
       LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
       LEFT JOIN pg_proc dp ON dp.oid = r.rngsubdiff
       LEFT JOIN pg_namespace dn ON dn.oid = dp.pronamespace
       LEFT JOIN pg_type mt ON mt.oid = r.rngmultitypid
      WHERE rn.nspname = $1 AND rt.typname = $2`,
    [ref.schema, ref.name],
  );
  const row = found.rows[0];
  if (!row) throw new Error(`range type ${formatQualifiedName(ref)} vanished while reading`);
  return {
    schema: ref.schema,
    name: ref.name,
    subtype: toColumnType(row),
    ...(row.collation ? { collation: row.collation } : {}),
    ...(row.diff ? { subtypeDiff: row.diff } : {}),
    multirange: row.multirange ?? `${ref.name}_multirange`,
  };
}

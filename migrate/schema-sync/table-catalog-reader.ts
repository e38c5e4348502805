// Reads one table from the catalog: columns (types, collations, defaults, identity, generated),
// constraints, indexes that back no constraint, triggers, and the sequences its columns use.
import type pg from 'pg';
import type {
  ColumnDefinition,
  PartitionDefinition,
  QualifiedName,
  SequenceOwner,
  TableDefinition,
} from './schema-catalog-types.js';
import { BASE_TYPE_JOIN, type TypeColumns, toColumnType } from './type-catalog-reader.js';

interface ColumnRow extends TypeColumns {
  attnum: number;
  name: string;
  identity: string;
  generated: string;
}

/** A table as read, with the sequences its columns use (by oid) and those they own (by regclass text). */
export interface CatalogTable {
  table: TableDefinition;
  sequenceOids: string[];
  ownedBy: Map<string, SequenceOwner>;
}

export async function readCatalogTable(
  client: pg.ClientBase,
  ref: QualifiedName,
): Promise<CatalogTable | undefined> {
  const rel = await client.query<{
    oid: string;
    relkind: string;
    partition_key: string | null;
    parent_schema: string | null;
    parent_name: string | null;
  }>(
    `SELECT c.oid, c.relkind,
            CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key,
            pn.nspname AS parent_schema, p.relname AS parent_name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_inherits i ON c.relispartition AND i.inhrelid = c.oid
       LEFT JOIN pg_class p ON p.oid = i.inhparent
       LEFT JOIN pg_namespace pn ON pn.oid = p.relnamespace
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
  const partitions = row.relkind === 'p' ? await readPartitions(client, oid) : undefined;
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
    ...(row.partition_key === null ? {} : { partitionKey: row.partition_key }),
    ...(partitions === undefined ? {} : { partitions }),
    ...(row.parent_schema === null || row.parent_name === null
      ? {}
      : { partitionOf: { schema: row.parent_schema, name: row.parent_name } }),
    columns: columns.rows.map((c) => {
      const column: ColumnDefinition = { name: c.name, type: toColumnType(c), notNull: c.not_null };
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

/**
 * The partitions of a partitioned table at every depth (pg_inherits, declarative partitions
 * only), parents before their children and each level's default partition after its siblings, so
 * they can be created in this order.
 */
async function readPartitions(client: pg.ClientBase, oid: string): Promise<PartitionDefinition[]> {
  // Bounds are constants printed in the session's styles (a timestamptz in its TimeZone, a date in
  // its DateStyle): printed the same way on both sides, so they compare as text and are read back
  // as the same values on the target whatever its settings. Local to the catalog's transaction.
  const saved = await client.query<{ settings: string[] }>(
    `SELECT ARRAY[current_setting('TimeZone'), current_setting('DateStyle'),
                  current_setting('IntervalStyle'), current_setting('extra_float_digits')] AS settings`,
  );
  await setRenderSettings(client, ['UTC', 'ISO, YMD', 'postgres', '3']);
  try {
    return await readPartitionRows(client, oid);
  } finally {
    await setRenderSettings(client, saved.rows[0]?.settings ?? []);
  }
}

async function setRenderSettings(client: pg.ClientBase, values: readonly string[]): Promise<void> {
  if (values.length !== 4) return;
  await client.query(
    `SELECT set_config('TimeZone', $1, true), set_config('DateStyle', $2, true),
            set_config('IntervalStyle', $3, true), set_config('extra_float_digits', $4, true)`,
    [...values],
  );
}

async function readPartitionRows(
  client: pg.ClientBase,
  oid: string,
): Promise<PartitionDefinition[]> {
  const found = await client.query<{
    schema: string;
    name: string;
    parent_schema: string;
    parent_name: string;
    bound: string;
    partition_key: string | null;
    relkind: string;
  }>(
    `WITH RECURSIVE tree AS (
       SELECT i.inhrelid AS oid, i.inhparent AS parent, 1 AS depth FROM pg_inherits i WHERE i.inhparent = $1
       UNION ALL
       SELECT i.inhrelid, i.inhparent, t.depth + 1 FROM pg_inherits i JOIN tree t ON i.inhparent = t.oid
     )
     SELECT n.nspname AS schema, c.relname AS name, pn.nspname AS parent_schema, p.relname AS parent_name,
            pg_get_expr(c.relpartbound, c.oid) AS bound, c.relkind,
            CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key
       FROM tree t
       JOIN pg_class c ON c.oid = t.oid AND c.relispartition
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_class p ON p.oid = t.parent
       JOIN pg_namespace pn ON pn.oid = p.relnamespace
      ORDER BY t.depth, pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT', n.nspname, c.relname`,
    [oid],
  );
  return found.rows.map((r) => ({
    schema: r.schema,
    name: r.name,
    parent: { schema: r.parent_schema, name: r.parent_name },
    bound: r.bound,
    ...(r.partition_key === null ? {} : { partitionKey: r.partition_key }),
    foreign: r.relkind !== 'r' && r.relkind !== 'p',
  }));
}

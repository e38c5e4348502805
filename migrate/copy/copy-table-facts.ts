// What `pgferry copy` needs to know of one table on each side: the columns it copies (by name,
// in source order, generated ones left out), the key it splits on (the primary key, else the
// REPLICA IDENTITY USING INDEX index, which the stream keys the table by too), whether both sides can
// speak binary COPY for it, and the source's size estimate. Read from the catalogs, never assumed.
import type pg from 'pg';
import { qualifiedName } from '../../core/sql-identifier.js';
import type { MigrationTable } from '../migration-tables.js';

export interface CopyColumn {
  name: string;
  /** format_type() on the source (used to cast key bounds back from text). */
  sourceType: string;
}

export interface SourceTableFacts {
  table: MigrationTable;
  columns: CopyColumn[];
  /** Primary-key columns in key order, with their types; empty = no primary key. */
  key: CopyColumn[];
  /** Every column's type is built in (OID below 16384), so binary COPY carries no local OIDs. */
  builtinTypes: boolean;
  estimatedRows: number;
  estimatedBytes: number;
}

export interface TargetTableFacts {
  columns: Map<string, { type: string; generated: boolean; builtin: boolean }>;
  key: string[];
}

/** The OID below which every type is PostgreSQL's own (FirstNormalObjectId). */
const FIRST_USER_OID = 16384;

interface ColumnRow {
  name: string;
  type: string;
  type_oid: number;
  generated: boolean;
  key_position: number | null;
}

async function readColumns(
  client: pg.ClientBase,
  table: MigrationTable,
): Promise<ColumnRow[] | undefined> {
  const exists = await client.query<{ oid: number | null }>('SELECT to_regclass($1)::oid AS oid', [
    qualifiedName(table.schema, table.name),
  ]);
  const oid = exists.rows[0]?.oid;
  if (oid == null) return undefined;
  const result = await client.query<ColumnRow>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
            a.atttypid::int AS type_oid, a.attgenerated <> '' AS generated,
            (SELECT k.ord FROM pg_index i
               CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
              WHERE i.indrelid = a.attrelid AND k.attnum = a.attnum
                AND (i.indisprimary OR (i.indisreplident AND NOT EXISTS (
                      SELECT 1 FROM pg_index p WHERE p.indrelid = a.attrelid AND p.indisprimary))))::int AS key_position
       FROM pg_attribute a
      WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [oid],
  );
  return result.rows;
}

export async function readSourceTableFacts(
  client: pg.ClientBase,
  table: MigrationTable,
): Promise<SourceTableFacts | undefined> {
  const rows = await readColumns(client, table);
  if (rows === undefined) return undefined;
  const copied = rows.filter((r) => !r.generated);
  const key = rows
    .filter((r) => r.key_position !== null)
    .sort((a, b) => (a.key_position ?? 0) - (b.key_position ?? 0))
    .map((r) => ({ name: r.name, sourceType: r.type }));
  // A partitioned table holds no rows itself (reltuples -1, size 0): its leaf partitions do. It is
  // copied through its root all the same (COPY (SELECT ... FROM root) out, COPY root in routes).
  const size = await client.query<{ rows: number; bytes: string }>(
    `SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::float8 AS rows,
            coalesce(sum(pg_table_size(c.oid)), 0)::text AS bytes
       FROM pg_class c
      WHERE c.oid = to_regclass($1)
         OR c.oid IN (SELECT relid FROM pg_partition_tree(to_regclass($1)) WHERE isleaf)`,
    [qualifiedName(table.schema, table.name)],
  );
  return {
    table,
    columns: copied.map((r) => ({ name: r.name, sourceType: r.type })),
    key,
    builtinTypes: copied.every((r) => r.type_oid < FIRST_USER_OID),
    estimatedRows: Math.round(size.rows[0]?.rows ?? 0),
    estimatedBytes: Number(size.rows[0]?.bytes ?? 0),
  };
}

export async function readTargetTableFacts(
  client: pg.ClientBase,
  table: MigrationTable,
): Promise<TargetTableFacts | undefined> {
  const rows = await readColumns(client, table);
  if (rows === undefined) return undefined;
  return {
    columns: new Map(
      rows.map((r) => [
        r.name,
        { type: r.type, generated: r.generated, builtin: r.type_oid < FIRST_USER_OID },
      ]),
    ),
    key: rows
      .filter((r) => r.key_position !== null)
      .sort((a, b) => (a.key_position ?? 0) - (b.key_position ?? 0))
      .map((r) => r.name),
  };
}

export interface CopyShape {
  columns: CopyColumn[];
  /** binary when every column has the same built-in type on both sides, text otherwise. */
  format: 'binary' | 'text';
}

/**
 * The columns to copy and the COPY format, or the reason the table cannot be copied (named by
 * column): a source column the target lacks, or one the target computes itself.
 */
export function planCopyShape(
  source: SourceTableFacts,
  target: TargetTableFacts,
): CopyShape | { problem: string } {
  const name = `${source.table.schema}.${source.table.name}`;
  if (source.key.length === 0) {
    return {
      problem: `${name} has no primary key (nor REPLICA IDENTITY USING INDEX): pgferry copy cannot load it exactly (a change committed between the slot's start and the copy's snapshot is streamed again over the copied rows and, with no key to match, would duplicate a row). Load it with Debezium's snapshot instead: \`pgferry connector apply --snapshot-keyless\` (snapshot.mode=initial for the tables without a key only), and leave it out of the copy (--tables, or TABLES_EXCLUDE for the copy)`,
    };
  }
  const missing = source.columns.filter((c) => !target.columns.has(c.name)).map((c) => c.name);
  if (missing.length > 0) {
    return {
      problem: `target table ${name} lacks column${missing.length === 1 ? '' : 's'} ${missing.join(', ')} (run pgferry schema-sync)`,
    };
  }
  const generated = source.columns
    .filter((c) => target.columns.get(c.name)?.generated)
    .map((c) => c.name);
  if (generated.length > 0) {
    return {
      problem: `target column${generated.length === 1 ? '' : 's'} ${generated.join(', ')} of ${name} ${generated.length === 1 ? 'is' : 'are'} generated on the target but not on the source`,
    };
  }
  const sameTypes = source.columns.every((c) => {
    const t = target.columns.get(c.name);
    return t?.builtin === true && t.type === c.sourceType;
  });
  return {
    columns: source.columns,
    format: sameTypes && source.builtinTypes ? 'binary' : 'text',
  };
}

// SQL for `pgferry verify`: walk a table in primary-key chunks and hash each chunk, on either
// database. Every statement is built from catalog names (quoted) and binds key values as text
// parameters cast to the key column's own type, so values never reach the SQL text.
import { qualifiedName, quoteIdent } from '../../core/sql-identifier.js';

export interface KeyColumn {
  name: string;
  /** format_type() of the column on the database the statement runs against. */
  type: string;
}

/** What the statements need to know about one side's table. */
export interface ChunkTable {
  schema: string;
  name: string;
  /** Primary-key columns in key order, with this side's types. */
  keyColumns: readonly KeyColumn[];
  /** The compared columns (the source's, in source order): what a row's hash covers. */
  columns: readonly string[];
}

/** A key as PostgreSQL renders it (text, one value per key column); null = open end. */
export type KeyText = readonly (string | null)[];

export interface SqlStatement {
  text: string;
  values: (string | number | null)[];
}

/**
 * One row's fingerprint: md5 of the row constructor's text form over the compared columns only,
 * so extra target columns and column type spellings (varchar vs text) do not matter.
 */
export function buildRowHashExpression(columns: readonly string[]): string {
  if (columns.length === 0) throw new RangeError('a row hash needs at least one column');
  return `md5(ROW(${columns.map(quoteIdent).join(', ')})::text)`;
}

/** `(k1, k2) > ($1::t1, $2::t2)`: a row comparison, which a btree index on the key serves. */
export function buildKeyComparison(
  keyColumns: readonly KeyColumn[],
  operator: '>' | '<=',
  firstParameter: number,
): string {
  const columns = keyColumns.map((c) => quoteIdent(c.name)).join(', ');
  const params = keyColumns.map((c, i) => `$${firstParameter + i}::${c.type}`).join(', ');
  return `(${columns}) ${operator} (${params})`;
}

/** Parameters and the WHERE clause for the half-open range (from, to]; null bounds are open. */
function buildRangeFilter(
  table: ChunkTable,
  from: KeyText | null,
  to: KeyText | null,
  values: (string | number | null)[],
): string {
  const conditions: string[] = [];
  if (from !== null) {
    conditions.push(buildKeyComparison(table.keyColumns, '>', values.length + 1));
    values.push(...checkKeyWidth(table, from));
  }
  if (to !== null) {
    conditions.push(buildKeyComparison(table.keyColumns, '<=', values.length + 1));
    values.push(...checkKeyWidth(table, to));
  }
  return conditions.length === 0 ? '' : ` WHERE ${conditions.join(' AND ')}`;
}

function checkKeyWidth(table: ChunkTable, key: KeyText): (string | null)[] {
  if (key.length !== table.keyColumns.length) {
    throw new RangeError(
      `key of ${key.length} values for ${table.keyColumns.length} key columns of ${table.schema}.${table.name}`,
    );
  }
  return [...key];
}

const keyList = (table: ChunkTable, direction = ''): string =>
  table.keyColumns.map((c) => `${quoteIdent(c.name)}${direction}`).join(', ');

// The chunk's own column names (k1.., row_hash) come from a column alias list, so they cannot
// collide with the table's column names whatever those are.
const chunkAliases = (table: ChunkTable): string[] => table.keyColumns.map((_, i) => `k${i + 1}`);

/**
 * The next chunk of the key walk: up to `limit` rows after `after` (null = from the start), with
 * their count, the chunk hash and the last key (the chunk's upper bound). Fewer than `limit` rows
 * means this was the last chunk. The hash equals buildRangeChecksumSql's for the same rows.
 */
export function buildChunkWalkSql(
  table: ChunkTable,
  after: KeyText | null,
  limit: number,
): SqlStatement {
  const values: (string | number | null)[] = [];
  const where = buildRangeFilter(table, after, null, values);
  values.push(limit);
  const aliases = chunkAliases(table);
  const lastKey = aliases.map((a) => `${a}::text`).join(', ');
  return {
    text:
      `WITH chunk(${aliases.join(', ')}, row_hash) AS MATERIALIZED (` +
      `SELECT ${keyList(table)}, ${buildRowHashExpression(table.columns)} ` +
      `FROM ${qualifiedName(table.schema, table.name)}${where} ` +
      `ORDER BY ${keyList(table)} LIMIT $${values.length}) ` +
      `SELECT count(*)::int8 AS rows, md5(string_agg(row_hash, '' ORDER BY ${aliases.join(', ')})) AS hash, ` +
      `(SELECT ARRAY[${lastKey}] FROM chunk ORDER BY ${aliases.map((a) => `${a} DESC`).join(', ')} LIMIT 1) AS last_key ` +
      `FROM chunk`,
    values,
  };
}

/** Count and hash of the rows in (from, to]: the same hash as the walk for the same rows. */
export function buildRangeChecksumSql(
  table: ChunkTable,
  from: KeyText | null,
  to: KeyText | null,
): SqlStatement {
  const values: (string | number | null)[] = [];
  const where = buildRangeFilter(table, from, to, values);
  const aliases = chunkAliases(table);
  return {
    text:
      `SELECT count(*)::int8 AS rows, md5(string_agg(row_hash, '' ORDER BY ${aliases.join(', ')})) AS hash ` +
      `FROM (SELECT ${keyList(table)}, ${buildRowHashExpression(table.columns)} ` +
      `FROM ${qualifiedName(table.schema, table.name)}${where}) AS chunk(${aliases.join(', ')}, row_hash)`,
    values,
  };
}

/** One page of (key as text, row hash) in (after, to], in key order, for the key-level diff. */
export function buildRangeRowsSql(
  table: ChunkTable,
  after: KeyText | null,
  to: KeyText | null,
  limit: number,
): SqlStatement {
  const values: (string | number | null)[] = [];
  const where = buildRangeFilter(table, after, to, values);
  values.push(limit);
  const key = table.keyColumns.map((c) => `${quoteIdent(c.name)}::text`).join(', ');
  return {
    text:
      `SELECT ARRAY[${key}] AS key, ${buildRowHashExpression(table.columns)} AS row_hash ` +
      `FROM ${qualifiedName(table.schema, table.name)}${where} ` +
      `ORDER BY ${keyList(table)} LIMIT $${values.length}`,
    values,
  };
}

/**
 * A table without a key, as a multiset: the row count and an order-independent checksum, the sums
 * of two 60-bit slices of every row's hash (numeric sums: no overflow). Equal multisets of rows
 * give equal results on both sides whatever order the rows are stored in; duplicates count.
 */
export function buildMultisetChecksumSql(table: ChunkTable): SqlStatement {
  return {
    text:
      `SELECT count(*)::int8 AS rows, CASE WHEN count(*) = 0 THEN NULL ELSE ` +
      `sum(('x' || substr(row_hash, 1, 15))::bit(60)::int8)::text || ':' || ` +
      `sum(('x' || substr(row_hash, 16, 15))::bit(60)::int8)::text END AS hash ` +
      `FROM (SELECT ${buildRowHashExpression(table.columns)} FROM ${qualifiedName(table.schema, table.name)}) AS t(row_hash)`,
    values: [],
  };
}

/**
 * The distinct rows of a table without a key, in row-hash order, each with its number of copies
 * and its text form: both sides read in the same order, for the multiset diff (behind a cursor).
 */
export function buildMultisetGroupsSql(table: ChunkTable): string {
  return (
    `SELECT row_hash, count(*)::int8 AS copies, min(row_text) AS row_text ` +
    `FROM (SELECT ${buildRowHashExpression(table.columns)}, ROW(${table.columns.map(quoteIdent).join(', ')})::text ` +
    `FROM ${qualifiedName(table.schema, table.name)}) AS t(row_hash, row_text) ` +
    `GROUP BY row_hash ORDER BY row_hash COLLATE "C"`
  );
}

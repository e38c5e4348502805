// The SQL of a keyless table's apply (no primary key, REPLICA IDENTITY FULL at the source): an
// update or delete changes exactly one target row whose every column matches the event's `before`
// row (the first such row found, by its ctid), so of two identical rows one delete leaves one.
// Identifiers are quoted and types come from the target's catalog; values are parameters.

import { qualifiedName, quoteIdent } from '../core/sql-identifier.js';
import { columnOf, type PgRow, UNCHANGED_TOAST } from '../pipeline/row-change.js';

export interface KeylessTarget {
  schema: string;
  name: string;
  /** Writable target columns (generated ones left out) with their format_type() types. */
  columns: ReadonlyMap<string, string>;
}

export interface KeylessStatement {
  text: string;
  values: (string | null)[];
}

/** Types without an equality operator: their rows match on the text form instead. */
const NO_EQUALITY = /^(json|xml|point|line|lseg|box|path|polygon|circle)(\[\])?$/;

/**
 * The condition "this row is the `before` row": NULL matches IS NULL, every other value by
 * equality with the value cast to the target's type (so an index on the column can serve it).
 * Columns the target lacks and unchanged-TOAST placeholders cannot be compared and are skipped.
 */
function rowMatch(target: KeylessTarget, before: PgRow, values: (string | null)[]): string {
  const terms: string[] = [];
  for (const [column, type] of target.columns) {
    const value = columnOf(before, column);
    if (value === undefined || value === UNCHANGED_TOAST) continue;
    const c = quoteIdent(column);
    if (value === null) {
      terms.push(`${c} IS NULL`);
      continue;
    }
    values.push(value);
    const p = `$${values.length}`;
    terms.push(
      NO_EQUALITY.test(type) ? `${c}::text = ${p}::${type}::text` : `${c} = ${p}::${type}`,
    );
  }
  return terms.length > 0 ? terms.join(' AND ') : 'true';
}

/** The ctid of one target row equal to `before` (LIMIT 1: duplicates are changed one at a time). */
function oneMatchingRow(target: KeylessTarget, before: PgRow, values: (string | null)[]): string {
  const t = qualifiedName(target.schema, target.name);
  return `ctid = (SELECT ctid FROM ${t} WHERE ${rowMatch(target, before, values)} LIMIT 1)`;
}

export function keylessDeleteSql(target: KeylessTarget, before: PgRow): KeylessStatement {
  const values: (string | null)[] = [];
  const where = oneMatchingRow(target, before, values);
  return {
    text: `DELETE FROM ${qualifiedName(target.schema, target.name)} WHERE ${where}`,
    values,
  };
}

/**
 * Sets the columns the change carries (an unchanged TOAST value is left as the target has it)
 * on one row equal to `before`; undefined when the change sets no column the target has.
 */
export function keylessUpdateSql(
  target: KeylessTarget,
  before: PgRow,
  after: PgRow,
): KeylessStatement | undefined {
  const values: (string | null)[] = [];
  const sets: string[] = [];
  for (const [column, type] of target.columns) {
    const value = columnOf(after, column);
    if (value === undefined || value === UNCHANGED_TOAST) continue;
    values.push(value);
    sets.push(`${quoteIdent(column)} = $${values.length}::${type}`);
  }
  if (sets.length === 0) return undefined;
  const where = oneMatchingRow(target, before, values);
  return {
    text: `UPDATE ${qualifiedName(target.schema, target.name)} SET ${sets.join(', ')} WHERE ${where}`,
    values,
  };
}

/** The COPY of a run of inserts that carry the same columns (source values win over identity). */
export function keylessCopySql(target: KeylessTarget, columns: readonly string[]): string {
  return `COPY ${qualifiedName(target.schema, target.name)} (${columns.map(quoteIdent).join(', ')}) FROM STDIN`;
}

/** A keyless table's truncate: in log order, so every row the target has is older. */
export function keylessTruncateSql(target: KeylessTarget): string {
  return `DELETE FROM ${qualifiedName(target.schema, target.name)}`;
}

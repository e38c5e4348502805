// The SQL of one table's apply step, built as text from quoted identifiers and integer literals
// only (no values: values travel through COPY). Pure functions so tests can assert the shape.

import { qualifiedName, quoteIdent, quoteLiteral } from '../core/sql-identifier.js';
import { BOOKKEEPING_SCHEMA, tablesTable } from './bookkeeping/bookkeeping-schema.js';

export interface MergeTarget {
  schema: string;
  name: string;
  positionTable: string;
  primaryKey: readonly string[];
}

export interface StagingTable {
  name: string;
  /** Target columns staged, in COPY order after __op, __pos, __toast. */
  columns: readonly { name: string; type: string }[];
}

const keyMatch = (left: string, right: string, key: readonly string[]): string =>
  key.map((k) => `${left}.${quoteIdent(k)} = ${right}.${quoteIdent(k)}`).join(' AND ');

/**
 * The session's staging table for a column set, then its variable-length columns stored
 * uncompressed (STORAGE EXTERNAL): a staged value is read once by the merge and emptied with it
 * (clearStagingSql), so compressing it (a large text or jsonb above the TOAST threshold) only to
 * decompress it for the target, which compresses it again, cost the target's CPU twice. Which
 * columns are variable-length is read from the catalog (a fixed-length type refuses the clause).
 * Not ON COMMIT DELETE ROWS: PostgreSQL then empties every such table of the session at every
 * commit, used or not, and a session keeps one per table it has applied (a commit took 19 ms
 * with 100 of them, 0.3 ms with one).
 */
export function createStagingTableSql(stage: StagingTable): string {
  const cols = stage.columns.map((c) => `${quoteIdent(c.name)} ${c.type}`);
  const create = `CREATE TEMP TABLE IF NOT EXISTS ${quoteIdent(stage.name)} (__op "char" NOT NULL, __pos bigint NOT NULL, __toast text NOT NULL${cols.length ? `, ${cols.join(', ')}` : ''})`;
  const rel = quoteLiteral(`pg_temp.${quoteIdent(stage.name)}`);
  // The name goes inside a dollar-quoted body: it must not end the quote.
  if (rel.includes('$pgferry_stage$')) throw new RangeError('invalid staging table name');
  const storage =
    `DO $pgferry_stage$DECLARE cols text; BEGIN ` +
    `SELECT string_agg(format('ALTER COLUMN %I SET STORAGE EXTERNAL', attname), ', ' ORDER BY attnum) INTO cols FROM pg_attribute WHERE attrelid = ${rel}::regclass AND attnum > 0 AND NOT attisdropped AND attstorage IN ('x', 'm'); ` +
    `IF cols IS NOT NULL THEN EXECUTE format('ALTER TABLE %s ', ${rel}::regclass) || cols; END IF; ` +
    'END$pgferry_stage$';
  return `${create};\n${storage}`;
}

/**
 * Empties a staging table once its rows are merged, in the merge's (sub)transaction: what a
 * transaction staged and committed is gone with it; what it staged and rolled back is invisible.
 */
export function clearStagingSql(stage: StagingTable): string {
  return `TRUNCATE ${quoteIdent(stage.name)}`;
}

export function copyIntoStagingSql(stage: StagingTable): string {
  const cols = ['__op', '__pos', '__toast', ...stage.columns.map((c) => quoteIdent(c.name))];
  return `COPY ${quoteIdent(stage.name)} (${cols.join(', ')}) FROM STDIN`;
}

/**
 * A truncate at `position`: removes every row whose last change is not newer than the truncate
 * (rows changed after it, possibly applied earlier from another partition, stay), forgets older
 * row positions, and records the truncate so older changes that arrive later are skipped.
 */
export function truncateSql(target: MergeTarget, position: bigint): string[] {
  const t = qualifiedName(target.schema, target.name);
  const p = qualifiedName(BOOKKEEPING_SCHEMA, target.positionTable);
  const pos = position.toString();
  // The UPDATE goes first: its row lock makes concurrent row batches (which read the truncate
  // position FOR SHARE) wait for this truncate, or this truncate wait for them.
  return [
    `UPDATE ${tablesTable()} SET truncated_position = GREATEST(truncated_position, ${pos}) WHERE table_schema = ${quoteLiteral(target.schema)} AND table_name = ${quoteLiteral(target.name)}`,
    `DELETE FROM ${t} AS t WHERE NOT EXISTS (SELECT 1 FROM ${p} AS p WHERE ${keyMatch('p', 't', target.primaryKey)} AND p.__pos > ${pos} AND NOT p.__deleted)`,
    `DELETE FROM ${p} WHERE __pos <= ${pos}`,
  ];
}

/**
 * Applies the staged changes (one per row key, already deduped) with the position guard:
 * 1. record the new positions (deletes too: a late older update must not resurrect the row) of
 *    the staged changes newer than the table's last truncate, never over a newer or equal one;
 *    the upsert's RETURNING names the changes that won, and every other staged change is dropped
 *    (older than what the target has, or overtaken by a concurrent writer: ON CONFLICT waits for
 *    it and compares with its committed position). A staged key appears once, so as many winners
 *    as staged changes means none lost: then nothing is looked for;
 * 2. delete the deleted rows; 3. upsert the rest, one statement per set of columns to keep
 *    (unchanged TOAST values, columns a change's schema version lacks).
 * The staged changes are never joined with the position table by a hash join: that read the
 * whole position table for every batch, so the apply slowed down as the table grew.
 */
export function mergeSql(
  target: MergeTarget,
  stage: StagingTable,
  keepPatterns: readonly string[],
): string[] {
  const t = qualifiedName(target.schema, target.name);
  const p = qualifiedName(BOOKKEEPING_SCHEMA, target.positionTable);
  const s = quoteIdent(stage.name);
  const key = target.primaryKey;
  const keyList = key.map(quoteIdent).join(', ');
  const statements = [
    // The truncate position is read inside the transaction: a truncate applied by this batch or
    // another process counts. At one position a delete and a write of the same key can only be
    // the two halves of a key change between equal values (an unconstrained numeric key given
    // another display scale: Debezium sends delete 1.50 + create 1.500, on two partitions, in
    // either order): the write wins, or the row would be lost.
    `WITH won AS (INSERT INTO ${p} AS p (${keyList}, __pos, __deleted) SELECT ${keyList}, __pos, __op = 'd' FROM ${s} WHERE __pos > COALESCE((SELECT truncated_position FROM ${tablesTable()} WHERE table_schema = ${quoteLiteral(target.schema)} AND table_name = ${quoteLiteral(target.name)} FOR SHARE), 0) ON CONFLICT (${keyList}) DO UPDATE SET __pos = EXCLUDED.__pos, __deleted = EXCLUDED.__deleted WHERE p.__pos < EXCLUDED.__pos OR (p.__pos = EXCLUDED.__pos AND p.__deleted AND NOT EXCLUDED.__deleted) RETURNING ${keyList}, __pos) ` +
      // Nothing to remove when every staged change won (the rule): the counts, compared once
      // (a one-time filter), spare the anti-join's two sorts — a quarter of this statement.
      `DELETE FROM ${s} AS s WHERE (SELECT count(*) FROM won) < (SELECT count(*) FROM ${s}) AND NOT EXISTS (SELECT 1 FROM won WHERE ${keyMatch('won', 's', key)} AND won.__pos = s.__pos)`,
    `DELETE FROM ${t} AS t USING ${s} AS s WHERE s.__op = 'd' AND ${keyMatch('t', 's', key)}`,
  ];
  const keySet = new Set(key);
  // An unconstrained numeric key equals itself at any display scale (16.0 = 16.00), so a change
  // that gives it another scale conflicts with the row and must rewrite the key's text too. No
  // other key type is rewritten (an identity key GENERATED ALWAYS cannot be updated at all).
  const scaledKeys = new Set(
    stage.columns.filter((c) => keySet.has(c.name) && c.type === 'numeric').map((c) => c.name),
  );
  for (const pattern of keepPatterns) {
    const keep = new Set(pattern === '' ? [] : pattern.split(',').map(Number));
    const cols = stage.columns.filter((_, i) => !keep.has(i)).map((c) => c.name);
    const colList = cols.map(quoteIdent).join(', ');
    const updates = cols
      .filter((c) => !keySet.has(c) || scaledKeys.has(c))
      .map((c) => `${quoteIdent(c)} = EXCLUDED.${quoteIdent(c)}`);
    const onConflict = updates.length ? `DO UPDATE SET ${updates.join(', ')}` : 'DO NOTHING';
    // The source's values win over identity columns: a GENERATED ALWAYS identity key (a target
    // made with pg_dump, or after cutover) would otherwise reject every explicit id.
    statements.push(
      `INSERT INTO ${t} (${colList}) OVERRIDING SYSTEM VALUE SELECT ${colList} FROM ${s} WHERE __op <> 'd' AND __toast = ${quoteLiteral(pattern)} ON CONFLICT (${keyList}) ${onConflict}`,
    );
  }
  return statements;
}

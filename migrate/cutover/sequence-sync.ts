// Logical decoding does not carry sequences: after the last change is applied the target's
// sequences still stand where schema-sync created them. Before traffic moves, every sequence the
// migrated tables use is set past the highest value the old side handed out, so the first insert
// on the new side cannot collide. Values only ever go up.
import type pg from 'pg';
import { qualifiedName, quoteIdent } from '../../core/sql-identifier.js';
import { formatTableName, type MigrationTable } from '../migration-tables.js';

export interface SequencePair {
  source: MigrationTable;
  target: MigrationTable;
}

/** One sequence a migrated table's column draws from (serial, identity or a nextval default). */
export interface TableSequence {
  table: MigrationTable;
  column: string;
  sequence: MigrationTable;
}

export interface SequenceSyncStep {
  table: string;
  column: string;
  sourceSequence: MigrationTable;
  targetSequence: MigrationTable | null;
  /** Last value handed out on the source (null: never used). */
  sourceLastValue: string | null;
  /** Last value on the target before the sync (null: never used / missing). */
  targetLastValue: string | null;
  /** Highest value of the column in the target table. */
  targetMaxColumn: string | null;
  /** The value the target sequence is set to (next value = this + increment); null = no change. */
  setTo: string | null;
  problem?: string;
}

/** Sequences used by the given tables' columns: owned ones (serial, identity) and nextval defaults. */
export async function readTableSequences(
  client: pg.ClientBase,
  tables: readonly MigrationTable[],
): Promise<TableSequence[]> {
  if (tables.length === 0) return [];
  const result = await client.query<{
    table_schema: string;
    table_name: string;
    column_name: string;
    seq_schema: string;
    seq_name: string;
  }>(
    `WITH t AS (
       SELECT c.oid, n.nspname, c.relname
         FROM unnest($1::text[], $2::text[]) AS want(schema, name)
         JOIN pg_namespace n ON n.nspname = want.schema
         JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = want.name),
     uses AS (
       -- serial and identity columns: the sequence depends on the column
       SELECT d.refobjid AS tbl, d.refobjsubid AS attnum, d.objid AS seq
         FROM pg_depend d JOIN t ON t.oid = d.refobjid
        WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
          AND d.deptype IN ('a', 'i') AND d.refobjsubid > 0
       UNION
       -- DEFAULT nextval('some_seq'): the default expression depends on the sequence
       SELECT ad.adrelid, ad.adnum, d.refobjid
         FROM pg_attrdef ad JOIN t ON t.oid = ad.adrelid
         JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid
          AND d.refclassid = 'pg_class'::regclass)
     SELECT t.nspname AS table_schema, t.relname AS table_name, a.attname AS column_name,
            sn.nspname AS seq_schema, s.relname AS seq_name
       FROM uses u
       JOIN t ON t.oid = u.tbl
       JOIN pg_attribute a ON a.attrelid = u.tbl AND a.attnum = u.attnum
       JOIN pg_class s ON s.oid = u.seq AND s.relkind = 'S'
       JOIN pg_namespace sn ON sn.oid = s.relnamespace
      ORDER BY 1, 2, 3, 4, 5`,
    [tables.map((t) => t.schema), tables.map((t) => t.name)],
  );
  return result.rows.map((r) => ({
    table: { schema: r.table_schema, name: r.table_name },
    column: r.column_name,
    sequence: { schema: r.seq_schema, name: r.seq_name },
  }));
}

/** The last value a sequence handed out, or null if it never did (or we may not read it). */
async function readLastValue(client: pg.ClientBase, sequence: MigrationTable) {
  // pg_sequences shows last_value NULL both for "never used" and for "not allowed to read":
  // the privilege tells them apart (a guess from the column's max would reissue deleted ids).
  const result = await client.query<{
    last_value: string | null;
    increment_by: string;
    readable: boolean;
  }>(
    `SELECT last_value::text, increment_by::text,
            has_sequence_privilege(format('%I.%I', schemaname, sequencename), 'SELECT') AS readable
       FROM pg_sequences WHERE schemaname = $1 AND sequencename = $2`,
    [sequence.schema, sequence.name],
  );
  const row = result.rows[0];
  return row === undefined
    ? undefined
    : { lastValue: row.last_value, increment: BigInt(row.increment_by), readable: row.readable };
}

async function readMaxColumn(client: pg.ClientBase, table: MigrationTable, column: string) {
  const result = await client.query<{ max: string | null }>(
    `SELECT max(${quoteIdent(column)})::text AS max FROM ${qualifiedName(table.schema, table.name)}`,
  );
  return result.rows[0]?.max ?? null;
}

const maxOf = (values: readonly (string | null)[]): bigint | null =>
  values.reduce<bigint | null>((acc, v) => {
    if (v === null) return acc;
    const n = BigInt(v);
    return acc === null || n > acc ? n : acc;
  }, null);

/**
 * Plans the sync: for each source sequence of the tables, the target sequence with the same name
 * (in the target table's schema) is set to max(source last value, target last value, max of the
 * column on the target) + margin. Descending sequences are reported, not touched.
 */
export async function planSequenceSync(
  source: pg.ClientBase,
  target: pg.ClientBase,
  pairs: readonly SequencePair[],
  options: { margin?: bigint } = {},
): Promise<SequenceSyncStep[]> {
  const margin = options.margin ?? 0n;
  const sourceSequences = await readTableSequences(
    source,
    pairs.map((p) => p.source),
  );
  const targetSequences = await readTableSequences(
    target,
    pairs.map((p) => p.target),
  );
  const steps: SequenceSyncStep[] = [];
  for (const used of sourceSequences) {
    const pair = pairs.find(
      (p) => p.source.schema === used.table.schema && p.source.name === used.table.name,
    );
    if (pair === undefined) continue;
    const onTarget = targetSequences.find(
      (s) =>
        s.table.schema === pair.target.schema &&
        s.table.name === pair.target.name &&
        s.column === used.column,
    );
    const sourceState = await readLastValue(source, used.sequence);
    const step: SequenceSyncStep = {
      table: formatTableName(pair.target),
      column: used.column,
      sourceSequence: used.sequence,
      targetSequence: onTarget?.sequence ?? null,
      sourceLastValue: sourceState?.lastValue ?? null,
      targetLastValue: null,
      targetMaxColumn: null,
      setTo: null,
    };
    steps.push(step);
    if (sourceState !== undefined && !sourceState.readable) {
      step.problem = `cannot read ${formatTableName(used.sequence)} on the source: GRANT SELECT ON SEQUENCE ${qualifiedName(used.sequence.schema, used.sequence.name)} TO the SOURCE_DB_USER role`;
      continue;
    }
    if (onTarget === undefined) {
      step.problem = `the target column ${step.table}.${used.column} has no sequence (run pgferry schema-sync, or create it and set its default)`;
      continue;
    }
    const targetState = await readLastValue(target, onTarget.sequence);
    step.targetLastValue = targetState?.lastValue ?? null;
    step.targetMaxColumn = await readMaxColumn(target, pair.target, used.column);
    if ((sourceState?.increment ?? 1n) < 0n || (targetState?.increment ?? 1n) < 0n) {
      step.problem = 'descending sequence: set it by hand';
      continue;
    }
    const highest = maxOf([step.sourceLastValue, step.targetMaxColumn]);
    if (highest === null) continue; // nothing handed out anywhere: leave it at its start
    const wanted = highest + margin;
    const current = step.targetLastValue === null ? null : BigInt(step.targetLastValue);
    if (current === null || wanted > current) step.setTo = wanted.toString();
  }
  return steps;
}

/** Applies the planned values in one transaction (setval never lowers: the plan already raised). */
export async function applySequenceSync(
  target: pg.ClientBase,
  steps: readonly SequenceSyncStep[],
): Promise<void> {
  const changes = steps.filter((s) => s.setTo !== null && s.targetSequence !== null);
  if (changes.length === 0) return;
  await target.query('BEGIN');
  try {
    for (const step of changes) {
      const { schema, name } = step.targetSequence as MigrationTable;
      // Raise it, never lower it: greatest() keeps a value the target already handed out.
      await target.query(
        `SELECT setval($1::regclass, greatest($2::bigint, (SELECT last_value FROM ${qualifiedName(schema, name)})), true)`,
        [qualifiedName(schema, name), step.setTo],
      );
    }
    await target.query('COMMIT');
  } catch (error) {
    await target.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

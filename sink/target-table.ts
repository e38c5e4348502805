// The target side of one replicated table: read from the catalog (never assumed), created from the
// event schema when missing, evolved when a new schema version adds or widens columns, and
// registered in pgferry.tables with its position table.
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { CopyPendingError, SchemaIncompatibleError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import {
  boundedIdentifier,
  qualifiedName,
  quoteIdent,
  quoteLiteral,
} from '../core/sql-identifier.js';
import type { TableRef } from '../pipeline/row-change.js';
import type { TableSchema } from '../pipeline/table-schema.js';
import { BOOKKEEPING_SCHEMA, DDL_LOCK_KEY, tablesTable } from './bookkeeping/bookkeeping-schema.js';
import { pendingCopy } from './bookkeeping/copy-rows.js';
import { planColumnTypeChange } from './column-type-change.js';

export type SchemaChangeKind = 'create_table' | 'add_column' | 'widen_column' | 'drop_not_null';
export type SchemaChangeListener = (table: string, kind: SchemaChangeKind) => void;

export interface TargetColumn {
  name: string;
  /** format_type() of the column, used verbatim for staging columns. */
  type: string;
  notNull: boolean;
  /** A stored generated column: the target computes it, so it is never written. */
  generated: boolean;
}

export interface TargetTable {
  ref: TableRef;
  columns: Map<string, TargetColumn>;
  /**
   * The key changes apply by: the primary key, or a unique index on the event's key columns (a
   * REPLICA IDENTITY USING INDEX table). Empty for a keyless table: full-row match, in order.
   */
  primaryKey: string[];
  /** Name (in the pgferry schema) of this table's row-position table. */
  positionTable: string;
  truncatedPosition: bigint;
}

export async function readTargetColumns(
  client: pg.ClientBase,
  ref: TableRef,
): Promise<{ columns: TargetColumn[]; primaryKey: string[]; uniqueKeys: string[][] } | undefined> {
  const regclass = qualifiedName(ref.schema, ref.name);
  const exists = await client.query<{ oid: string | null }>('SELECT to_regclass($1)::oid AS oid', [
    regclass,
  ]);
  const oid = exists.rows[0]?.oid;
  if (!oid) return undefined;
  const columns = await client.query<{
    name: string;
    type: string;
    not_null: boolean;
    generated: boolean;
  }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
            a.attgenerated <> '' AS generated
       FROM pg_attribute a
      WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [oid],
  );
  const pk = await client.query<{ name: string }>(
    `SELECT a.attname AS name
       FROM pg_index i
       CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indrelid = $1 AND i.indisprimary
      ORDER BY k.ord`,
    [oid],
  );
  // Unique indexes usable as ON CONFLICT arbiters: valid, on plain columns, not partial.
  const unique = await client.query<{ cols: string[] }>(
    `SELECT array_agg(a.attname::text ORDER BY k.ord) AS cols
       FROM pg_index i
       CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indrelid = $1 AND i.indisunique AND NOT i.indisprimary AND i.indisvalid
        AND i.indpred IS NULL AND i.indexprs IS NULL
      GROUP BY i.indexrelid
      ORDER BY i.indexrelid`,
    [oid],
  );
  return {
    uniqueKeys: unique.rows.map((r) => r.cols),
    columns: columns.rows.map((r) => ({
      name: r.name,
      type: r.type,
      notNull: r.not_null,
      generated: r.generated,
    })),
    primaryKey: pk.rows.map((r) => r.name),
  };
}

/** A quoted user type ("mood") that the target lacks becomes text, with a warning. */
async function resolveDdlType(
  client: pg.ClientBase,
  pgType: string,
  log: Logger,
  where: string,
): Promise<string> {
  const base = pgType.endsWith('[]') ? pgType.slice(0, -2) : pgType;
  if (!base.startsWith('"')) return pgType;
  const found = await client.query<{ t: string | null }>('SELECT to_regtype($1)::text AS t', [
    base,
  ]);
  if (found.rows[0]?.t) return pgType;
  log.warn(
    { column: where, type: pgType },
    'type does not exist in the target; using text (run schema-sync to create it)',
  );
  return pgType.endsWith('[]') ? 'text[]' : 'text';
}

function positionTableName(ref: TableRef): string {
  const hash = createHash('sha256').update(`${ref.schema}\u0000${ref.name}`).digest('hex');
  return boundedIdentifier(`pos_${ref.schema}__${ref.name}`, hash);
}

/**
 * The position table keys rows by the target's key columns: when a key column was widened (here
 * or by an operator), widen it there too, or new keys would not fit and be dead-lettered.
 */
async function alignPositionKeyTypes(
  client: pg.ClientBase,
  positionTable: string,
  current: { columns: TargetColumn[]; primaryKey: string[] },
): Promise<void> {
  const positions = await readTargetColumns(client, {
    schema: BOOKKEEPING_SCHEMA,
    name: positionTable,
  });
  if (!positions) return;
  for (const key of current.primaryKey) {
    const want = current.columns.find((c) => c.name === key)?.type;
    const have = positions.columns.find((c) => c.name === key)?.type;
    if (!want || !have || have === want) continue;
    await client.query(
      `ALTER TABLE ${qualifiedName(BOOKKEEPING_SCHEMA, positionTable)} ALTER COLUMN ${quoteIdent(key)} TYPE ${want}`,
    );
  }
}

/**
 * The source's default, so that rows the source backfilled without a change event (ADD COLUMN
 * ... DEFAULT) get it on the target too, and so do rows an older schema version inserts later.
 */
const columnDefault = (c: TableSchema['columns'][number]): string =>
  c.defaultValue === undefined ? '' : ` DEFAULT ${quoteLiteral(c.defaultValue)}`;

const sameKey = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && [...a].sort().join('\u0000') === [...b].sort().join('\u0000');

/**
 * Makes the target table fit the event schema: create it if missing, add columns a newer schema
 * version brings, widen compatible type changes, relax NOT NULL of columns the source dropped.
 * Runs in its own transaction under the DDL advisory lock (several pgferry processes may race).
 */
export async function ensureTargetTable(
  client: pg.ClientBase,
  ref: TableRef,
  schema: TableSchema,
  log: Logger,
  onChange?: SchemaChangeListener,
): Promise<TargetTable> {
  return (await prepareTargetTable(client, ref, schema, log, onChange)) as TargetTable;
}

/**
 * The target table as it is, without creating or evolving it (for truncates, whose events carry
 * no key schema); undefined when the target has no such table yet.
 */
export async function loadTargetTable(
  client: pg.ClientBase,
  ref: TableRef,
  log: Logger,
): Promise<TargetTable | undefined> {
  return prepareTargetTable(client, ref, undefined, log);
}

/** A truncate of a table the target does not have yet: remember it, so older rows are skipped. */
export async function recordTruncateOnly(
  client: pg.ClientBase,
  ref: TableRef,
  position: bigint,
): Promise<void> {
  await client.query(
    `INSERT INTO ${tablesTable()} (table_schema, table_name, position_table, truncated_position) VALUES ($1, $2, $3, $4)
     ON CONFLICT (table_schema, table_name) DO UPDATE SET truncated_position = GREATEST(${tablesTable()}.truncated_position, EXCLUDED.truncated_position)`,
    [ref.schema, ref.name, positionTableName(ref), position.toString()],
  );
}

async function prepareTargetTable(
  client: pg.ClientBase,
  ref: TableRef,
  schema: TableSchema | undefined,
  log: Logger,
  onChange: SchemaChangeListener = () => undefined,
): Promise<TargetTable | undefined> {
  const tableName = `${ref.schema}.${ref.name}`;
  const keyless = schema !== undefined && schema.primaryKey.length === 0;
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [DDL_LOCK_KEY]);
    // Under the same lock as the copy's registration: a table whose copy is not done waits.
    const copy = await pendingCopy(client, ref);
    if (copy !== undefined) {
      throw new CopyPendingError(
        tableName,
        copy.state === 'failed'
          ? `the copy of ${tableName} failed (${copy.chunksDone}/${copy.chunksTotal} chunks): its changes wait until \`pgferry copy\` completes it`
          : `the copy of ${tableName} is not done (${copy.chunksDone}/${copy.chunksTotal} chunks): its changes wait until \`pgferry copy\` finishes`,
      );
    }
    const target = qualifiedName(ref.schema, ref.name);
    let current = await readTargetColumns(client, ref);
    const positionTable = positionTableName(ref);
    // The key changes apply by (empty: a keyless table, full-row match).
    let applyKey: string[];
    if (!schema) {
      if (!current) {
        await client.query('COMMIT');
        return undefined;
      }
      // Only truncates, so no event names the key: the position table pgferry keyed the table's
      // rows by says it (none: a keyless table, or one that never had a row change applied).
      applyKey =
        current.primaryKey.length > 0
          ? current.primaryKey
          : ((await readTargetColumns(client, { schema: BOOKKEEPING_SCHEMA, name: positionTable }))
              ?.primaryKey ?? []);
    } else if (!current) {
      const defs: string[] = [];
      for (const c of schema.columns) {
        const type = await resolveDdlType(client, c.pgType, log, `${tableName}.${c.name}`);
        const notNull = schema.primaryKey.includes(c.name) || !c.nullable ? ' NOT NULL' : '';
        defs.push(`${quoteIdent(c.name)} ${type}${columnDefault(c)}${notNull}`);
      }
      if (!keyless) defs.push(`PRIMARY KEY (${schema.primaryKey.map(quoteIdent).join(', ')})`);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(ref.schema)}`);
      await client.query(`CREATE TABLE ${target} (${defs.join(', ')})`);
      log.info({ table: tableName }, 'created target table from the event schema');
      onChange(tableName, 'create_table');
      current = await readTargetColumns(client, ref);
      if (!current) throw new Error(`table ${tableName} vanished after CREATE TABLE`);
      applyKey = schema.primaryKey;
    } else {
      applyKey = schema.primaryKey;
      // A keyed source needs the same key on the target: its primary key, or a unique index on
      // the same columns (a REPLICA IDENTITY USING INDEX table, as schema-sync copies it).
      const keyed = [current.primaryKey, ...current.uniqueKeys];
      if (!keyless && !keyed.some((k) => sameKey(k, schema.primaryKey))) {
        throw new SchemaIncompatibleError(
          `target ${tableName} has primary key (${current.primaryKey.join(', ') || 'none'}) and no unique index on the source key (${schema.primaryKey.join(', ')}): give the target that primary key or unique index`,
          { table: tableName },
        );
      }
      const existing = new Map(current.columns.map((c) => [c.name, c]));
      let changed = false;
      // The target must accept the NULLs the source's rows may now carry.
      const dropNotNull = async (column: string, why: string) => {
        await client.query(
          `ALTER TABLE ${target} ALTER COLUMN ${quoteIdent(column)} DROP NOT NULL`,
        );
        log.info({ table: tableName, column }, why);
        onChange(tableName, 'drop_not_null');
        changed = true;
      };
      for (const c of schema.columns) {
        const have = existing.get(c.name);
        if (!have) {
          const type = await resolveDdlType(client, c.pgType, log, `${tableName}.${c.name}`);
          await client.query(
            `ALTER TABLE ${target} ADD COLUMN ${quoteIdent(c.name)} ${type}${columnDefault(c)}`,
          );
          log.info(
            { table: tableName, column: c.name, type, default: c.defaultValue },
            'added column from a new schema version',
          );
          onChange(tableName, 'add_column');
          changed = true;
          continue;
        }
        // The source stopped requiring the column (ALTER COLUMN ... DROP NOT NULL): its events
        // may now carry NULL, which the target must accept too.
        if (
          c.nullable &&
          have.notNull &&
          !have.generated &&
          !schema.primaryKey.includes(c.name) &&
          !current.primaryKey.includes(c.name)
        ) {
          await dropNotNull(c.name, 'column made nullable at the source: NOT NULL dropped');
        }
        const plan = planColumnTypeChange(have.type, c.pgType);
        if (plan.kind === 'incompatible') {
          throw new SchemaIncompatibleError(`${tableName}.${c.name}: ${plan.reason}`, {
            table: tableName,
          });
        }
        if (plan.kind === 'widen') {
          await client.query(
            `ALTER TABLE ${target} ALTER COLUMN ${quoteIdent(c.name)} TYPE ${plan.to}`,
          );
          log.info(
            { table: tableName, column: c.name, from: have.type, to: plan.to },
            'widened column type',
          );
          onChange(tableName, 'widen_column');
          changed = true;
        }
      }
      const inEvent = new Set(schema.columns.map((c) => c.name));
      for (const c of current.columns) {
        // A column the source dropped stays, but must accept rows that no longer carry it.
        // (Generated columns are not in streamed events at all: they are computed, not missing.)
        if (
          !inEvent.has(c.name) &&
          c.notNull &&
          !c.generated &&
          !current.primaryKey.includes(c.name)
        ) {
          await dropNotNull(c.name, 'column dropped at the source: kept, now nullable');
        }
      }
      if (changed) {
        current = await readTargetColumns(client, ref);
        if (!current) throw new Error(`table ${tableName} vanished during schema evolution`);
      }
    }

    if (applyKey.length > 0) {
      const keyDefs = applyKey.map((k) => {
        const col = current?.columns.find((c) => c.name === k);
        return `${quoteIdent(k)} ${col?.type ?? 'text'} NOT NULL`;
      });
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${qualifiedName(BOOKKEEPING_SCHEMA, positionTable)} (${keyDefs.join(', ')},
          __pos bigint NOT NULL, __deleted boolean NOT NULL,
          PRIMARY KEY (${applyKey.map(quoteIdent).join(', ')}))`,
      );
      await alignPositionKeyTypes(client, positionTable, { ...current, primaryKey: applyKey });
    }
    const registered = await client.query<{ truncated_position: string }>(
      `INSERT INTO ${tablesTable()} (table_schema, table_name, position_table) VALUES ($1, $2, $3)
       ON CONFLICT (table_schema, table_name) DO UPDATE SET position_table = EXCLUDED.position_table
       RETURNING truncated_position`,
      [ref.schema, ref.name, positionTable],
    );
    await client.query('COMMIT');
    return {
      ref,
      columns: new Map(current.columns.map((c) => [c.name, c])),
      primaryKey: applyKey,
      positionTable,
      truncatedPosition: BigInt(registered.rows[0]?.truncated_position ?? '0'),
    };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

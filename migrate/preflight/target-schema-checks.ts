import { qualifiedName, quoteIdent } from '../../core/sql-identifier.js';
import {
  resolveTargetSchema,
  type TargetSchemaChoice,
} from '../../pipeline/routing/schema-mapping.js';
import { normalizeType, planColumnTypeChange } from '../../sink/column-type-change.js';
import {
  type ColumnType,
  formatQualifiedName,
  type SchemaCatalog,
  type TableDefinition,
} from '../schema-sync/schema-catalog-types.js';
import { type CheckVerdict, fail, pass, warn } from './preflight-check.js';

export type ColumnTypeVerdict =
  | { kind: 'same' }
  /** The target column takes every source value as is (e.g. text, a wider number). */
  | { kind: 'accepts' }
  /** `pgferry run` widens the target column when the first change arrives. */
  | { kind: 'widen'; to: string }
  | { kind: 'incompatible'; reason: string };

/** How events name a source column's type: user enums and domains by their bare, quoted name. */
function eventTypeName(type: ColumnType): string {
  if (type.user && type.user.kind !== 'other') {
    return `${quoteIdent(type.user.name)}${type.array ? '[]' : ''}`;
  }
  return type.sql;
}

/** The sink's own decision (planColumnTypeChange) for a target column receiving source values. */
export function classifyColumnType(target: ColumnType, source: ColumnType): ColumnTypeVerdict {
  const change = planColumnTypeChange(target.sql, eventTypeName(source));
  if (change.kind === 'widen') return { kind: 'widen', to: change.to };
  if (change.kind === 'incompatible') return { kind: 'incompatible', reason: change.reason };
  const sameUserType =
    source.user !== undefined &&
    target.user !== undefined &&
    source.user.name === target.user.name &&
    source.array === target.array;
  return sameUserType || normalizeType(target.sql) === normalizeType(source.sql)
    ? { kind: 'same' }
    : { kind: 'accepts' };
}

export interface SchemaFinding {
  level: 'fail' | 'warn' | 'note';
  text: string;
}

export interface SchemaComparison {
  tables: number;
  matching: number;
  created: number;
  differing: number;
  skipped: number;
  findings: SchemaFinding[];
}

/**
 * Compares each source table with its target table (TARGET_SCHEMA applied): to be created, or
 * every column present with a type the sink can take, and the same primary key (a source table
 * without one is compared by its columns only).
 */
export function compareTableSchemas(
  source: SchemaCatalog,
  target: SchemaCatalog,
  targetSchema?: TargetSchemaChoice,
): SchemaComparison {
  const result: SchemaComparison = {
    tables: source.tables.length,
    matching: 0,
    created: 0,
    differing: 0,
    skipped: 0,
    findings: [],
  };
  const targetTables = new Map(target.tables.map((t) => [formatQualifiedName(t), t]));
  for (const table of source.tables) {
    const to = { schema: resolveTargetSchema(targetSchema, table.schema), name: table.name };
    const name = formatQualifiedName(to);
    if (!table.primaryKey) {
      // Replicated by its REPLICA IDENTITY (FULL: full-row match; USING INDEX: the index, which
      // the target needs as a unique index); the source's keys check judges it.
      result.findings.push({
        level: 'note',
        text: `${name}: no primary key on the source: compared without a key (see the source's keys check)`,
      });
    }
    const existing = targetTables.get(name);
    if (existing === undefined) {
      result.created += 1;
      result.findings.push({
        level: 'note',
        text: `${name}: will be created by schema-sync or pgferry run`,
      });
      continue;
    }
    const findings = compareTable(name, table, existing);
    if (findings.some((f) => f.level !== 'note')) result.differing += 1;
    else result.matching += 1;
    result.findings.push(...findings);
  }
  return result;
}

function compareTable(
  name: string,
  source: TableDefinition,
  target: TableDefinition,
): SchemaFinding[] {
  const findings: SchemaFinding[] = [];
  const table = qualifiedName(target.schema, target.name);
  const sourcePk = source.primaryKey?.columns ?? [];
  const targetPk = target.primaryKey?.columns;
  if (source.primaryKey === undefined) {
    // A keyless source table: applied by full-row match, whatever key the target has.
  } else if (targetPk === undefined) {
    findings.push({
      level: 'fail',
      text: `${name}: no primary key on the target, pgferry upserts on it: ALTER TABLE ${table} ADD PRIMARY KEY (${sourcePk.map(quoteIdent).join(', ')})`,
    });
  } else if (targetPk.join('\u0000') !== sourcePk.join('\u0000')) {
    findings.push({
      level: 'fail',
      text: `${name}: primary key (${targetPk.join(', ')}) on the target, (${sourcePk.join(', ')}) on the source: make the target's the same`,
    });
  }
  const targetColumns = new Map(target.columns.map((c) => [c.name, c]));
  for (const column of source.columns) {
    const where = `${name}.${column.name}`;
    const have = targetColumns.get(column.name);
    if (have === undefined) {
      findings.push({
        level: 'warn',
        text: `${where}: missing on the target (source type ${column.type.sql}): schema-sync or pgferry run adds it`,
      });
      continue;
    }
    const types = `target type ${have.type.sql}, source type ${column.type.sql}`;
    const verdict = classifyColumnType(have.type, column.type);
    switch (verdict.kind) {
      case 'incompatible':
        findings.push({
          level: 'fail',
          text: `${where}: ${types}: incompatible, pgferry would stop the table: ALTER TABLE ${table} ALTER COLUMN ${quoteIdent(column.name)} TYPE ${column.type.sql}`,
        });
        break;
      case 'widen':
        findings.push({
          level: 'warn',
          text: `${where}: ${types}: pgferry widens it to ${verdict.to} automatically when the first change arrives (or ALTER it beforehand)`,
        });
        break;
      case 'accepts':
        findings.push({
          level: 'note',
          text: `${where}: ${types}: the target column accepts every source value`,
        });
        break;
      case 'same':
        break;
    }
    if (have.notNull && !column.notNull) {
      findings.push({
        level: 'warn',
        text: `${where}: NOT NULL on the target, nullable on the source: a row with NULL would be rejected (dead-letter topic)`,
      });
    }
  }
  return findings;
}

export function judgeSchemaComparison(comparison: SchemaComparison): CheckVerdict {
  const failures = comparison.findings.filter((f) => f.level === 'fail');
  const warnings = comparison.findings.filter((f) => f.level === 'warn');
  const details = comparison.findings.map((f) => f.text);
  const parts = [
    `${comparison.matching} match`,
    `${comparison.created} will be created by schema-sync or pgferry run`,
    `${comparison.differing} differ`,
    ...(comparison.skipped > 0 ? [`${comparison.skipped} skipped (no primary key)`] : []),
  ];
  const summary = `${comparison.tables} table(s): ${parts.join(', ')}`;
  if (failures.length > 0) {
    return fail(
      `${summary}; ${failures.length} incompatible difference(s): change the target (listed below)`,
      details,
    );
  }
  if (warnings.length > 0) {
    return warn(
      `${summary}; ${warnings.length} difference(s) pgferry handles (listed below)`,
      details,
    );
  }
  return pass(summary, details);
}

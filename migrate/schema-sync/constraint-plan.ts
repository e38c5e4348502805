// A synced table's primary key and unique, exclusion and check constraints: written into CREATE
// TABLE, or added to the target's table when it has no equal one; a clash of names is a mismatch.
import { quoteIdent } from '../../core/sql-identifier.js';
import { deferUnique } from './cutover-plan.js';
import type { ConstraintDefinition, TableDefinition } from './schema-catalog-types.js';
import type { SchemaSyncDraft, TableDraft } from './schema-sync-draft.js';

/** Unique and exclusion constraints wait for cutover under --defer-unique. */
const isDeferredUnique = (draft: SchemaSyncDraft, definition: string): boolean =>
  draft.options.deferUnique === true && /^(UNIQUE|EXCLUDE)\b/i.test(definition.trim());

const addConstraintSql = (sql: string, name: string, definition: string): string =>
  `ALTER TABLE ${sql} ADD CONSTRAINT ${quoteIdent(name)} ${definition}`;

/** Leaves a UNIQUE/EXCLUDE constraint for cutover when asked to (`--defer-unique`); true if so. */
function deferredForCutover(
  draft: SchemaSyncDraft,
  tableDraft: TableDraft,
  name: string,
  definition: string,
): boolean {
  if (!isDeferredUnique(draft, definition)) return false;
  deferUnique(draft, tableDraft, name, addConstraintSql(tableDraft.sql, name, definition));
  return true;
}

/** Every constraint of the target's table, whose names a new constraint or index cannot take. */
export const constraintsOn = (existing: TableDefinition): ConstraintDefinition[] => [
  ...(existing.primaryKey ? [existing.primaryKey] : []),
  ...existing.constraints,
  ...existing.foreignKeys,
];

/** The constraint lines of CREATE TABLE (primary key first); deferred ones are left out. */
export function planNewTableConstraints(draft: SchemaSyncDraft, tableDraft: TableDraft): string[] {
  const { mapping } = draft;
  const { table } = tableDraft;
  const defs: string[] = [];
  const pk = table.primaryKey;
  if (pk) defs.push(`  CONSTRAINT ${quoteIdent(pk.name)} ${mapping.expression(pk.definition)}`);
  for (const k of table.constraints) {
    const want = mapping.expression(k.definition);
    if (deferredForCutover(draft, tableDraft, k.name, want)) continue;
    defs.push(`  CONSTRAINT ${quoteIdent(k.name)} ${want}`);
  }
  return defs;
}

/**
 * The primary key must match the target's: the sink upserts on it, and a different one cannot be
 * fixed by adding things.
 */
export function checkPrimaryKey(
  draft: SchemaSyncDraft,
  { table, object }: TableDraft,
  existing: TableDefinition,
): void {
  const pk = table.primaryKey;
  const havePk = existing.primaryKey;
  if (!pk) return; // a source table without a primary key: no key to compare
  if (!havePk) {
    draft.reportMismatch(
      object,
      `the target table has no primary key; the source's is (${pk?.columns.join(', ')}) (not changed)`,
    );
  } else if (pk && havePk.columns.join('\u0000') !== pk.columns.join('\u0000')) {
    draft.reportMismatch(
      object,
      `primary key (${havePk.columns.join(', ')}) on the target, (${pk.columns.join(', ')}) on the source (not changed)`,
    );
  }
}

/** Adds the constraints the target's table lacks (ALTER TABLE ... ADD CONSTRAINT). */
export function planConstraintChanges(
  draft: SchemaSyncDraft,
  tableDraft: TableDraft,
  existing: TableDefinition,
): void {
  const { mapping, statements } = draft;
  const { table, object, sql } = tableDraft;
  const targetConstraints = constraintsOn(existing);
  const targetIndexNames = new Set(existing.indexes.map((i) => i.name));
  for (const k of table.constraints) {
    const want = mapping.expression(k.definition);
    if (existing.constraints.some((h) => mapping.targetExpression(h.definition) === want)) {
      continue;
    }
    const sameName = targetConstraints.find((h) => h.name === k.name);
    if (sameName || targetIndexNames.has(k.name)) {
      draft.reportMismatch(
        object,
        `constraint ${k.name}: ${sameName ? mapping.targetExpression(sameName.definition) : 'an index of that name'} on the target, ${want} on the source (not changed)`,
      );
      continue;
    }
    if (deferredForCutover(draft, tableDraft, k.name, want)) continue;
    statements.tables.push(addConstraintSql(sql, k.name, want));
    object.actions.push(`add constraint ${k.name}`);
  }
}

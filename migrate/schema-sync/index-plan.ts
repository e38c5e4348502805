// A synced table's indexes that back no constraint: created with a new table, or on the target's
// table when it has no equal index; a clash of names is a mismatch, unique ones may be deferred to
// cutover (--defer-unique) and any may be left for `pgferry copy` to build (--defer-indexes).
import { quoteIdent } from '../../core/sql-identifier.js';
import { constraintsOn } from './constraint-plan.js';
import { deferUnique } from './cutover-plan.js';
import type { IndexDefinition, TableDefinition } from './schema-catalog-types.js';
import type { SchemaSyncDraft, TableDraft } from './schema-sync-draft.js';

/** Unique indexes wait for cutover under --defer-unique. */
const isDeferred = (draft: SchemaSyncDraft, index: IndexDefinition): boolean =>
  index.unique && draft.options.deferUnique === true;

/** Creates or defers one index; `using` is the mapped `USING ...` part. */
function planIndex(
  draft: SchemaSyncDraft,
  tableDraft: TableDraft,
  index: IndexDefinition,
  using: string,
): boolean {
  const { sql } = tableDraft;
  if (isDeferred(draft, index)) {
    // PostgreSQL cannot build an index on a partitioned table concurrently.
    const concurrently = tableDraft.table.partitioned ? '' : 'CONCURRENTLY ';
    deferUnique(
      draft,
      tableDraft,
      index.name,
      `CREATE UNIQUE INDEX ${concurrently}${quoteIdent(index.name)} ON ${sql} USING ${using}`,
    );
    return false;
  }
  if (draft.options.deferIndexes === true) {
    draft.plan.indexesAfterCopy.push({
      schema: tableDraft.target.schema,
      table: tableDraft.target.name,
      index: index.name,
      statement: `CREATE ${index.unique ? 'UNIQUE ' : ''}INDEX IF NOT EXISTS ${quoteIdent(index.name)} ON ${sql} USING ${using}`,
    });
    tableDraft.object.actions.push(`index ${index.name} left for pgferry copy`);
    return false;
  }
  draft.statements.indexes.push(
    `CREATE ${index.unique ? 'UNIQUE ' : ''}INDEX ${quoteIdent(index.name)} ON ${sql} USING ${using}`,
  );
  return true;
}

/** The indexes of a table that is created: all of them, after CREATE TABLE. */
export function planNewTableIndexes(draft: SchemaSyncDraft, tableDraft: TableDraft): void {
  const created = tableDraft.table.indexes.filter((index) =>
    planIndex(draft, tableDraft, index, draft.mapping.expression(index.method)),
  );
  if (created.length > 0) {
    tableDraft.object.actions.push(`create index ${created.map((i) => i.name).join(', ')}`);
  }
}

/** The indexes the target's table lacks. */
export function planIndexChanges(
  draft: SchemaSyncDraft,
  tableDraft: TableDraft,
  existing: TableDefinition,
): void {
  const { mapping } = draft;
  const { table, object } = tableDraft;
  const targetConstraints = constraintsOn(existing);
  const targetIndexNames = new Set(existing.indexes.map((i) => i.name));
  for (const index of table.indexes) {
    const want = mapping.expression(index.method);
    if (
      existing.indexes.some(
        (h) => h.unique === index.unique && mapping.targetExpression(h.method) === want,
      )
    ) {
      continue;
    }
    if (targetIndexNames.has(index.name) || targetConstraints.some((h) => h.name === index.name)) {
      draft.reportMismatch(
        object,
        `index ${index.name} differs on the target (source: ${index.unique ? 'UNIQUE ' : ''}USING ${want}) (not changed)`,
      );
      continue;
    }
    if (planIndex(draft, tableDraft, index, want))
      object.actions.push(`create index ${index.name}`);
  }
}

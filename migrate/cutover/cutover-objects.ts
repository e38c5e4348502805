// Gate 4's schema objects (cutover only, after the sequences): what schema-sync left for cutover
// because it would reject valid out-of-order applies during replication (pgferry.
// cutover_statements: foreign keys added and validated, GENERATED ALWAYS, FORCE ROW LEVEL
// SECURITY), the triggers schema-sync left disabled so replicated writes never fired them,
// enabled in the state the source has them (pgferry.cutover_triggers), and the materialized views
// of the target schemas, created WITH NO DATA, refreshed from the now final tables. One
// transaction: all or nothing.
import type pg from 'pg';
import { PgferryError } from '../../core/errors.js';
import { qualifiedName, quoteIdent } from '../../core/sql-identifier.js';
import {
  type CutoverStatement,
  markCutoverStatementApplied,
  readPendingCutoverStatements,
} from '../../sink/bookkeeping/cutover-statements.js';
import {
  type CutoverTrigger,
  markTriggerEnabled,
  readCutoverTriggers,
} from '../../sink/bookkeeping/cutover-triggers.js';
import type { MigrationTable } from '../migration-tables.js';

export interface CutoverObjectsPlan {
  /** Deferred constraints and column changes, in the order they are applied. */
  statements: CutoverStatement[];
  triggers: CutoverTrigger[];
  materializedViews: { schema: string; name: string }[];
}

/** The ALTER TABLE that gives a trigger back its state (tgenabled O, A or R). */
export function enableTriggerStatement(t: CutoverTrigger): string {
  const mode = t.state === 'A' ? 'ALWAYS ' : t.state === 'R' ? 'REPLICA ' : '';
  return `ALTER TABLE ${qualifiedName(t.schema, t.table)} ENABLE ${mode}TRIGGER ${quoteIdent(t.trigger)}`;
}

/** The pending triggers of the cut-over tables and the materialized views of their schemas. */
export async function planCutoverObjects(
  target: pg.ClientBase,
  tables: readonly MigrationTable[],
): Promise<CutoverObjectsPlan> {
  const statements = await readPendingCutoverStatements(target, tables);
  const triggers = (await readCutoverTriggers(target, tables)).filter((t) => t.enabledAt === null);
  const schemas = [...new Set(tables.map((t) => t.schema))];
  // Created in dependency order by schema-sync: refreshing by oid keeps a view after its inputs.
  const views = await target.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'm' AND n.nspname = ANY($1::text[])
        -- Only an owner may refresh it: the ones schema-sync created are this role's.
        AND pg_has_role(current_user, c.relowner, 'MEMBER')
      ORDER BY c.oid`,
    [schemas],
  );
  return { statements, triggers, materializedViews: views.rows };
}

export function describeCutoverObjects(plan: CutoverObjectsPlan, future: boolean): string {
  const names = plan.triggers.map((t) => `${t.schema}.${t.table} ${t.trigger}`);
  const deferred = plan.statements.map((s) => s.object);
  const applied =
    deferred.length > 0
      ? `${future ? 'apply' : 'applied'} ${deferred.length} deferred change(s) (${deferred.join(', ')}), `
      : '';
  return `${applied}${future ? 'enable' : 'enabled'} ${plan.triggers.length} trigger(s)${names.length ? ` (${names.join(', ')})` : ''}, ${future ? 'refresh' : 'refreshed'} ${plan.materializedViews.length} materialized view(s)`;
}

export async function applyCutoverObjects(
  target: pg.ClientBase,
  plan: CutoverObjectsPlan,
): Promise<void> {
  if (
    plan.statements.length === 0 &&
    plan.triggers.length === 0 &&
    plan.materializedViews.length === 0
  )
    return;
  await target.query('BEGIN');
  try {
    for (const entry of plan.statements) {
      for (const statement of entry.statements) {
        try {
          await target.query(statement);
        } catch (error) {
          throw new PgferryError(
            `cutover could not apply ${entry.object} (${entry.kind}), nothing of gate 4 was applied: ${(error as Error).message}\n  in: ${statement}`,
            { retriable: false, cause: error },
          );
        }
      }
      await markCutoverStatementApplied(target, entry);
    }
    for (const t of plan.triggers) {
      await target.query(enableTriggerStatement(t));
      await markTriggerEnabled(target, t);
    }
    for (const v of plan.materializedViews) {
      await target.query(`REFRESH MATERIALIZED VIEW ${qualifiedName(v.schema, v.name)}`);
    }
    await target.query('COMMIT');
  } catch (error) {
    await target.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

// Preflight's target trigger check: a trigger enabled on a target table fires on every replicated
// write and changes what the source wrote (a last_updated stamp, an audit row, a derived column).
// schema-sync creates triggers disabled and disables the ones it finds enabled; cutover enables
// them. A FAIL names each enabled trigger; once cutover enabled it (pgferry.cutover_triggers) it
// is live on purpose and passes.
import type pg from 'pg';
import {
  SchemaMapping,
  type SchemaMappingSettings,
} from '../../pipeline/routing/schema-mapping.js';
import { mapTargetTable } from '../../pipeline/routing/target-table-name.js';
import { readCutoverTriggers } from '../../sink/bookkeeping/cutover-triggers.js';
import type { MigrationTable } from '../migration-tables.js';
import { CheckSkipped, type CheckVerdict, fail, pass } from './preflight-check.js';

interface TargetTable {
  schema: string;
  name: string;
}

export interface EnabledTrigger {
  schema: string;
  table: string;
  trigger: string;
  /** tgenabled: O, A (ALWAYS: fires even with session_replication_role = replica) or R. */
  state: string;
}

/** The user triggers enabled on these target tables, less those cutover enabled. */
export async function findEnabledTargetTriggers(
  client: pg.ClientBase,
  tables: readonly TargetTable[],
): Promise<EnabledTrigger[]> {
  if (tables.length === 0) return [];
  const found = await client.query<EnabledTrigger>(
    `SELECT n.nspname AS schema, c.relname AS table, t.tgname AS trigger, t.tgenabled AS state
       FROM pg_trigger t
       JOIN pg_class c ON c.oid = t.tgrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN unnest($1::text[], $2::text[]) AS want(schema, name)
         ON want.schema = n.nspname AND want.name = c.relname
      WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' AND t.tgparentid = 0
      ORDER BY 1, 2, 3`,
    [tables.map((t) => t.schema), tables.map((t) => t.name)],
  );
  const live = new Set(
    (await readCutoverTriggers(client, tables))
      .filter((t) => t.enabledAt !== null)
      .map((t) => `${t.schema}\u0000${t.table}\u0000${t.trigger}`),
  );
  return found.rows.filter((t) => !live.has(`${t.schema}\u0000${t.table}\u0000${t.trigger}`));
}

export function judgeEnabledTargetTriggers(
  triggers: readonly EnabledTrigger[],
  tables: number,
): CheckVerdict {
  if (triggers.length === 0) {
    return pass(`no trigger enabled on the ${tables} target table(s): replicated writes fire none`);
  }
  return fail(
    `${triggers.length} trigger(s) enabled on target tables would fire on every replicated write and change the rows the source wrote: run pgferry schema-sync (it disables them and records them; pgferry cutover enables them again)`,
    triggers.map(
      (t) =>
        `${t.schema}.${t.table} ${t.trigger}${t.state === 'A' ? ' (ENABLE ALWAYS)' : t.state === 'R' ? ' (ENABLE REPLICA)' : ''}`,
    ),
  );
}

/** The check: the captured source tables mapped to their target tables (SCHEMA_MAP, TARGET_SCHEMA). */
export async function checkTargetTriggers(
  client: pg.ClientBase,
  tables: readonly MigrationTable[] | undefined,
  mapping: SchemaMappingSettings,
): Promise<CheckVerdict> {
  if (tables === undefined) throw new CheckSkipped('not checked: the source tables are unknown');
  const schemas = SchemaMapping.fromSettings(mapping);
  const targets = tables.map((t) => mapTargetTable(t, schemas));
  return judgeEnabledTargetTriggers(
    await findEnabledTargetTriggers(client, targets),
    targets.length,
  );
}

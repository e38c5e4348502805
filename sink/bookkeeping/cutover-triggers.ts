// pgferry.cutover_triggers: the target triggers `schema-sync` created disabled (or found enabled
// and disabled) so that replicated writes never fire them, with the state (tgenabled) cutover
// restores. Cutover enables each and stamps enabled_at; schema-sync leaves a stamped trigger
// enabled when run again after cutover.
import type pg from 'pg';
import { qualifiedName, quoteIdent } from '../../core/sql-identifier.js';
import { BOOKKEEPING_SCHEMA, hasBookkeepingTable } from './bookkeeping-schema.js';

export interface CutoverTrigger {
  schema: string;
  table: string;
  trigger: string;
  /** tgenabled to restore: O (origin, the default), A (always), R (replica). */
  state: 'O' | 'A' | 'R';
  enabledAt: Date | null;
}

export const cutoverTriggersTable = (): string =>
  qualifiedName(BOOKKEEPING_SCHEMA, 'cutover_triggers');

/** Records triggers to enable at cutover; one recorded again is pending again. */
export async function recordCutoverTriggers(
  client: pg.ClientBase,
  triggers: readonly Pick<CutoverTrigger, 'schema' | 'table' | 'trigger' | 'state'>[],
): Promise<void> {
  if (triggers.length === 0) return;
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(BOOKKEEPING_SCHEMA)}`);
  await client.query(`CREATE TABLE IF NOT EXISTS ${cutoverTriggersTable()} (
      table_schema text NOT NULL,
      table_name text NOT NULL,
      trigger_name text NOT NULL,
      state text NOT NULL CHECK (state IN ('O', 'A', 'R')),
      disabled_at timestamptz NOT NULL DEFAULT now(),
      enabled_at timestamptz,
      PRIMARY KEY (table_schema, table_name, trigger_name))`);
  for (const t of triggers) {
    await client.query(
      `INSERT INTO ${cutoverTriggersTable()} (table_schema, table_name, trigger_name, state)
       VALUES ($1, $2, $3, $4)
       ON CONFLICT (table_schema, table_name, trigger_name) DO UPDATE
          SET state = excluded.state, disabled_at = now(), enabled_at = NULL`,
      [t.schema, t.table, t.trigger, t.state],
    );
  }
}

/** The recorded triggers of these target tables (all without a filter), enabled or not. */
export async function readCutoverTriggers(
  client: pg.ClientBase,
  tables?: readonly { schema: string; name: string }[],
): Promise<CutoverTrigger[]> {
  if (!(await hasBookkeepingTable(client, 'cutover_triggers'))) return [];
  const result = await client.query<{
    table_schema: string;
    table_name: string;
    trigger_name: string;
    state: CutoverTrigger['state'];
    enabled_at: Date | null;
  }>(
    `SELECT table_schema, table_name, trigger_name, state, enabled_at
       FROM ${cutoverTriggersTable()} ORDER BY table_schema, table_name, trigger_name`,
  );
  const wanted = tables ? new Set(tables.map((t) => `${t.schema}\u0000${t.name}`)) : undefined;
  return result.rows
    .filter((r) => wanted === undefined || wanted.has(`${r.table_schema}\u0000${r.table_name}`))
    .map((r) => ({
      schema: r.table_schema,
      table: r.table_name,
      trigger: r.trigger_name,
      state: r.state,
      enabledAt: r.enabled_at,
    }));
}

/** Cutover enabled it (in the transaction that ran ENABLE TRIGGER). */
export async function markTriggerEnabled(
  client: pg.ClientBase,
  t: Pick<CutoverTrigger, 'schema' | 'table' | 'trigger'>,
): Promise<void> {
  await client.query(
    `UPDATE ${cutoverTriggersTable()} SET enabled_at = clock_timestamp()
      WHERE table_schema = $1 AND table_name = $2 AND trigger_name = $3`,
    [t.schema, t.table, t.trigger],
  );
}

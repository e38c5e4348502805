// Preflight checks of what `pgferry copy` (the initial load) needs on the source: the connector's
// replication slot with a consistent point (the copy's snapshot must follow it), and SELECT on
// every captured table for SOURCE_DB_USER, the role copy (and verify) read as. Exporting and
// importing the snapshot (pg_export_snapshot, SET TRANSACTION SNAPSHOT) needs no privilege.

import type pg from 'pg';
import { PgferryError } from '../../core/errors.js';
import { quoteIdent } from '../../core/sql-identifier.js';
import { formatTableName, type MigrationTable } from '../migration-tables.js';
import {
  type CheckVerdict,
  fail,
  type PreflightContext,
  pass,
  type SourceFacts,
  warn,
} from './preflight-check.js';
import { requireCapturedTables, toTableArrays } from './source-facts.js';
import { findUnreadableTables, grantSelectFix } from './source-role-checks.js';

export interface CopySlotReading {
  name: string;
  exists: boolean;
  /** slot_type = logical. */
  logical: boolean;
  /** pg_replication_slots.confirmed_flush_lsn: null while the slot is still being created. */
  confirmedFlushLsn: string | null;
}

const REGISTER_FIRST =
  'register the connector first with `pgferry connector apply --snapshot-mode no_data` before `pgferry copy`';

/**
 * `pgferry copy` takes its snapshot only once the slot has a consistent point, so that every
 * change after the snapshot is in the stream. Before `connector apply` the slot is missing: a
 * WARN, not a FAIL (and Debezium's own snapshot path never needs it before the connector runs).
 */
export function judgeCopySlot(slot: CopySlotReading): CheckVerdict {
  if (!slot.exists) {
    return warn(
      `${slot.name} does not exist yet: ${REGISTER_FIRST} (normal before the connector is applied)`,
    );
  }
  if (!slot.logical) {
    return warn(
      `${slot.name} is not a logical slot, pgferry copy cannot start from it (see replication slot)`,
    );
  }
  if (slot.confirmedFlushLsn === null) {
    return warn(
      `${slot.name} is still being created (no consistent point yet): wait until the connector is RUNNING before \`pgferry copy\``,
    );
  }
  return pass(
    `${slot.name} has a consistent point (confirmed_flush_lsn ${slot.confirmedFlushLsn}): pgferry copy can take its snapshot`,
  );
}

export async function checkCopySlot(
  facts: SourceFacts,
  context: PreflightContext,
): Promise<CheckVerdict> {
  const name = context.config.replication.slotName;
  const result = await facts.client.query<{
    exists: boolean;
    logical: boolean | null;
    confirmed: string | null;
  }>(
    `SELECT s.slot_name IS NOT NULL AS exists, s.slot_type = 'logical' AS logical,
            s.confirmed_flush_lsn::text AS confirmed
       FROM (SELECT 1) AS one LEFT JOIN pg_replication_slots s ON s.slot_name = $1`,
    [name],
  );
  const row = result.rows[0];
  if (!row) throw new PgferryError('pg_replication_slots returned nothing', { retriable: false });
  return judgeCopySlot({
    name,
    exists: row.exists,
    logical: row.logical ?? false,
    confirmedFlushLsn: row.confirmed,
  });
}

/**
 * SOURCE_DB_USER reads every captured table in `pgferry copy` (COPY ... TO STDOUT) and in
 * `pgferry verify` and the cutover's verify gate: it needs USAGE on the schema and SELECT on the
 * table. The snapshot functions and pg_replication_slots need nothing more.
 */
export async function checkCopyRole(facts: SourceFacts): Promise<CheckVerdict> {
  const tables = requireCapturedTables(facts);
  const user = facts.user;
  const unreadable = await findUnreadableTables(facts.client, user, tables);
  if (unreadable.length > 0) {
    return fail(
      `${user} (SOURCE_DB_USER) cannot read ${unreadable.length} captured table(s), which pgferry copy and verify read as this role: grant SELECT (listed below)`,
      unreadable.map((t) => grantSelectFix(t, user)),
    );
  }
  const filtered = await findRowSecurityFilteredTables(facts.client, user, tables);
  if (filtered.length > 0) {
    return fail(
      `${user} (SOURCE_DB_USER) is subject to row-level security on ${filtered.length} captured table(s): copy and verify would see only the rows its policies allow (they run with row_security = off, so they stop with an error instead of copying a subset): ALTER ROLE ${quoteIdent(user)} BYPASSRLS (as a superuser), or read as the tables' owner`,
      filtered.map((t) => formatTableName(t)),
    );
  }
  return pass(
    `${user} (SOURCE_DB_USER) has SELECT on all ${tables.length} captured table(s); the copy's snapshot (pg_export_snapshot, SET TRANSACTION SNAPSHOT) needs no privilege`,
  );
}

/**
 * Captured tables with row-level security enabled that `user` would be filtered by: not a
 * superuser, not BYPASSRLS, not the owner (an owner is filtered only under FORCE ROW LEVEL
 * SECURITY). Logical decoding is not filtered, so the stream would carry every row while the copy
 * and verify saw only some.
 */
export async function findRowSecurityFilteredTables(
  client: pg.ClientBase,
  user: string,
  tables: readonly MigrationTable[],
): Promise<MigrationTable[]> {
  const result = await client.query<{ schema: string; name: string }>(
    `SELECT t.schema, t.name
       FROM unnest($2::text[], $3::text[]) AS t(schema, name)
       JOIN pg_namespace n ON n.nspname = t.schema
       JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.name
       JOIN pg_roles r ON r.rolname = $1
      WHERE c.relrowsecurity AND NOT r.rolsuper AND NOT r.rolbypassrls
        AND (c.relforcerowsecurity OR NOT pg_has_role(r.oid, c.relowner, 'USAGE'))
      ORDER BY 1, 2`,
    [user, ...toTableArrays(tables)],
  );
  return result.rows;
}

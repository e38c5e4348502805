// Preflight checks of the source's logical replication: wal_level, a free slot and WAL sender,
// and whether the connector's existing slot fits it (plugin, database) or holds back WAL.
import { PgferryError } from '../../core/errors.js';
import { quoteLiteral } from '../../core/sql-identifier.js';
import {
  type CheckVerdict,
  fail,
  type PreflightContext,
  pass,
  type SourceFacts,
  warn,
} from './preflight-check.js';

export interface SlotReading {
  name: string;
  exists: boolean;
  active: boolean;
  retainedBytes: number | null;
  /** pg_replication_slots.wal_status (PostgreSQL 13+): reserved, extended, unreserved, lost. */
  walStatus: string | null;
  database: string | null;
  currentDatabase: string;
  plugin: string | null;
}

const MB = 1024 * 1024;

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * MB) return `${(bytes / (1024 * MB)).toFixed(1)} GB`;
  if (bytes >= MB) return `${(bytes / MB).toFixed(1)} MB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${bytes} B`;
}

/** An inactive slot keeps every WAL segment since its restart_lsn: the source disk fills up. */
export function judgeSlot(
  slot: SlotReading,
  maxRetainedMb: number,
  expectedPlugin = 'pgoutput',
): CheckVerdict {
  if (!slot.exists) {
    return pass(`${slot.name} does not exist yet: the connector creates it when it first starts`);
  }
  if (slot.plugin === null) {
    return fail(
      `${slot.name} is a physical slot, not a logical one: use another SOURCE_SLOT_NAME (and slot.name), or drop it`,
    );
  }
  if (slot.plugin !== expectedPlugin) {
    return fail(
      `${slot.name} decodes with ${slot.plugin}, the connector with ${expectedPlugin}: use another SOURCE_SLOT_NAME (and slot.name), or drop it`,
    );
  }
  if (slot.database !== null && slot.database !== slot.currentDatabase) {
    return fail(
      `${slot.name} belongs to database ${slot.database}, not ${slot.currentDatabase}: use another SOURCE_SLOT_NAME (and slot.name), or drop it`,
    );
  }
  if (slot.walStatus === 'lost') {
    return fail(
      `${slot.name} has lost WAL it needs (wal_status = lost): drop it (SELECT pg_drop_replication_slot(${quoteLiteral(slot.name)})) and let the connector snapshot again`,
    );
  }
  if (slot.walStatus === 'unreserved') {
    return warn(
      `${slot.name} is about to lose WAL it needs (wal_status = unreserved, beyond max_slot_wal_keep_size): let the connector catch up now`,
    );
  }
  const retained = slot.retainedBytes === null ? 'unknown' : formatBytes(slot.retainedBytes);
  if (slot.active) return pass(`${slot.name} is active (read by a connector), retains ${retained}`);
  if (slot.retainedBytes !== null && slot.retainedBytes > maxRetainedMb * MB) {
    return warn(
      `${slot.name} is inactive and retains ${retained} of WAL (more than ${maxRetainedMb} MB): start the connector, or drop the slot (SELECT pg_drop_replication_slot(${quoteLiteral(slot.name)})) before the source disk fills up`,
    );
  }
  return pass(`${slot.name} exists, inactive (no connector reads it now), retains ${retained}`);
}

export interface ReplicationCapacity {
  maxSlots: number;
  usedSlots: number;
  maxSenders: number;
  activeSenders: number;
  slotExists: boolean;
  slotActive: boolean;
}

/** The connector needs one slot unless its slot exists, and one WAL sender unless it is active. */
export function judgeReplicationCapacity(c: ReplicationCapacity): CheckVerdict {
  const freeSlots = c.maxSlots - c.usedSlots;
  const freeSenders = c.maxSenders - c.activeSenders;
  const needSlots = c.slotExists ? 0 : 1;
  const needSenders = c.slotActive ? 0 : 1;
  const summary = `${freeSlots} of ${c.maxSlots} replication slots free, ${freeSenders} of ${c.maxSenders} WAL senders free`;
  const problems: string[] = [];
  if (freeSlots < needSlots) {
    problems.push(
      'no free replication slot: raise max_replication_slots (restart) or drop an unused slot',
    );
  }
  if (freeSenders < needSenders) {
    problems.push('no free WAL sender: raise max_wal_senders (restart)');
  }
  return problems.length > 0 ? fail(`${summary}; ${problems.join('; ')}`) : pass(summary);
}

export async function checkWalLevel(facts: SourceFacts): Promise<CheckVerdict> {
  const result = await facts.client.query<{ wal_level: string }>(
    `SELECT current_setting('wal_level') AS wal_level`,
  );
  const level = result.rows[0]?.wal_level ?? 'unknown';
  if (level === 'logical') return pass('wal_level = logical');
  return fail(
    `wal_level = ${level}, Debezium needs logical: ALTER SYSTEM SET wal_level = logical, then restart PostgreSQL (managed services: enable logical replication in the parameter group)`,
  );
}

export async function checkCapacity(
  facts: SourceFacts,
  context: PreflightContext,
): Promise<CheckVerdict> {
  const result = await facts.client.query<{
    max_slots: number;
    used_slots: number;
    max_senders: number;
    active_senders: number;
    slot_exists: boolean;
    slot_active: boolean;
  }>(
    `SELECT current_setting('max_replication_slots')::int AS max_slots,
            (SELECT count(*) FROM pg_replication_slots)::int AS used_slots,
            current_setting('max_wal_senders')::int AS max_senders,
            (SELECT count(*) FROM pg_stat_replication)::int AS active_senders,
            s.slot_name IS NOT NULL AS slot_exists, coalesce(s.active, false) AS slot_active
       FROM (SELECT 1) AS one LEFT JOIN pg_replication_slots s ON s.slot_name = $1`,
    [context.config.replication.slotName],
  );
  const row = result.rows[0];
  if (!row) throw new PgferryError('pg_replication_slots returned nothing', { retriable: false });
  return judgeReplicationCapacity({
    maxSlots: row.max_slots,
    usedSlots: row.used_slots,
    maxSenders: row.max_senders,
    activeSenders: row.active_senders,
    slotExists: row.slot_exists,
    slotActive: row.slot_active,
  });
}

export async function checkSlot(
  facts: SourceFacts,
  context: PreflightContext,
): Promise<CheckVerdict> {
  const name = context.config.replication.slotName;
  const result = await facts.client.query<{
    exists: boolean;
    active: boolean | null;
    retained: string | null;
    wal_status: string | null;
    database: string | null;
    current_database: string;
    plugin: string | null;
  }>(
    `SELECT s.slot_name IS NOT NULL AS exists, s.active, s.database, s.plugin,
            current_database() AS current_database,
            -- wal_status exists from PostgreSQL 13 on; read through jsonb so older sources work.
            to_jsonb(s) ->> 'wal_status' AS wal_status,
            pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::bigint::text AS retained
       FROM (SELECT 1) AS one LEFT JOIN pg_replication_slots s ON s.slot_name = $1`,
    [name],
  );
  const row = result.rows[0];
  if (!row) throw new PgferryError('pg_replication_slots returned nothing', { retriable: false });
  return judgeSlot(
    {
      name,
      exists: row.exists,
      active: row.active ?? false,
      retainedBytes: row.retained === null ? null : Number(row.retained),
      walStatus: row.wal_status,
      database: row.database,
      currentDatabase: row.current_database,
      plugin: row.plugin,
    },
    context.options.maxSlotRetainedMb,
    // Debezium's default decoder is decoderbufs; this project's connector file says pgoutput.
    (await context.connector).config?.['plugin.name'] ?? 'pgoutput',
  );
}

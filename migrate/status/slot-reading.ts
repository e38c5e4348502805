// The slot part of `pgferry status`: the source replication slot (exists, active, WAL not yet
// confirmed), with the loss `pgferry run` may have recorded in the target laid over it.
import type { PgferryConfig } from '../../core/config.js';
import { connectPg } from '../../core/pg-connection.js';
import type { Settled, SlotPart } from './migration-status-types.js';

export const SOURCE_NOT_CONFIGURED =
  'source database not configured (set SOURCE_DB_HOST, SOURCE_DB_NAME, SOURCE_DB_USER)';

export async function readSlotPart(config: PgferryConfig): Promise<SlotPart> {
  const client = await connectPg(
    config.source as NonNullable<PgferryConfig['source']>,
    'pgferry-status',
  );
  try {
    const name = config.replication.slotName;
    const result = await client.query<{
      current_lsn: string | null;
      exists: boolean;
      active: boolean | null;
      confirmed_flush_lsn: string | null;
      lag: string | null;
    }>(
      `SELECT c.lsn::text AS current_lsn, s.slot_name IS NOT NULL AS exists, s.active,
              s.confirmed_flush_lsn::text AS confirmed_flush_lsn,
              pg_wal_lsn_diff(c.lsn, s.confirmed_flush_lsn)::bigint AS lag
         FROM (SELECT pg_current_wal_lsn() AS lsn) c
         LEFT JOIN pg_replication_slots s ON s.slot_name = $1`,
      [name],
    );
    const row = result.rows[0];
    return {
      name,
      exists: row?.exists ?? false,
      active: row?.active ?? false,
      lagBytes: row?.lag == null ? null : Number(row.lag),
      confirmedFlushLsn: row?.confirmed_flush_lsn ?? null,
      currentLsn: row?.current_lsn ?? null,
    };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The slot as read (or its error), with the recorded loss, if any, laid over it. */
export function buildSlotPart(
  config: PgferryConfig,
  slot: Settled<SlotPart>,
  loss: SlotPart['lost'],
): SlotPart {
  return {
    ...(slot.value ?? {
      name: config.replication.slotName,
      exists: false,
      active: false,
      lagBytes: null,
      confirmedFlushLsn: null,
      currentLsn: null,
      error: slot.error as string,
    }),
    ...(loss ? { lost: loss } : {}),
  };
}

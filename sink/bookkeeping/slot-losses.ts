// pgferry.slot_losses: source replication slots `pgferry run` saw disappear. Recorded once, read
// by status and cutover, cleared only by `pgferry resnapshot`.
import type pg from 'pg';
import { ensureBookkeeping, hasBookkeepingTable, slotLossesTable } from './bookkeeping-schema.js';

export interface SlotLoss {
  /** When it was first detected (ISO time). */
  at: string;
  /** Which process detected it. */
  by: string;
}

/** Records that `slot` was lost (the first detection is kept). */
export async function recordSlotLoss(
  client: pg.ClientBase,
  slot: string,
  detectedBy: string,
): Promise<void> {
  await ensureBookkeeping(client);
  await client.query(
    `INSERT INTO ${slotLossesTable()} (slot_name, detected_by) VALUES ($1, $2) ON CONFLICT (slot_name) DO NOTHING`,
    [slot, detectedBy],
  );
}

/** The slot's loss recorded by `pgferry run` (the table exists once a run created it). */
export async function readSlotLoss(
  client: pg.ClientBase,
  slot: string,
): Promise<SlotLoss | undefined> {
  if (!(await hasBookkeepingTable(client, 'slot_losses'))) return undefined;
  const result = await client.query<{ detected_at: Date; detected_by: string }>(
    `SELECT detected_at, detected_by FROM ${slotLossesTable()} WHERE slot_name = $1`,
    [slot],
  );
  const row = result.rows[0];
  return row ? { at: row.detected_at.toISOString(), by: row.detected_by } : undefined;
}

/** Removes the slot's loss mark (after the target was rebuilt). Runs in the caller's transaction. */
export async function clearSlotLoss(client: pg.ClientBase, slot: string): Promise<void> {
  await client.query(`DELETE FROM ${slotLossesTable()} WHERE slot_name = $1`, [slot]);
}

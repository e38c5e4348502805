// The `pgferry` schema in the target: Kafka offsets applied per (group, topic, partition), the
// replicated tables with their truncate positions and lag, and one position table per replicated
// table (the last applied source position of every row, deleted rows included) that guards
// against older changes overwriting newer ones.
import type pg from 'pg';
import { qualifiedName, quoteIdent } from '../core/sql-identifier.js';

export const BOOKKEEPING_SCHEMA = 'pgferry';
/** Serializes DDL of several pgferry processes on one target (any constant works). */
export const DDL_LOCK_KEY = 7_307_011_981;

export async function ensureBookkeeping(client: pg.ClientBase): Promise<void> {
  const s = quoteIdent(BOOKKEEPING_SCHEMA);
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [DDL_LOCK_KEY]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.offsets (
      group_id text NOT NULL,
      topic text NOT NULL,
      partition integer NOT NULL,
      next_offset bigint NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (group_id, topic, partition))`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.tables (
      table_schema text NOT NULL,
      table_name text NOT NULL,
      position_table text NOT NULL UNIQUE,
      truncated_position bigint NOT NULL DEFAULT 0,
      last_position bigint,
      last_source_ts timestamptz,
      last_applied_at timestamptz,
      changes_applied bigint NOT NULL DEFAULT 0,
      PRIMARY KEY (table_schema, table_name))`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.slot_losses (
      slot_name text PRIMARY KEY,
      detected_at timestamptz NOT NULL DEFAULT now(),
      detected_by text NOT NULL)`);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

export const offsetsTable = (): string => qualifiedName(BOOKKEEPING_SCHEMA, 'offsets');
export const tablesTable = (): string => qualifiedName(BOOKKEEPING_SCHEMA, 'tables');
/**
 * Source replication slots seen to disappear by `pgferry run`: the target missed whatever was
 * written while the slot was gone, even if a slot of that name exists again. Only
 * `pgferry resnapshot` clears a row, so `status` keeps saying so until the target is rebuilt.
 */
export const slotLossesTable = (): string => qualifiedName(BOOKKEEPING_SCHEMA, 'slot_losses');

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

/** Offsets applied in the target for these partitions (next offset to read), if any. */
export async function readStoredOffsets(
  client: pg.ClientBase,
  groupId: string,
  topic: string,
): Promise<Map<number, string>> {
  const result = await client.query<{ partition: number; next_offset: string }>(
    `SELECT partition, next_offset FROM ${offsetsTable()} WHERE group_id = $1 AND topic = $2`,
    [groupId, topic],
  );
  return new Map(result.rows.map((r) => [r.partition, r.next_offset]));
}

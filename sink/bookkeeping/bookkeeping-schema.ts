// The `pgferry` schema in the target: its creation and the names of its tables (offsets, tables,
// table_progress, slot_losses, keyless_positions, copy_tables, copy_chunks, deferred_indexes, one pos_<table> per
// replicated table with a key). Only sink/ builds SQL against it.
import type pg from 'pg';
import { qualifiedName, quoteIdent } from '../../core/sql-identifier.js';
import { BOOKKEEPING_SCHEMA } from '../../pipeline/routing/bookkeeping-schema-name.js';

// The name is the routing's (which refuses every table that would land here), the schema is ours.
export { BOOKKEEPING_SCHEMA };
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
    // A table's progress per partition: batches of one table's partitions commit concurrently
    // (APPLY_CONCURRENCY), and one row per table updated by each would make them wait for each
    // other, or deadlock against the merge's FOR SHARE lock on the table's row in \`tables\`.
    // readTableProgress adds these up (with \`tables\`' own counters, from before this table).
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.table_progress (
      table_schema text NOT NULL,
      table_name text NOT NULL,
      topic text NOT NULL,
      partition integer NOT NULL,
      last_position bigint NOT NULL,
      last_source_ts timestamptz,
      last_applied_at timestamptz NOT NULL,
      changes_applied bigint NOT NULL,
      PRIMARY KEY (table_schema, table_name, topic, partition))`);
    // A keyless table's last applied streamed change, (commit LSN, LSN): keyless-apply.ts.
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.keyless_positions (
      table_schema text NOT NULL,
      table_name text NOT NULL,
      commit_lsn bigint NOT NULL,
      lsn bigint NOT NULL,
      PRIMARY KEY (table_schema, table_name))`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.slot_losses (
      slot_name text PRIMARY KEY,
      detected_at timestamptz NOT NULL DEFAULT now(),
      detected_by text NOT NULL)`);
    await createCopyBookkeeping(client);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

export const keylessPositionsTable = (): string =>
  qualifiedName(BOOKKEEPING_SCHEMA, 'keyless_positions');
export const copyTablesTable = (): string => qualifiedName(BOOKKEEPING_SCHEMA, 'copy_tables');
export const copyChunksTable = (): string => qualifiedName(BOOKKEEPING_SCHEMA, 'copy_chunks');
export const deferredIndexesTable = (): string =>
  qualifiedName(BOOKKEEPING_SCHEMA, 'deferred_indexes');

/** The copy tables' DDL (`pgferry copy`'s plan and progress; see copy-rows.ts). */
async function createCopyBookkeeping(client: pg.ClientBase): Promise<void> {
  await client.query(`CREATE TABLE IF NOT EXISTS ${copyTablesTable()} (
      table_schema text NOT NULL,
      table_name text NOT NULL,
      source_schema text NOT NULL,
      source_name text NOT NULL,
      state text NOT NULL CHECK (state IN ('copying', 'done', 'failed')),
      key_columns text[] NOT NULL,
      chunks_total integer NOT NULL,
      rows_copied bigint NOT NULL DEFAULT 0,
      bytes_copied bigint NOT NULL DEFAULT 0,
      started_at timestamptz NOT NULL DEFAULT now(),
      finished_at timestamptz,
      last_error text,
      PRIMARY KEY (table_schema, table_name))`);
  await client.query(`CREATE TABLE IF NOT EXISTS ${copyChunksTable()} (
      table_schema text NOT NULL,
      table_name text NOT NULL,
      chunk integer NOT NULL,
      lower_key text[],
      upper_key text[],
      done_at timestamptz,
      rows_copied bigint,
      bytes_copied bigint,
      copy_run text,
      copies integer NOT NULL DEFAULT 0,
      PRIMARY KEY (table_schema, table_name, chunk),
      FOREIGN KEY (table_schema, table_name) REFERENCES ${copyTablesTable()} ON DELETE CASCADE)`);
  // Indexes `schema-sync --defer-indexes` left out, for `pgferry copy` to build after the rows.
  await client.query(`CREATE TABLE IF NOT EXISTS ${deferredIndexesTable()} (
      table_schema text NOT NULL,
      table_name text NOT NULL,
      index_name text NOT NULL,
      statement text NOT NULL,
      deferred_at timestamptz NOT NULL DEFAULT now(),
      built_at timestamptz,
      build_seconds double precision,
      last_error text,
      PRIMARY KEY (table_schema, index_name))`);
}

export const offsetsTable = (): string => qualifiedName(BOOKKEEPING_SCHEMA, 'offsets');
export const tablesTable = (): string => qualifiedName(BOOKKEEPING_SCHEMA, 'tables');
export const tableProgressTable = (): string => qualifiedName(BOOKKEEPING_SCHEMA, 'table_progress');
/**
 * Source replication slots seen to disappear by `pgferry run`: the target missed whatever was
 * written while the slot was gone, even if a slot of that name exists again. Only
 * `pgferry resnapshot` clears a row, so `status` keeps saying so until the target is rebuilt.
 */
export const slotLossesTable = (): string => qualifiedName(BOOKKEEPING_SCHEMA, 'slot_losses');

/**
 * Readers that must not create anything (status, cutover) ask first: before the first
 * `pgferry run` the schema does not exist, which means nothing applied, not an error.
 */
export async function hasBookkeepingTable(client: pg.ClientBase, table: string): Promise<boolean> {
  const result = await client.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [
    qualifiedName(BOOKKEEPING_SCHEMA, table),
  ]);
  return result.rows[0]?.t != null;
}

/** The offsets and tables both exist (`pgferry run` created the schema). */
export async function hasBookkeeping(client: pg.ClientBase): Promise<boolean> {
  const result = await client.query<{ offsets: string | null; tables: string | null }>(
    'SELECT to_regclass($1) AS offsets, to_regclass($2) AS tables',
    [qualifiedName(BOOKKEEPING_SCHEMA, 'offsets'), qualifiedName(BOOKKEEPING_SCHEMA, 'tables')],
  );
  const row = result.rows[0];
  return row?.offsets != null && row.tables != null;
}

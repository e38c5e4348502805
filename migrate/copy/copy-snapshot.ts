// The one source snapshot every copy worker reads: a REPEATABLE READ transaction that exported it
// with pg_export_snapshot() and stays open while workers import it (SET TRANSACTION SNAPSHOT).
// It must be taken after the replication slot exists, so every change committed after it is in
// the stream; if its session dies (a source restart), a new one is taken, which is as good: the
// chunks are key ranges and any snapshot after the slot's start converges (README, "How
// replication works").
import type pg from 'pg';
import type { PostgresSettings } from '../../core/config.js';
import { PgferryError } from '../../core/errors.js';
import { connectPg } from '../../core/pg-connection.js';

/** The slot is missing, or still being created (no consistent point yet): nothing to copy from. */
export class SlotNotReadyError extends PgferryError {
  constructor(message: string) {
    super(message, { retriable: false });
  }
}

export interface SlotFacts {
  name: string;
  confirmedFlushLsn: string;
}

/**
 * The slot the connector streams from, once it has a consistent point (a slot still being
 * created shows in pg_replication_slots without confirmed_flush_lsn).
 */
export async function readSlot(client: pg.ClientBase, slot: string): Promise<SlotFacts> {
  const result = await client.query<{ plugin: string | null; confirmed: string | null }>(
    `SELECT plugin, confirmed_flush_lsn::text AS confirmed FROM pg_replication_slots
      WHERE slot_name = $1 AND slot_type = 'logical'`,
    [slot],
  );
  const row = result.rows[0];
  if (row === undefined) {
    throw new SlotNotReadyError(
      `replication slot ${slot} does not exist on the source: register the connector first (pgferry connector apply --snapshot-mode no_data) so that every change after the copy's snapshot reaches Kafka`,
    );
  }
  if (row.confirmed === null) {
    throw new SlotNotReadyError(
      `replication slot ${slot} is still being created (no consistent point yet); wait for the connector to be RUNNING`,
    );
  }
  return { name: slot, confirmedFlushLsn: row.confirmed };
}

/**
 * Waits up to `waitMs` for the slot to exist with a consistent point: right after
 * `connector apply` the task may still be creating it, and creation itself waits for every
 * transaction that was writing when it began (a long batch job delays it).
 */
export async function waitForSlot(
  client: pg.ClientBase,
  slot: string,
  waitMs: number,
  onWait: (reason: string) => void,
): Promise<SlotFacts> {
  const deadline = Date.now() + waitMs;
  let told = '';
  for (;;) {
    try {
      return await readSlot(client, slot);
    } catch (error) {
      if (!(error instanceof SlotNotReadyError) || Date.now() >= deadline) throw error;
      if (error.message !== told) {
        told = error.message;
        onWait(error.message);
      }
      await new Promise((r) => setTimeout(r, Math.min(1000, Math.max(0, deadline - Date.now()))));
    }
  }
}

/** Session settings both sides of a text COPY agree on, whatever the servers' defaults. */
export const COPY_SESSION_SETTINGS =
  "SET DateStyle = ISO, YMD; SET IntervalStyle = postgres; SET TimeZone = 'UTC'; SET extra_float_digits = 3; SET bytea_output = hex";

/**
 * The source sessions also read with row_security = off: a table whose row-level security
 * policies would filter the reading role then fails with an error (42501) instead of copying
 * only the rows the policies let through, as pg_dump does.
 */
export const COPY_SOURCE_SESSION_SETTINGS = `${COPY_SESSION_SETTINGS}; SET row_security = off`;

export class CopySnapshot {
  private session: pg.Client | undefined;
  private id: string | undefined;
  /** WAL position at the (latest) snapshot, for the report. */
  lsn = '';
  /** Snapshots taken so far (more than 1 after the source lost the first one). */
  taken = 0;
  private opening: Promise<string> | undefined;

  constructor(
    private readonly settings: PostgresSettings,
    private readonly slot: string,
  ) {}

  /** The snapshot to import; the first call takes it. */
  current(): Promise<string> {
    if (this.id !== undefined) return Promise.resolve(this.id);
    this.opening ??= this.take().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  /** A worker could not import `failed` (its exporter is gone): take a new one, once. */
  async renew(failed: string): Promise<string> {
    if (this.id === failed) {
      this.id = undefined;
      await this.session?.end().catch(() => undefined);
      this.session = undefined;
    }
    return this.current();
  }

  /** The session that holds the snapshot, for catalog reads in the snapshot (chunk bounds). */
  async client(): Promise<pg.Client> {
    await this.current();
    if (!this.session) throw new Error('snapshot session closed');
    return this.session;
  }

  private async take(): Promise<string> {
    const session = await connectPg(this.settings, 'pgferry-copy-snapshot');
    try {
      await session.query(COPY_SOURCE_SESSION_SETTINGS);
      // The slot first: a snapshot is only safe once the slot's stream covers what follows it.
      await readSlot(session, this.slot);
      await session.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const exported = await session.query<{ id: string; lsn: string }>(
        'SELECT pg_export_snapshot() AS id, pg_current_wal_lsn()::text AS lsn',
      );
      const row = exported.rows[0];
      if (!row) throw new Error('pg_export_snapshot() returned nothing');
      this.session = session;
      this.id = row.id;
      this.lsn = row.lsn;
      this.taken += 1;
      return row.id;
    } catch (error) {
      await session.end().catch(() => undefined);
      throw error;
    }
  }

  async close(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    this.id = undefined;
    await session?.query('COMMIT').catch(() => undefined);
    await session?.end().catch(() => undefined);
  }
}

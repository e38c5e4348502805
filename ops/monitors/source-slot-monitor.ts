// Replication slots on the source: how much WAL each retains and whether Debezium is attached.
// A slot nobody reads keeps WAL forever and can fill the source's disk: the metric behind the
// SlotLagHigh/SlotInactive alerts. Needs the read-only SOURCE_DB_* role (pg_monitor suffices).
// The configured slot disappearing is a loss, not a metric to drop: see `watchedSlot`.
import type pg from 'pg';
import type { PostgresSettings } from '../../core/config.js';
import type { Logger } from '../../core/logger.js';
import type { PgferryMetrics } from '../../core/metrics.js';
import { connectPg } from '../../core/pg-connection.js';
import { startPoller } from '../poller.js';

export interface SlotReading {
  slot: string;
  active: boolean;
  lagBytes: number;
  /** wal_status 'lost': the WAL it needed was removed (max_slot_wal_keep_size); it is useless. */
  invalidated: boolean;
}

export async function readSlots(client: pg.ClientBase): Promise<SlotReading[]> {
  const result = await client.query<{
    slot_name: string;
    active: boolean;
    lag: string | null;
    wal_status: string | null;
  }>(
    `SELECT slot_name, active, wal_status,
            pg_wal_lsn_diff(pg_current_wal_lsn(), COALESCE(confirmed_flush_lsn, restart_lsn))::bigint AS lag
       FROM pg_replication_slots WHERE slot_type = 'logical' AND database = current_database()`,
  );
  return result.rows.map((r) => ({
    slot: r.slot_name,
    active: r.active,
    lagBytes: Number(r.lag ?? 0),
    invalidated: r.wal_status === 'lost',
  }));
}

export function startSourceSlotMonitor(options: {
  settings: PostgresSettings;
  metrics: PgferryMetrics;
  log: Logger;
  intervalMs: number;
  /**
   * The pipeline's own slot (SOURCE_SLOT_NAME): once seen, its disappearance means changes
   * written meanwhile never reach Kafka. Logged as an error, `pgferry_source_slot_lost` set to 1,
   * and `onSlotLost` called (it records the loss durably for `pgferry status`), once per process.
   */
  watchedSlot?: string;
  onSlotLost?: (slot: string) => Promise<void>;
}): () => void {
  let client: pg.Client | undefined;
  const seen = new Set<string>();
  let watchedSeen = false;
  let lost: 'no' | 'reported' | 'recorded' = 'no';
  const reportLoss = async (slot: string) => {
    if (lost === 'no') {
      lost = 'reported';
      options.metrics.slotLost.set({ slot }, 1);
      options.log.error(
        { slot },
        `replication slot ${slot} was dropped on the source or invalidated (wal_status lost): changes it no longer holds never reach Kafka, the target needs a re-snapshot (docs/runbook.md, "If the replication slot was lost")`,
      );
    }
    try {
      await options.onSlotLost?.(slot);
      lost = 'recorded';
    } catch (error) {
      // Retried on the next tick: status must learn of the loss.
      options.log.warn(
        { slot, err: (error as Error).message },
        'could not record the slot loss in the target (pgferry.slot_losses); retrying',
      );
    }
  };
  const tick = async () => {
    try {
      client ??= await connectPg(options.settings, 'pgferry-monitor');
      const slots = await readSlots(client);
      const now = new Set(slots.map((s) => s.slot));
      for (const s of slots) {
        options.metrics.slotLagBytes.set({ slot: s.slot }, s.lagBytes);
        options.metrics.slotActive.set({ slot: s.slot }, s.active ? 1 : 0);
      }
      // A dropped slot disappears from the metrics rather than freezing at its last value.
      for (const gone of [...seen].filter((s) => !now.has(s))) {
        options.metrics.slotLagBytes.remove({ slot: gone });
        options.metrics.slotActive.remove({ slot: gone });
      }
      seen.clear();
      for (const s of now) seen.add(s);
      const watched = options.watchedSlot;
      if (watched !== undefined) {
        const reading = slots.find((s) => s.slot === watched);
        // Invalidated (its WAL removed past max_slot_wal_keep_size) is as lost as dropped.
        if (reading?.invalidated && lost !== 'recorded') await reportLoss(watched);
        else if (reading) watchedSeen = true;
        else if (watchedSeen && lost !== 'recorded') await reportLoss(watched);
      }
    } catch (error) {
      options.log.warn(
        { err: (error as Error).message },
        'reading replication slots on the source failed',
      );
      await client?.end().catch(() => undefined);
      client = undefined;
    }
  };
  return startPoller(tick, {
    intervalMs: options.intervalMs,
    firstDelayMs: 500,
    onStop: () => void client?.end().catch(() => undefined),
  });
}

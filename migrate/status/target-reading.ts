// One target connection for `pgferry status`: the offsets applied per partition, each table's
// progress, the slot's recorded loss and `pgferry copy`'s progress, all read through sink/'s
// bookkeeping functions.
import type pg from 'pg';
import type { PgferryConfig } from '../../core/config.js';
import { connectPg } from '../../core/pg-connection.js';
import { hasBookkeeping } from '../../sink/bookkeeping/bookkeeping-schema.js';
import { readCopyTables } from '../../sink/bookkeeping/copy-rows.js';
import { readGroupOffsets } from '../../sink/bookkeeping/offset-rows.js';
import { readSlotLoss } from '../../sink/bookkeeping/slot-losses.js';
import { readTableProgress } from '../../sink/bookkeeping/table-rows.js';
import type { TargetReading } from './migration-status-types.js';

/** The key of TargetReading.applied. */
export const partitionKey = (topic: string, partition: number): string =>
  `${topic}\u0000${partition}`;

export async function readTarget(config: PgferryConfig): Promise<TargetReading> {
  const client = await connectPg(config.target, 'pgferry-status');
  try {
    // Before the first `pgferry run` (or `pgferry copy`) the schema does not exist: nothing
    // applied, not an error.
    if (!(await hasBookkeeping(client))) return { applied: new Map(), tables: [] };
    const offsets = await readGroupOffsets(client, config.kafka.groupId);
    const tables = await readTableProgress(client);
    const loss = await readSlotLoss(client, config.replication.slotName);
    const copy = await readCopy(client);
    return {
      ...(loss ? { slotLoss: loss } : {}),
      ...copy,
      applied: new Map(offsets.map((o) => [partitionKey(o.topic, o.partition), o.nextOffset])),
      tables: tables.map((r) => ({
        table: `${r.schema}.${r.name}`,
        changesApplied: r.changesApplied,
        lastSourceTs: r.lastSourceTs?.toISOString() ?? null,
        lastAppliedAt: r.lastAppliedAt?.toISOString() ?? null,
        endToEndLagSeconds: r.sourceAgeSeconds === null ? null : Math.max(0, r.sourceAgeSeconds),
      })),
    };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The copy's rows with the target's clock (rates and ETAs are measured against it). */
async function readCopy(client: pg.ClientBase): Promise<Pick<TargetReading, 'copy' | 'copyError'>> {
  try {
    const rows = await readCopyTables(client);
    if (rows.length === 0) return {};
    const now = await client.query<{ now: Date }>('SELECT clock_timestamp() AS now');
    return { copy: { rows, now: now.rows[0]?.now ?? new Date() } };
  } catch (error) {
    return { copyError: error instanceof Error ? error.message : String(error) };
  }
}

// One target connection for `pgferry status`: the offsets applied per partition, each table's
// progress and the slot's recorded loss, all read through sink/'s bookkeeping functions.
import type { PgferryConfig } from '../../core/config.js';
import { connectPg } from '../../core/pg-connection.js';
import { hasBookkeeping } from '../../sink/bookkeeping/bookkeeping-schema.js';
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
    // Before the first `pgferry run` the schema does not exist: nothing applied, not an error.
    if (!(await hasBookkeeping(client))) return { applied: new Map(), tables: [] };
    const offsets = await readGroupOffsets(client, config.kafka.groupId);
    const tables = await readTableProgress(client);
    const loss = await readSlotLoss(client, config.replication.slotName);
    return {
      ...(loss ? { slotLoss: loss } : {}),
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

// pgferry.offsets: the next Kafka offset to apply per (group, topic, partition), written in the
// same transaction as the rows. Offsets only ever move forward.
import type pg from 'pg';
import { offsetsTable } from './bookkeeping-schema.js';

export interface StoredOffset {
  topic: string;
  partition: number;
  /** The next offset to apply (bigint as text). */
  nextOffset: string;
}

/**
 * Offsets applied in the target for these topics' partitions (next offset to read), if any:
 * topic -> partition -> offset, in one query (a group may hold thousands of topics).
 */
export async function readStoredOffsets(
  client: pg.ClientBase,
  groupId: string,
  topics: readonly string[],
): Promise<Map<string, Map<number, string>>> {
  const result = await client.query<{ topic: string; partition: number; next_offset: string }>(
    `SELECT topic, partition, next_offset FROM ${offsetsTable()} WHERE group_id = $1 AND topic = ANY($2::text[])`,
    [groupId, topics],
  );
  const stored = new Map<string, Map<number, string>>();
  for (const r of result.rows) {
    const partitions = stored.get(r.topic) ?? new Map<number, string>();
    partitions.set(r.partition, r.next_offset);
    stored.set(r.topic, partitions);
  }
  return stored;
}

/** Every partition's offset applied for the group, across its topics. */
export async function readGroupOffsets(
  client: pg.ClientBase,
  groupId: string,
): Promise<StoredOffset[]> {
  const result = await client.query<{ topic: string; partition: number; next_offset: string }>(
    `SELECT topic, partition, next_offset::text AS next_offset FROM ${offsetsTable()} WHERE group_id = $1`,
    [groupId],
  );
  return result.rows.map((r) => ({
    topic: r.topic,
    partition: r.partition,
    nextOffset: r.next_offset,
  }));
}

/**
 * Raises the group's offsets of these partitions to at least `nextOffset` (the sink's rule too:
 * GREATEST), creating rows that are missing. Runs in the caller's transaction, if any.
 */
export async function moveOffsetsForward(
  client: pg.ClientBase,
  groupId: string,
  topic: string,
  partitions: readonly { partition: number; nextOffset: string }[],
): Promise<void> {
  for (const p of partitions) {
    await client.query(
      `INSERT INTO ${offsetsTable()} (group_id, topic, partition, next_offset) VALUES ($1, $2, $3, $4)
           ON CONFLICT (group_id, topic, partition)
           DO UPDATE SET next_offset = GREATEST(${offsetsTable()}.next_offset, EXCLUDED.next_offset), updated_at = now()`,
      [groupId, topic, p.partition, p.nextOffset],
    );
  }
}

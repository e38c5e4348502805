// The bookkeeping statements of one batch transaction: lock the partition's offsets row (reading
// the offset already applied), record each table's progress, advance the partition's offset.
// Values are spliced only as quoted literals or checked integers, so they run in one round trip.
import { quoteLiteral } from '../../core/sql-identifier.js';
import type { ChangeBatch } from '../../pipeline/ports.js';
import type { RowChange, TableRef } from '../../pipeline/row-change.js';
import { offsetsTable, tableProgressTable } from './bookkeeping-schema.js';

/** An integer spliced into SQL text: refused unless it is one (never a string from outside). */
export function safeInteger(value: number): string {
  if (!Number.isSafeInteger(value)) throw new RangeError(`not an integer: ${value}`);
  return String(value);
}

export function highestPosition(changes: readonly RowChange[]): bigint {
  let highest = 0n;
  for (const c of changes) if (c.position > highest) highest = c.position;
  return highest;
}

/**
 * Opens the transaction, makes sure the partition has its offsets row and locks it (ON CONFLICT
 * DO UPDATE locks an existing row like FOR UPDATE) while returning its next_offset.
 */
export function beginAndLockOffsetsSql(batch: ChangeBatch): string {
  const values = `${quoteLiteral(batch.groupId)}, ${quoteLiteral(batch.topic)}, ${safeInteger(batch.partition)}`;
  return `BEGIN; INSERT INTO ${offsetsTable()} AS o (group_id, topic, partition, next_offset) VALUES (${values}, 0) ON CONFLICT (group_id, topic, partition) DO UPDATE SET next_offset = o.next_offset RETURNING next_offset`;
}

/**
 * A table's progress after this batch's changes to it, in the row of the batch's partition (no
 * other batch writes it meanwhile: a partition's batches apply one after another).
 */
export function tableProgressSql(
  target: TableRef,
  batch: Pick<ChangeBatch, 'topic' | 'partition'>,
  changes: readonly RowChange[],
): string {
  // One pass over the table's changes for both figures.
  let newestTs = 0;
  let highest = 0n;
  for (const c of changes) {
    newestTs = Math.max(newestTs, c.sourceTsMs);
    if (c.position > highest) highest = c.position;
  }
  const maxTs = Math.trunc(newestTs) || 0;
  const sourceTs =
    maxTs > 0 ? `to_timestamp(${safeInteger(maxTs)}::double precision / 1000)` : 'NULL';
  const values = [
    quoteLiteral(target.schema),
    quoteLiteral(target.name),
    quoteLiteral(batch.topic),
    safeInteger(batch.partition),
    highest.toString(),
    sourceTs,
    'now()',
    safeInteger(changes.length),
  ].join(', ');
  return `INSERT INTO ${tableProgressTable()} AS p (table_schema, table_name, topic, partition, last_position, last_source_ts, last_applied_at, changes_applied)
             VALUES (${values})
             ON CONFLICT (table_schema, table_name, topic, partition) DO UPDATE SET
               last_position = GREATEST(p.last_position, EXCLUDED.last_position),
               last_source_ts = GREATEST(p.last_source_ts, EXCLUDED.last_source_ts),
               last_applied_at = EXCLUDED.last_applied_at,
               changes_applied = p.changes_applied + EXCLUDED.changes_applied`;
}

/** The partition's next offset, never moved backwards. */
export function advanceOffsetsSql(batch: ChangeBatch): string {
  return `UPDATE ${offsetsTable()} SET next_offset = GREATEST(next_offset, ${BigInt(batch.nextOffset).toString()}), updated_at = now() WHERE group_id = ${quoteLiteral(batch.groupId)} AND topic = ${quoteLiteral(batch.topic)} AND partition = ${safeInteger(batch.partition)}`;
}

// When the migration counts as caught up (what `pgferry status` exits 0 on and cutover waits
// for), when the slot counts as lost, and when nothing could be read at all.
import type { CopyTableStatus, MigrationStatus } from './migration-status-types.js';

/** Where the recovery from a lost slot is written down (status and `pgferry run` point at it). */
export const SLOT_LOST_RUNBOOK = 'docs/runbook.md, "If the replication slot was lost"';

/**
 * Caught up means all of:
 * - the connector is RUNNING with at least one task, and every task is RUNNING;
 * - the slot exists and is active (its byte lag is shown, not judged: confirmed_flush_lsn trails
 *   the current LSN by other databases' WAL and by idle periods, so it is rarely exactly 0);
 * - when the target has copy bookkeeping (`pgferry copy`), every table's copy is done: a table
 *   still copying or whose copy failed has its changes held back by `pgferry run`;
 * - the consumer group was read (end offsets and applied offsets), at least one partition
 *   matches KAFKA_TOPIC_PATTERN, and the total lag (end − applied) is 0;
 * - every control endpoint given answered, runs, and is not paused.
 * Returns the reasons it is not; none = caught up.
 */
export function judgeCaughtUp(
  status: Pick<MigrationStatus, 'connector' | 'slot' | 'consumer' | 'pgferry' | 'copy'>,
): string[] {
  const reasons: string[] = [];
  const { connector, slot, consumer } = status;
  if (connector.error !== undefined) reasons.push(`connector: ${connector.error}`);
  else if (connector.state === null) reasons.push(`connector ${connector.name} not found`);
  else {
    if (connector.state !== 'RUNNING')
      reasons.push(`connector ${connector.name} is ${connector.state}`);
    if (connector.tasks.length === 0) reasons.push(`connector ${connector.name} has no tasks`);
    for (const task of connector.tasks) {
      if (task.state !== 'RUNNING') reasons.push(`connector task ${task.id} is ${task.state}`);
    }
  }
  if (slot.lost !== undefined) {
    reasons.push(
      `slot ${slot.name} was LOST (dropped on the source; seen by ${slot.lost.by} at ${slot.lost.at}): changes made while it was missing never reached Kafka; re-snapshot the target (${SLOT_LOST_RUNBOOK})`,
    );
  }
  if (slot.error !== undefined) reasons.push(`slot: ${slot.error}`);
  else if (isSlotLost(status) && slot.lost === undefined) {
    // The connector's task failed without its slot: the slot was dropped.
    reasons.push(
      `slot ${slot.name} does not exist and connector ${connector.name} has a FAILED task: the slot was lost, changes made since never reach Kafka; re-snapshot the target (${SLOT_LOST_RUNBOOK})`,
    );
  } else if (!slot.exists && slot.lost === undefined)
    reasons.push(`slot ${slot.name} does not exist`);
  else if (slot.exists && !slot.active)
    reasons.push(`slot ${slot.name} is not active (nothing reads it)`);
  if (status.copy?.error !== undefined) reasons.push(`copy: ${status.copy.error}`);
  reasons.push(...copyNotDoneReasons(status.copy?.tables ?? []));
  if (consumer.error !== undefined) reasons.push(`consumer: ${consumer.error}`);
  if (consumer.error === undefined && consumer.partitions.length === 0) {
    reasons.push('no topic matches KAFKA_TOPIC_PATTERN');
  }
  if (consumer.totalLag > 0) {
    const n = consumer.totalLag;
    reasons.push(`group ${consumer.groupId} is ${n} message${n === 1 ? '' : 's'} behind`);
  }
  for (const p of status.pgferry ?? []) {
    if (p.error !== undefined) reasons.push(`pgferry ${p.url}: ${p.error}`);
    else if (p.paused || p.pausing) reasons.push(`pgferry ${p.url} is paused`);
    else if (p.state !== 'running') reasons.push(`pgferry ${p.url} is ${p.state}`);
  }
  return reasons;
}

/**
 * One reason per table whose copy is not done, naming it: its stream waits for it, so the target
 * is not caught up (and cutover refuses) until `pgferry copy` finishes it. Shared with cutover.
 */
export function copyNotDoneReasons(
  tables: readonly Pick<
    CopyTableStatus,
    'table' | 'state' | 'chunksDone' | 'chunksTotal' | 'lastError'
  >[],
): string[] {
  return tables
    .filter((t) => t.state !== 'done')
    .map((t) => {
      const chunks = `${t.chunksDone}/${t.chunksTotal} chunks`;
      if (t.state === 'failed') {
        const why = t.lastError?.trim().split('\n')[0];
        return `copy of ${t.table} FAILED (${chunks}${why ? `: ${why}` : ''}): its stream waits; run pgferry copy again to resume it`;
      }
      return `copy of ${t.table} not done (${chunks}): its stream waits until pgferry copy finishes it`;
    });
}

/**
 * The slot is known lost: `pgferry run` recorded its loss, or it does not exist while a task of
 * the registered connector failed (Debezium fails its task when its slot is gone). A connector
 * just applied (slot not made yet) or stopped after cutover (its slot dropped on purpose) is not
 * a loss. Nothing but a re-snapshot repairs a loss.
 */
export function isSlotLost(status: Pick<MigrationStatus, 'connector' | 'slot'>): boolean {
  const { slot, connector } = status;
  if (slot.lost !== undefined) return true;
  return (
    slot.error === undefined &&
    !slot.exists &&
    connector.state !== null &&
    connector.tasks.some((t) => t.state === 'FAILED')
  );
}

/** No part could be read at all (every service unreachable): the status says nothing. */
export function isNothingRead(status: MigrationStatus): boolean {
  return (
    status.connector.error !== undefined &&
    status.slot.error !== undefined &&
    status.consumer.error !== undefined &&
    status.consumer.partitions.length === 0 &&
    status.tablesError !== undefined &&
    (status.pgferry ?? []).every((p) => p.error !== undefined)
  );
}

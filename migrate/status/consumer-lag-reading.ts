// The consumer part of `pgferry status`: per partition, Kafka's end offset against the offset
// applied in the target (committed with the rows); Kafka's own commits when the target is down.
import type {
  ConsumerPart,
  KafkaReading,
  PartitionLag,
  Settled,
  TargetReading,
} from './migration-status-types.js';
import { partitionKey } from './target-reading.js';

/** lag = end − applied; nothing applied (or applied below the log start) counts from the log start. */
export function computePartitionLag(end: string, applied: string | null, low: string): number {
  const high = BigInt(end);
  const start = BigInt(low);
  const at = applied !== null && BigInt(applied) > start ? BigInt(applied) : start;
  return high > at ? Number(high - at) : 0;
}

export function buildConsumerPart(
  groupId: string,
  kafka: Settled<KafkaReading>,
  target: Settled<TargetReading>,
): ConsumerPart {
  if (kafka.value === undefined) {
    return { groupId, totalLag: 0, partitions: [], error: kafka.error as string };
  }
  const applied = target.value?.applied;
  const partitions: PartitionLag[] = [];
  for (const t of kafka.value.topics) {
    for (const p of t.partitions) {
      const appliedOffset = applied?.get(partitionKey(t.topic, p.partition)) ?? null;
      const committedOffset = kafka.value.committed.get(t.topic)?.get(p.partition) ?? null;
      // Without the target, Kafka's committed offsets are the best estimate (they trail it).
      const at = applied === undefined ? committedOffset : appliedOffset;
      partitions.push({
        topic: t.topic,
        partition: p.partition,
        endOffset: p.high,
        appliedOffset,
        committedOffset,
        lag: computePartitionLag(p.high, at, p.low),
      });
    }
  }
  return {
    groupId,
    totalLag: partitions.reduce((n, p) => n + p.lag, 0),
    partitions,
    ...(target.error === undefined
      ? {}
      : {
          error: `applied offsets unreadable, lag from Kafka's committed offsets (${target.error})`,
        }),
  };
}

// Consumer-group lag per partition, as `kafka-consumer-groups` shows it: the partition's high
// watermark minus the group's committed offset (pgferry commits to Kafka right after the target).
import type { Kafka } from 'kafkajs';
import type { Logger } from '../../core/logger.js';
import type { PgferryMetrics } from '../../core/metrics.js';
import { startPoller } from '../poller.js';

export function computeLag(high: string, committed: string | undefined, low: string): number {
  const end = BigInt(high);
  // No committed offset yet (-1) or a reset sentinel (-2): everything from the log start is due.
  const at = committed !== undefined && BigInt(committed) >= 0n ? BigInt(committed) : BigInt(low);
  return end > at ? Number(end - at) : 0;
}

export async function measureConsumerLag(
  kafka: Kafka,
  groupId: string,
  topics: readonly string[],
  metrics: PgferryMetrics,
): Promise<void> {
  if (topics.length === 0) return;
  const admin = kafka.admin();
  await admin.connect();
  try {
    const committed = await admin.fetchOffsets({ groupId, topics: [...topics] });
    for (const topic of topics) {
      const ends = await admin.fetchTopicOffsets(topic);
      const mine = committed.find((c) => c.topic === topic);
      for (const end of ends) {
        const c = mine?.partitions.find((p) => p.partition === end.partition);
        metrics.consumerLag.set(
          { topic, partition: String(end.partition) },
          computeLag(end.high, c?.offset, end.low),
        );
      }
    }
  } finally {
    await admin.disconnect();
  }
}

/** Polls until stopped; failures are logged, never fatal (the pipeline does not depend on it). */
export function startConsumerLagMonitor(options: {
  kafka: Kafka;
  groupId: string;
  topics: () => readonly string[];
  metrics: PgferryMetrics;
  log: Logger;
  intervalMs: number;
}): () => void {
  const tick = async () => {
    try {
      await measureConsumerLag(options.kafka, options.groupId, options.topics(), options.metrics);
    } catch (error) {
      options.log.debug({ err: (error as Error).message }, 'consumer lag measurement failed');
    }
  };
  return startPoller(tick, { intervalMs: options.intervalMs, firstDelayMs: 1000 });
}

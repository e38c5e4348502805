// The dead-letter part of `pgferry status`: which dead-letter topics belong to the pipeline (one
// per topic, or the shared DLQ_TOPIC) and how many messages each holds.
import type { PgferryConfig } from '../../core/config.js';
import { dlqTopicFor } from '../../sink/dlq-producer.js';
import { computePartitionLag } from './consumer-lag-reading.js';
import type { DlqPart, KafkaReading, Settled, TopicOffsets } from './migration-status-types.js';

/** The dead-letter topics of these pipeline topics (whether they exist or not). */
export function dlqTopicNames(config: PgferryConfig, pipelineTopics: readonly string[]): string[] {
  const shared = config.dlq.topic;
  return shared !== undefined ? [shared] : pipelineTopics.map((t) => dlqTopicFor(t));
}

/** Messages a topic holds: high − low watermark, summed over its partitions. */
export function countTopicMessages(offsets: TopicOffsets): number {
  return offsets.partitions.reduce((n, p) => n + computePartitionLag(p.high, null, p.low), 0);
}

export function buildDlqPart(config: PgferryConfig, kafka: Settled<KafkaReading>): DlqPart {
  const topics = kafka.value?.dlq ?? [];
  return {
    sharedTopic: config.dlq.topic ?? null,
    topics,
    total: topics.reduce((n, t) => n + t.messages, 0),
    ...(kafka.error === undefined ? {} : { error: kafka.error }),
  };
}

// One Kafka admin connection for `pgferry status`: the pipeline's topics with their end offsets,
// the consumer group's committed offsets, and the message counts of the dead-letter topics.
import type { Admin } from 'kafkajs';
import type { PgferryConfig } from '../../core/config.js';
import { createKafka } from '../../core/kafka-client.js';
import type { Logger } from '../../core/logger.js';
import {
  isDeadLetterOrInternalTopic,
  selectConsumedTopics,
} from '../../pipeline/routing/topic-admission.js';
import { countTopicMessages, dlqTopicNames } from './dlq-reading.js';
import type { KafkaReading, TopicOffsets } from './migration-status-types.js';
import { readPipelineRouting } from './topic-routing.js';

/**
 * The runner's rule: topics matching KAFKA_TOPIC_PATTERN, except dead-letter and internal ones and
 * those whose table `run` does not write (TABLES_INCLUDE/EXCLUDE, pgferry's bookkeeping schema).
 */
export function selectPipelineTopics(all: readonly string[], config: PgferryConfig): string[] {
  const matching = all.filter((t) => config.kafka.topicPattern.test(t));
  const routing = readPipelineRouting(config);
  const consumed = routing
    ? selectConsumedTopics(matching, routing, config.dlq.topic)
    : matching.filter((t) => !isDeadLetterOrInternalTopic(t, config.dlq.topic));
  return consumed.sort();
}

export async function readKafka(config: PgferryConfig, log: Logger): Promise<KafkaReading> {
  const kafka = createKafka(config.kafka, log, {
    retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 2_000 },
    connectionTimeout: 3_000,
    requestTimeout: 10_000,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const all = await admin.listTopics();
    const names = selectPipelineTopics(all, config);
    const topics = await Promise.all(names.map((topic) => readTopicOffsets(admin, topic)));
    const committed = new Map<string, Map<number, string>>();
    if (names.length > 0) {
      const fetched = await admin.fetchOffsets({ groupId: config.kafka.groupId, topics: names });
      for (const t of fetched) {
        const byPartition = new Map<number, string>();
        for (const p of t.partitions)
          if (BigInt(p.offset) >= 0n) byPartition.set(p.partition, p.offset);
        committed.set(t.topic, byPartition);
      }
    }
    const existing = new Set(all);
    const dlq = await Promise.all(
      dlqTopicNames(config, names)
        .filter((t) => existing.has(t))
        .map(async (topic) => ({
          topic,
          messages: countTopicMessages(await readTopicOffsets(admin, topic)),
        })),
    );
    return { topics, committed, dlq };
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

async function readTopicOffsets(admin: Admin, topic: string): Promise<TopicOffsets> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return {
    topic,
    partitions: offsets
      .map((o) => ({ partition: o.partition, high: o.high, low: o.low }))
      .sort((a, b) => a.partition - b.partition),
  };
}

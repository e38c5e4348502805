// Topic ends and consumer-group offsets, read with kafkajs' admin client: how the benchmark knows
// a topic is complete and when a consumer (pgferry's target offsets aside) has read all of it.
import { type Consumer, Kafka, type KafkaMessage, logLevel } from 'kafkajs';
import type { KafkaRecord } from '../pipeline/source/kafka-record.js';

export function createBenchKafka(brokers: string, clientId: string): Kafka {
  return new Kafka({ clientId, brokers: brokers.split(','), logLevel: logLevel.NOTHING });
}

/**
 * Bytes per fetch of the bench's own consumers (client ceiling, sink replay): pgferry's default
 * BATCH_MAX_BYTES. pgferry itself fetches a quarter of it (pipeline/source/kafka-source.ts fetchBytes).
 */
export const BENCH_FETCH_BYTES = 16 * 1024 * 1024;

export function createBenchConsumer(kafka: Kafka, groupId: string): Consumer {
  return kafka.consumer({
    groupId,
    maxBytes: BENCH_FETCH_BYTES,
    maxBytesPerPartition: BENCH_FETCH_BYTES,
    maxWaitTimeInMs: 1000,
    allowAutoTopicCreation: false,
  });
}

/** A fetched message as the pipeline's record. */
export function benchRecord(topic: string, partition: number, message: KafkaMessage): KafkaRecord {
  return {
    topic,
    partition,
    offset: message.offset,
    key: message.key,
    value: message.value,
    headers: {},
    timestamp: message.timestamp,
  };
}

/**
 * Tells when a consumer has read every non-empty partition to its end: call it with each
 * partition's last offset read; true once all are done.
 */
export function endTracker(
  ends: Map<string, Map<number, bigint>>,
): (topic: string, partition: number, lastOffset: string | undefined) => boolean {
  const remaining = new Map<string, bigint>();
  for (const [t, parts] of ends)
    for (const [p, end] of parts) if (end > 0n) remaining.set(`${t}/${p}`, end);
  return (topic, partition, lastOffset) => {
    const id = `${topic}/${partition}`;
    if (lastOffset !== undefined && BigInt(lastOffset) + 1n >= (remaining.get(id) ?? 0n))
      remaining.delete(id);
    return remaining.size === 0;
  };
}

/** Creates topics (the broker's default partitions and replication) that do not exist yet. */
export async function createTopics(kafka: Kafka, topics: readonly string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: topics.map((topic) => ({ topic })), waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

/** Partition -> end offset (the next offset to be written) of each topic. */
export async function readTopicEnds(
  kafka: Kafka,
  topics: readonly string[],
): Promise<Map<string, Map<number, bigint>>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends = new Map<string, Map<number, bigint>>();
    for (const topic of topics) {
      const offsets = await admin.fetchTopicOffsets(topic).catch(() => []);
      ends.set(topic, new Map(offsets.map((o) => [o.partition, BigInt(o.high)])));
    }
    return ends;
  } finally {
    await admin.disconnect();
  }
}

export function sumEnds(ends: Map<string, Map<number, bigint>>, topic: string): bigint {
  let total = 0n;
  for (const end of ends.get(topic)?.values() ?? []) total += end;
  return total;
}

/** Committed offsets of a consumer group (Kafka's, e.g. a Connect sink's `connect-<name>`). */
export async function readGroupOffsets(
  kafka: Kafka,
  groupId: string,
  topics: readonly string[],
): Promise<Map<string, Map<number, bigint>>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const result = await admin.fetchOffsets({ groupId, topics: [...topics] });
    return new Map(
      result.map((t) => [
        t.topic,
        new Map(t.partitions.map((p) => [p.partition, BigInt(p.offset === '-1' ? 0 : p.offset)])),
      ]),
    );
  } finally {
    await admin.disconnect();
  }
}

/** True when every partition of every topic has `offsets` at (or past) its end. */
export function reachedEnds(
  ends: Map<string, Map<number, bigint>>,
  offsets: Map<string, Map<number, bigint>>,
): boolean {
  for (const [topic, partitions] of ends) {
    for (const [partition, end] of partitions) {
      if (end === 0n) continue;
      if ((offsets.get(topic)?.get(partition) ?? 0n) < end) return false;
    }
  }
  return true;
}

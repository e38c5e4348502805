// Topic ends and consumer-group offsets, read with kafkajs' admin client: how the benchmark knows
// a topic is complete and when a consumer (pgferry's target offsets aside) has read all of it.
import { Kafka, logLevel } from 'kafkajs';

export function createBenchKafka(brokers: string, clientId: string): Kafka {
  return new Kafka({ clientId, brokers: brokers.split(','), logLevel: logLevel.NOTHING });
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

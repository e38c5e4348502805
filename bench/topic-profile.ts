// What a bench topic holds, per table: its partitions, messages, tombstones and the average bytes
// of a change message (key and value as Kafka stores them, Avro with the registry frame). Read once
// from Kafka, untimed, so the JSON says how wide the rows of a race were.

import type { BenchSettings } from './bench-settings.js';
import type { BenchTopic, TopicProfile } from './bench-topic.js';
import { createBenchConsumer, createBenchKafka, endTracker } from './kafka-topics.js';
import { round } from './round.js';

/**
 * The profile, and per partition the offset after its last change event (tombstones after it
 * are not changes): what a sink that drops tombstones commits at the most.
 */
export async function profileTopic(
  settings: BenchSettings,
  topic: BenchTopic,
): Promise<{ profile: TopicProfile; changeEnds: Map<string, Map<number, bigint>> }> {
  const changeEnds = new Map<string, Map<number, bigint>>(
    topic.topics.map((t) => [t, new Map<number, bigint>()]),
  );
  const tableOf = new Map(topic.tables.map((t) => [`${topic.prefix}.public.${t.name}`, t.name]));
  const sums = new Map<
    string,
    { messages: number; tombstones: number; key: number; value: number }
  >();
  for (const name of tableOf.values())
    sums.set(name, { messages: 0, tombstones: 0, key: 0, value: 0 });
  const kafka = createBenchKafka(settings.stack.kafkaBootstrap, 'pgferry-bench-profile');
  const consumer = createBenchConsumer(kafka, `${settings.runId}-profile-${topic.prefix}`);
  const readTo = endTracker(topic.ends);
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: topic.topics, fromBeginning: true });
    if (topic.messages > 0) {
      await new Promise<void>((resolve, reject) => {
        consumer
          .run({
            autoCommit: false,
            eachBatch: async ({ batch }) => {
              const sum = sums.get(tableOf.get(batch.topic) ?? '');
              if (sum) {
                for (const m of batch.messages) {
                  if (m.value === null) {
                    sum.tombstones += 1;
                    continue;
                  }
                  sum.messages += 1;
                  changeEnds.get(batch.topic)?.set(batch.partition, BigInt(m.offset) + 1n);
                  sum.key += m.key?.length ?? 0;
                  sum.value += m.value.length;
                }
              }
              if (readTo(batch.topic, batch.partition, batch.messages.at(-1)?.offset)) resolve();
            },
          })
          .catch(reject);
      });
    }
  } finally {
    // Its group goes with the run's cleanup (named after the run id).
    await consumer.disconnect().catch(() => undefined);
  }
  const profile: TopicProfile = {};
  for (const [topicName, table] of tableOf) {
    const sum = sums.get(table) as {
      messages: number;
      tombstones: number;
      key: number;
      value: number;
    };
    profile[table] = {
      partitions: topic.ends.get(topicName)?.size ?? 0,
      messages: sum.messages,
      tombstones: sum.tombstones,
      avgKeyBytes: sum.messages > 0 ? round(sum.key / sum.messages, 1) : 0,
      avgValueBytes: sum.messages > 0 ? round(sum.value / sum.messages, 1) : 0,
    };
  }
  return { profile, changeEnds };
}

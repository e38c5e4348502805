// Paced mode's second probe: when each change reached Kafka. Debezium leaves the record timestamp
// to the producer (CreateTime = when Connect sent it), so with the writer's source commit times
// it splits the end-to-end lag: capture (source commit -> Kafka, Debezium's part) and the rest
// (Kafka -> target commit, pgferry's part). Values are not decoded: the key (Avro, one long `id`)
// says which row, and a row's changes are in its partition in commit order.
import type { Consumer } from 'kafkajs';
import { createBenchKafka } from './kafka-topics.js';

/** The `id` of a Confluent-framed Avro key {id: long}: a zigzag varint after 5 header bytes. */
export function readKeyId(key: Buffer): number {
  let shift = 0n;
  let value = 0n;
  for (let i = 5; i < key.length; i++) {
    const byte = BigInt(key[i] as number);
    value |= (byte & 0x7fn) << shift;
    if ((byte & 0x80n) === 0n) break;
    shift += 7n;
  }
  return Number((value >> 1n) ^ -(value & 1n));
}

export class KafkaArrivalWatcher {
  /** Per key, the Kafka timestamp of each change event (tombstones skipped), in order. */
  readonly arrivals = new Map<number, number[]>();

  private constructor(private readonly consumer: Consumer) {}

  static async start(
    brokers: string,
    groupId: string,
    topic: string,
  ): Promise<KafkaArrivalWatcher> {
    const consumer = createBenchKafka(brokers, 'pgferry-bench-arrival').consumer({
      groupId,
      maxWaitTimeInMs: 100,
    });
    const watcher = new KafkaArrivalWatcher(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          if (!m.key || !m.value || m.value.length === 0) continue;
          const id = readKeyId(m.key);
          const list = watcher.arrivals.get(id);
          if (list) list.push(Number(m.timestamp));
          else watcher.arrivals.set(id, [Number(m.timestamp)]);
        }
      },
    });
    return watcher;
  }

  /** Capture lags (Kafka time - source commit time) of the changes committed in [from, to]. */
  captureLags(commitTimes: Map<number, number[]>, fromMs: number, toMs: number): number[] {
    const lags: number[] = [];
    for (const [id, commits] of commitTimes) {
      const arrivals = this.arrivals.get(id);
      if (!arrivals) continue;
      commits.forEach((committedAtMs, k) => {
        const arrivedAtMs = arrivals[k];
        if (arrivedAtMs !== undefined && committedAtMs >= fromMs && committedAtMs <= toMs) {
          lags.push(arrivedAtMs - committedAtMs);
        }
      });
    }
    return lags.sort((a, b) => a - b);
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect().catch(() => undefined);
  }
}

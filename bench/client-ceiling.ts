// Client ceiling: kafkajs + Avro decode of the same topic to nothing (no database), with
// pipeline/'s decode processor and registry lookup, in this process: the most pgferry's client
// side could reach on this machine with this stack of libraries.

import { createLogger } from '../core/logger.js';
import { RegistrySchemaLookup } from '../pipeline/codec/schema-lookup.js';
import { createDecodeProcessor } from '../pipeline/processors/decode-processor.js';
import type { BenchSettings } from './bench-settings.js';
import type { BenchTopic } from './bench-topic.js';
import { benchRecord, createBenchConsumer, createBenchKafka, endTracker } from './kafka-topics.js';

export interface CeilingResult {
  seconds: number;
  messages: number;
  /** Decoded change events (tombstones excluded). */
  events: number;
  cpuSeconds: number;
}

export async function runClientCeiling(
  settings: BenchSettings,
  topic: BenchTopic,
): Promise<CeilingResult> {
  const kafka = createBenchKafka(settings.stack.kafkaBootstrap, 'pgferry-bench-ceiling');
  const lookup = new RegistrySchemaLookup({ url: settings.stack.schemaRegistryUrl });
  const decode = createDecodeProcessor(lookup);
  const ctx = { log: createLogger('silent') };
  const consumer = createBenchConsumer(kafka, `${settings.runId}-ceiling`);
  const readTo = endTracker(topic.ends);
  let messages = 0;
  let events = 0;
  const cpuStart = process.cpuUsage();
  const started = performance.now();
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: topic.topics, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            for (const m of batch.messages) {
              const [decoded] = await decode.process(
                benchRecord(batch.topic, batch.partition, m),
                ctx,
              );
              messages += 1;
              if (decoded?.value) events += 1;
            }
            if (readTo(batch.topic, batch.partition, batch.messages.at(-1)?.offset)) resolve();
          },
        })
        .catch(reject);
    });
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuStart);
    return { seconds, messages, events, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
}

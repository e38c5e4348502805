// pgferry's own pipeline in this process, with its stages timed apart: kafkajs fetches the topic
// in per-partition chunks of BENCH_BATCH_SIZE records (as pgferry's source does), the topology
// (decode -> transform -> dedupe, cli/run-pipeline.ts) turns each chunk into row changes, and
// sink/postgres-sink.ts writes it (COPY + merge + offsets, one transaction). The sink's seconds
// alone give pgferry's apply rate with Kafka and decoding removed; the topology's, the client
// side's cost. For the profiling half of issue 8, not a figure the issue asks for.
import { type KafkaRecord, recordSize } from '../pipeline/source/kafka-record.js';
import type { BenchSettings } from './bench-settings.js';
import type { BenchTopic } from './bench-topic.js';
import { assertNothingRejected, openInProcessPipeline } from './in-process-pipeline.js';
import {
  BENCH_FETCH_BYTES,
  benchRecord,
  createBenchConsumer,
  createBenchKafka,
  endTracker,
} from './kafka-topics.js';
import { readTargetBackendCpu } from './target-backend-cpu.js';

export interface SinkReplayResult {
  database: string;
  targetUrl: string;
  /** Consumer start to the last chunk written. */
  wallSeconds: number;
  topologySeconds: number;
  /** Per processor (decode, transform, dedupe). */
  stageSeconds: Record<string, number>;
  sinkSeconds: number;
  /** Inside the sink: COPY, merge statements, COMMIT. */
  sinkStageSeconds: { copy: number; merge: number; commit: number };
  chunks: number;
  changesWritten: number;
  targetCpuSeconds: number;
}

export async function runSinkReplay(
  settings: BenchSettings,
  topic: BenchTopic,
): Promise<SinkReplayResult> {
  const { stack } = settings;
  const { database, targetUrl, sink, prepareChunk } = await openInProcessPipeline(
    settings,
    topic,
    'replay',
  );
  const groupId = `${settings.runId}-replay`;
  const kafka = createBenchKafka(stack.kafkaBootstrap, 'pgferry-bench-replay');
  const consumer = createBenchConsumer(kafka, groupId);
  const readTo = endTracker(topic.ends);
  const result: SinkReplayResult = {
    database,
    targetUrl,
    wallSeconds: 0,
    topologySeconds: 0,
    stageSeconds: {},
    sinkSeconds: 0,
    sinkStageSeconds: { copy: 0, merge: 0, commit: 0 },
    chunks: 0,
    changesWritten: 0,
    targetCpuSeconds: 0,
  };
  const writeChunk = async (records: KafkaRecord[]) => {
    const t0 = performance.now();
    const { batch, stageMs } = await prepareChunk(groupId, records);
    const t1 = performance.now();
    const written = await sink.writeBatch(batch);
    const t2 = performance.now();
    assertNothingRejected(written);
    result.topologySeconds += (t1 - t0) / 1000;
    for (const [stage, ms] of Object.entries(stageMs))
      result.stageSeconds[stage] = (result.stageSeconds[stage] ?? 0) + ms / 1000;
    result.sinkSeconds += (t2 - t1) / 1000;
    result.sinkStageSeconds.copy += written.timingsMs.copy / 1000;
    result.sinkStageSeconds.merge += written.timingsMs.merge / 1000;
    result.sinkStageSeconds.commit += written.timingsMs.commit / 1000;
    result.chunks += 1;
    result.changesWritten += written.applied;
  };
  const started = performance.now();
  await sink.start();
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: topic.topics, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch, heartbeat }) => {
            try {
              let chunk: KafkaRecord[] = [];
              let bytes = 0;
              for (const m of batch.messages) {
                const record = benchRecord(batch.topic, batch.partition, m);
                chunk.push(record);
                bytes += recordSize(record);
                if (chunk.length >= settings.batchSize || bytes >= BENCH_FETCH_BYTES) {
                  await writeChunk(chunk);
                  await heartbeat();
                  chunk = [];
                  bytes = 0;
                }
              }
              if (chunk.length > 0) await writeChunk(chunk);
              if (readTo(batch.topic, batch.partition, batch.messages.at(-1)?.offset)) resolve();
            } catch (error) {
              reject(error);
              throw error;
            }
          },
        })
        .catch(reject);
    });
    result.wallSeconds = (performance.now() - started) / 1000;
    result.targetCpuSeconds = await readTargetBackendCpu(stack, database);
    return result;
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await sink.stop();
  }
}

// The apply floor: everything pgferry's apply must do to the database for the topic's changes,
// and nothing else. Untimed, the topic is fetched as `pgferry run` fetches it (the same fetch and
// per-partition byte limits for its APPLY_CONCURRENCY) and cut into chunks by pgferry's own
// cutIntoChunks (BATCH_SIZE records, BATCH_MAX_BYTES), and each chunk goes through the topology
// (decode -> transform -> dedupe) to the row changes the drain would hand the sink. Timed alone,
// sink/postgres-sink.ts writes them: per chunk COPY of every change, the position guard, the
// merge, the offsets row and bookkeeping, COMMIT; chunks of one partition in order, up to
// APPLY_CONCURRENCY partitions at once on the sink's pool of sessions, as the drain applies them.
// The changes are prepared a window at a time (memory stays bounded on a large topic), then that
// window is applied; only the applies are timed.
import { SETTINGS } from '../core/config/settings-table.js';
import type { ChangeBatch } from '../pipeline/ports.js';
import {
  cutIntoChunks,
  fetchBytes,
  fetchBytesPerPartition,
} from '../pipeline/source/fetch-chunks.js';
import type { BenchSettings } from './bench-settings.js';
import type { BenchTopic } from './bench-topic.js';
import { assertNothingRejected, openInProcessPipeline } from './in-process-pipeline.js';
import { createBenchKafka, endTracker } from './kafka-topics.js';
import { readTargetBackendCpu } from './target-backend-cpu.js';

/** Records prepared before a window is applied: ~100-200 MB of row changes on the standard mix. */
const WINDOW_RECORDS = 100_000;

export interface ApplyFloorResult {
  database: string;
  targetUrl: string;
  /** The applies only (wall time, windows summed). */
  seconds: number;
  concurrency: number;
  chunks: number;
  /** Row changes handed to the sink (after dedupe). */
  changes: number;
  windows: number;
  /** Inside the sink, summed over its sessions (they overlap when concurrency > 1). */
  sinkStageSeconds: { copy: number; merge: number; commit: number };
  /** Untimed: fetching and the topology. */
  prepareSeconds: number;
  /** This process's CPU during the applies: pgferry's sink code (COPY encoding, the driver). */
  cpuSeconds: number;
  targetCpuSeconds: number;
}

/** pgferry's defaults, as the drain runs with them. */
export const DEFAULT_BATCH_MAX_BYTES = Number(SETTINGS.BATCH_MAX_BYTES.default);
export const DEFAULT_APPLY_CONCURRENCY = Number(SETTINGS.APPLY_CONCURRENCY.default);

/**
 * Applies each lane's batches in order, up to `concurrency` lanes at once: a free slot takes the
 * next lane (round robin) that has batches and none in flight, as the drain's partitions do.
 */
export async function applyLanes<T>(
  lanes: T[][],
  concurrency: number,
  apply: (item: T) => Promise<void>,
): Promise<void> {
  const busy = new Set<number>();
  const inFlight = new Set<Promise<void>>();
  let cursor = 0;
  const pickLane = (): number => {
    for (let i = 0; i < lanes.length; i++) {
      const k = (cursor + i) % lanes.length;
      if (!busy.has(k) && (lanes[k]?.length ?? 0) > 0) {
        cursor = k + 1;
        return k;
      }
    }
    return -1;
  };
  for (;;) {
    while (inFlight.size < concurrency) {
      const k = pickLane();
      if (k < 0) break;
      busy.add(k);
      const item = (lanes[k] as T[]).shift() as T;
      const work: Promise<void> = apply(item).finally(() => {
        busy.delete(k);
        inFlight.delete(work);
      });
      // Rejections surface through the race below; the others must not go unhandled meanwhile.
      work.catch(() => undefined);
      inFlight.add(work);
    }
    if (inFlight.size === 0) return;
    await Promise.race(inFlight);
  }
}

export async function runApplyFloor(
  settings: BenchSettings,
  topic: BenchTopic,
  concurrency: number,
): Promise<ApplyFloorResult> {
  const { stack } = settings;
  const { database, targetUrl, sink, prepareChunk } = await openInProcessPipeline(
    settings,
    topic,
    'applyfloor',
    concurrency,
  );
  const groupId = `${settings.runId}-applyfloor`;
  const kafka = createBenchKafka(stack.kafkaBootstrap, 'pgferry-bench-apply-floor');
  const consumer = kafka.consumer({
    groupId,
    maxBytes: fetchBytes(DEFAULT_BATCH_MAX_BYTES),
    maxBytesPerPartition: fetchBytesPerPartition(DEFAULT_BATCH_MAX_BYTES, concurrency),
    maxWaitTimeInMs: 1000,
    allowAutoTopicCreation: false,
  });
  const readTo = endTracker(topic.ends);
  const result: ApplyFloorResult = {
    database,
    targetUrl,
    seconds: 0,
    concurrency,
    chunks: 0,
    changes: 0,
    windows: 0,
    sinkStageSeconds: { copy: 0, merge: 0, commit: 0 },
    prepareSeconds: 0,
    cpuSeconds: 0,
    targetCpuSeconds: 0,
  };
  const lanes = new Map<string, ChangeBatch[]>();
  let pending = 0;
  const applyWindow = async () => {
    if (pending === 0) return;
    const work = [...lanes.values()];
    lanes.clear();
    pending = 0;
    const cpu = process.cpuUsage();
    const started = performance.now();
    await applyLanes(work, concurrency, async (batch) => {
      const written = await sink.writeBatch(batch);
      assertNothingRejected(written);
      result.sinkStageSeconds.copy += written.timingsMs.copy / 1000;
      result.sinkStageSeconds.merge += written.timingsMs.merge / 1000;
      result.sinkStageSeconds.commit += written.timingsMs.commit / 1000;
      result.changes += written.applied;
    });
    result.seconds += (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    result.cpuSeconds += (used.user + used.system) / 1e6;
    result.windows += 1;
  };
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
              const prepareStart = performance.now();
              const chunks = cutIntoChunks(batch.topic, batch.partition, batch.messages, {
                maxRows: settings.batchSize,
                maxBytes: DEFAULT_BATCH_MAX_BYTES,
              });
              const lane = `${batch.topic}/${batch.partition}`;
              for (const records of chunks) {
                const { batch: prepared } = await prepareChunk(groupId, records);
                const queue = lanes.get(lane) ?? [];
                lanes.set(lane, queue);
                queue.push(prepared);
                pending += records.length;
                result.chunks += 1;
              }
              result.prepareSeconds += (performance.now() - prepareStart) / 1000;
              if (pending >= WINDOW_RECORDS) {
                await applyWindow();
                await heartbeat();
              }
              if (readTo(batch.topic, batch.partition, batch.messages.at(-1)?.offset)) resolve();
            } catch (error) {
              reject(error);
              throw error;
            }
          },
        })
        .catch(reject);
    });
    await consumer.disconnect().catch(() => undefined);
    await applyWindow();
    result.targetCpuSeconds = await readTargetBackendCpu(stack, database);
    return result;
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await sink.stop();
  }
}

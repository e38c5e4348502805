// pgferry drain: the built `pgferry run` (a child process, its own consumer group) applies the
// pre-filled topic into an empty target database; done when the offsets stored in the target
// (pgferry.offsets, written in the same transaction as the rows) reach the topic ends.
import pg from 'pg';
import type { BenchSettings } from './bench-settings.js';
import { type BenchTopic, topicPattern } from './bench-topic.js';
import { createBenchKafka, reachedEnds, readGroupOffsets } from './kafka-topics.js';
import { type PgferryChild, startPgferryChild } from './pgferry-child.js';
import { type ProcessStats, sampleProcess } from './process-stats.js';
import { readTargetBackendCpu } from './target-backend-cpu.js';
import { createTargetDatabase } from './target-database.js';

export interface DrainResult {
  database: string;
  targetUrl: string;
  seconds: number;
  /** Seconds from spawn until /healthz answered (included in `seconds`). */
  startupSeconds: number;
  stats: ProcessStats | undefined;
  logFile: string;
  /** Seconds from spawn until the first batch was committed in the target (startup + group join). */
  firstCommitSeconds: number | undefined;
  /** CPU seconds of the target backends pgferry was connected with at the end. */
  targetCpuSeconds: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function readStoredOffsets(
  client: pg.Client,
  groupId: string,
): Promise<Map<string, Map<number, bigint>>> {
  const result = await client
    .query<{ topic: string; partition: number; next_offset: string }>(
      'SELECT topic, partition, next_offset FROM pgferry.offsets WHERE group_id = $1',
      [groupId],
    )
    .catch(() => ({ rows: [] as { topic: string; partition: number; next_offset: string }[] }));
  const offsets = new Map<string, Map<number, bigint>>();
  for (const r of result.rows) {
    const topic = offsets.get(r.topic) ?? new Map<number, bigint>();
    offsets.set(r.topic, topic);
    topic.set(r.partition, BigInt(r.next_offset));
  }
  return offsets;
}

/** Per partition the furthest of the target's stored offset and Kafka's committed one. */
function furthest(
  a: Map<string, Map<number, bigint>>,
  b: Map<string, Map<number, bigint>>,
): Map<string, Map<number, bigint>> {
  const result = new Map<string, Map<number, bigint>>();
  for (const source of [a, b]) {
    for (const [topic, partitions] of source) {
      const merged = result.get(topic) ?? new Map<number, bigint>();
      result.set(topic, merged);
      for (const [p, o] of partitions)
        merged.set(p, o > (merged.get(p) ?? 0n) ? o : (merged.get(p) ?? 0n));
    }
  }
  return result;
}

export interface DrainOptions {
  /** Names the phase's database, group and log (`<run id>_<label>`): unique in the run. */
  label: string;
  /** Another build's bin/pgferry.js (the baseline phase). */
  bin?: string;
  /** pgferry processes in the one consumer group (scale-out: the partitions are shared out). */
  processes?: number;
  /** APPLY_CONCURRENCY of the children; unset: pgferry's default. */
  applyConcurrency?: number;
}

export async function runPgferryDrain(
  settings: BenchSettings,
  topic: BenchTopic,
  log: (line: string) => void,
  options: DrainOptions,
): Promise<DrainResult> {
  const { stack } = settings;
  const { label: name, bin: baselineBin, processes = 1 } = options;
  const database = `${settings.runId}_${name}`;
  const targetUrl = await createTargetDatabase(stack, database, topic.tables);
  const groupId = `${settings.runId}-${name}`;
  const db = new pg.Client({ connectionString: targetUrl });
  await db.connect();
  const kafka = createBenchKafka(stack.kafkaBootstrap, 'pgferry-bench-drain');
  const started = performance.now();
  const children: PgferryChild[] = [];
  // All at once: they join the group together instead of each joining a running one (a rebalance
  // that stops every member while it lasts).
  const starting = Array.from({ length: processes }, (_, i) =>
    startPgferryChild(settings, {
      name: processes > 1 ? `${name}-${i + 1}` : name,
      database,
      groupId,
      topicPattern: topicPattern(topic),
      connectorName: `${topic.prefix}-source`,
      ...(baselineBin ? { bin: baselineBin } : {}),
      ...(options.applyConcurrency === undefined
        ? {}
        : { env: { APPLY_CONCURRENCY: String(options.applyConcurrency) } }),
    }).then((child) => {
      children.push(child);
      return child;
    }),
  );
  const outcomes = await Promise.allSettled(starting);
  const failed = outcomes.find((o) => o.status === 'rejected');
  if (failed) {
    await Promise.all(children.map((c) => c.stop()));
    await db.end();
    throw (failed as PromiseRejectedResult).reason;
  }
  const pgferry = children[0] as PgferryChild;
  const { logFile, startupSeconds } = pgferry;
  const samplers = children.map((c) => sampleProcess(c.child.pid as number));
  const sampleAll = (): ProcessStats | undefined => {
    const all = samplers.map((s) => s.stop());
    if (all.some((s) => s === undefined)) return undefined;
    const stats = all as ProcessStats[];
    // CPU of all the processes; memory of the largest (each process is bounded on its own).
    return {
      cpuSeconds: stats.reduce((n, s) => n + s.cpuSeconds, 0),
      cpuSecondsAtStart: stats.reduce((n, s) => n + (s.cpuSecondsAtStart ?? 0), 0),
      rssBytes: Math.max(...stats.map((s) => s.rssBytes)),
      peakRssBytes: Math.max(...stats.map((s) => s.peakRssBytes)),
    };
  };
  try {
    const deadline = Date.now() + settings.drainTimeoutMs;
    let kafkaOffsets = new Map<string, Map<number, bigint>>();
    let lastKafkaPoll = 0;
    let lastLog = Date.now();
    let firstCommitSeconds: number | undefined;
    for (;;) {
      const stored = await readStoredOffsets(db, groupId);
      if (firstCommitSeconds === undefined && stored.size > 0)
        firstCommitSeconds = (performance.now() - started) / 1000;
      if (Date.now() - lastKafkaPoll > 2000) {
        lastKafkaPoll = Date.now();
        kafkaOffsets = await readGroupOffsets(kafka, groupId, topic.topics).catch(
          () => kafkaOffsets,
        );
      }
      if (reachedEnds(topic.ends, furthest(stored, kafkaOffsets))) break;
      const exited = children.find((c) => c.child.exitCode !== null);
      if (exited)
        throw new Error(`pgferry exited (${exited.child.exitCode}); see ${exited.logFile}`);
      if (Date.now() > deadline)
        throw new Error(`pgferry did not drain the topic in time; see ${logFile}`);
      if (Date.now() - lastLog > 15_000) {
        lastLog = Date.now();
        let n = 0n;
        for (const parts of stored.values()) for (const o of parts.values()) n += o;
        log(`  pgferry: ${n} of ${topic.messages} messages applied`);
      }
      await sleep(100);
    }
    const seconds = (performance.now() - started) / 1000;
    const stats = sampleAll();
    // Where the batches' time went, for a post-mortem (pgferry_stage_duration_seconds, ...).
    await Promise.all(children.map((c) => c.saveMetrics()));
    const targetCpuSeconds = await readTargetBackendCpu(stack, database);
    return {
      database,
      targetUrl,
      seconds,
      startupSeconds,
      stats,
      logFile,
      firstCommitSeconds,
      targetCpuSeconds,
    };
  } finally {
    sampleAll();
    await Promise.all(children.map((c) => c.stop()));
    await db.end();
  }
}

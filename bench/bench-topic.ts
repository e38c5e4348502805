// Makes the benchmark's topic: the real Debezium connector (one of its own: topic prefix, slot
// dropped on stop, only the bench tables) over the source workload, until every change event is
// in Kafka; then the connector is removed, so the topic stays as it is for every phase.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import pg from 'pg';
import { ConnectClient } from '../core/connect-client.js';
import { repoPath } from '../test/support/stack-env.js';
import { applyBenchConnector, failedTask, removeBenchConnector } from './bench-connector.js';
import type { BenchSettings } from './bench-settings.js';
import { createBenchKafka, createTopics, readTopicEnds, sumEnds } from './kafka-topics.js';
import {
  BENCH_TABLES,
  type BenchTable,
  createSourceTables,
  runSourceWorkload,
  type WorkloadCounts,
} from './source-workload.js';
import type { MixName, WorkloadMix } from './workload-mix.js';

export interface BenchTopic {
  /** The workload mix it was made from (a topic kept before mixes existed: standard). */
  mix: MixName;
  prefix: string;
  /** The source tables (the expected result), one topic each. */
  tables: BenchTable[];
  topics: string[];
  workload: WorkloadCounts;
  /** Seconds from the workload's start until the last event was in Kafka. */
  captureSeconds: number;
  messages: number;
  /** End offset per topic and partition. */
  ends: Map<string, Map<number, bigint>>;
  /** Partitions, messages and bytes per table, read from the topic (untimed). */
  profile?: TopicProfile;
  /**
   * Per partition the offset after its last change event (read with the profile): a sink that
   * drops tombstones (the tuned JDBC configurations) has applied everything once its committed
   * offsets reach these; it never commits the trailing tombstones it was not handed.
   */
  changeEnds?: Map<string, Map<number, bigint>>;
}

export interface TableProfile {
  partitions: number;
  /** Change messages (tombstones not counted). */
  messages: number;
  tombstones: number;
  avgKeyBytes: number;
  /** Average Avro value bytes of a change message: the row width as it travels. */
  avgValueBytes: number;
}

/** Per table name (topic-profile.ts reads it). */
export type TopicProfile = Record<string, TableProfile>;

/** The change events (creates + updates + deletes; tombstones not counted) a topic holds. */
export const topicEvents = (topic: BenchTopic): number =>
  topic.workload.creates + topic.workload.updates + topic.workload.deletes;

/** The topic name pattern a pgferry of the bench consumes: exactly the topic's topics. */
export function topicPattern(topic: BenchTopic): string {
  const names = topic.tables.map((t) => t.name.replace(/[^A-Za-z0-9_]/g, (c) => `\\${c}`));
  return `^${topic.prefix}\\.public\\.(?:${names.join('|')})$`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The connector failed while making the topic: the topic is not exactly the workload. */
export class SpoiledTopicError extends Error {}

export async function produceBenchTopic(
  settings: BenchSettings,
  log: (line: string) => void,
  /** The mix; its tables are named after the topic prefix (`<run id><mix code>`). */
  mix: WorkloadMix,
  events: number,
): Promise<BenchTopic> {
  const { stack } = settings;
  const prefix = `${settings.runId}${mix.code}`;
  const tables = [...mix.tables];
  const connectorName = `${prefix}-source`;
  const connect = new ConnectClient({ baseUrl: stack.connectUrl });
  const connector = {
    name: connectorName,
    topicPrefix: prefix,
    slotName: `${prefix}_slot`,
    tableIncludeList: tables.map((t) => `public.${t.name}`).join(','),
  };
  const topics = tables.map((t) => `${prefix}.public.${t.name}`);
  await createSourceTables(stack.sourceDatabaseUrl, tables);
  const db = new pg.Client({ connectionString: stack.sourceDatabaseUrl });
  await db.connect();
  const kafka = createBenchKafka(stack.kafkaBootstrap, 'pgferry-bench');
  try {
    // Every table's topic exists before the first event, with the broker's default partitions
    // (as Debezium's own creation would make it): a table without events still has an (empty)
    // topic to read, and topic creation is not part of the capture time.
    await createTopics(kafka, topics);
    await applyBenchConnector(stack.connectUrl, db, connector);
    await sleep(3000);
    log(
      `workload ${mix.name}: ${events} events on ${tables.length > 3 ? `${tables.length} tables` : tables.map((t) => t.name).join(', ')}`,
    );
    const started = performance.now();
    const workload = await runSourceWorkload(
      stack.sourceDatabaseUrl,
      {
        events,
        eventsPerTransaction: mix.eventsPerTransaction ?? settings.eventsPerTransaction,
        seed: settings.seed,
        spec: mix,
      },
      (done) => log(`  ${done} events written`),
    );
    log(`workload written in ${workload.seconds.toFixed(1)} s; waiting for Debezium to publish it`);
    const expected = workload.messagesByTable;
    const deadline = Date.now() + settings.drainTimeoutMs;
    let ends = await readTopicEnds(kafka, topics);
    let lastLog = Date.now();
    let lastProgress = Date.now();
    let lastCount = -1n;
    for (;;) {
      const behind = tables.filter(
        (t) => sumEnds(ends, `${prefix}.public.${t.name}`) < BigInt(expected[t.name] ?? 0),
      );
      if (behind.length === 0) break;
      const count = topics.reduce((n, t) => n + sumEnds(ends, t), 0n);
      if (count !== lastCount) {
        lastCount = count;
        lastProgress = Date.now();
      }
      if (Date.now() > deadline)
        throw new Error('Debezium did not publish the whole workload in time');
      if (Date.now() - lastProgress > 5000) {
        // A Kafka restart (another session's fault test) can fail the connector's task: restart
        // it (ours only; the worker is shared and left alone). It resumes from its offsets.
        // A failed task (a Kafka or registry outage: another session's fault test) may have
        // published part of a transaction; restarted, it would publish some events twice. The
        // topic would no longer be exactly the workload: the caller makes a new one.
        const failed = await failedTask(connect, connectorName);
        if (failed)
          throw new SpoiledTopicError(
            `the bench connector's task failed: ${failed.trace?.split('\n')[0] ?? 'FAILED'}`,
          );
        if (Date.now() - lastProgress > 180_000) {
          throw new Error(`Debezium published nothing for 180 s (${count} messages in Kafka)`);
        }
      }
      if (Date.now() - lastLog > 15_000) {
        lastLog = Date.now();
        const total = topics.reduce((n, t) => n + sumEnds(ends, t), 0n);
        log(`  in Kafka: ${total} of ${Object.values(expected).reduce((n, m) => n + m, 0)}`);
      }
      await sleep(500);
      ends = await readTopicEnds(kafka, topics);
    }
    const captureSeconds = (performance.now() - started) / 1000;
    for (const t of tables) {
      const have = sumEnds(ends, `${prefix}.public.${t.name}`);
      if (have !== BigInt(expected[t.name] ?? 0)) {
        throw new Error(`topic of ${t.name} holds ${have} messages, expected ${expected[t.name]}`);
      }
    }
    const messages = topics.reduce((n, t) => n + Number(sumEnds(ends, t)), 0);
    return { mix: mix.name, prefix, tables, topics, workload, captureSeconds, messages, ends };
  } finally {
    await removeBenchConnector(stack.connectUrl, db, connector);
    await db.end();
  }
}

/** Where a run keeps its topic's description, so a later run can measure the same topic again. */
const topicFile = (runId: string) => repoPath(`.stack/bench/${runId}.topic.json`);

/** Whether a run kept its topic's description (BENCH_KEEP=1). */
export const hasBenchTopic = (runId: string): boolean => existsSync(topicFile(runId));

type StoredOffsets = Record<string, Record<string, string>>;

const storeOffsets = (offsets: Map<string, Map<number, bigint>>): StoredOffsets =>
  Object.fromEntries(
    [...offsets].map(([t, parts]) => [
      t,
      Object.fromEntries([...parts].map(([p, o]) => [p, o.toString()])),
    ]),
  );

const loadOffsets = (stored: StoredOffsets): Map<string, Map<number, bigint>> =>
  new Map(
    Object.entries(stored).map(([t, parts]) => [
      t,
      new Map(Object.entries(parts).map(([p, o]) => [Number(p), BigInt(o)])),
    ]),
  );

export function saveBenchTopic(runId: string, topic: BenchTopic): void {
  mkdirSync(repoPath('.stack/bench'), { recursive: true });
  const stored = {
    ...topic,
    ends: storeOffsets(topic.ends),
    ...(topic.changeEnds ? { changeEnds: storeOffsets(topic.changeEnds) } : {}),
  };
  writeFileSync(topicFile(runId), `${JSON.stringify(stored, null, 2)}\n`);
}

/**
 * The topic of an earlier run (BENCH_TOPIC=<its run id>), kept with BENCH_KEEP=1: its topics in
 * Kafka and the source tables it was made from (the expected result) must still be there.
 */
export function loadBenchTopic(runId: string): BenchTopic {
  const file = topicFile(runId);
  if (!existsSync(file))
    throw new Error(`BENCH_TOPIC=${runId}: no ${file} (run with BENCH_KEEP=1 first)`);
  const raw = JSON.parse(readFileSync(file, 'utf8')) as Omit<
    BenchTopic,
    'ends' | 'changeEnds' | 'mix' | 'tables'
  > & {
    ends: StoredOffsets;
    changeEnds?: StoredOffsets;
    mix?: MixName;
    tables?: BenchTable[];
  };
  const { changeEnds: storedChangeEnds, ...rest } = raw;
  const ends = loadOffsets(raw.ends);
  const changeEnds = storedChangeEnds ? loadOffsets(storedChangeEnds) : undefined;
  return {
    ...rest,
    mix: raw.mix ?? 'standard',
    tables: raw.tables ?? [...BENCH_TABLES],
    ends,
    ...(changeEnds ? { changeEnds } : {}),
  };
}

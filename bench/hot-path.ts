// Micro-benchmark of pgferry's client-side hot path, in this process, on real bench records: N
// records of a kept bench topic (both tables, every partition in proportion to its size) are read
// from Kafka once with their registry schemas and cached in .stack/bench/; then, R rounds of
// (1) the processors one stage at a time — decode, bind, transform, dedupe, and the COPY line
//     encoding of sink/copy-text.ts — in chunks of BATCH_SIZE records per partition, as the source
//     hands them over, each stage timed with process.cpuUsage and its heap allocation measured;
// (2) the whole topology of cli/run-pipeline.ts (buildTopology: decode → bind → transform →
//     dedupe) per chunk, then the same COPY encoding of its output.
// Prints JSON: CPU µs per change event (tombstones not counted) per stage and in all, events/s,
// bytes allocated per event, GC pauses, machine. No database is written; the schema registry and
// Kafka are needed only to fill the cache.
//
//   npx tsx bench/hot-path.ts [--events N] [--rounds R] [--topic <bench run id>]
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { GCProfiler, getHeapStatistics } from 'node:v8';
import { buildTopology } from '../cli/run-pipeline.js';
import { createLogger } from '../core/logger.js';
import type { AvroJson } from '../pipeline/codec/avro-json.js';
import {
  parseAvroSchema,
  RegistrySchemaLookup,
  type ResolvedSchema,
  type SchemaLookup,
  UnknownSchemaError,
} from '../pipeline/codec/schema-lookup.js';
import type { SchemaSubjects } from '../pipeline/codec/schema-subjects.js';
import { createDecodeProcessor } from '../pipeline/processors/decode-processor.js';
import { createDedupeProcessor } from '../pipeline/processors/dedupe-processor.js';
import type { Processor, ProcessorContext } from '../pipeline/processors/processor.js';
import { createTopicBindingProcessor } from '../pipeline/processors/topic-binding-processor.js';
import { createTransformProcessor } from '../pipeline/processors/transform-processor.js';
import { TopicTableMap } from '../pipeline/routing/topic-table-map.js';
import { type RowChange, UNCHANGED_TOAST } from '../pipeline/row-change.js';
import type { KafkaRecord } from '../pipeline/source/kafka-record.js';
import { encodeCopyRow } from '../sink/copy-text.js';
import { loadStackEnv, repoPath } from '../test/support/stack-env.js';
import { hasBenchTopic, loadBenchTopic } from './bench-topic.js';
import { createBenchConsumer, createBenchKafka, readTopicEnds } from './kafka-topics.js';
import { readMachineInfo } from './machine-info.js';

/** The kept 200,000-event topic of the standard mix (issue 17's profiling runs). */
const DEFAULT_TOPIC_RUN = 'b202612051809345';
const DEFAULT_RECORDS = 100_000;
const DEFAULT_ROUNDS = 5;
/** pgferry's default BATCH_SIZE: the records of one partition processed as one chunk. */
const CHUNK_RECORDS = 1000;
const CACHE_MAGIC = 'pgferry-hot-path-records v1\n';

interface Options {
  records: number;
  rounds: number;
  topicRun: string;
}

function readOptions(argv: string[]): Options {
  const options: Options = {
    records: DEFAULT_RECORDS,
    rounds: DEFAULT_ROUNDS,
    topicRun: DEFAULT_TOPIC_RUN,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    const positive = () => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer`);
      i++;
      return n;
    };
    if (flag === '--events') options.records = positive();
    else if (flag === '--rounds') options.rounds = positive();
    else if (flag === '--topic' && value) {
      options.topicRun = value;
      i++;
    } else {
      throw new Error(
        `unknown argument ${flag}; usage: npx tsx bench/hot-path.ts [--events N] [--rounds R] [--topic <bench run id>]`,
      );
    }
  }
  return options;
}

// ---- the record cache ----

interface CachedRecords {
  topicRun: string;
  /** The --events it was read for (the partitions' shares are rounded: records may differ by a few). */
  requested: number;
  records: KafkaRecord[];
  schemas: Map<number, AvroJson>;
  subjects: Map<number, string[]>;
}

const cachePath = repoPath('.stack/bench/hot-path-records.bin');

/** Record layout: topic index u16, partition u32, then offset, timestamp, key, value (i32 length + bytes, -1 = null). */
function writeCache(cache: CachedRecords): void {
  const topics = [...new Set(cache.records.map((r) => r.topic))];
  const header = Buffer.from(
    JSON.stringify({
      topicRun: cache.topicRun,
      requested: cache.requested,
      count: cache.records.length,
      topics,
      schemas: Object.fromEntries(cache.schemas),
      subjects: Object.fromEntries(cache.subjects),
    }),
  );
  const parts: Buffer[] = [Buffer.from(CACHE_MAGIC), u32(header.length), header];
  const field = (bytes: Buffer | null) =>
    bytes === null ? parts.push(i32(-1)) : parts.push(i32(bytes.length), bytes);
  for (const r of cache.records) {
    const head = Buffer.alloc(6);
    head.writeUInt16LE(topics.indexOf(r.topic), 0);
    head.writeUInt32LE(r.partition, 2);
    parts.push(head);
    field(Buffer.from(r.offset));
    field(Buffer.from(r.timestamp));
    field(r.key);
    field(r.value);
  }
  mkdirSync(repoPath('.stack/bench'), { recursive: true });
  writeFileSync(cachePath, Buffer.concat(parts));
}

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const i32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(n);
  return b;
};

function readCache(): CachedRecords | undefined {
  if (!existsSync(cachePath)) return undefined;
  const bytes = readFileSync(cachePath);
  if (bytes.subarray(0, CACHE_MAGIC.length).toString() !== CACHE_MAGIC) return undefined;
  let at = CACHE_MAGIC.length;
  const headerLength = bytes.readUInt32LE(at);
  at += 4;
  const header = JSON.parse(bytes.subarray(at, at + headerLength).toString()) as {
    topicRun: string;
    requested: number;
    count: number;
    topics: string[];
    schemas: Record<string, AvroJson>;
    subjects: Record<string, string[]>;
  };
  at += headerLength;
  const field = (): Buffer | null => {
    const length = bytes.readInt32LE(at);
    at += 4;
    if (length < 0) return null;
    // A copy: the pipeline may keep a record's bytes (the dead-letter path does).
    const out = Buffer.from(bytes.subarray(at, at + length));
    at += length;
    return out;
  };
  const records: KafkaRecord[] = [];
  for (let i = 0; i < header.count; i++) {
    const topic = header.topics[bytes.readUInt16LE(at)] as string;
    const partition = bytes.readUInt32LE(at + 2);
    at += 6;
    const offset = String(field());
    const timestamp = String(field());
    const key = field();
    const value = field();
    records.push({ topic, partition, offset, timestamp, key, value, headers: {} });
  }
  return {
    topicRun: header.topicRun,
    requested: header.requested,
    records,
    schemas: new Map(Object.entries(header.schemas).map(([id, json]) => [Number(id), json])),
    subjects: new Map(Object.entries(header.subjects).map(([id, s]) => [Number(id), s])),
  };
}

/**
 * The first records of every partition of the run's topics, each partition's share of `count` in
 * proportion to its size (so the tables' mix is the topic's), with the schemas they name.
 */
async function readFromKafka(topicRun: string, count: number): Promise<CachedRecords> {
  const stack = loadStackEnv();
  // Topics are named after their run since runs name their tables so; older kept runs named
  // them bench_narrow / bench_wide.
  const topics = hasBenchTopic(topicRun)
    ? loadBenchTopic(topicRun).topics
    : ['bench_narrow', 'bench_wide'].map((t) => `${topicRun}.public.${t}`);
  const kafka = createBenchKafka(stack.kafkaBootstrap, 'pgferry-bench-hot-path');
  const ends = await readTopicEnds(kafka, topics);
  let total = 0n;
  for (const parts of ends.values()) for (const end of parts.values()) total += end;
  if (total === 0n) throw new Error(`the topics of bench run ${topicRun} are empty or gone`);
  const quotas = new Map<string, number>();
  for (const [topic, parts] of ends) {
    for (const [partition, end] of parts) {
      const share = Math.min(Number(end), Math.round((count * Number(end)) / Number(total)));
      if (share > 0) quotas.set(`${topic}/${partition}`, share);
    }
  }
  const byPartition = new Map<string, KafkaRecord[]>();
  const groupId = `pgferry-hot-path-${process.pid}-${Date.now()}`;
  const consumer = createBenchConsumer(kafka, groupId);
  await consumer.connect();
  try {
    await consumer.subscribe({ topics, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const done = () => [...quotas].every(([id, n]) => (byPartition.get(id)?.length ?? 0) >= n);
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            const id = `${batch.topic}/${batch.partition}`;
            const quota = quotas.get(id) ?? 0;
            const list = byPartition.get(id) ?? [];
            byPartition.set(id, list);
            for (const m of batch.messages) {
              if (list.length >= quota) break;
              list.push({
                topic: batch.topic,
                partition: batch.partition,
                offset: m.offset,
                key: m.key,
                value: m.value,
                headers: {},
                timestamp: m.timestamp,
              });
            }
            if (done()) resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect().catch(() => undefined);
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
  const records = [...byPartition.values()].flat();
  const registry = new RegistrySchemaLookup({ url: stack.schemaRegistryUrl });
  const schemas = new Map<number, AvroJson>();
  const subjects = new Map<number, string[]>();
  for (const r of records) {
    for (const bytes of [r.key, r.value]) {
      if (!bytes || bytes.length < 5) continue;
      const id = bytes.readUInt32BE(1);
      if (schemas.has(id)) continue;
      schemas.set(id, (await registry.getSchema(id)).json);
      subjects.set(id, [...((await registry.subjectsOf(id)) ?? [])]);
    }
  }
  return { topicRun, requested: count, records, schemas, subjects };
}

/** The registry as the cache holds it: schemas and their subjects, all resolved without I/O. */
class CachedRegistry implements SchemaLookup, SchemaSubjects {
  private readonly schemas = new Map<number, ResolvedSchema>();
  private readonly subjectNames = new Set<string>();

  constructor(private readonly cache: CachedRecords) {
    for (const [id, json] of cache.schemas) this.schemas.set(id, parseAvroSchema(id, json));
    for (const list of cache.subjects.values()) for (const s of list) this.subjectNames.add(s);
  }

  resolved(id: number): ResolvedSchema | undefined {
    return this.schemas.get(id);
  }

  async getSchema(id: number): Promise<ResolvedSchema> {
    const schema = this.schemas.get(id);
    if (!schema) throw new UnknownSchemaError(`schema id ${id} is not in the cache`);
    return schema;
  }

  async subjectsOf(id: number): Promise<readonly string[] | undefined> {
    return this.cache.subjects.get(id);
  }

  async hasSubject(subject: string): Promise<boolean | undefined> {
    return this.subjectNames.has(subject);
  }
}

// ---- measuring ----

/** CPU, allocation and GC pauses of what ran between start() and stop(), summed over calls. */
class StageMeter {
  cpuMicros = 0;
  allocatedBytes = 0;
  gcPauseMicros = 0;
  private cpuStart: NodeJS.CpuUsage = { user: 0, system: 0 };
  private heapStart = 0;
  private readonly profiler = new GCProfiler();

  start(): void {
    this.profiler.start();
    this.heapStart = getHeapStatistics().used_heap_size;
    this.cpuStart = process.cpuUsage();
  }

  stop(): void {
    const cpu = process.cpuUsage(this.cpuStart);
    const heapEnd = getHeapStatistics().used_heap_size;
    const gcs = this.profiler.stop()?.statistics ?? [];
    this.cpuMicros += cpu.user + cpu.system;
    // Allocated = what the GCs freed meanwhile + how much the heap grew.
    let freed = 0;
    for (const gc of gcs) {
      freed += gc.beforeGC.heapStatistics.usedHeapSize - gc.afterGC.heapStatistics.usedHeapSize;
      this.gcPauseMicros += gc.cost;
    }
    this.allocatedBytes += Math.max(0, freed + heapEnd - this.heapStart);
  }

  figures(events: number) {
    return {
      cpuMicrosPerEvent: round(this.cpuMicros / events, 2),
      allocatedBytesPerEvent: Math.round(this.allocatedBytes / events),
      gcPausePercent: round((100 * this.gcPauseMicros) / Math.max(1, this.cpuMicros), 1),
    };
  }
}

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;

// biome-ignore lint/suspicious/noExplicitAny: a stage of any record type
type AnyProcessor = Processor<any, any>;

async function runStage(
  processor: AnyProcessor,
  items: readonly unknown[],
  ctx: ProcessorContext,
): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const item of items) {
    const produced = processor.process(item, ctx);
    for (const o of produced instanceof Promise ? await produced : produced) out.push(o);
  }
  if (processor.flush) {
    const released = processor.flush(ctx);
    for (const o of released instanceof Promise ? await released : released) out.push(o);
  }
  return out;
}

/** The COPY lines of changes, as the sink's copyLinesOf makes them: op, position, pattern, columns. */
function encodeCopyLines(changes: readonly RowChange[]): number {
  let chars = 0;
  for (const change of changes) {
    const values: (string | null)[] = [change.op, change.position.toString(), ''];
    for (const column of change.schema.columns) {
      const v = change.op === 'd' ? (change.key[column.name] ?? null) : change.after?.[column.name];
      values.push(v === undefined || v === UNCHANGED_TOAST ? null : v);
    }
    chars += encodeCopyRow(values).length;
  }
  return chars;
}

/** Chunks of at most CHUNK_RECORDS per partition, taken from the partitions in turn. */
function chunksOf(records: readonly KafkaRecord[]): KafkaRecord[][] {
  const queues = new Map<string, KafkaRecord[]>();
  for (const r of records) {
    const id = `${r.topic}/${r.partition}`;
    const queue = queues.get(id) ?? [];
    queues.set(id, queue);
    queue.push(r);
  }
  const chunks: KafkaRecord[][] = [];
  for (let at = 0; chunks.length === 0 || [...queues.values()].some((q) => q.length > at); ) {
    for (const queue of queues.values()) {
      const chunk = queue.slice(at, at + CHUNK_RECORDS);
      if (chunk.length > 0) chunks.push(chunk);
    }
    at += CHUNK_RECORDS;
  }
  return chunks;
}

const STAGES = ['decode', 'bind', 'transform', 'dedupe', 'copyEncode'] as const;

async function runRound(
  chunks: readonly KafkaRecord[][],
  registry: CachedRegistry,
  map: TopicTableMap,
  events: number,
) {
  const ctx = { log: createLogger('silent') };
  // (1) the stages apart, fresh processors each round (their caches fill on the first chunk).
  const processors: Record<(typeof STAGES)[number], AnyProcessor | undefined> = {
    decode: createDecodeProcessor(registry),
    bind: createTopicBindingProcessor({ map, subjects: registry }),
    transform: createTransformProcessor(),
    dedupe: createDedupeProcessor(),
    copyEncode: undefined,
  };
  const meters = Object.fromEntries(STAGES.map((s) => [s, new StageMeter()])) as Record<
    (typeof STAGES)[number],
    StageMeter
  >;
  let changes = 0;
  for (const chunk of chunks) {
    let items: unknown[] = chunk;
    for (const stage of STAGES) {
      const processor = processors[stage];
      const meter = meters[stage];
      meter.start();
      if (processor) items = await runStage(processor, items, ctx);
      else encodeCopyLines(items as RowChange[]);
      meter.stop();
    }
    changes += items.length;
  }
  // (2) the whole topology of `pgferry run` per chunk, then the COPY encoding of what it gives.
  // The cache answers what RegistrySchemaLookup would (schemas and subjects), without I/O.
  const topology = buildTopology(registry as unknown as RegistrySchemaLookup, { map });
  await topology.init(ctx);
  const whole = new StageMeter();
  const wholeCopy = new StageMeter();
  const wallStart = performance.now();
  let failures = 0;
  for (const chunk of chunks) {
    whole.start();
    const result = await topology.processBatch(chunk, ctx);
    whole.stop();
    failures += result.failures.length;
    wholeCopy.start();
    encodeCopyLines(result.outputs);
    wholeCopy.stop();
  }
  const wallSeconds = (performance.now() - wallStart) / 1000;
  await topology.close();
  const stages = Object.fromEntries(STAGES.map((s) => [s, meters[s].figures(events)]));
  const decodeTransform = meters.decode.cpuMicros + meters.transform.cpuMicros;
  return {
    stages,
    decodeTransformCpuMicrosPerEvent: round(decodeTransform / events, 2),
    changesAfterDedupe: changes,
    topology: {
      ...whole.figures(events),
      withCopyEncodeCpuMicrosPerEvent: round((whole.cpuMicros + wholeCopy.cpuMicros) / events, 2),
      eventsPerSecond: Math.round(events / wallSeconds),
      failures,
    },
  };
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

/** The median of each numeric leaf over the rounds. */
function medianOf<T>(rounds: T[]): T {
  const first = rounds[0] as T;
  if (typeof first === 'number') return median(rounds as number[]) as T;
  if (typeof first !== 'object' || first === null) return first;
  return Object.fromEntries(
    Object.keys(first).map((k) => [
      k,
      medianOf(rounds.map((r) => (r as Record<string, unknown>)[k])),
    ]),
  ) as T;
}

async function readMachine() {
  const pkg = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { version: string };
  try {
    return await readMachineInfo(loadStackEnv(), pkg.version);
  } catch {
    // The stack is down (no versions to read): the cores, Node and the load.
    const loadAverageAtStart = round(loadavg()[0] ?? 0, 2);
    return { cores: cpus().length, node: process.version, loadAverageAtStart };
  }
}

async function main(): Promise<void> {
  const options = readOptions(process.argv.slice(2));
  const machine = await readMachine();
  let cache = readCache();
  if (!cache || cache.topicRun !== options.topicRun || cache.requested !== options.records) {
    console.error(`hot-path: reading ${options.records} records of bench run ${options.topicRun}`);
    cache = await readFromKafka(options.topicRun, options.records);
    writeCache(cache);
    console.error(`hot-path: cached in ${cachePath}`);
  }
  const records = cache.records;
  const events = records.filter((r) => r.value !== null && r.value.length > 0).length;
  const registry = new CachedRegistry(cache);
  const map = new TopicTableMap(
    { prefix: options.topicRun, from: 'KAFKA_TOPIC_PREFIX' },
    undefined,
  );
  const chunks = chunksOf(records);
  const rounds = [];
  for (let r = 0; r < options.rounds; r++) {
    const result = await runRound(chunks, registry, map, events);
    console.error(
      `hot-path: round ${r + 1}/${options.rounds}: decode+transform ${result.decodeTransformCpuMicrosPerEvent} µs/event, topology ${result.topology.cpuMicrosPerEvent} µs/event`,
    );
    rounds.push(result);
  }
  console.log(
    JSON.stringify(
      {
        benchmark: 'hot-path',
        at: new Date().toISOString(),
        topicRun: options.topicRun,
        records: records.length,
        events,
        tombstones: records.length - events,
        chunks: chunks.length,
        chunkRecords: CHUNK_RECORDS,
        rounds: options.rounds,
        median: medianOf(rounds),
        perRound: rounds,
        machine,
        notes: [
          'per event = per change event (tombstones not counted); CPU = process.cpuUsage (user + system, all threads: GC helpers too)',
          'stages: each processor alone over a chunk, then the next; copyEncode = sink/copy-text.ts encodeCopyRow of each change after dedupe',
          'topology: cli/run-pipeline.ts buildTopology per chunk (decode, bind, transform, dedupe; no position guard)',
          'allocatedBytesPerEvent: heap growth + what GCs freed meanwhile (v8 GCProfiler), approximate',
        ],
      },
      null,
      2,
    ),
  );
}

await main();

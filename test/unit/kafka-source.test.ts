// KafkaSource against a fake kafkajs (admin + consumer) and a fake chunk handler: the consumer's
// side of the contract — seek to the target's offsets on assignment, fetches cut into chunks,
// the next chunk prepared ahead, Kafka offsets resolved and committed only after the handler,
// nothing handed on while paused or after the partition is revoked, topics of stopped tables held.
import type { EachBatchPayload, Kafka } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../core/logger.js';
import { ChunkAbandonedError, type ChunkHandler, type SourceChunk } from '../../pipeline/ports.js';
import type { KafkaRecord } from '../../pipeline/source/kafka-record.js';
import { KafkaSource } from '../../pipeline/source/kafka-source.js';

const log = createLogger('silent');

type Listener = (event: { payload: Record<string, unknown> }) => void;

class FakeConsumer {
  readonly events = { GROUP_JOIN: 'group_join', CRASH: 'crash' } as const;
  readonly calls: string[] = [];
  readonly seeks: { topic: string; partition: number; offset: string }[] = [];
  readonly commits: { topic: string; partition: number; offset: string }[][] = [];
  readonly pausedTopics = new Set<string>();
  readonly subscribed: string[] = [];
  private readonly listeners = new Map<string, Listener>();
  private eachBatch: ((payload: EachBatchPayload) => Promise<void>) | undefined;
  running = false;
  /** Partitions whose fetched batches became stale (a seek or a revocation since). */
  stale = new Set<string>();

  on(event: string, listener: Listener): void {
    this.listeners.set(event, listener);
  }
  async connect(): Promise<void> {
    this.calls.push('connect');
  }
  /** Subscribe calls, each with its topics: pgferry subscribes once to them all. */
  readonly subscribeCalls: string[][] = [];
  async subscribe({ topic, topics }: { topic?: string; topics?: string[] }): Promise<void> {
    const all = topics ?? (topic === undefined ? [] : [topic]);
    this.subscribeCalls.push(all);
    this.subscribed.push(...all);
  }
  async run(options: { eachBatch: (payload: EachBatchPayload) => Promise<void> }): Promise<void> {
    this.eachBatch = options.eachBatch;
    this.running = true;
  }
  pause(topics: { topic: string }[]): void {
    for (const t of topics) this.pausedTopics.add(t.topic);
  }
  resume(topics: { topic: string }[]): void {
    for (const t of topics) this.pausedTopics.delete(t.topic);
  }
  seek(s: { topic: string; partition: number; offset: string }): void {
    this.seeks.push(s);
  }
  async commitOffsets(offsets: { topic: string; partition: number; offset: string }[]) {
    this.commits.push(offsets);
  }
  async stop(): Promise<void> {
    this.running = false;
    this.calls.push('stop');
  }
  async disconnect(): Promise<void> {
    this.calls.push('disconnect');
  }

  /** The group assigns partitions: kafkajs emits GROUP_JOIN. */
  join(assignment: Record<string, number[]>): void {
    this.listeners.get(this.events.GROUP_JOIN)?.({ payload: { memberAssignment: assignment } });
  }

  /** One fetch of `count` messages from `from`; resolves when eachBatch returns. */
  async fetch(topic: string, partition: number, from: number, count: number, bytes = 10) {
    const resolved: string[] = [];
    let heartbeats = 0;
    const messages = Array.from({ length: count }, (_, i) => ({
      offset: String(from + i),
      key: Buffer.from('k'),
      value: Buffer.alloc(bytes),
      headers: {},
      timestamp: '0',
      attributes: 0,
      size: 0,
    }));
    const payload = {
      batch: { topic, partition, messages },
      resolveOffset: (offset: string) => resolved.push(offset),
      heartbeat: async () => {
        heartbeats += 1;
      },
      isRunning: () => this.running,
      isStale: () => this.stale.has(`${topic}:${partition}`),
      commitOffsetsIfNecessary: async () => undefined,
      uncommittedOffsets: () => ({ topics: [] }),
      pause: () => () => undefined,
    } as unknown as EachBatchPayload;
    await this.eachBatch?.(payload);
    return { resolved, heartbeats };
  }
}

class FakeKafka {
  readonly consumers: FakeConsumer[] = [];
  topics = ['cdc.public.a', 'cdc.public.b', 'cdc.public.a.dlq', 'other.topic'];
  admin() {
    return {
      connect: async () => undefined,
      disconnect: async () => undefined,
      listTopics: async () => this.topics,
    };
  }
  consumer() {
    const c = new FakeConsumer();
    this.consumers.push(c);
    return c;
  }
}

/** Records what the source hands over; each apply waits for `release` when `hold` is set. */
class FakeHandler implements ChunkHandler<string> {
  readonly prepared: string[] = [];
  readonly applied: string[] = [];
  readonly stopped = new Set<string>();
  hold = false;
  abandonAt: string | undefined;
  activeSeen: boolean[] = [];
  private releaseNext: (() => void) | undefined;

  prepare(records: KafkaRecord[]): Promise<string> {
    const name = `${records[0]?.offset}-${records.at(-1)?.offset}`;
    this.prepared.push(name);
    return Promise.resolve(name);
  }
  async apply(chunk: SourceChunk<string>): Promise<void> {
    const name = await (chunk.prepared ?? this.prepare(chunk.records));
    if (this.hold) await new Promise<void>((r) => (this.releaseNext = r));
    this.activeSeen.push(chunk.isActive());
    if (name === this.abandonAt) throw new ChunkAbandonedError('gone');
    this.applied.push(name);
  }
  release(): void {
    this.releaseNext?.();
  }
  isTopicStopped(topic: string): boolean {
    return this.stopped.has(topic);
  }
}

const sources: KafkaSource<string>[] = [];
afterEach(async () => {
  for (const s of sources.splice(0)) await s.stop();
});

async function startSource(options: { stored?: Record<string, Map<number, string>> } = {}) {
  const kafka = new FakeKafka();
  const handler = new FakeHandler();
  /** The topics of each read of stored offsets. */
  const offsetReads: string[][] = [];
  const source = new KafkaSource<string>(
    {
      kafka: kafka as unknown as Kafka,
      brokers: ['127.0.0.1:1'],
      groupId: 'g',
      topicPattern: /^cdc\..*/,
      excludeTopic: (t) => t.endsWith('.dlq'),
      maxRows: 3,
      maxBytes: 1_000_000,
      topicRefreshMs: 60_000,
      pollTimeoutMs: 100,
      log,
      offsets: {
        storedOffsets: async (_group, topics) => {
          offsetReads.push([...topics]);
          return new Map(Object.entries(options.stored ?? {}).filter(([t]) => topics.includes(t)));
        },
      },
    },
    handler,
  );
  sources.push(source);
  await source.start();
  const consumer = kafka.consumers[0] as FakeConsumer;
  return { kafka, handler, source, consumer, offsetReads };
}

const settle = () => new Promise((r) => setTimeout(r, 0));

describe('KafkaSource (fake kafkajs)', () => {
  it('subscribes to the matching topics, never a dead-letter topic', async () => {
    const { consumer, source } = await startSource();
    expect(consumer.subscribed).toEqual(['cdc.public.a', 'cdc.public.b']);
    // In one call: kafkajs refreshes the metadata of every topic so far on each call.
    expect(consumer.subscribeCalls).toEqual([['cdc.public.a', 'cdc.public.b']]);
    expect(source.topics).toEqual(['cdc.public.a', 'cdc.public.b']);
  });

  it('seeks every assigned partition to the offset stored in the target', async () => {
    const { consumer, source, offsetReads } = await startSource({
      stored: { 'cdc.public.a': new Map([[0, '42']]) },
    });
    consumer.join({ 'cdc.public.a': [0, 1], 'cdc.public.b': [0] });
    expect(source.isJoined).toBe(true);
    await settle();
    // One read for every assigned topic.
    expect(offsetReads).toEqual([['cdc.public.a', 'cdc.public.b']]);
    // Partition 1 and topic b have nothing stored: Kafka's committed offset stands.
    expect(consumer.seeks).toEqual([{ topic: 'cdc.public.a', partition: 0, offset: '42' }]);
  });

  it('cuts a fetch into chunks, prepares the next ahead, commits Kafka after each chunk', async () => {
    const { consumer, handler } = await startSource();
    consumer.join({ 'cdc.public.a': [0] });
    const { resolved } = await consumer.fetch('cdc.public.a', 0, 10, 7);
    expect(handler.applied).toEqual(['10-12', '13-15', '16-16']);
    // Chunk 2 was prepared before chunk 1 was applied: prepared in order, each once.
    expect(handler.prepared).toEqual(['10-12', '13-15', '16-16']);
    expect(resolved).toEqual(['12', '15', '16']);
    const committed = consumer.commits.flat();
    expect(committed.at(-1)).toEqual({ topic: 'cdc.public.a', partition: 0, offset: '17' });
  });

  it('cuts chunks by bytes too', async () => {
    const { consumer, handler, source } = await startSource();
    (source as unknown as { options: { maxBytes: number } }).options.maxBytes = 200;
    consumer.join({ 'cdc.public.a': [0] });
    // 137 bytes a record as counted (value 60 + key 1 + topic 12 + 64): the second reaches 200.
    await consumer.fetch('cdc.public.a', 0, 0, 3, 60);
    expect(handler.applied).toEqual(['0-1', '2-2']);
  });

  it('resolves nothing for an abandoned chunk and hands on none of the rest of its fetch', async () => {
    const { consumer, handler } = await startSource();
    consumer.join({ 'cdc.public.a': [0] });
    handler.abandonAt = '3-5';
    const { resolved } = await consumer.fetch('cdc.public.a', 0, 0, 9);
    expect(handler.applied).toEqual(['0-2']);
    expect(resolved).toEqual(['2']);
    expect(consumer.commits.flat().map((c) => c.offset)).toEqual(['3']);
  });

  it('tells the handler when the partition is revoked mid-chunk (stale batch)', async () => {
    const { consumer, handler } = await startSource();
    consumer.join({ 'cdc.public.a': [0] });
    handler.hold = true;
    const fetching = consumer.fetch('cdc.public.a', 0, 0, 2);
    await settle();
    consumer.stale.add('cdc.public.a:0');
    handler.release();
    await fetching;
    expect(handler.activeSeen).toEqual([false]);
  });

  it('pause waits for the chunk in flight, then nothing more is handed on until resume', async () => {
    const { consumer, handler, source } = await startSource();
    consumer.join({ 'cdc.public.a': [0] });
    handler.hold = true;
    const fetching = consumer.fetch('cdc.public.a', 0, 0, 6);
    await settle();
    expect(source.isBusy).toBe(true);
    let paused = false;
    const pausing = source.pause().then(() => {
      paused = true;
    });
    await settle();
    expect(paused).toBe(false);
    expect([...consumer.pausedTopics].sort()).toEqual(['cdc.public.a', 'cdc.public.b']);
    handler.release();
    await pausing;
    const { resolved } = await fetching;
    // The first chunk committed; the rest of the fetch stays unresolved (fetched again later).
    expect(handler.applied).toEqual(['0-2']);
    expect(resolved).toEqual(['2']);
    expect(source.isBusy).toBe(false);
    handler.hold = false;
    await consumer.fetch('cdc.public.a', 0, 3, 3);
    expect(handler.applied).toEqual(['0-2']);
    handler.stopped.add('cdc.public.b');
    source.resume();
    expect([...consumer.pausedTopics]).toEqual(['cdc.public.b']);
    await consumer.fetch('cdc.public.a', 0, 3, 3);
    expect(handler.applied).toEqual(['0-2', '3-5']);
  });

  it('keeps the topics of stopped tables paused after a rejoin', async () => {
    const { consumer, handler } = await startSource();
    handler.stopped.add('cdc.public.b');
    consumer.pausedTopics.clear();
    consumer.join({ 'cdc.public.a': [0], 'cdc.public.b': [0] });
    expect([...consumer.pausedTopics]).toEqual(['cdc.public.b']);
  });

  it('waits for the seek before handing on a fetched batch', async () => {
    let finishSeek: () => void = () => undefined;
    const { consumer, handler, source } = await startSource();
    (source as unknown as { options: { offsets: unknown } }).options.offsets = {
      storedOffsets: () =>
        new Promise<Map<string, Map<number, string>>>((resolve) => {
          finishSeek = () => resolve(new Map([['cdc.public.a', new Map([[0, '5']])]]));
        }),
    };
    consumer.join({ 'cdc.public.a': [0] });
    const fetching = consumer.fetch('cdc.public.a', 0, 0, 2);
    await settle();
    expect(handler.applied).toEqual([]);
    finishSeek();
    await fetching;
    expect(consumer.seeks).toEqual([{ topic: 'cdc.public.a', partition: 0, offset: '5' }]);
  });

  it('stop leaves the group: the consumer is stopped and disconnected', async () => {
    const { consumer, source } = await startSource();
    await source.stop();
    expect(consumer.calls).toEqual(['connect', 'stop', 'disconnect']);
    expect(source.isJoined).toBe(false);
  });
});

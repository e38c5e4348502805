// Source: a kafkajs consumer group over every topic matching KAFKA_TOPIC_PATTERN. Records come in
// per-partition batches, cut to BATCH_SIZE rows and BATCH_MAX_BYTES bytes; the next chunk is
// fetched only when the sink has committed the previous one (bounded memory, natural pause).
// kafkajs resolves a topic regex only when it subscribes, so new topics (new tables) are found by
// listing topics periodically and re-subscribing. On partition assignment the consumer seeks to
// the offsets stored in the target, which are the truth; Kafka's committed offsets follow them.
// Pause (operator's emergency stop) stops fetching every subscribed topic while staying in the
// group; it survives rebalances and topic refreshes, and `pause()` resolves once the batch in
// flight has been committed (or abandoned), so nothing is applied after it returns.

import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { KafkaSettings } from '../../core/config.js';
import { faultPoint } from '../../core/fault-points.js';
import { probeBrokers } from '../../core/kafka-client.js';
import type { Logger } from '../../core/logger.js';
import {
  type ChangeSource,
  ChunkAbandonedError,
  type ChunkHandler,
  type OffsetStore,
} from '../ports.js';
import {
  cutIntoChunks,
  fetchBytes,
  fetchBytesPerPartition,
  nextOffsetAfter,
} from './fetch-chunks.js';
import { KafkaCommitQueue } from './kafka-commit-queue.js';
import type { KafkaRecord } from './kafka-record.js';

export interface KafkaSourceOptions {
  kafka: Kafka;
  /** The bootstrap brokers, for the quick reachability probe at start. */
  brokers: readonly string[];
  /** KAFKA_SSL and its files: the probe completes a verified TLS handshake when enabled. */
  ssl?: KafkaSettings['ssl'];
  groupId: string;
  topicPattern: RegExp;
  /** Topics never consumed even if they match (dead-letter topics). */
  excludeTopic: (topic: string) => boolean;
  maxRows: number;
  maxBytes: number;
  topicRefreshMs: number;
  /** How long a fetch waits for more records before returning a partial chunk. */
  pollTimeoutMs: number;
  /**
   * Partitions handed to the handler at once (APPLY_CONCURRENCY): each one's chunks stay in
   * order, chunks of different partitions are applied concurrently. Default 1.
   */
  concurrency?: number;
  log: Logger;
  /** Where the target's applied offsets are read, to seek on partition assignment. */
  offsets: OffsetStore;
}

export class KafkaSource<P> implements ChangeSource {
  private consumer: Consumer | undefined;
  private subscribed: string[] = [];
  private refreshTimer: NodeJS.Timeout | undefined;
  private running = false;
  private restarting: Promise<void> | undefined;
  private joined = false;
  private paused = false;
  /** The chunks being handed to the sink and committed (one per partition); pause() waits. */
  private readonly inFlight = new Set<Promise<unknown>>();
  /** The seek to the target's offsets after the last join, which fetched batches wait for. */
  private seeking: Promise<void> | undefined;
  /** Kafka offset commits, sent in the background after the target's. */
  private readonly commits: KafkaCommitQueue;

  constructor(
    private readonly options: KafkaSourceOptions,
    private readonly handler: ChunkHandler<P>,
  ) {
    this.commits = new KafkaCommitQueue(options.log, () => this.consumer);
  }

  describe(): Record<string, string> {
    return { pattern: this.options.topicPattern.source };
  }

  probe(): Promise<void> {
    return probeBrokers([...this.options.brokers], undefined, this.options.ssl);
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** True while a chunk is being applied and committed. */
  get isBusy(): boolean {
    return this.inFlight.size > 0;
  }

  get isJoined(): boolean {
    return this.joined;
  }

  get topics(): readonly string[] {
    return this.subscribed;
  }

  async start(): Promise<void> {
    this.running = true;
    await this.refreshTopics();
    this.scheduleRefresh();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    if (this.restarting && !this.joined) {
      // Still joining the group: a rebalance waits up to the session timeout for members that
      // died without leaving. Nothing is in flight, so leave now rather than after the join.
      await this.stopConsumer();
    }
    const restarting = this.restarting?.catch(() => undefined);
    // Bounded only when no batch is in flight: a batch being written is always let finish.
    if (this.inFlight.size > 0) await restarting;
    else await Promise.race([restarting, new Promise((r) => setTimeout(r, 5_000).unref())]);
    await this.stopConsumer();
  }

  /** Stops fetching a topic (its table hit an error an operator must resolve). */
  pauseTopic(topic: string): void {
    this.consumer?.pause([{ topic }]);
  }

  /**
   * Stops fetching every topic, keeping the group membership (kafkajs heartbeats while every
   * partition is paused). Resolves when no chunk is in flight: the last one is committed or
   * abandoned uncommitted, and the rest of its fetch is fetched again after resume.
   */
  async pause(): Promise<void> {
    this.paused = true;
    if (this.subscribed.length > 0) {
      this.consumer?.pause(this.subscribed.map((topic) => ({ topic })));
    }
    while (this.inFlight.size > 0) {
      await Promise.all([...this.inFlight].map((work) => work.catch(() => undefined)));
    }
    // "Offsets in Kafka stay where the last commit put them": that commit has landed.
    await this.commits.settled();
  }

  /** Fetches again from where the group stopped; topics of stopped tables stay paused. */
  resume(): void {
    this.paused = false;
    const topics = this.subscribed.filter((topic) => !this.handler.isTopicStopped(topic));
    if (topics.length > 0) this.consumer?.resume(topics.map((topic) => ({ topic })));
  }

  private scheduleRefresh(): void {
    if (!this.running) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTopics()
        .catch((error: Error) =>
          this.options.log.warn({ err: error.message }, 'topic refresh failed; will retry'),
        )
        .finally(() => this.scheduleRefresh());
    }, this.options.topicRefreshMs);
    this.refreshTimer.unref();
  }

  private async matchingTopics(): Promise<string[]> {
    const admin = this.options.kafka.admin();
    await admin.connect();
    try {
      const all = await admin.listTopics();
      return all
        .filter((t) => this.options.topicPattern.test(t) && !this.options.excludeTopic(t))
        .sort();
    } finally {
      await admin.disconnect();
    }
  }

  private async refreshTopics(): Promise<void> {
    // One restart at a time: two would leave a consumer nobody stops holding partitions.
    if (!this.running || this.restarting) return;
    const topics = await this.matchingTopics();
    if (topics.join('\u0000') === this.subscribed.join('\u0000') && this.consumer) return;
    if (topics.length === 0) {
      if (this.subscribed.length === 0) {
        this.options.log.info(
          { pattern: this.options.topicPattern.source },
          'no topics match yet; waiting',
        );
      }
      return;
    }
    const added = topics.filter((t) => !this.subscribed.includes(t));
    this.options.log.info({ topics: topics.length, added }, 'subscribing to matching topics');
    this.restarting = this.restartConsumer(topics);
    try {
      await this.restarting;
    } finally {
      this.restarting = undefined;
    }
  }

  private async stopConsumer(): Promise<void> {
    const consumer = this.consumer;
    this.consumer = undefined;
    this.joined = false;
    if (consumer) {
      // Let the last Kafka commits land while the consumer is still in the group.
      await this.commits.settled();
      // stop() waits for the batch in progress to finish (or be abandoned) before leaving.
      await consumer.stop().catch(() => undefined);
      await consumer.disconnect().catch(() => undefined);
    }
  }

  private async restartConsumer(topics: string[]): Promise<void> {
    await this.stopConsumer();
    if (!this.running) return;
    const consumer = this.options.kafka.consumer({
      groupId: this.options.groupId,
      maxBytes: fetchBytes(this.options.maxBytes),
      maxBytesPerPartition: fetchBytesPerPartition(
        this.options.maxBytes,
        this.options.concurrency ?? 1,
      ),
      maxWaitTimeInMs: this.options.pollTimeoutMs,
      sessionTimeout: 30_000,
      rebalanceTimeout: 60_000,
      heartbeatInterval: 3_000,
      allowAutoTopicCreation: false,
    });
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      this.joined = true;
      const assignment = event.payload.memberAssignment as Record<string, number[]>;
      // After a crash kafkajs restarts with a fresh group state that forgot every pause.
      try {
        this.pauseHeldTopics(consumer, Object.keys(assignment));
      } catch (error) {
        // consumeBatch still refuses records while paused; only fetch efficiency is lost.
        this.options.log.warn({ err: (error as Error).message }, 'could not re-pause topics');
      }
      // Batches wait for this: a batch fetched from Kafka's committed offset before the seek
      // (e.g. after the group's offsets were reset to earliest) is then stale and dropped,
      // instead of being handed on, where its poison records would be dead-lettered again.
      this.seeking = this.seekToStoredOffsets(consumer, assignment);
    });
    consumer.on(consumer.events.CRASH, (event) => {
      this.joined = false;
      if (event.payload.restart !== false) {
        this.options.log.error(
          { err: String(event.payload.error) },
          'consumer crashed; kafkajs restarts it',
        );
        return;
      }
      // kafkajs gives up on errors it deems not retriable: a consumer that silently consumes
      // nothing while pgferry reports "running" would be worse than any error. Make a new one.
      this.options.log.error(
        { err: String(event.payload.error) },
        'consumer crashed and kafkajs will not restart it; starting a new consumer',
      );
      setTimeout(() => this.replaceCrashedConsumer(consumer), 2_000).unref();
    });
    try {
      await consumer.connect();
      // One call: kafkajs refreshes the metadata of every topic subscribed so far on each call,
      // so one call per topic cost n metadata requests of up to n topics (100 tables: ~1 s).
      await consumer.subscribe({ topics, fromBeginning: true });
    } catch (error) {
      // Not yet ours to stop later: close it here, or its sockets keep the process alive.
      await consumer.disconnect().catch(() => undefined);
      throw error;
    }
    this.consumer = consumer;
    this.subscribed = topics;
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.concurrency ?? 1,
      eachBatch: (payload) => this.consumeBatch(consumer, payload),
    });
    // kafkajs accepts pause only once run() set the group up; consumeBatch refuses anything a
    // fetch already under way delivers meanwhile.
    this.pauseHeldTopics(consumer, topics);
  }

  /** After a crash kafkajs does not recover from: the same topics on a new consumer. */
  private replaceCrashedConsumer(crashed: Consumer): void {
    if (!this.running || this.consumer !== crashed || this.restarting) return;
    this.restarting = this.restartConsumer(this.subscribed)
      // The next topic refresh tries again: it starts a consumer whenever there is none.
      .catch((error: Error) =>
        this.options.log.error({ err: error.message }, 'could not start a new consumer'),
      )
      .finally(() => {
        this.restarting = undefined;
      });
  }

  /** Pauses the topics that must not be fetched: all while paused, else the stopped tables'. */
  private pauseHeldTopics(consumer: Consumer, topics: readonly string[]): void {
    const held = topics.filter((t) => this.paused || this.handler.isTopicStopped(t));
    if (held.length > 0) consumer.pause(held.map((topic) => ({ topic })));
  }

  private async seekToStoredOffsets(
    consumer: Consumer,
    assignment: Record<string, number[]>,
  ): Promise<void> {
    const topics = Object.keys(assignment);
    if (topics.length === 0) return;
    let stored: Map<string, Map<number, string>>;
    try {
      // Every topic in one read: one connection and query, however many tables.
      stored = await this.options.offsets.storedOffsets(this.options.groupId, topics);
    } catch (error) {
      // The sink's offset filter still prevents double application; seeking only saves work.
      this.options.log.warn(
        { topics: topics.length, err: (error as Error).message },
        'could not read stored offsets to seek',
      );
      return;
    }
    for (const [topic, partitions] of Object.entries(assignment)) {
      for (const partition of partitions) {
        const offset = stored.get(topic)?.get(partition);
        if (offset !== undefined) consumer.seek({ topic, partition, offset });
      }
      this.options.log.info({ topic, partitions }, 'partitions assigned');
    }
  }

  private async consumeBatch(consumer: Consumer, payload: EachBatchPayload): Promise<void> {
    const { batch, isRunning, isStale } = payload;
    // The seek reads the target (slow when it is): keep the group membership meanwhile.
    const seeking = this.seeking;
    if (seeking) {
      let done = false;
      void seeking.finally(() => {
        done = true;
      });
      while (!done) {
        await Promise.race([seeking, new Promise((r) => setTimeout(r, 3_000))]);
        if (!done) await payload.heartbeat().catch(() => undefined);
      }
    }
    const isActive = () => this.running && isRunning() && !isStale() && this.consumer === consumer;
    // Paused: leave the rest unresolved; kafkajs fetches it again from the resolved offset.
    const proceed = () => isActive() && !this.paused;
    const chunks = cutIntoChunks(batch.topic, batch.partition, batch.messages, this.options);
    const prepare = (records: KafkaRecord[] | undefined): Promise<P> | undefined => {
      if (!records) return undefined;
      const prepared = this.handler.prepare(records);
      // Dropped unused when the chunk before is abandoned; the handler retries a failure itself.
      prepared.catch(() => undefined);
      return prepared;
    };
    if (!proceed()) return;
    let next = prepare(chunks[0]);
    for (let i = 0; i < chunks.length; i++) {
      if (!proceed()) break;
      const records = chunks[i] as KafkaRecord[];
      const prepared = next;
      next = proceed() ? prepare(chunks[i + 1]) : undefined;
      const work = this.applyChunk(consumer, payload, records, isActive, prepared);
      this.inFlight.add(work);
      try {
        if (!(await work)) break;
      } finally {
        this.inFlight.delete(work);
      }
    }
    // Kafka's committed offsets settle before the next fetch (and before a rejoin, which kafkajs
    // does only once this returns): a commit sent later could carry a newer generation and move
    // a partition that another member owns by then.
    await this.commits.settled();
  }

  /** Hands one chunk to the handler, then resolves and commits its offset; false = abandoned. */
  private async applyChunk(
    consumer: Consumer,
    payload: EachBatchPayload,
    records: KafkaRecord[],
    isActive: () => boolean,
    prepared: Promise<P> | undefined,
  ): Promise<boolean> {
    const { batch, heartbeat, resolveOffset } = payload;
    try {
      await this.handler.apply({
        topic: batch.topic,
        partition: batch.partition,
        records,
        heartbeat,
        isActive,
        ...(prepared ? { prepared } : {}),
      });
    } catch (error) {
      if (error instanceof ChunkAbandonedError) return false;
      throw error;
    }
    // The target has committed this chunk; Kafka does not know yet.
    await faultPoint('after-target-commit');
    resolveOffset((records[records.length - 1] as KafkaRecord).offset);
    this.commits.commitSoon(consumer, batch.topic, batch.partition, nextOffsetAfter(records));
    await heartbeat();
    return true;
  }
}

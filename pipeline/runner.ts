// The runner drives source -> topology -> sink through the ports (ports.ts), with an explicit
// lifecycle (stopped -> starting -> running -> stopping -> stopped; start and stop idempotent).
// Per chunk (apply): process (prepare) -> one attempt of the chunk step (chunk-step.ts: stage ->
// dead-letter -> commit the target) -> the source then commits Kafka. Transient faults are
// retried with backoff while heartbeating; a chunk is never acknowledged before the sink commits
// it. Tables stop by one route (stopTable). An operator can pause the runner (stop applying, keep
// the group and the offsets) and resume it; the pause outlives consumer restarts.

import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelayMs } from '../core/backoff.js';
import { PgferryError, TableStoppedError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { PgferryMetrics } from '../core/metrics.js';
import { ChunkStep, type ProcessedChunk } from './chunk-step.js';
import {
  type ChangeSink,
  type ChangeSource,
  ChunkAbandonedError,
  type ChunkHandler,
  type DeadLetterSink,
  type SourceChunk,
} from './ports.js';
import type { Topology } from './processors/topology.js';
import type { RowChange } from './row-change.js';
import type { KafkaRecord } from './source/kafka-record.js';

export type RunnerState = 'stopped' | 'starting' | 'running' | 'stopping';

/** What /pause, /resume and /healthz report. */
export interface PauseStatus {
  state: RunnerState;
  /** Pause requested and in effect: no chunk in flight, none will be applied until resume. */
  paused: boolean;
  /** Pause requested, the chunk in flight is still being applied and committed. */
  pausing: boolean;
}

export interface PipelineRunnerOptions {
  groupId: string;
  /** Cap of the backoff between retries (RETRY_MAX_DELAY_SECONDS). */
  retryMaxDelayMs: number;
  topology: Topology<KafkaRecord, RowChange>;
  /** Builds the source that will drive this runner's chunks (the composition root decides which). */
  createSource: (handler: ChunkHandler<ProcessedChunk>) => ChangeSource;
  sink: ChangeSink;
  deadLetters: DeadLetterSink;
  log: Logger;
  metrics: PgferryMetrics;
}

export class PipelineRunner implements ChunkHandler<ProcessedChunk> {
  private stateValue: RunnerState = 'stopped';
  private source: ChangeSource | undefined;
  private readonly stopped = new Map<string, string>();
  private lastError: string | undefined;
  private startPromise: Promise<void> | undefined;
  private stopPromise: Promise<void> | undefined;
  private pauseRequested = false;
  /** What start is waiting for ("target PostgreSQL: <why>"), for /readyz; unset once up. */
  private waitingForValue: string | undefined;
  /** Aborted by stop: a start waiting between attempts gives up at once. */
  private stopping = new AbortController();
  /** The topology's current chunk: chunks go through it one at a time. */
  private processing: Promise<unknown> = Promise.resolve();

  private readonly step: ChunkStep;

  constructor(private readonly options: PipelineRunnerOptions) {
    options.metrics.paused.set(0);
    this.step = new ChunkStep(options);
  }

  get pauseStatus(): PauseStatus {
    const busy = this.source?.isBusy ?? false;
    return {
      state: this.stateValue,
      paused: this.pauseRequested && !busy,
      pausing: this.pauseRequested && busy,
    };
  }

  /**
   * Stops applying: no fetch, no new chunk. Resolves once the chunk in flight is committed (or
   * abandoned uncommitted); offsets in the target and Kafka stay where the last commit put them.
   */
  async pause(): Promise<PauseStatus> {
    if (!this.pauseRequested) {
      this.pauseRequested = true;
      this.options.metrics.paused.set(1);
      this.options.log.info('pause requested: finishing the chunk in flight');
    }
    await this.source?.pause();
    if (this.pauseRequested) this.options.log.info('paused');
    return this.pauseStatus;
  }

  /** Fetches again from the offsets of the last commit. */
  resume(): PauseStatus {
    if (this.pauseRequested) {
      this.pauseRequested = false;
      this.options.metrics.paused.set(0);
      this.source?.resume();
      this.options.log.info('resumed');
    }
    return this.pauseStatus;
  }

  get state(): RunnerState {
    return this.stateValue;
  }

  /** Ready = running, in the consumer group, target connected (for /readyz; stopped tables too). */
  get ready(): boolean {
    return (
      this.stateValue === 'running' &&
      (this.source?.isJoined ?? false) &&
      this.options.sink.isConnected
    );
  }

  /** Topics currently subscribed (for the lag monitor). */
  get topics(): readonly string[] {
    return this.source?.topics ?? [];
  }

  /** The service start is retrying and why (e.g. "Kafka: Kafka unreachable: ..."), if any. */
  get waitingFor(): string | undefined {
    return this.waitingForValue;
  }

  /** Stopped tables by their topic, with the reason. */
  get stoppedTopics(): ReadonlyMap<string, string> {
    return this.stopped;
  }

  isTopicStopped(topic: string): boolean {
    return this.stopped.has(topic);
  }

  start(): Promise<void> {
    if (this.stateValue === 'running' || this.stateValue === 'starting')
      return this.startPromise ?? Promise.resolve();
    this.startPromise = this.doStart();
    return this.startPromise;
  }

  stop(): Promise<void> {
    if (this.stateValue === 'stopped') return Promise.resolve();
    if (this.stateValue === 'stopping' && this.stopPromise) return this.stopPromise;
    this.stopPromise = this.doStop();
    return this.stopPromise;
  }

  private async doStart(): Promise<void> {
    const { log, sink, deadLetters } = this.options;
    this.stateValue = 'starting';
    this.stopping = new AbortController();
    await this.options.topology.init({ log });
    const source = this.options.createSource(this);
    await this.retryUntilUp('target PostgreSQL', () => sink.start());
    // A quick probe first: kafkajs alone would retry for minutes before saying anything clear.
    await this.retryUntilUp('Kafka', () => source.probe());
    await this.retryUntilUp('Kafka (DLQ producer)', () => deadLetters.start());
    // Stopped while it got this far: start no consumer (doStop has not waited for this one).
    if (this.stopping.signal.aborted) return;
    this.source = source;
    // Paused before the consumer existed: it starts paused.
    if (this.pauseRequested) void source.pause();
    await this.retryUntilUp('Kafka (consumer)', () => source.start());
    if (this.stateValue === 'starting') this.stateValue = 'running';
    log.info({ group: this.options.groupId, ...source.describe() }, 'pgferry running');
  }

  private async doStop(): Promise<void> {
    this.stateValue = 'stopping';
    this.stopping.abort();
    // A start still joining the Kafka group (a rebalance can wait for a dead member's session to
    // expire) has nothing in flight: stopping the source ends the join instead of waiting for it.
    if (this.source && !this.source.isJoined) await this.source.stop();
    await Promise.race([
      this.startPromise?.catch(() => undefined),
      new Promise((r) => setTimeout(r, 10_000).unref()),
    ]);
    // The source first: it finishes (or abandons) the chunk in flight, so nothing is half-written.
    await this.source?.stop();
    await this.options.deadLetters.stop();
    await this.options.sink.stop();
    // A chunk prepared ahead of one the source abandoned may still be going through.
    await this.processing;
    await this.options.topology.close();
    this.stateValue = 'stopped';
    this.options.log.info({ lastError: this.lastError }, 'pgferry stopped');
  }

  private async retryUntilUp(what: string, operation: () => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await operation();
        this.waitingForValue = undefined;
        return;
      } catch (error) {
        if (this.stateValue === 'stopping' || this.stateValue === 'stopped') throw error;
        if (error instanceof PgferryError && !error.retriable) throw error;
        const delay = this.backoffMs(attempt);
        const reason = (error as Error).message;
        this.waitingForValue = `${what}: ${reason}`;
        this.options.log.warn(
          { what, attempt, delayMs: delay, err: reason },
          'not reachable yet; retrying',
        );
        await sleep(delay, undefined, { signal: this.stopping.signal }).catch(() => undefined);
        if (this.stopping.signal.aborted) throw error;
      }
    }
  }

  private backoffMs(attempt: number): number {
    return backoffDelayMs(attempt, { maxMs: this.options.retryMaxDelayMs });
  }

  /**
   * Runs records through the topology. One chunk at a time: the processors keep per-chunk state
   * (dedupe), and the source prepares the next chunk while this one is written.
   */
  prepare(records: KafkaRecord[]): Promise<ProcessedChunk> {
    const run = this.processing.then(() =>
      this.options.topology.processBatch(records, { log: this.options.log }),
    );
    this.processing = run.catch(() => undefined);
    return run;
  }

  /** Applies one chunk, retrying transient faults; resolves once the target committed it. */
  async apply(chunk: SourceChunk<ProcessedChunk>): Promise<void> {
    const { metrics } = this.options;
    const topic = chunk.topic;
    if (this.stopped.has(topic)) throw new ChunkAbandonedError(`table of ${topic} is stopped`);
    let bytes = 0;
    for (const r of chunk.records) bytes += (r.key?.length ?? 0) + (r.value?.length ?? 0);
    metrics.eventsConsumed.inc({ topic }, chunk.records.length);
    metrics.bytesConsumed.inc({ topic }, bytes);

    for (let attempt = 1; ; attempt++) {
      if (!chunk.isActive())
        throw new ChunkAbandonedError('consumer stopping or partition revoked');
      try {
        // The chunk prepared ahead while the one before was written; a retry processes afresh.
        const prepared = attempt === 1 ? chunk.prepared : undefined;
        await this.step.run(chunk, await (prepared ?? this.prepare(chunk.records)));
        return;
      } catch (error) {
        if (error instanceof ChunkAbandonedError) throw error;
        if (!(error instanceof PgferryError) || !error.retriable) {
          this.stopTable(topic, chunk.partition, error);
          throw new ChunkAbandonedError('table stopped');
        }
        await this.waitBeforeRetry(chunk, attempt, error);
      }
    }
  }

  /** Backs off before the next attempt, heartbeating, so the group keeps us while a service is down. */
  private async waitBeforeRetry(
    chunk: SourceChunk<ProcessedChunk>,
    attempt: number,
    error: PgferryError,
  ): Promise<void> {
    const delay = this.backoffMs(attempt);
    this.options.metrics.retries.inc({ cause: error.constructor.name });
    this.lastError = error.message;
    this.options.log.warn(
      {
        topic: chunk.topic,
        partition: chunk.partition,
        attempt,
        delayMs: delay,
        err: error.message,
      },
      'transient fault; retrying the batch',
    );
    const until = Date.now() + delay;
    while (Date.now() < until) {
      if (!chunk.isActive())
        throw new ChunkAbandonedError('consumer stopping or partition revoked');
      await chunk.heartbeat().catch(() => undefined);
      await sleep(Math.min(1000, Math.max(0, until - Date.now())));
    }
  }

  /**
   * The one route to stopping a table: its topic is no longer fetched until restart, the others
   * continue. `error` says why (TableStoppedError names the table; anything else is unexpected).
   */
  private stopTable(topic: string, partition: number, error: unknown): void {
    const stopped = error instanceof TableStoppedError;
    const reason = stopped ? error.message : `unexpected error: ${(error as Error).message}`;
    if (!stopped) this.options.metrics.batches.inc({ outcome: 'failed' });
    if (!this.stopped.has(topic)) {
      this.stopped.set(topic, reason);
      // Labelled like the other table metrics (schema.table); the topic when the table is unknown.
      this.options.metrics.tablesStopped.set({ table: stopped ? error.table : topic }, 1);
      this.options.log.error(
        { topic, reason },
        'table stopped: fix the cause and restart pgferry; other tables continue',
      );
    }
    this.source?.pauseTopic(topic);
    if (!stopped) {
      this.options.log.error({ topic, partition, err: (error as Error).stack }, 'batch failed');
    }
  }
}

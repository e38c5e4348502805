// The runner drives source -> topology -> sink with an explicit lifecycle (stopped -> starting ->
// running -> stopping -> stopped; start and stop are idempotent). Per batch: process, dead-letter
// the poison records, write rows and offsets in one target transaction (the DLQ send happens
// before its commit), then let the source commit to Kafka. Transient faults are retried with
// capped, jittered backoff while heartbeating; the batch is never acknowledged before the sink
// has committed it. An operator can pause the runner (stop applying, keep the group and the
// offsets) and resume it; the pause outlives consumer restarts and is reported on /healthz.

import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import type { PgferryConfig } from '../core/config.js';
import { PgferryError, PoisonMessageError, SchemaIncompatibleError } from '../core/errors.js';
import { configureFaultInjection } from '../core/fault-points.js';
import { probeBrokers } from '../core/kafka-client.js';
import type { Logger } from '../core/logger.js';
import type { PgferryMetrics } from '../core/metrics.js';
import { type DeadLetter, DlqProducer, dlqTopicFor } from '../sink/dlq-producer.js';
import { type PostgresSink, TableStoppedError } from '../sink/postgres-sink.js';
import type { BatchResult, Topology } from './processors/topology.js';
import { type RowChange, tableKey } from './row-change.js';
import type { KafkaRecord } from './source/kafka-record.js';
import { BatchAbandonedError, KafkaSource, type SourceBatch } from './source/kafka-source.js';

export type RunnerState = 'stopped' | 'starting' | 'running' | 'stopping';

/** What /pause, /resume and /healthz report. */
export interface PauseStatus {
  state: RunnerState;
  /** Pause requested and in effect: no batch in flight, none will be applied until resume. */
  paused: boolean;
  /** Pause requested, the batch in flight is still being applied and committed. */
  pausing: boolean;
}

export interface PipelineRunnerOptions {
  config: PgferryConfig;
  kafka: Kafka;
  topology: Topology<KafkaRecord, RowChange>;
  sink: PostgresSink;
  log: Logger;
  metrics: PgferryMetrics;
}

export class PipelineRunner {
  private stateValue: RunnerState = 'stopped';
  private source: KafkaSource | undefined;
  private dlq: DlqProducer | undefined;
  private readonly stoppedTopics = new Map<string, string>();
  private lastError: string | undefined;
  private startPromise: Promise<void> | undefined;
  private stopPromise: Promise<void> | undefined;
  private pauseRequested = false;
  /** What start is waiting for ("target PostgreSQL: <why>"), for /readyz; unset once up. */
  private waitingForValue: string | undefined;
  /** Aborted by stop: a start waiting between attempts gives up at once. */
  private stopping = new AbortController();
  /** The topology's current batch: batches go through it one at a time. */
  private processing: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: PipelineRunnerOptions) {
    options.metrics.paused.set(0);
    configureFaultInjection(options.config.faultInjection, options.log);
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
   * Stops applying: no fetch, no new batch. Resolves once the batch in flight is committed (or
   * abandoned uncommitted); offsets in the target and Kafka stay where the last commit put them.
   */
  async pause(): Promise<PauseStatus> {
    if (!this.pauseRequested) {
      this.pauseRequested = true;
      this.options.metrics.paused.set(1);
      this.options.log.info('pause requested: finishing the batch in flight');
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

  get stoppedTables(): ReadonlyMap<string, string> {
    return this.stoppedTopics;
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
    const { config, log } = this.options;
    this.stateValue = 'starting';
    this.stopping = new AbortController();
    await this.options.topology.init({ log });
    await this.retryUntilUp('target PostgreSQL', () => this.options.sink.start());
    // A TCP probe first: kafkajs alone would retry for minutes before saying anything clear.
    await this.retryUntilUp('Kafka', () => probeBrokers(config.kafka.brokers));
    this.dlq = new DlqProducer({
      kafka: this.options.kafka,
      groupId: config.kafka.groupId,
      log,
      ...(config.dlq.topic ? { topic: config.dlq.topic } : {}),
    });
    await this.retryUntilUp('Kafka (DLQ producer)', () => (this.dlq as DlqProducer).start());
    // Stopped while it got this far: start no consumer (doStop has not waited for this one).
    if (this.stopping.signal.aborted) return;
    const dlqTopic = config.dlq.topic;
    this.source = new KafkaSource({
      kafka: this.options.kafka,
      groupId: config.kafka.groupId,
      topicPattern: config.kafka.topicPattern,
      excludeTopic: (t) => t.endsWith('.dlq') || t === dlqTopic || t.startsWith('__'),
      maxRows: config.batch.maxRows,
      maxBytes: config.batch.maxBytes,
      topicRefreshMs: config.consumer.topicRefreshSeconds * 1000,
      pollTimeoutMs: Math.round(config.consumer.pollTimeoutSeconds * 1000),
      log,
      handleBatch: (batch) => this.handleBatch(batch),
      prepare: (records) => this.processRecords(records),
      storedOffsets: (topic) => this.options.sink.storedOffsets(config.kafka.groupId, topic),
      isTopicStopped: (topic) => this.stoppedTopics.has(topic),
    });
    // Paused before the consumer existed: it starts paused.
    if (this.pauseRequested) void this.source.pause();
    await this.retryUntilUp('Kafka (consumer)', () => (this.source as KafkaSource).start());
    if (this.stateValue === 'starting') this.stateValue = 'running';
    log.info(
      { group: config.kafka.groupId, pattern: config.kafka.topicPattern.source },
      'pgferry running',
    );
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
    // The source first: it finishes (or abandons) the batch in flight, so nothing is half-written.
    await this.source?.stop();
    await this.dlq?.stop();
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
    const cap = this.options.config.retry.maxDelaySeconds * 1000;
    const ceiling = Math.min(cap, 200 * 2 ** Math.min(attempt - 1, 20));
    return Math.round(ceiling * (0.5 + Math.random() * 0.5));
  }

  /**
   * Runs records through the topology. One batch at a time: the processors keep per-batch state
   * (dedupe), and the source prepares the next chunk while this one is written.
   */
  private processRecords(records: KafkaRecord[]): Promise<BatchResult<KafkaRecord, RowChange>> {
    const run = this.processing.then(() =>
      this.options.topology.processBatch(records, { log: this.options.log }),
    );
    this.processing = run.catch(() => undefined);
    return run;
  }

  private async handleBatch(batch: SourceBatch): Promise<void> {
    const { config, log, metrics } = this.options;
    const topic = batch.topic;
    if (this.stoppedTopics.has(topic))
      throw new BatchAbandonedError(`table of ${topic} is stopped`);
    const bytes = batch.records.reduce(
      (n, r) => n + (r.key?.length ?? 0) + (r.value?.length ?? 0),
      0,
    );
    metrics.eventsConsumed.inc({ topic }, batch.records.length);
    metrics.bytesConsumed.inc({ topic }, bytes);
    const last = batch.records[batch.records.length - 1] as KafkaRecord;
    const nextOffset = (BigInt(last.offset) + 1n).toString();

    // A slow target (a lock waited for up to the sink's 30 s lock_timeout, a large merge) must
    // not outlast the group's 30 s session: heartbeat while the sink works, or the broker evicts
    // this member mid-batch and hands its partitions to another.
    let heartbeats: NodeJS.Timeout | undefined;
    for (let attempt = 1; ; attempt++) {
      if (!batch.isActive())
        throw new BatchAbandonedError('consumer stopping or partition revoked');
      try {
        // The chunk prepared ahead while the one before was written; a retry processes afresh.
        const processed = await (attempt === 1 && batch.prepared
          ? (batch.prepared as Promise<BatchResult<KafkaRecord, RowChange>>)
          : this.processRecords(batch.records));
        for (const [stage, ms] of Object.entries(processed.timingsMs)) {
          metrics.stageSeconds.observe({ stage }, ms / 1000);
        }

        const incompatible = processed.failures.find(
          (f) => f.error instanceof SchemaIncompatibleError,
        );
        if (incompatible) {
          this.stopTopic(
            topic,
            incompatible.error.message,
            (incompatible.error as SchemaIncompatibleError).table,
          );
          throw new BatchAbandonedError('table stopped');
        }
        const letters: DeadLetter[] = processed.failures.map((f) => ({
          record: f.source,
          stage: f.processor,
          error: f.error,
        }));
        let dlqMs = 0;
        const applyStart = performance.now();
        heartbeats = setInterval(() => void batch.heartbeat().catch(() => undefined), 3_000);
        const written = await this.options.sink.writeBatch(
          {
            groupId: config.kafka.groupId,
            topic,
            partition: batch.partition,
            nextOffset,
            changes: processed.outputs,
          },
          {
            deadLetters: letters.length,
            beforeCommit: async (rejected) => {
              const byOffset =
                rejected.length > 0 ? new Map(batch.records.map((r) => [r.offset, r])) : undefined;
              const all = [
                ...letters,
                ...rejected.flatMap((r) =>
                  [r.change.origin, ...(r.change.folded ?? [])].map((origin) => ({
                    record: byOffset?.get(origin.offset) as KafkaRecord,
                    stage: 'apply',
                    error: r.error,
                  })),
                ),
              ].filter((l) => l.record !== undefined);
              const dlqStart = performance.now();
              await (this.dlq as DlqProducer).send(all);
              dlqMs = performance.now() - dlqStart;
              for (const l of all) {
                metrics.dlqMessages.inc({
                  topic,
                  reason:
                    l.error instanceof PoisonMessageError ? l.error.name : l.error.name || 'Error',
                });
              }
            },
          },
        );
        clearInterval(heartbeats);
        metrics.batchApplySeconds.observe((performance.now() - applyStart) / 1000);
        for (const [stage, ms] of Object.entries(written.timingsMs)) {
          metrics.stageSeconds.observe({ stage }, ms / 1000);
        }
        if (dlqMs > 0) metrics.stageSeconds.observe({ stage: 'dlq' }, dlqMs / 1000);
        metrics.batches.inc({ outcome: written.alreadyApplied ? 'replayed' : 'applied' });
        // With the batch's outcome, not at fetch: a progress interval's batch sizes then describe
        // the batches it applied.
        metrics.batchRows.observe(batch.records.length);
        this.recordApplied(processed.outputs, written.alreadyApplied);
        if (written.rejected.length > 0 || letters.length > 0) {
          log.warn(
            {
              topic,
              partition: batch.partition,
              dlq: dlqTopicFor(topic, config.dlq.topic),
              poison: letters.length,
              rejected: written.rejected.length,
            },
            'batch applied with records dead-lettered',
          );
        }
        return;
      } catch (error) {
        clearInterval(heartbeats);
        if (error instanceof BatchAbandonedError) throw error;
        if (error instanceof TableStoppedError) {
          this.stopTopic(topic, error.message, error.table);
          throw new BatchAbandonedError('table stopped');
        }
        if (!(error instanceof PgferryError) || !error.retriable) {
          // Unknown failure on this table's data: stop the table, keep the others going.
          metrics.batches.inc({ outcome: 'failed' });
          this.stopTopic(topic, `unexpected error: ${(error as Error).message}`);
          log.error(
            { topic, partition: batch.partition, err: (error as Error).stack },
            'batch failed',
          );
          throw new BatchAbandonedError('table stopped');
        }
        const delay = this.backoffMs(attempt);
        metrics.retries.inc({ cause: error.constructor.name });
        this.lastError = error.message;
        log.warn(
          { topic, partition: batch.partition, attempt, delayMs: delay, err: error.message },
          'transient fault; retrying the batch',
        );
        // Sleep in slices, heartbeating, so the group keeps us while a service is down.
        const until = Date.now() + delay;
        while (Date.now() < until) {
          if (!batch.isActive())
            throw new BatchAbandonedError('consumer stopping or partition revoked');
          await batch.heartbeat().catch(() => undefined);
          await sleep(Math.min(1000, Math.max(0, until - Date.now())));
        }
      }
    }
  }

  private recordApplied(changes: RowChange[], replayed: boolean): void {
    if (replayed) return;
    const { metrics } = this.options;
    const newest = new Map<string, number>();
    // Counted per (table, op) first: a labelled metric lookup per change is not free.
    const counts = new Map<string, { table: string; op: string; n: number }>();
    for (const c of changes) {
      const table = tableKey(c.table);
      const id = `${table}\u0000${c.op}`;
      const count = counts.get(id);
      if (count) count.n += 1;
      else counts.set(id, { table, op: c.op, n: 1 });
      newest.set(table, Math.max(newest.get(table) ?? 0, c.sourceTsMs));
    }
    for (const { table, op, n } of counts.values()) metrics.changesApplied.inc({ table, op }, n);
    const now = Date.now();
    for (const [table, ts] of newest) {
      if (ts <= 0) continue;
      metrics.lastAppliedSourceTs.set({ table }, ts / 1000);
      metrics.endToEndLag.set({ table }, Math.max(0, (now - ts) / 1000));
      metrics.endToEndLagHistogram.observe(Math.max(0, (now - ts) / 1000));
    }
  }

  private stopTopic(topic: string, reason: string, table?: string): void {
    if (!this.stoppedTopics.has(topic)) {
      this.stoppedTopics.set(topic, reason);
      // Labelled like the other table metrics (schema.table); the topic when the table is unknown.
      this.options.metrics.tablesStopped.set({ table: table ?? topic }, 1);
      this.options.log.error(
        { topic, reason },
        'table stopped: fix the cause and restart pgferry; other tables continue',
      );
    }
    this.source?.pauseTopic(topic);
  }
}

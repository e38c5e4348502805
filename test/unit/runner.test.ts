// The runner against fakes of its ports (pipeline/ports.ts): a source that hands it chunks, a sink
// that stages and commits, a dead-letter sink. No broker, no database: what is asserted is the
// order of the step (process -> stage -> dead-letter -> commit), retries, stopping a table, and
// giving a chunk back when the partition is revoked or the runner stops.
import { describe, expect, it } from 'vitest';
import {
  PoisonMessageError,
  RetriableError,
  SchemaIncompatibleError,
  TableStoppedError,
} from '../../core/errors.js';
import { createLogger } from '../../core/logger.js';
import { createMetrics } from '../../core/metrics.js';
import type { ProcessedChunk } from '../../pipeline/chunk-step.js';
import {
  type ChangeBatch,
  type ChangeSink,
  type ChangeSource,
  ChunkAbandonedError,
  type ChunkHandler,
  type CommitResult,
  type DeadLetter,
  type DeadLetterSink,
  type RejectedChange,
  type SourceChunk,
  type StagedBatch,
} from '../../pipeline/ports.js';
import { Topology } from '../../pipeline/processors/topology.js';
import type { RowChange } from '../../pipeline/row-change.js';
import { PipelineRunner } from '../../pipeline/runner.js';
import type { KafkaRecord } from '../../pipeline/source/kafka-record.js';

const log = createLogger('silent');

function record(topic: string, offset: number, value: string): KafkaRecord {
  return {
    topic,
    partition: 0,
    offset: String(offset),
    key: Buffer.from(`k${offset}`),
    value: Buffer.from(value),
    headers: {},
    timestamp: '0',
  };
}

/** value "poison" -> PoisonMessageError, "incompatible" -> SchemaIncompatibleError, else a row. */
const toChange = {
  name: 'transform',
  process(r: KafkaRecord): RowChange[] {
    const value = r.value?.toString() ?? '';
    if (value === 'poison') throw new PoisonMessageError(`cannot decode offset ${r.offset}`);
    if (value === 'incompatible')
      throw new SchemaIncompatibleError('column type changed', { table: 'public.t' });
    return [
      {
        table: { schema: 'public', name: r.topic.split('.').pop() as string },
        op: 'c',
        key: { id: r.offset },
        after: { id: r.offset, v: value },
        position: BigInt(r.offset) + 1n,
        sourceTsMs: 1,
        txId: null,
        schema: { id: '1', columns: [], primaryKey: ['id'] } as unknown as RowChange['schema'],
        origin: { topic: r.topic, partition: r.partition, offset: r.offset },
      },
    ];
  },
};

type Event = string;

class FakeSink implements ChangeSink {
  isConnected = true;
  readonly events: Event[] = [];
  readonly committed: ChangeBatch[] = [];
  /** Errors thrown by the next stage() calls, in order. */
  readonly stageFailures: Error[] = [];
  /** Rows to reject, by Kafka offset. */
  rejectOffsets = new Set<string>();
  alreadyApplied = false;
  /** Rejected rows without their Kafka origin: handling them after stage() throws. */
  corruptRejected = false;
  /** When set, stage() waits for it (a slow target). */
  gate: Promise<void> | undefined;

  async start(): Promise<void> {}
  async stop(): Promise<void> {
    this.events.push('sink stop');
  }

  async stage(batch: ChangeBatch, options: { deadLetters: number }): Promise<StagedBatch> {
    this.events.push(`stage ${batch.topic} next=${batch.nextOffset} dl=${options.deadLetters}`);
    await this.gate;
    const failure = this.stageFailures.shift();
    if (failure) throw failure;
    const rejected: RejectedChange[] = batch.changes
      .filter((c) => this.rejectOffsets.has(c.origin.offset))
      .map((change) => ({
        change: this.corruptRejected
          ? ({ ...change, origin: undefined } as unknown as RowChange)
          : change,
        error: new Error('violates check constraint'),
      }));
    const result: CommitResult = {
      applied: batch.changes.length,
      tables: [],
      timingsMs: { copy: 1, merge: 1, commit: 1 },
    };
    return {
      alreadyApplied: this.alreadyApplied,
      rejected,
      commit: async () => {
        this.events.push(`commit ${batch.topic} next=${batch.nextOffset}`);
        this.committed.push(batch);
        return result;
      },
      abort: async () => {
        this.events.push(`abort ${batch.topic}`);
      },
    };
  }
}

class FakeDeadLetters implements DeadLetterSink {
  readonly sent: DeadLetter[] = [];
  failures = 0;
  constructor(private readonly events: Event[]) {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  topicFor(topic: string): string {
    return `${topic}.dlq`;
  }
  async send(letters: readonly DeadLetter[]): Promise<void> {
    this.events.push(`dlq ${letters.map((l) => `${l.record.offset}:${l.stage}`).join(',')}`);
    if (this.failures > 0) {
      this.failures -= 1;
      throw new RetriableError('broker unavailable');
    }
    this.sent.push(...letters);
  }
}

class FakeSource implements ChangeSource {
  isJoined = true;
  isBusy = false;
  topics: string[] = ['cdc.public.t'];
  readonly pausedTopics: string[] = [];
  paused = false;
  constructor(readonly handler: ChunkHandler<ProcessedChunk>) {}
  describe(): Record<string, string> {
    return { pattern: '^cdc\\.' };
  }
  async probe(): Promise<void> {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  async pause(): Promise<void> {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  pauseTopic(topic: string): void {
    this.pausedTopics.push(topic);
  }

  /** Hands a chunk to the runner as KafkaSource does; says how it ended. */
  async deliver(
    records: KafkaRecord[],
    options: { isActive?: () => boolean; prepareAhead?: boolean } = {},
  ): Promise<'committed' | 'abandoned'> {
    const first = records[0] as KafkaRecord;
    let heartbeats = 0;
    const chunk: SourceChunk<ProcessedChunk> = {
      topic: first.topic,
      partition: first.partition,
      records,
      heartbeat: async () => {
        heartbeats += 1;
      },
      isActive: options.isActive ?? (() => true),
      ...(options.prepareAhead ? { prepared: this.handler.prepare(records) } : {}),
    };
    try {
      await this.handler.apply(chunk);
      return 'committed';
    } catch (error) {
      if (error instanceof ChunkAbandonedError) return 'abandoned';
      throw error;
    } finally {
      void heartbeats;
    }
  }
}

async function startRunner(overrides: { retryMaxDelayMs?: number } = {}) {
  const sink = new FakeSink();
  const deadLetters = new FakeDeadLetters(sink.events);
  const metrics = createMetrics();
  let source: FakeSource | undefined;
  const runner = new PipelineRunner({
    groupId: 'g',
    retryMaxDelayMs: overrides.retryMaxDelayMs ?? 20,
    topology: Topology.from<KafkaRecord>().through(toChange),
    createSource: (handler) => {
      source = new FakeSource(handler);
      return source;
    },
    sink,
    deadLetters,
    log,
    metrics,
  });
  await runner.start();
  if (!source) throw new Error('the runner built no source');
  return { runner, sink, deadLetters, metrics, source };
}

const counter = async (metrics: ReturnType<typeof createMetrics>, name: string) =>
  (await metrics.registry.getSingleMetric(name)?.get())?.values ?? [];

describe('PipelineRunner (fake ports)', () => {
  it('stages a chunk with its next offset, then commits it', async () => {
    const { runner, sink, source } = await startRunner();
    expect(runner.state).toBe('running');
    const outcome = await source.deliver([
      record('cdc.public.t', 5, 'a'),
      record('cdc.public.t', 6, 'b'),
    ]);
    expect(outcome).toBe('committed');
    expect(sink.events).toEqual(['stage cdc.public.t next=7 dl=0', 'commit cdc.public.t next=7']);
    expect(sink.committed[0]?.changes.map((c) => c.key.id)).toEqual(['5', '6']);
    await runner.stop();
    expect(runner.state).toBe('stopped');
  });

  it('counts applied changes per (table, op), every op of a new table starting at 0', async () => {
    const { runner, metrics, source } = await startRunner();
    await source.deliver([record('cdc.public.t', 1, 'a'), record('cdc.public.t', 2, 'b')]);
    const applied = await counter(metrics, 'pgferry_changes_applied_total');
    const byOp = Object.fromEntries(applied.map((v) => [v.labels.op, v.value]));
    // A later first delete then shows in rate()/increase(): its series already exists.
    expect(byOp).toEqual({ c: 2, r: 0, u: 0, d: 0, t: 0 });
    await runner.stop();
  });

  it('uses the chunk prepared ahead on the first attempt', async () => {
    const { runner, sink, source } = await startRunner();
    expect(await source.deliver([record('cdc.public.t', 1, 'a')], { prepareAhead: true })).toBe(
      'committed',
    );
    expect(sink.committed).toHaveLength(1);
    await runner.stop();
  });

  it('dead-letters poison records after staging and before the commit', async () => {
    const { runner, sink, deadLetters, metrics, source } = await startRunner();
    await source.deliver([
      record('cdc.public.t', 1, 'a'),
      record('cdc.public.t', 2, 'poison'),
      record('cdc.public.t', 3, 'c'),
    ]);
    expect(sink.events).toEqual([
      'stage cdc.public.t next=4 dl=1',
      'dlq 2:transform',
      'commit cdc.public.t next=4',
    ]);
    expect(deadLetters.sent[0]?.error).toBeInstanceOf(PoisonMessageError);
    expect(sink.committed[0]?.changes.map((c) => c.key.id)).toEqual(['1', '3']);
    const dlq = await counter(metrics, 'pgferry_dlq_messages_total');
    expect(dlq.map((v) => v.value)).toEqual([1]);
    await runner.stop();
  });

  it('dead-letters rows the target rejected with their original records', async () => {
    const { runner, sink, deadLetters, source } = await startRunner();
    sink.rejectOffsets.add('8');
    await source.deliver([record('cdc.public.t', 7, 'a'), record('cdc.public.t', 8, 'b')]);
    expect(sink.events).toEqual([
      'stage cdc.public.t next=9 dl=0',
      'dlq 8:apply',
      'commit cdc.public.t next=9',
    ]);
    expect(deadLetters.sent.map((l) => l.record.value?.toString())).toEqual(['b']);
    await runner.stop();
  });

  it('rolls back when the dead-letter send fails, and retries the whole chunk', async () => {
    const { runner, sink, deadLetters, metrics, source } = await startRunner();
    deadLetters.failures = 1;
    await source.deliver([record('cdc.public.t', 1, 'poison'), record('cdc.public.t', 2, 'b')]);
    expect(sink.events).toEqual([
      'stage cdc.public.t next=3 dl=1',
      'dlq 1:transform',
      'abort cdc.public.t',
      'stage cdc.public.t next=3 dl=1',
      'dlq 1:transform',
      'commit cdc.public.t next=3',
    ]);
    expect(deadLetters.sent).toHaveLength(1);
    const retries = await counter(metrics, 'pgferry_retries_total');
    expect(retries.map((v) => [v.labels.cause, v.value])).toEqual([['RetriableError', 1]]);
    await runner.stop();
  });

  it('retries a transient target fault with backoff until it commits', async () => {
    const { runner, sink, source } = await startRunner({ retryMaxDelayMs: 50 });
    sink.stageFailures.push(new RetriableError('target down'), new RetriableError('target down'));
    const started = Date.now();
    expect(await source.deliver([record('cdc.public.t', 1, 'a')])).toBe('committed');
    expect(sink.events.filter((e) => e.startsWith('stage'))).toHaveLength(3);
    expect(sink.committed).toHaveLength(1);
    // Two waits of at least half the first two backoff steps (100 ms, then capped at 50 ms).
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    await runner.stop();
  });

  it('gives the chunk back uncommitted when the partition is revoked during a retry', async () => {
    const { runner, sink, source } = await startRunner({ retryMaxDelayMs: 5_000 });
    sink.stageFailures.push(new RetriableError('target down'));
    let active = true;
    setTimeout(() => {
      active = false;
    }, 50);
    const outcome = await source.deliver([record('cdc.public.t', 1, 'a')], {
      isActive: () => active,
    });
    expect(outcome).toBe('abandoned');
    expect(sink.committed).toHaveLength(0);
    await runner.stop();
  });

  it('does not start a chunk once its partition is gone', async () => {
    const { runner, sink, source } = await startRunner();
    const outcome = await source.deliver([record('cdc.public.t', 1, 'a')], {
      isActive: () => false,
    });
    expect(outcome).toBe('abandoned');
    expect(sink.events).toEqual([]);
    await runner.stop();
  });

  it('stops a table whose target refuses it, and keeps applying the others', async () => {
    const { runner, sink, metrics, source } = await startRunner();
    sink.stageFailures.push(new TableStoppedError('public.t', 'permission denied for table t'));
    expect(await source.deliver([record('cdc.public.t', 1, 'a')])).toBe('abandoned');
    expect(source.pausedTopics).toEqual(['cdc.public.t']);
    expect(runner.stoppedTopics.get('cdc.public.t')).toMatch(/permission denied/);
    expect(runner.isTopicStopped('cdc.public.t')).toBe(true);
    // Its next chunk is refused without touching the sink; another table goes on.
    expect(await source.deliver([record('cdc.public.t', 2, 'b')])).toBe('abandoned');
    expect(await source.deliver([record('cdc.public.u', 1, 'c')])).toBe('committed');
    expect(sink.committed.map((b) => b.topic)).toEqual(['cdc.public.u']);
    const stopped = await counter(metrics, 'pgferry_table_stopped');
    expect(stopped.map((v) => [v.labels.table, v.value])).toEqual([['public.t', 1]]);
    await runner.stop();
  });

  it('stops a table on an incompatible schema change, by the same route', async () => {
    const { runner, sink, source } = await startRunner();
    expect(await source.deliver([record('cdc.public.t', 1, 'incompatible')])).toBe('abandoned');
    expect(sink.events).toEqual([]);
    expect(source.pausedTopics).toEqual(['cdc.public.t']);
    expect(runner.stoppedTopics.get('cdc.public.t')).toBe('column type changed');
    await runner.stop();
  });

  it('stops a table on an unexpected error instead of retrying it forever', async () => {
    const { runner, sink, metrics, source } = await startRunner();
    sink.stageFailures.push(new TypeError('something nobody planned for'));
    expect(await source.deliver([record('cdc.public.t', 1, 'a')])).toBe('abandoned');
    expect(runner.stoppedTopics.get('cdc.public.t')).toMatch(/^unexpected error: something/);
    const batches = await counter(metrics, 'pgferry_batches_total');
    expect(batches.find((v) => v.labels.outcome === 'failed')?.value).toBe(1);
    await runner.stop();
  });

  it('counts a replayed chunk as replayed and applies no rows twice', async () => {
    const { runner, sink, metrics, source } = await startRunner();
    sink.alreadyApplied = true;
    await source.deliver([record('cdc.public.t', 1, 'a')]);
    const batches = await counter(metrics, 'pgferry_batches_total');
    expect(batches.find((v) => v.labels.outcome === 'replayed')?.value).toBe(1);
    const applied = await counter(metrics, 'pgferry_changes_applied_total');
    expect(applied.reduce((n, v) => n + v.value, 0)).toBe(0);
    await runner.stop();
  });

  it('sends no dead letter again for a chunk the target already had (a replay)', async () => {
    const { runner, sink, deadLetters, source } = await startRunner();
    sink.alreadyApplied = true;
    await source.deliver([record('cdc.public.t', 1, 'poison'), record('cdc.public.t', 2, 'b')]);
    expect(deadLetters.sent).toEqual([]);
    expect(sink.events).toEqual(['stage cdc.public.t next=3 dl=1', 'commit cdc.public.t next=3']);
    await runner.stop();
  });

  it('never leaves a staged transaction open: a failure before the commit aborts it', async () => {
    const { runner, sink, source } = await startRunner();
    sink.rejectOffsets.add('1');
    sink.corruptRejected = true;
    expect(await source.deliver([record('cdc.public.t', 1, 'a')])).toBe('abandoned');
    expect(sink.events).toEqual(['stage cdc.public.t next=2 dl=0', 'abort cdc.public.t']);
    expect(runner.stoppedTopics.get('cdc.public.t')).toMatch(/^unexpected error/);
    await runner.stop();
  });

  it('pauses and resumes through the source, and reports it', async () => {
    const { runner, source, metrics } = await startRunner();
    const status = await runner.pause();
    expect(status).toMatchObject({ paused: true, pausing: false });
    expect(source.paused).toBe(true);
    expect((await counter(metrics, 'pgferry_paused'))[0]?.value).toBe(1);
    expect(runner.resume()).toMatchObject({ paused: false });
    expect(source.paused).toBe(false);
    await runner.stop();
  });

  it('stop during a slow chunk lets the chunk finish first (source stops before the sink)', async () => {
    const { runner, sink, source } = await startRunner();
    let open: () => void = () => undefined;
    sink.gate = new Promise((resolve) => {
      open = resolve;
    });
    const delivering = source.deliver([record('cdc.public.t', 1, 'a')]);
    await new Promise((r) => setTimeout(r, 10));
    // FakeSource.stop resolves at once; the real one waits for the chunk in flight. What the
    // runner owes: it closes the sink only after the source, and is idempotent.
    const stopping = runner.stop();
    expect(runner.stop()).toBe(stopping);
    open();
    expect(await delivering).toBe('committed');
    await stopping;
    expect(sink.events.at(-1)).toBe('sink stop');
    expect(runner.state).toBe('stopped');
  });
});

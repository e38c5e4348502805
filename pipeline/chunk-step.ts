// One attempt at a chunk, top to bottom: the processed chunk's failures sorted (an incompatible
// schema stops the table, poison records become dead letters), the changes staged in the target,
// the dead letters sent and acknowledged, then the target commit; metrics and the log line after.
// Throws what the runner decides on: retriable errors are retried, the others stop the table.
import { SchemaIncompatibleError, TableStoppedError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { PgferryMetrics } from '../core/metrics.js';
import { AppliedChangesRecorder } from './applied-changes.js';
import type {
  ChangeSink,
  CommitResult,
  DeadLetter,
  DeadLetterSink,
  SourceChunk,
  StagedBatch,
} from './ports.js';
import type { BatchResult } from './processors/topology.js';
import type { RowChange } from './row-change.js';
import { nextOffsetAfter } from './source/fetch-chunks.js';
import type { KafkaRecord } from './source/kafka-record.js';

/** A chunk after the topology: its row changes and the records that failed processing. */
export type ProcessedChunk = BatchResult<KafkaRecord, RowChange>;

export interface ChunkStepOptions {
  groupId: string;
  sink: ChangeSink;
  deadLetters: DeadLetterSink;
  log: Logger;
  metrics: PgferryMetrics;
}

/** How often the group is told we are alive while a chunk takes long (its session is 30 s). */
const HEARTBEAT_MS = 3_000;

export class ChunkStep {
  private readonly applied: AppliedChangesRecorder;

  constructor(private readonly options: ChunkStepOptions) {
    this.applied = new AppliedChangesRecorder(options.metrics);
  }

  /** One attempt at a processed chunk: stage -> dead-letter -> commit the target. */
  async run(chunk: SourceChunk<ProcessedChunk>, processed: ProcessedChunk): Promise<void> {
    const { metrics } = this.options;
    for (const [stage, ms] of Object.entries(processed.timingsMs)) {
      metrics.stageSeconds.observe({ stage }, ms / 1000);
    }
    const incompatible = processed.failures.find((f) => f.error instanceof SchemaIncompatibleError);
    if (incompatible) {
      const error = incompatible.error as SchemaIncompatibleError;
      throw new TableStoppedError(error.table ?? chunk.topic, error.message, { cause: error });
    }
    const poison: DeadLetter[] = processed.failures.map((f) => ({
      record: f.source,
      stage: f.processor,
      error: f.error,
    }));

    const applyStart = performance.now();
    // A slow target (a lock waited for up to the sink's 30 s lock_timeout, a large merge) must
    // not outlast the group's 30 s session: heartbeat while the sink works, or the broker evicts
    // this member mid-chunk and hands its partitions to another.
    const heartbeats = setInterval(
      () => void chunk.heartbeat().catch(() => undefined),
      HEARTBEAT_MS,
    );
    try {
      const staged = await this.options.sink.stage(
        {
          groupId: this.options.groupId,
          topic: chunk.topic,
          partition: chunk.partition,
          nextOffset: nextOffsetAfter(chunk.records),
          firstOffset: (chunk.records[0] as KafkaRecord).offset,
          changes: processed.outputs,
        },
        { deadLetters: poison.length },
      );
      const { committed, dlqMs } = await this.deadLetterThenCommit(chunk, staged, poison);
      metrics.batchApplySeconds.observe((performance.now() - applyStart) / 1000);
      if (!staged.alreadyApplied) metrics.stageSeconds.observe({ stage: 'dlq' }, dlqMs / 1000);
      this.recordCommitted(chunk, processed, staged, committed, poison.length);
    } finally {
      clearInterval(heartbeats);
    }
  }

  /** The records behind the rows the target rejected (a folded change names several). */
  private rejectedLetters(chunk: SourceChunk<ProcessedChunk>, staged: StagedBatch): DeadLetter[] {
    if (staged.rejected.length === 0) return [];
    const byOffset = new Map(chunk.records.map((r) => [r.offset, r]));
    return staged.rejected.flatMap((r) =>
      [r.change.origin, ...(r.change.folded ?? [])].flatMap((origin) => {
        const record = byOffset.get(origin.offset);
        return record ? [{ record, stage: 'apply', error: r.error }] : [];
      }),
    );
  }

  /**
   * Dead letters are acknowledged by Kafka before the target commits the chunk's offset. Whatever
   * fails before the commit rolls the staged transaction back: it is never left open. A chunk the
   * target already had (a replay) sends nothing: its dead letters went out with it the first time.
   */
  private async deadLetterThenCommit(
    chunk: SourceChunk<ProcessedChunk>,
    staged: StagedBatch,
    poison: DeadLetter[],
  ): Promise<{ committed: CommitResult; dlqMs: number }> {
    const { metrics } = this.options;
    let dlqMs = 0;
    try {
      const letters = staged.alreadyApplied
        ? []
        : [...poison, ...this.rejectedLetters(chunk, staged)];
      if (letters.length > 0) {
        const dlqStart = performance.now();
        await this.options.deadLetters.send(letters);
        dlqMs = performance.now() - dlqStart;
        for (const l of letters) {
          metrics.dlqMessages.inc({
            topic: chunk.topic,
            reason: l.error.name || 'Error',
          });
        }
      }
    } catch (error) {
      await staged.abort();
      throw error;
    }
    // commit() rolls back itself when it fails.
    return { committed: await staged.commit(), dlqMs };
  }

  private recordCommitted(
    chunk: SourceChunk<ProcessedChunk>,
    processed: ProcessedChunk,
    staged: StagedBatch,
    committed: CommitResult,
    poison: number,
  ): void {
    const { metrics, log } = this.options;
    for (const [stage, ms] of Object.entries(committed.timingsMs)) {
      metrics.stageSeconds.observe({ stage }, ms / 1000);
    }
    metrics.batches.inc({ outcome: staged.alreadyApplied ? 'replayed' : 'applied' });
    // With the chunk's outcome, not at fetch: a progress interval's batch sizes then describe
    // the chunks it applied.
    metrics.batchRows.observe(chunk.records.length);
    if (!staged.alreadyApplied) this.applied.record(processed.outputs);
    if (!staged.alreadyApplied && (poison > 0 || staged.rejected.length > 0)) {
      log.warn(
        {
          topic: chunk.topic,
          partition: chunk.partition,
          dlq: this.options.deadLetters.topicFor(chunk.topic),
          poison,
          rejected: staged.rejected.length,
        },
        'batch applied with records dead-lettered',
      );
    }
  }
}

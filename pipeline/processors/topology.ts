// A chain of processors from a source record type to the sink's record type. `processBatch`
// drives one batch through it a slice of records at a time, keeping for every item the source
// record it came from, so a record that fails (poison) is reported with that record, while
// retriable errors abort the batch for a retry.
import { PgferryError } from '../../core/errors.js';
import type { Processor, ProcessorContext } from './processor.js';

export interface RecordFailure<S> {
  source: S;
  processor: string;
  error: PgferryError;
}

export interface BatchResult<S, O> {
  outputs: O[];
  failures: RecordFailure<S>[];
  /** Time spent in each processor over the batch (process + flush), in milliseconds. */
  timingsMs: Record<string, number>;
}

/** Records processed between two turns of the event loop. */
const SLICE = 100;

// biome-ignore lint/suspicious/noExplicitAny: a chain of processors of varying types
type AnyProcessor = Processor<any, any>;

export class Topology<S, O> {
  private constructor(private readonly processors: readonly AnyProcessor[]) {}

  static from<S>(): Topology<S, S> {
    return new Topology<S, S>([]);
  }

  through<N>(processor: Processor<O, N>): Topology<S, N> {
    return new Topology<S, N>([...this.processors, processor]);
  }

  get names(): string[] {
    return this.processors.map((p) => p.name);
  }

  async init(ctx: ProcessorContext): Promise<void> {
    for (const p of this.processors) await p.init?.(ctx);
  }

  async close(): Promise<void> {
    for (const p of this.processors) await p.close?.();
  }

  async processBatch(records: readonly S[], ctx: ProcessorContext): Promise<BatchResult<S, O>> {
    const run: BatchRun<S, O> = {
      records,
      ctx,
      outputs: [],
      failures: [],
      failed: undefined,
      timings: new Array<number>(this.processors.length).fill(0),
      lanes: [newLane(), newLane()],
    };
    // A previous attempt may have failed before its flush (a retriable error): start clean.
    for (const p of this.processors) p.reset?.();
    // A slice of records goes through one stage at a time: a stage is timed once per slice, not
    // per record, and what passes between stages sits in two reused lanes, not arrays per record.
    for (let start = 0; start < records.length; start += SLICE) {
      // Let I/O in: the next batch is processed while the previous one is written, and the
      // writer's round trips must not wait for a whole batch of decoding.
      if (start > 0) await new Promise((resolve) => setImmediate(resolve));
      const end = Math.min(records.length, start + SLICE);
      const lane = run.lanes[0];
      lane.size = 0;
      for (let r = start; r < end; r++) put(lane, records[r], r);
      await this.runStages(run, lane, 0);
    }
    // Flush in chain order: what a processor releases still passes through those after it.
    for (let i = 0; i < this.processors.length; i++) {
      const processor = this.processors[i] as AnyProcessor;
      if (!processor.flush) continue;
      const flushStart = performance.now();
      const released = await processor.flush(run.ctx);
      run.timings[i] = (run.timings[i] ?? 0) + (performance.now() - flushStart);
      if (released.length === 0) continue;
      // Records released by a flush no longer map to one source record: a failure after this
      // point is not attributable, so it aborts the batch rather than blaming a bystander.
      const lane = run.lanes[0];
      lane.size = 0;
      for (const item of released) put(lane, item, UNATTRIBUTED);
      await this.runStages(run, lane, i + 1);
    }
    const timingsMs: Record<string, number> = {};
    this.processors.forEach((p, i) => {
      timingsMs[p.name] = (timingsMs[p.name] ?? 0) + (run.timings[i] ?? 0);
    });
    // In source order, as when each record went through the whole chain before the next.
    if (run.failures.length > 1) run.failures.sort((a, b) => a.index - b.index);
    const failures = run.failures.map(({ source, processor, error }) => ({
      source,
      processor,
      error,
    }));
    return { outputs: run.outputs, failures, timingsMs };
  }

  /**
   * Runs what `input` holds through the processors from `from` on, one stage over all of it at a
   * time, and appends what comes out of the last one to the outputs. A record whose item fails
   * (poison) is dropped with every item it produced, here and after.
   */
  private async runStages(run: BatchRun<S, O>, input: Lane, from: number): Promise<void> {
    let current = input;
    for (let i = from; i < this.processors.length && current.size > 0; i++) {
      const processor = this.processors[i] as AnyProcessor;
      const next = current === run.lanes[0] ? run.lanes[1] : run.lanes[0];
      next.size = 0;
      const started = performance.now();
      for (let k = 0; k < current.size; k++) {
        const index = current.sources[k] as number;
        if (run.failed?.has(index)) continue;
        try {
          // Most processors answer synchronously: an await per record and stage adds up.
          const produced = processor.process(current.items[k], run.ctx);
          const list = produced instanceof Promise ? await produced : produced;
          for (let o = 0; o < list.length; o++) put(next, list[o], index);
        } catch (error) {
          if (index !== UNATTRIBUTED && error instanceof PgferryError && !error.retriable) {
            run.failures.push({
              index,
              source: run.records[index] as S,
              processor: processor.name,
              error,
            });
            run.failed ??= new Set();
            run.failed.add(index);
            continue;
          }
          run.timings[i] = (run.timings[i] ?? 0) + (performance.now() - started);
          throw error;
        }
      }
      run.timings[i] = (run.timings[i] ?? 0) + (performance.now() - started);
      // Drop what the last lane still references: its items belong to records already passed on.
      current.items.fill(undefined, 0, current.size);
      current.size = 0;
      current = next;
    }
    for (let k = 0; k < current.size; k++) {
      if (!run.failed?.has(current.sources[k] as number)) run.outputs.push(current.items[k] as O);
    }
    current.items.fill(undefined, 0, current.size);
    current.size = 0;
  }
}

/** Items between two stages, each with the index of the source record it came from. */
interface Lane {
  items: unknown[];
  sources: number[];
  size: number;
}

/** The source index of an item a flush released. */
const UNATTRIBUTED = -1;

const newLane = (): Lane => ({ items: [], sources: [], size: 0 });

function put(lane: Lane, item: unknown, source: number): void {
  lane.items[lane.size] = item;
  lane.sources[lane.size] = source;
  lane.size += 1;
}

/** One batch's state while it goes through the chain. */
interface BatchRun<S, O> {
  records: readonly S[];
  ctx: ProcessorContext;
  outputs: O[];
  failures: (RecordFailure<S> & { index: number })[];
  /** Indexes of the source records that failed (absent until one does). */
  failed: Set<number> | undefined;
  timings: number[];
  lanes: [Lane, Lane];
}

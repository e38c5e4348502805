// A chain of processors from a source record type to the sink's record type. `processBatch`
// drives one batch through it record by record, so a record that fails (poison) is reported with
// the source record it came from, while retriable errors abort the batch for a retry.
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
const YIELD_EVERY = 100;

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
    const outputs: O[] = [];
    const failures: RecordFailure<S>[] = [];
    const timings = new Array<number>(this.processors.length).fill(0);
    // A previous attempt may have failed before its flush (a retriable error): start clean.
    for (const p of this.processors) p.reset?.();
    for (let r = 0; r < records.length; r++) {
      // Let I/O in: the next batch is processed while the previous one is written, and the
      // writer's round trips must not wait for a whole batch of decoding.
      if (r > 0 && r % YIELD_EVERY === 0) await new Promise((resolve) => setImmediate(resolve));
      const source = records[r] as S;
      await this.push(source, [source], 0, ctx, outputs, failures, timings);
    }
    // Flush in chain order: what a processor releases still passes through those after it.
    for (let i = 0; i < this.processors.length; i++) {
      const processor = this.processors[i] as AnyProcessor;
      if (!processor.flush) continue;
      const flushStart = performance.now();
      const released = await processor.flush(ctx);
      timings[i] = (timings[i] ?? 0) + (performance.now() - flushStart);
      for (const item of released) {
        // Records released by a flush no longer map to one source record: a failure after this
        // point is not attributable, so it aborts the batch rather than blaming a bystander.
        await this.push(undefined as S, [item], i + 1, ctx, outputs, undefined, timings);
      }
    }
    const timingsMs: Record<string, number> = {};
    this.processors.forEach((p, i) => {
      timingsMs[p.name] = (timingsMs[p.name] ?? 0) + (timings[i] ?? 0);
    });
    return { outputs, failures, timingsMs };
  }

  private async push(
    source: S,
    items: unknown[],
    from: number,
    ctx: ProcessorContext,
    outputs: O[],
    failures: RecordFailure<S>[] | undefined,
    timings: number[],
  ): Promise<void> {
    let current = items;
    for (let i = from; i < this.processors.length && current.length > 0; i++) {
      const processor = this.processors[i] as AnyProcessor;
      const next: unknown[] = [];
      const started = performance.now();
      for (const item of current) {
        try {
          // Most processors answer synchronously: an await per record and stage adds up.
          const produced = processor.process(item, ctx);
          const list = produced instanceof Promise ? await produced : produced;
          for (const out of list) next.push(out);
        } catch (error) {
          timings[i] = (timings[i] ?? 0) + (performance.now() - started);
          if (failures && error instanceof PgferryError && !error.retriable) {
            failures.push({ source, processor: processor.name, error });
            return;
          }
          throw error;
        }
      }
      timings[i] = (timings[i] ?? 0) + (performance.now() - started);
      current = next;
    }
    for (const out of current as O[]) outputs.push(out);
  }
}

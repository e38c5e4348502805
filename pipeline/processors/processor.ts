// A processor has one job: it takes one record and returns zero or more (zero = filtered).
// Output leaves only by the return value; processors never touch offsets, Kafka or PostgreSQL
// (Kafka Streams' Processor API). `flush` runs at the end of each batch, for processors that hold
// records back across a batch (dedupe).
import type { Logger } from '../../core/logger.js';

export interface ProcessorContext {
  log: Logger;
}

export interface Processor<I, O> {
  readonly name: string;
  init?(ctx: ProcessorContext): void | Promise<void>;
  process(record: I, ctx: ProcessorContext): O[] | Promise<O[]>;
  flush?(ctx: ProcessorContext): O[] | Promise<O[]>;
  /** Drops what is held back: a batch that failed part-way must not leak into the next one. */
  reset?(): void;
  close?(): void | Promise<void>;
}

// Topology.processBatch (a slice of records through one stage at a time) against the record-by-
// record topology it replaced, kept below as the oracle, on random chains: maps, async steps,
// filters, fan-outs, poison, retriable and untyped errors, processors that hold until flush.
// Each processor must see the same items in the same order, and the outputs and failures (which
// source record, which processor) must be the same.
import { describe, expect, it } from 'vitest';
import { PgferryError, PoisonMessageError, RetriableError } from '../../core/errors.js';
import { createLogger } from '../../core/logger.js';
import type { Processor, ProcessorContext } from '../../pipeline/processors/processor.js';
import { type RecordFailure, Topology } from '../../pipeline/processors/topology.js';
import { createSeededRandom, type SeededRandom } from '../support/seeded-random.js';

// ---- the oracle: each record through the whole chain before the next ----

// biome-ignore lint/suspicious/noExplicitAny: a chain of processors of varying types
type AnyProcessor = Processor<any, any>;

async function oracleProcessBatch(
  processors: readonly AnyProcessor[],
  records: readonly unknown[],
  ctx: ProcessorContext,
): Promise<{ outputs: unknown[]; failures: RecordFailure<unknown>[] }> {
  const outputs: unknown[] = [];
  const failures: RecordFailure<unknown>[] = [];
  const push = async (
    source: unknown,
    items: unknown[],
    from: number,
    attributable: boolean,
  ): Promise<void> => {
    let current = items;
    for (let i = from; i < processors.length && current.length > 0; i++) {
      const processor = processors[i] as AnyProcessor;
      const next: unknown[] = [];
      for (const item of current) {
        try {
          const produced = processor.process(item, ctx);
          const list = produced instanceof Promise ? await produced : produced;
          for (const out of list) next.push(out);
        } catch (error) {
          if (attributable && error instanceof PgferryError && !error.retriable) {
            failures.push({ source, processor: processor.name, error });
            return;
          }
          throw error;
        }
      }
      current = next;
    }
    for (const out of current) outputs.push(out);
  };
  for (const p of processors) p.reset?.();
  for (const record of records) await push(record, [record], 0, true);
  for (let i = 0; i < processors.length; i++) {
    const processor = processors[i] as AnyProcessor;
    if (!processor.flush) continue;
    for (const item of await processor.flush(ctx)) await push(undefined, [item], i + 1, false);
  }
  return { outputs, failures };
}

// ---- random chains of deterministic processors ----

interface Item {
  id: number;
  path: string;
}

type Kind = 'map' | 'async' | 'filter' | 'fanout' | 'poison' | 'retriable' | 'untyped' | 'hold';

/** A processor of `kind` whose every answer depends only on the item and what it saw before. */
function processorOf(
  kind: Kind,
  name: string,
  salt: number,
  seen: string[],
  flushPoison: boolean,
): AnyProcessor {
  const hit = (item: Item, every: number) => (item.id * 31 + salt) % every === 0;
  let count = 0;
  let held: Item[] = [];
  const tag = (item: Item, suffix = '') => ({ id: item.id, path: `${item.path}/${name}${suffix}` });
  return {
    name,
    reset() {
      held = [];
    },
    process(item: Item) {
      seen.push(`${item.id}${item.path}`);
      count += 1;
      switch (kind) {
        case 'map':
          return [{ ...tag(item), id: item.id + (count % 3) }];
        case 'async':
          return hit(item, 2) ? Promise.resolve([tag(item)]) : [tag(item)];
        case 'filter':
          return hit(item, 3) ? [] : [tag(item)];
        case 'fanout':
          return Array.from({ length: (item.id + salt) % 4 }, (_, k) => ({
            id: item.id * 4 + k,
            path: `${item.path}/${name}.${k}`,
          }));
        case 'poison':
          if (hit(item, 7)) throw new PoisonMessageError(`${name} refuses ${item.id}`);
          return [tag(item)];
        case 'retriable':
          if (hit(item, 97)) throw new RetriableError(`${name} cannot reach ${item.id}`);
          return [tag(item)];
        case 'untyped':
          if (hit(item, 101)) throw new TypeError(`${name} breaks on ${item.id}`);
          return [tag(item)];
        case 'hold':
          held.push(item);
          return [];
      }
    },
    flush() {
      if (kind !== 'hold') return [];
      const out = held.reverse().map((h) => tag(h, ':flush'));
      held = [];
      if (flushPoison && out.length > 0) return [{ id: -7, path: 'poisoned' }, ...out];
      return out;
    },
  };
}

const KINDS: Kind[] = [
  'map',
  'async',
  'filter',
  'fanout',
  'poison',
  'retriable',
  'untyped',
  'hold',
];

interface Chain {
  build: () => { processors: AnyProcessor[]; seen: Map<string, string[]> };
  /** Processors that may throw an error that rejects the batch. */
  throwers: number;
}

function randomChain(random: SeededRandom): Chain {
  const length = 1 + random.int(5);
  const kinds = Array.from({ length }, () => random.pick(KINDS));
  const salts = kinds.map(() => random.int(1000));
  const flushPoison = random.chance(0.1);
  return {
    throwers:
      kinds.filter((k) => k === 'retriable' || k === 'untyped').length +
      // After a hold, what a flush releases is not attributable: a poison there rejects too.
      kinds.filter((k, i) => k === 'poison' && kinds.includes('hold') && kinds.indexOf('hold') < i)
        .length +
      (flushPoison && kinds.includes('hold') ? 1 : 0),
    build: () => {
      const seen = new Map<string, string[]>();
      const processors = kinds.map((kind, i) => {
        const name = `${kind}${i}`;
        const log: string[] = [];
        seen.set(name, log);
        return processorOf(kind, name, salts[i] as number, log, flushPoison);
      });
      // A later poison step refuses the flush's marker item: not attributable, the batch fails.
      processors.push({
        name: 'tail',
        process: (item: Item) => {
          if (item.id === -7) throw new PoisonMessageError('released by a flush');
          return [item];
        },
      });
      return { processors, seen };
    },
  };
}

type Outcome =
  | { ok: true; outputs: unknown[]; failures: [unknown, string, string][] }
  | { ok: false; error: string };

const failuresOf = (failures: RecordFailure<unknown>[]): [unknown, string, string][] =>
  failures.map((f) => [f.source, f.processor, `${f.error.name}: ${f.error.message}`]);

describe('topology against the record-by-record reference', () => {
  it('gives the same outputs, failures and processor inputs on 1500 random chains', async () => {
    const random = createSeededRandom(23);
    const ctx: ProcessorContext = { log: createLogger('silent') };
    let failed = 0;
    let rejected = 0;
    for (let run = 0; run < 1500; run++) {
      const chain = randomChain(random);
      // Past one slice (100 records) now and then: failures in one slice, outputs in another.
      const size = random.chance(0.2) ? 100 + random.int(250) : random.int(30);
      const records: Item[] = Array.from({ length: size }, (_, i) => ({ id: i, path: '' }));

      const reference = chain.build();
      const expected: Outcome = await oracleProcessBatch(reference.processors, records, ctx).then(
        (r) => ({ ok: true as const, outputs: r.outputs, failures: failuresOf(r.failures) }),
        (e: Error) => ({ ok: false as const, error: `${e.name}: ${e.message}` }),
      );
      const actual = chain.build();
      let topology = Topology.from<Item>();
      for (const p of actual.processors) topology = topology.through(p);
      const result: Outcome = await topology.processBatch(records, ctx).then(
        (r) => ({ ok: true as const, outputs: r.outputs, failures: failuresOf(r.failures) }),
        (e: Error) => ({ ok: false as const, error: `${e.name}: ${e.message}` }),
      );
      if (expected.ok) {
        expect(actual.seen, `seed 23, run ${run}`).toEqual(reference.seen);
        expect(result, `seed 23, run ${run}`).toEqual(expected);
        failed += expected.failures.length > 0 ? 1 : 0;
      } else if (chain.throwers <= 1) {
        // One processor that can reject the batch: it rejects it on the same item.
        expect(result, `seed 23, run ${run}`).toEqual(expected);
        rejected += 1;
      } else {
        // Two of them: a slice meets the earlier processor's error first where the reference met
        // the later processor's error on an earlier record. Either way the batch is rejected.
        expect(result.ok, `seed 23, run ${run}`).toBe(false);
      }
    }
    expect(failed).toBeGreaterThan(100);
    expect(rejected).toBeGreaterThan(50);
  });
});

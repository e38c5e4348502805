// Topology.processBatch through the test driver: filtering, flush order, which source record a
// failure is blamed on, and which errors abort the batch.
import { describe, expect, it } from 'vitest';
import { PoisonMessageError, RetriableError } from '../../core/errors.js';
import { createLogger } from '../../core/logger.js';
import type { ResolvedSchema } from '../../pipeline/codec/schema-lookup.js';
import { createDecodeProcessor } from '../../pipeline/processors/decode-processor.js';
import { createDedupeProcessor } from '../../pipeline/processors/dedupe-processor.js';
import type { Processor } from '../../pipeline/processors/processor.js';
import { Topology } from '../../pipeline/processors/topology.js';
import { TopologyTestDriver } from '../../pipeline/processors/topology-test-driver.js';
import { createTransformProcessor } from '../../pipeline/processors/transform-processor.js';
import { type RowChange, UNCHANGED_TOAST } from '../../pipeline/row-change.js';
import type { KafkaRecord } from '../../pipeline/source/kafka-record.js';
import {
  type ExpectedChange,
  fixtureRecords,
  fixtureSchemaLookup,
  loadMessages,
} from '../support/debezium-fixtures.js';

interface Item {
  id: number;
  trail: string[];
}

const item = (id: number): Item => ({ id, trail: [] });

/** A processor that tags what passes and can be told to filter, fan out or fail. */
function step(
  name: string,
  behaviour: (input: Item) => Item[] = (input) => [input],
): Processor<Item, Item> & { seen: number[] } {
  const seen: number[] = [];
  return {
    name,
    seen,
    process(input) {
      seen.push(input.id);
      return behaviour(input).map((out) => ({ ...out, trail: [...out.trail, name] }));
    },
  };
}

/** Holds everything back and releases it, reversed, on flush (like dedupe). */
function holdUntilFlush(name: string): Processor<Item, Item> {
  let held: Item[] = [];
  return {
    name,
    process(input) {
      held.push(input);
      return [];
    },
    flush() {
      const out = held.reverse().map((h) => ({ ...h, trail: [...h.trail, `${name}:flush`] }));
      held = [];
      return out;
    },
  };
}

describe('Topology via TopologyTestDriver', () => {
  it('chains processors and lists their names', async () => {
    const topology = Topology.from<Item>()
      .through(step('a'))
      .through(step('b', (i) => [{ ...i, id: i.id * 10 }]));
    expect(topology.names).toEqual(['a', 'b']);
    const { outputs } = await new TopologyTestDriver(topology).pipe([item(1), item(2)]);
    expect(outputs).toEqual([
      { id: 10, trail: ['a', 'b'] },
      { id: 20, trail: ['a', 'b'] },
    ]);
  });

  it('filters: an empty return ends the record there, later processors never see it', async () => {
    const later = step('later');
    const topology = Topology.from<Item>()
      .through(step('filter', (i) => (i.id % 2 === 0 ? [] : [i])))
      .through(later);
    const result = await new TopologyTestDriver(topology).pipe([item(2), item(4)]);
    expect(result).toMatchObject({ outputs: [], failures: [] });
    expect(Object.keys(result.timingsMs).sort()).toEqual(['filter', 'later']);
    expect(later.seen).toEqual([]);

    const mixed = await new TopologyTestDriver(topology).pipe([item(1), item(2), item(3)]);
    expect(mixed.outputs.map((o) => o.id)).toEqual([1, 3]);
  });

  it('fans out: every output of a processor goes through the rest of the chain', async () => {
    const topology = Topology.from<Item>()
      .through(step('split', (i) => [i, { ...i, id: i.id + 100 }]))
      .through(step('after'));
    const { outputs } = await new TopologyTestDriver(topology).pipe([item(1)]);
    expect(outputs).toEqual([
      { id: 1, trail: ['split', 'after'] },
      { id: 101, trail: ['split', 'after'] },
    ]);
  });

  it('flushes in chain order; what a flush releases passes through the processors after it', async () => {
    const tail: Processor<Item, Item> = {
      ...step('tail'),
      flush: () => [{ id: 999, trail: ['tail:flush'] }],
    };
    const topology = Topology.from<Item>()
      .through(step('pass', (i) => (i.id === 3 ? [i] : [])))
      .through(step('head'))
      .through(holdUntilFlush('hold'))
      .through(tail);
    const { outputs } = await new TopologyTestDriver(topology).pipe([item(1), item(2), item(3)]);
    expect(outputs).toEqual([
      { id: 3, trail: ['pass', 'head', 'hold:flush', 'tail'] },
      { id: 999, trail: ['tail:flush'] },
    ]);
  });

  it('blames a poison error on the source record, at the processor that threw, and goes on', async () => {
    const topology = Topology.from<Item>()
      .through(step('double', (i) => [{ ...i, id: i.id * 2 }]))
      .through(
        step('check', (i) => {
          if (i.id === 4) throw new PoisonMessageError('bad row');
          return [i];
        }),
      );
    const bad = item(2);
    const { outputs, failures } = await new TopologyTestDriver(topology).pipe([
      item(1),
      bad,
      item(3),
    ]);
    expect(outputs.map((o) => o.id)).toEqual([2, 6]);
    expect(failures).toHaveLength(1);
    expect(failures[0]?.source).toBe(bad);
    expect(failures[0]?.processor).toBe('check');
    expect(failures[0]?.error).toBeInstanceOf(PoisonMessageError);
    expect(failures[0]?.error.message).toBe('bad row');
  });

  it('drops every output of a source record when one of its fanned-out parts fails', async () => {
    const topology = Topology.from<Item>()
      .through(
        step('split', (i) => [
          { ...i, id: 1 },
          { ...i, id: 2 },
          { ...i, id: 3 },
        ]),
      )
      .through(
        step('check', (i) => {
          if (i.id === 2) throw new PoisonMessageError('part 2 is bad');
          return [i];
        }),
      );
    const source = item(7);
    const { outputs, failures } = await new TopologyTestDriver(topology).pipe([source]);
    expect(outputs).toEqual([]);
    expect(failures.map((f) => [f.source, f.processor])).toEqual([[source, 'check']]);
  });

  it('rejects the batch on a retriable error instead of reporting a failure', async () => {
    const topology = Topology.from<Item>().through(
      step('flaky', () => {
        throw new RetriableError('registry unreachable');
      }),
    );
    await expect(new TopologyTestDriver(topology).pipe([item(1)])).rejects.toBeInstanceOf(
      RetriableError,
    );
  });

  it('rejects the batch on an untyped error (a bug is not a bad record)', async () => {
    const topology = Topology.from<Item>().through(
      step('buggy', () => {
        throw new TypeError('undefined is not a function');
      }),
    );
    await expect(new TopologyTestDriver(topology).pipe([item(1)])).rejects.toBeInstanceOf(
      TypeError,
    );
  });

  it('rejects the batch when a record released by a flush fails: no source record to blame', async () => {
    const topology = Topology.from<Item>()
      .through(holdUntilFlush('hold'))
      .through(
        step('check', () => {
          throw new PoisonMessageError('bad after flush');
        }),
      );
    await expect(new TopologyTestDriver(topology).pipe([item(1)])).rejects.toBeInstanceOf(
      PoisonMessageError,
    );
  });

  it('times each processor over the batch, flush included, and lets I/O in between slices', async () => {
    const busy = (ms: number) => {
      const until = performance.now() + ms;
      while (performance.now() < until) {
        // spin: the time this processor takes
      }
    };
    const slow = step('slow', (i) => {
      busy(0.5);
      return [i];
    });
    const holder = holdUntilFlush('hold');
    const topology = Topology.from<Item>()
      .through(step('fast'))
      .through(slow)
      .through({
        ...holder,
        flush: () => {
          busy(20);
          return holder.flush?.({ log: createLogger('silent') }) ?? [];
        },
      });
    let turns = 0;
    const ticking = setInterval(() => {
      turns += 1;
    }, 0);
    const records = Array.from({ length: 350 }, (_, i) => item(i));
    const { outputs, timingsMs } = await new TopologyTestDriver(topology).pipe(records);
    clearInterval(ticking);
    expect(outputs).toHaveLength(350);
    expect(Object.keys(timingsMs).sort()).toEqual(['fast', 'hold', 'slow']);
    expect(timingsMs.slow).toBeGreaterThanOrEqual(175);
    expect(timingsMs.hold).toBeGreaterThanOrEqual(20);
    expect(timingsMs.fast).toBeLessThan(timingsMs.slow as number);
    // Timers ran while the batch was processed (it yields between slices of 100 records).
    expect(turns).toBeGreaterThanOrEqual(2);
  });

  it('reports failures in source order whatever processor each failed at', async () => {
    const topology = Topology.from<Item>()
      .through(
        step('first', (i) => {
          if (i.id === 5) throw new PoisonMessageError('first refuses 5');
          return [i];
        }),
      )
      .through(
        step('second', (i) => {
          if (i.id === 2) throw new PoisonMessageError('second refuses 2');
          return [i];
        }),
      );
    const records = Array.from({ length: 8 }, (_, i) => item(i));
    const { outputs, failures } = await new TopologyTestDriver(topology).pipe(records);
    expect(outputs.map((o) => o.id)).toEqual([0, 1, 3, 4, 6, 7]);
    expect(failures.map((f) => [f.source, f.processor])).toEqual([
      [records[2], 'second'],
      [records[5], 'first'],
    ]);
  });

  it('initialises the processors once, before the first batch, and closes them', async () => {
    const calls: string[] = [];
    const processor: Processor<Item, Item> = {
      name: 'lifecycle',
      init: () => {
        calls.push('init');
      },
      process: (i) => {
        calls.push(`process ${i.id}`);
        return [i];
      },
      close: () => {
        calls.push('close');
      },
    };
    const driver = new TopologyTestDriver(Topology.from<Item>().through(processor));
    await driver.pipe([item(1)]);
    await driver.pipe([item(2)]);
    await driver.close();
    expect(calls).toEqual(['init', 'process 1', 'process 2', 'close']);
  });
});

describe('decode -> transform -> dedupe on real records', () => {
  const lookup = fixtureSchemaLookup('cdc.public.fixture_composite', 'cdc.public.fixture_varnum');
  const pipeline = () =>
    new TopologyTestDriver(
      Topology.from<KafkaRecord>()
        .through(createDecodeProcessor(lookup))
        .through(createTransformProcessor())
        .through(createDedupeProcessor()),
    );

  it('reduces the composite-key history to the truncate alone (every row change is older)', async () => {
    const { outputs, failures } = await pipeline().pipe(
      fixtureRecords('cdc.public.fixture_composite'),
    );
    expect(failures).toEqual([]);
    expect(outputs.map((o) => [o.op, o.table.name, o.key])).toEqual([
      ['t', 'fixture_composite', {}],
    ]);
  });

  it('reduces the composite-key history before the truncate to one change per key', async () => {
    const records = fixtureRecords('cdc.public.fixture_composite').slice(0, -1);
    const { outputs } = await pipeline().pipe(records);
    expect(outputs.map((o) => [o.op, o.key, o.after])).toEqual([
      ['d', { tenant_id: '1', order_no: '100' }, null],
      ['d', { tenant_id: '2', order_no: '100' }, null],
      [
        'c',
        { tenant_id: '2', order_no: '101' },
        { tenant_id: '2', order_no: '101', note: 'second' },
      ],
    ]);
  });

  it('fills the placeholders of the real TOAST update from the insert in the same batch', async () => {
    const fixture = loadMessages('cdc.public.fixture_varnum');
    const [insert, update] = fixture.messages.map((m) => m.expected as ExpectedChange);
    expect(update?.after?.body).toEqual({ unchangedToast: true });
    const { outputs } = await pipeline().pipe(fixtureRecords('cdc.public.fixture_varnum'));
    const row1 = outputs.find((o) => o.key.id === '1') as RowChange;
    expect(row1.op).toBe('u');
    expect(row1.after?.body).toBe(insert?.after?.body);
    expect(row1.after?.tags).toBe(insert?.after?.tags);
    expect(row1.after?.blob).toBe(insert?.after?.blob);
    expect(row1.after?.label).toBe('v2');
    expect(row1.after?.amount).toBe('7');
    expect(Object.values(row1.after ?? {})).not.toContain(UNCHANGED_TOAST);

    // Alone in its batch, the update keeps its placeholders: the target has the values.
    const updateOnly = await pipeline().pipe(
      fixtureRecords('cdc.public.fixture_varnum').slice(1, 2),
    );
    expect(updateOnly.outputs[0]?.after?.body).toBe(UNCHANGED_TOAST);
  });

  it('decodes without a promise once the schemas are fetched, with the same result', async () => {
    const records = fixtureRecords('cdc.public.fixture_varnum');
    const record = records[1] as KafkaRecord;
    const slow = createDecodeProcessor(lookup);
    const viaPromise = slow.process(record, { log: createLogger('silent') });
    expect(viaPromise).toBeInstanceOf(Promise);
    const fetched = new Map<number, ResolvedSchema>();
    const fast = createDecodeProcessor({
      getSchema: async (id) => {
        const schema = await lookup.getSchema(id);
        fetched.set(id, schema);
        return schema;
      },
      resolved: (id) => fetched.get(id),
    });
    const first = fast.process(record, { log: createLogger('silent') });
    expect(first).toBeInstanceOf(Promise);
    await first;
    const second = fast.process(record, { log: createLogger('silent') });
    expect(second).not.toBeInstanceOf(Promise);
    expect(second).toEqual(await viaPromise);
  });
});

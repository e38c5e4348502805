// The race's pure parts (issue 17): which JDBC configurations run and what each changes, the
// settings lists, the median-of-runs summary, the apply floor's lanes and the drain's topic pattern.
import { describe, expect, it } from 'vitest';
import { applyLanes } from '../../bench/apply-floor.js';
import type { PhaseFigures } from '../../bench/bench-report.js';
import { readConcurrencies } from '../../bench/bench-settings.js';
import { type BenchTopic, topicPattern } from '../../bench/bench-topic.js';
import {
  describeJdbcConfig,
  jdbcConfigSettings,
  jdbcTransforms,
  jdbcUrlParameters,
  readJdbcConfigs,
} from '../../bench/jdbc-sink-config.js';
import { median, spreadOf, summarizeRuns } from '../../bench/repeated-phase.js';
import { readMixes } from '../../bench/workload-mix.js';

describe('JDBC sink configurations (BENCH_JDBC_CONFIGS)', () => {
  it('sweeps default, tuned 500/2000/5000 and unnest 2000 by default', () => {
    const configs = readJdbcConfigs(undefined, 1000);
    expect(configs.map((c) => c.name)).toEqual([
      'default',
      'tuned-500',
      'tuned-2000',
      'tuned-5000',
      'unnest-2000',
    ]);
    expect(configs[0]).toEqual({ name: 'default', batchSize: 1000, tuned: false, unnest: false });
    expect(configs[4]).toEqual({
      name: 'unnest-2000',
      batchSize: 2000,
      tuned: true,
      unnest: true,
    });
  });

  it('takes the batch size from the name, else BENCH_BATCH_SIZE', () => {
    expect(readJdbcConfigs(' default-300 , tuned ', 700)).toEqual([
      { name: 'default-300', batchSize: 300, tuned: false, unnest: false },
      { name: 'tuned-700', batchSize: 700, tuned: true, unnest: false },
    ]);
  });

  it('refuses names it does not know and zero batches', () => {
    expect(() => readJdbcConfigs('fast', 1000)).toThrow(/fast is not default/);
    expect(() => readJdbcConfigs('tuned-0', 1000)).toThrow(/tuned-0/);
    expect(() => readJdbcConfigs('tuned-2000;drop', 1000)).toThrow(/BENCH_JDBC_CONFIGS/);
  });

  it('the default configuration changes only the batch; tuned adds the reduction buffer and drops tombstones', () => {
    const [plain, tuned, unnest] = readJdbcConfigs('default,tuned-2000,unnest-2000', 1000);
    expect(jdbcConfigSettings(plain as never)).toEqual({
      'batch.size': '1000',
      'consumer.override.max.poll.records': '1000',
    });
    expect(jdbcTransforms(plain as never).transforms).toBe('route');
    expect(jdbcUrlParameters(plain as never)).toBe('?stringtype=unspecified');

    const t = jdbcConfigSettings(tuned as never);
    expect(t['use.reduction.buffer']).toBe('true');
    expect(t['batch.size']).toBe('2000');
    expect(t['dialect.postgres.unnest.insert.enabled']).toBeUndefined();
    expect(jdbcTransforms(tuned as never).transforms).toBe('dropTombstones,route');
    expect(jdbcUrlParameters(tuned as never)).toBe(
      '?stringtype=unspecified&reWriteBatchedInserts=true',
    );
    expect(jdbcConfigSettings(unnest as never)['dialect.postgres.unnest.insert.enabled']).toBe(
      'true',
    );
  });

  it('describes every changed setting and no credential', () => {
    const described = describeJdbcConfig(readJdbcConfigs('tuned-500', 1000)[0] as never);
    expect(described['connection.url parameters']).toContain('reWriteBatchedInserts=true');
    expect(described['transforms.route.regex']).toBe('[^.]+\\.public\\.(.+)');
    expect(JSON.stringify(described)).not.toMatch(/password|user/i);
  });
});

describe('bench lists', () => {
  it('concurrency curve: 1, 2, 4 by default, none for 0 or off, 1..64 only', () => {
    expect(readConcurrencies(undefined)).toEqual([1, 2, 4]);
    expect(readConcurrencies('0')).toEqual([]);
    expect(readConcurrencies(' off ')).toEqual([]);
    expect(readConcurrencies('8, 16')).toEqual([8, 16]);
    expect(() => readConcurrencies('65')).toThrow(/1 to 64/);
    expect(() => readConcurrencies('2,x')).toThrow(/BENCH_APPLY_CONCURRENCY/);
    expect(() => readConcurrencies('4,2,4')).toThrow(/4 is listed twice.*BENCH_REPEAT_OTHERS/);
  });

  it('mixes: all by default, standard always, in their fixed order, unknown refused', () => {
    expect(readMixes(undefined)).toEqual([
      'standard',
      'update-heavy',
      'delete-heavy',
      'wide-toast',
      'many-tables',
    ]);
    expect(readMixes('many-tables, update-heavy')).toEqual([
      'standard',
      'update-heavy',
      'many-tables',
    ]);
    expect(() => readMixes('standard,huge')).toThrow(/unknown huge/);
  });
});

describe('repeated phases (BENCH_REPEAT)', () => {
  const run = (eventsPerSecond: number, extra: Partial<PhaseFigures> = {}): PhaseFigures => ({
    ok: true,
    eventsPerSecond,
    pgferryCpuSecondsPerMillionEvents: 1e6 / eventsPerSecond,
    log: `run-${eventsPerSecond}.log`,
    ...extra,
  });

  it('median of odd and even counts', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(spreadOf([])).toBeUndefined();
    expect(spreadOf([5, 1, 3])).toEqual({ median: 3, min: 1, max: 5 });
  });

  it("gives the median run's figures, the median rate and every run", () => {
    const summary = summarizeRuns([run(9000), run(15000), run(8000)]);
    expect(summary.eventsPerSecond).toBe(9000);
    expect(summary.log).toBe('run-9000.log');
    expect(summary.repetitions).toBe(3);
    expect((summary.spread as Record<string, unknown>).eventsPerSecond).toEqual({
      median: 9000,
      min: 8000,
      max: 15000,
    });
    expect((summary.runs as unknown[]).length).toBe(3);
    expect(summary.failedRuns).toBeUndefined();
  });

  it('leaves failed runs out of the figures and counts them; all failed = the phase failed', () => {
    const failed: PhaseFigures = { ok: false, error: 'drain timed out' };
    const summary = summarizeRuns([run(10000), failed, run(12000)]);
    expect(summary.ok).toBe(true);
    expect(summary.eventsPerSecond).toBe(11000);
    expect(summary.failedRuns).toBe(1);
    const none = summarizeRuns([failed, failed]);
    expect(none.ok).toBe(false);
    expect(none.repetitions).toBe(2);
  });

  it('one run is reported as it is', () => {
    const single = run(7000);
    expect(summarizeRuns([single])).toBe(single);
  });
});

describe('apply floor lanes', () => {
  it('applies each lane in order, at most `concurrency` at once, one item per lane at a time', async () => {
    const lanes = [
      ['a1', 'a2', 'a3'],
      ['b1', 'b2'],
      ['c1', 'c2'],
    ];
    const done: string[] = [];
    const busyLanes = new Set<string>();
    let inFlight = 0;
    let peak = 0;
    await applyLanes(
      lanes.map((l) => [...l]),
      2,
      async (item) => {
        const lane = item[0] as string;
        expect(busyLanes.has(lane)).toBe(false);
        busyLanes.add(lane);
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setTimeout(r, 1 + (item.charCodeAt(1) % 3)));
        inFlight--;
        busyLanes.delete(lane);
        done.push(item);
      },
    );
    expect(peak).toBe(2);
    expect(done.sort()).toEqual(lanes.flat().sort());
    for (const lane of lanes) {
      const order = done.filter((d) => d[0] === (lane[0] as string)[0]);
      expect(order).toEqual(lane);
    }
  });

  it('rejects with the first failure', async () => {
    await expect(
      applyLanes([[1, 2], [3]], 2, async (n) => {
        if (n === 2) throw new Error('merge failed');
      }),
    ).rejects.toThrow('merge failed');
  });
});

describe('drain topic pattern', () => {
  it("matches exactly the topic's tables, with regex specials escaped", () => {
    const topic = {
      prefix: 'b1m2200',
      tables: [{ name: 'b1m2200_narrow' }, { name: 'odd.name+x' }],
    } as unknown as BenchTopic;
    const pattern = new RegExp(topicPattern(topic));
    expect(pattern.test('b1m2200.public.b1m2200_narrow')).toBe(true);
    expect(pattern.test('b1m2200.public.odd.name+x')).toBe(true);
    expect(pattern.test('b1m2200.public.oddXname+x')).toBe(false);
    expect(pattern.test('b1m2200.public.b1m2200_narrow_dlq')).toBe(false);
    expect(pattern.test('other.public.b1m2200_narrow')).toBe(false);
  });
});

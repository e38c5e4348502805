// The demo load's pure parts: pacing arithmetic, the seeded operation mix, the printed lines, and
// the demo commands' usage errors (no database needed).
import { describe, expect, it } from 'vitest';
import type { DemoLoadSummary } from '../../migrate/demo/demo-load.js';
import {
  achievedRate,
  DemoLoadPacer,
  MAX_SLEEP_MS,
  operationsPerTransaction,
} from '../../migrate/demo/demo-load-pacer.js';
import {
  formatDemoLoadProgress,
  formatDemoLoadStart,
  formatDemoLoadSummary,
  toDemoLoadJson,
} from '../../migrate/demo/demo-load-report.js';
import {
  DEMO_OPERATION_MIX,
  type DemoOperation,
  isMultiStatement,
  planDemoOperation,
} from '../../migrate/demo/demo-operation.js';
import { DemoRandom } from '../../migrate/demo/demo-random.js';
import { DEMO_VOCABULARY } from '../../migrate/demo/demo-vocabulary.js';
import { runPgferryCli } from '../support/cli-run.js';

describe('DemoLoadPacer', () => {
  it('owes rate × elapsed rows, minus what was written', () => {
    const pacer = new DemoLoadPacer(50, 1000);
    expect(pacer.owed(1000)).toBe(0);
    expect(pacer.owed(1100)).toBe(5);
    pacer.record(3);
    expect(pacer.owed(1100)).toBe(2);
    pacer.record(4); // an order with its items overshoots: ahead of the rate
    expect(pacer.owed(1100)).toBe(-2);
    expect(pacer.owed(1200)).toBe(3);
  });

  it('sleeps until the next row is due, between 1 ms and MAX_SLEEP_MS', () => {
    const pacer = new DemoLoadPacer(50, 0); // one row every 20 ms
    pacer.record(1);
    expect(pacer.delayMs(0)).toBe(40);
    expect(pacer.delayMs(39.5)).toBe(1);
    expect(pacer.delayMs(100)).toBe(1);
    expect(new DemoLoadPacer(0.5, 0).delayMs(0)).toBe(MAX_SLEEP_MS);
  });

  it('forgives a backlog beyond one second instead of bursting', () => {
    const pacer = new DemoLoadPacer(100, 0);
    // 10 s without writing (a paused process): at most one second's worth is owed.
    expect(pacer.owed(10_000)).toBe(100);
    pacer.record(100);
    expect(pacer.owed(10_000)).toBe(0);
    expect(pacer.owed(10_500)).toBe(50);
  });

  it('holds the rate over a simulated run with uneven operation sizes', () => {
    const random = new DemoRandom(1);
    const pacer = new DemoLoadPacer(200, 0);
    let rows = 0;
    for (let now = 0; now < 60_000; now += 5) {
      while (pacer.owed(now) > 0) {
        const written = random.int(1, 6);
        pacer.record(written);
        rows += written;
      }
    }
    expect(achievedRate(rows, 60_000)).toBeGreaterThan(199);
    expect(achievedRate(rows, 60_000)).toBeLessThan(201);
  });

  it('shares transactions only above 500 rows/s', () => {
    expect(operationsPerTransaction(1)).toBe(1);
    expect(operationsPerTransaction(50)).toBe(1);
    expect(operationsPerTransaction(500)).toBe(1);
    expect(operationsPerTransaction(501)).toBe(2);
    expect(operationsPerTransaction(5000)).toBe(10);
  });

  it('refuses a rate of 0', () => {
    expect(() => new DemoLoadPacer(0, 0)).toThrow(RangeError);
    expect(achievedRate(10, 0)).toBe(0);
    expect(achievedRate(100, 2000)).toBe(50);
  });
});

describe('the operation mix', () => {
  const plan = (seed: number, count: number): DemoOperation[] => {
    const random = new DemoRandom(seed);
    return Array.from({ length: count }, () => planDemoOperation(random));
  };

  it('is deterministic for a seed and differs between seeds', () => {
    expect(plan(42, 200)).toEqual(plan(42, 200));
    expect(plan(42, 200)).not.toEqual(plan(43, 200));
  });

  it('follows the weights, with every kind and about a quarter multi-statement', () => {
    const operations = plan(7, 20_000);
    const total = DEMO_OPERATION_MIX.reduce((sum, m) => sum + m.weight, 0);
    for (const { kind, weight } of DEMO_OPERATION_MIX) {
      const share = operations.filter((o) => o.kind === kind).length / operations.length;
      expect(share, kind).toBeGreaterThan((weight / total) * 0.85);
      expect(share, kind).toBeLessThan((weight / total) * 1.15);
    }
    const multi = operations.filter(isMultiStatement).length / operations.length;
    expect(multi).toBeGreaterThan(0.3);
    expect(multi).toBeLessThan(0.45);
  });

  it('writes more rows than it deletes, so the tables grow slowly', () => {
    const weight = (kind: string) => DEMO_OPERATION_MIX.find((m) => m.kind === kind)?.weight ?? 0;
    expect(weight('insert-user')).toBeGreaterThan(weight('delete-user'));
    expect(weight('place-order')).toBeGreaterThan(weight('delete-order'));
  });

  it('plans valid values: picks in [0, 1), 1-4 order lines of 1-5 items, money with 2 decimals', () => {
    for (const o of plan(3, 5000)) {
      const picks: number[] = [];
      switch (o.kind) {
        case 'place-order':
          expect(o.lines.length).toBeGreaterThanOrEqual(1);
          expect(o.lines.length).toBeLessThanOrEqual(4);
          for (const line of o.lines) {
            picks.push(line.product);
            expect(line.quantity).toBeGreaterThanOrEqual(1);
            expect(line.quantity).toBeLessThanOrEqual(5);
          }
          picks.push(o.user);
          expect(DEMO_VOCABULARY.countries).toContain(o.details.shipping.country);
          break;
        case 'transfer':
          picks.push(o.from, o.to);
          expect(o.amount).toMatch(/^\d+\.\d{2}$/);
          expect(Number(o.amount)).toBeGreaterThanOrEqual(1);
          break;
        case 'insert-user':
          expect(o.handle).toMatch(/^[a-z-]+\.[a-z-]+$/);
          // username = handle + id must fit varchar(50)
          expect(o.handle.length + 12).toBeLessThanOrEqual(50);
          expect(o.balance).toMatch(/^\d+\.\d{2}$/);
          break;
        case 'reprice-product':
          picks.push(o.product);
          expect(Number(o.factor)).toBeGreaterThanOrEqual(0.9);
          expect(Number(o.factor)).toBeLessThanOrEqual(1.1);
          break;
        case 'update-email':
        case 'delete-user':
          picks.push(o.user);
          break;
        case 'advance-order':
          expect(o.tracking).toMatch(/^TRK\d{8}$/);
          picks.push(o.order);
          break;
        case 'cancel-order':
        case 'delete-order':
          picks.push(o.order);
          break;
      }
      for (const p of picks) {
        expect(p).toBeGreaterThanOrEqual(0);
        expect(p).toBeLessThan(1);
      }
    }
  });
});

describe('DemoRandom', () => {
  it('gives integers and amounts within bounds', () => {
    const random = new DemoRandom(99);
    for (let i = 0; i < 1000; i += 1) {
      const n = random.int(3, 5);
      expect([3, 4, 5]).toContain(n);
      expect(Number(random.amount(0.9, 1.1))).toBeGreaterThanOrEqual(0.9);
    }
    expect(() => random.pick([])).toThrow(RangeError);
  });
});

describe('the printed lines', () => {
  const summary: DemoLoadSummary = {
    inserted: 1234,
    updated: 2000,
    deleted: 266,
    transactions: 1800,
    rolledBack: 0,
    rows: 3500,
    elapsedMs: 70_040,
    achievedRate: 49.97,
    rate: 50,
    seed: 42,
    stoppedBy: 'signal',
  };

  it('start, progress and summary lines say what happened', () => {
    expect(formatDemoLoadStart({ rate: 50, durationMs: undefined, seed: 42 })).toBe(
      'demo load: started: 50.0 rows/s until SIGINT/SIGTERM (Ctrl-C), seed 42',
    );
    expect(formatDemoLoadStart({ rate: 200, durationMs: 15_000, seed: 1 })).toBe(
      'demo load: started: 200.0 rows/s for 15.0 s, seed 1',
    );
    expect(formatDemoLoadProgress(summary)).toBe(
      'demo load: 70.0 s: 3,500 rows (1,234 inserted, 2,000 updated, 266 deleted) in 1,800 transactions, 50.0 rows/s',
    );
    expect(formatDemoLoadSummary(summary)).toBe(
      'demo load: done (stopped) after 70.0 s: 3,500 rows (1,234 inserted, 2,000 updated, 266 deleted) in 1,800 transactions, 50.0 rows/s (target 50.0), seed 42',
    );
    expect(formatDemoLoadSummary({ ...summary, stoppedBy: 'duration', rolledBack: 2 })).toMatch(
      /^demo load: done \(duration reached\) .* 1,800 transactions, 2 rolled back, /,
    );
  });

  it('--json has the counts and a rounded rate', () => {
    expect(toDemoLoadJson(summary)).toEqual({
      stoppedBy: 'signal',
      elapsedSeconds: 70,
      rows: 3500,
      inserted: 1234,
      updated: 2000,
      deleted: 266,
      transactions: 1800,
      rolledBack: 0,
      rate: 50,
      achievedRate: 50,
      seed: 42,
    });
  });
});

describe('pgferry demo: usage', () => {
  it('says what to set when no source URL is given (exit 2)', async () => {
    for (const command of ['setup', 'load']) {
      const run = await runPgferryCli(['demo', command], {});
      expect(run.code, command).toBe(2);
      expect(run.stderr).toContain('SOURCE_DATABASE_URL');
      expect(run.stderr).toContain('--source-url');
    }
  });

  it('rejects a bad rate, duration or seed (exit 2)', async () => {
    const env = { SOURCE_DATABASE_URL: 'postgresql://u@127.0.0.1:1/db' };
    for (const args of [
      ['--rate', '0'],
      ['--rate', 'fast'],
      ['--duration', '-1'],
      ['--seed', '1.5'],
    ]) {
      const run = await runPgferryCli(['demo', 'load', ...args], env);
      expect(run.code, args.join(' ')).toBe(2);
    }
  });

  it('names the source it cannot reach, without the password (exit 1)', async () => {
    const run = await runPgferryCli(['demo', 'setup'], {
      SOURCE_DATABASE_URL: 'postgresql://demo:s3cret@127.0.0.1:1/sourcedb',
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('127.0.0.1:1/sourcedb as demo');
    expect(run.stderr).not.toContain('s3cret');
  });
});

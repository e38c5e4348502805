// The benchmark's pure pieces (bench/): the lag probe's parsing of test_decoding output, lag
// percentiles and the flat-p99 verdict, "offsets reached the topic ends", the workload's keys.
import { describe, expect, it } from 'vitest';
import { BENCH_PHASES, readPhases } from '../../bench/bench-settings.js';
import { readKeyId } from '../../bench/kafka-arrival-watcher.js';
import { reachedEnds } from '../../bench/kafka-topics.js';
import { isFlat, lagFigures, percentile } from '../../bench/paced-lag.js';
import { createRandom, LiveKeys } from '../../bench/source-workload.js';
import { parseUtc, readDecodedLine } from '../../bench/target-commit-watcher.js';

describe('lag probe (test_decoding lines)', () => {
  it('reads a row with its written_at and a commit with its timestamp', () => {
    const row = readDecodedLine(
      "table public.bench_paced: INSERT: id[bigint]:7 account[integer]:3 status[text]:'new' written_at[timestamp with time zone]:'2026-11-28 01:30:00.123456+00'",
    );
    expect(row).toEqual({
      kind: 'row',
      table: 'bench_paced',
      writtenAtMs: Date.parse('2026-11-28T01:30:00.123Z'),
    });
    expect(
      readDecodedLine(
        "table public.bench_paced: UPDATE: id[bigint]:7 written_at[timestamp with time zone]:'2026-11-28 01:30:01+00'",
      ),
    ).toMatchObject({ kind: 'row', writtenAtMs: Date.parse('2026-11-28T01:30:01.000Z') });
    expect(readDecodedLine('COMMIT 991 (at 2026-11-28 01:30:00.5+00)')).toEqual({
      kind: 'commit',
      committedAtMs: Date.parse('2026-11-28T01:30:00.500Z'),
    });
  });

  it('ignores deletes, other tables without written_at, and BEGIN', () => {
    expect(readDecodedLine('BEGIN 991')).toBeUndefined();
    expect(readDecodedLine('table public.bench_paced: DELETE: id[bigint]:7')).toBeUndefined();
    expect(
      readDecodedLine("table pgferry.offsets: UPDATE: group_id[text]:'g' next_offset[bigint]:5"),
    ).toBeUndefined();
    expect(parseUtc('2026-11-28 01:30:00+02')).toBeNaN();
  });
});

describe('paced figures', () => {
  it('percentiles and lag figures', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(sorted, 50)).toBe(51);
    expect(percentile(sorted, 99)).toBe(100);
    expect(lagFigures([])).toBeNull();
    expect(
      lagFigures([
        { writtenAtMs: 0, committedAtMs: 100 },
        { writtenAtMs: 0, committedAtMs: 300 },
      ]),
    ).toEqual({ rows: 2, p50Ms: 300, p99Ms: 300, maxMs: 300 });
  });

  it('flat only when the rate was kept, the target caught up and p99 did not climb', () => {
    const step = {
      rate: 1000,
      achievedRate: 990,
      caughtUpSeconds: 1,
      windowP99Ms: [400, 450, 700],
    };
    expect(isFlat(step)).toBe(true);
    expect(isFlat({ ...step, windowP99Ms: [400, 2000] })).toBe(false);
    expect(isFlat({ ...step, achievedRate: 900 })).toBe(false);
    expect(isFlat({ ...step, caughtUpSeconds: null })).toBe(false);
    expect(isFlat({ ...step, caughtUpSeconds: 8 })).toBe(false);
    expect(isFlat({ ...step, windowP99Ms: [] })).toBe(false);
  });
});

describe('offsets at the topic ends', () => {
  const ends = new Map([
    [
      't',
      new Map([
        [0, 10n],
        [1, 0n],
        [2, 5n],
      ]),
    ],
  ]);
  it('needs every non-empty partition at its end', () => {
    expect(
      reachedEnds(
        ends,
        new Map([
          [
            't',
            new Map([
              [0, 10n],
              [2, 5n],
            ]),
          ],
        ]),
      ),
    ).toBe(true);
    expect(
      reachedEnds(
        ends,
        new Map([
          [
            't',
            new Map([
              [0, 10n],
              [2, 4n],
            ]),
          ],
        ]),
      ),
    ).toBe(false);
    expect(reachedEnds(ends, new Map())).toBe(false);
  });
});

describe('workload keys', () => {
  it('picks distinct live keys, never excluded or removed ones', () => {
    const keys = new LiveKeys();
    keys.addRange(1, 5000);
    keys.nextId = 5001;
    for (let id = 1; id <= 5000; id += 2) keys.remove(id);
    expect(keys.size).toBe(2500);
    const random = createRandom(1);
    const exclude = new Set([2, 4, 6]);
    const picked = keys.pick(500, random, exclude);
    expect(new Set(picked).size).toBe(picked.length);
    expect(picked.length).toBe(500);
    for (const id of picked) {
      expect(id % 2).toBe(0);
      expect(exclude.has(id)).toBe(false);
    }
  });

  it('is deterministic for a seed', () => {
    const a = createRandom(42);
    const b = createRandom(42);
    expect([a(), a(), a()]).toEqual([b(), b(), b()]);
  });
});

describe('Kafka arrival probe', () => {
  it('reads the id of a Confluent-framed Avro key {id: long}', () => {
    const frame = (bytes: number[]) => Buffer.from([0, 0, 0, 0, 9, ...bytes]);
    expect(readKeyId(frame([0x02]))).toBe(1);
    expect(readKeyId(frame([0x01]))).toBe(-1);
    expect(readKeyId(frame([0xac, 0x02]))).toBe(150);
    expect(readKeyId(frame([0x80, 0x89, 0x7a]))).toBe(1_000_000);
  });
});

describe('bench phases (BENCH_PHASES)', () => {
  it('runs every phase by default and only the named ones otherwise', () => {
    expect([...readPhases(undefined)]).toEqual([...BENCH_PHASES]);
    expect([...readPhases(' ')]).toEqual([...BENCH_PHASES]);
    expect([...readPhases('pgferry, floor')]).toEqual(['pgferry', 'floor']);
  });

  it('refuses a phase it does not know, naming the known ones', () => {
    expect(() => readPhases('pgferry,drain')).toThrow(
      /BENCH_PHASES: unknown drain \(known: ceiling, floor, replay, pgferry, jdbc, paced\)/,
    );
  });
});

// The benchmark's pure pieces (bench/): the lag probe's parsing of test_decoding output, lag
// percentiles and the flat-p99 verdict, "offsets reached the topic ends", the workload's keys.
import { describe, expect, it } from 'vitest';
import { readPhases, TOPIC_PHASES } from '../../bench/bench-settings.js';
import {
  COPY_SCHEMA,
  compareCopyFingerprints,
  copyTables,
  snapshotSubset,
} from '../../bench/copy-dataset.js';
import { targetRatio } from '../../bench/copy-report.js';
import { readCopyBenchSettings, readCopyJobs, readCopySteps } from '../../bench/copy-settings.js';
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
  it('runs every topic phase by default, the copy phase only when named', () => {
    expect([...readPhases(undefined)]).toEqual([...TOPIC_PHASES]);
    expect([...readPhases(' ')]).toEqual([...TOPIC_PHASES]);
    expect(readPhases(undefined).has('copy')).toBe(false);
    expect([...readPhases('pgferry, floor')]).toEqual(['pgferry', 'floor']);
    expect([...readPhases('copy')]).toEqual(['copy']);
  });

  it('refuses a phase it does not know, naming the known ones', () => {
    expect(() => readPhases('pgferry,drain')).toThrow(
      /BENCH_PHASES: unknown drain \(known: ceiling, floor, replay, pgferry, jdbc, paced, copy\)/,
    );
  });
});

describe('copy phase settings and figures', () => {
  it('measures jobs 1, the cores and twice the cores by default, always 1 and the cores', () => {
    expect(readCopyJobs(undefined, 2)).toEqual([1, 2, 4]);
    expect(readCopyJobs('', 4)).toEqual([1, 4, 8]);
    expect(readCopyJobs('3', 2)).toEqual([1, 2, 3]);
    expect(readCopyJobs('2, 1,2', 2)).toEqual([1, 2]);
    expect(() => readCopyJobs('0', 2)).toThrow(/BENCH_COPY_JOBS/);
  });

  it('selects steps and refuses unknown ones', () => {
    expect([...readCopySteps(undefined)]).toEqual([
      'pgferry',
      'psql',
      'dump',
      'indexes',
      'debezium',
    ]);
    expect([...readCopySteps('psql, dump')]).toEqual(['psql', 'dump']);
    expect(() => readCopySteps('pgferry,rsync')).toThrow(/unknown rsync/);
  });

  it('reads the sizes; the data set splits the rows 3:1 between narrow and wide', () => {
    const settings = readCopyBenchSettings({
      BENCH_COPY_ROWS: '20_000',
      BENCH_COPY_SMALL_TABLES: '3',
      BENCH_COPY_SMALL_ROWS: '10',
      BENCH_COPY_DEBEZIUM: 'narrow',
    });
    expect(settings).toMatchObject({ rows: 20_000, smallTables: 3, debezium: 'narrow' });
    expect(settings.chunkRows).toBeUndefined();
    const tables = copyTables(settings);
    expect(tables.map((t) => [t.name, t.rows])).toEqual([
      ['narrow', 15_000],
      ['wide', 5_000],
      ['small_001', 10],
      ['small_002', 10],
      ['small_003', 10],
    ]);
    expect(COPY_SCHEMA).toBe('bench_copy');
    expect(() => readCopyBenchSettings({ BENCH_COPY_DEBEZIUM: 'some' })).toThrow(/all, narrow/);
    expect(readCopyBenchSettings({ BENCH_COPY_SMALL_TABLES: '0' }).smallTables).toBe(0);
  });

  it("takes the Debezium path's subset: a table, a share of the large tables' keys", () => {
    const tables = copyTables(
      readCopyBenchSettings({ BENCH_COPY_ROWS: '4000', BENCH_COPY_SMALL_TABLES: '1' }),
    );
    expect(snapshotSubset(tables, 'all', 1)).toEqual(tables);
    expect(snapshotSubset(tables, 'narrow', 1).map((t) => t.name)).toEqual(['narrow']);
    expect(snapshotSubset(tables, 'all', 0.25).map((t) => [t.name, t.rows, t.maxKey])).toEqual([
      ['narrow', 750, 750],
      ['wide', 250, 250],
      ['small_001', 1000, undefined],
    ]);
  });

  it('ratios against the targets, none when a side failed', () => {
    const a = { ok: true, rowsPerSecond: 100_000 };
    expect(targetRatio(a, { ok: true, rowsPerSecond: 8_000 }, 10, '>= 10x')).toEqual({
      value: 12.5,
      target: '>= 10x',
      met: true,
    });
    expect(targetRatio(a, { ok: true, rowsPerSecond: 120_000 }, 0.9, '>= 0.9x').met).toBe(false);
    expect(targetRatio(a, { ok: false }, 1, '> 1x')).toEqual({
      value: null,
      target: '> 1x',
      met: null,
    });
  });

  it('names the tables whose rows or md5 differ', () => {
    const expected = { a: { rows: 2, md5: 'x' }, b: { rows: 1, md5: 'y' } };
    expect(compareCopyFingerprints(expected, { ...expected })).toEqual([]);
    expect(
      compareCopyFingerprints(expected, { a: { rows: 2, md5: 'z' }, b: { rows: 0, md5: null } }),
    ).toEqual(['a: expected 2 rows, got 2 (content differs)', 'b: expected 1 rows, got 0']);
  });
});

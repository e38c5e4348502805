// The pure parts of `pgferry copy`: chunk predicates and COPY statements (identifiers quoted,
// bound values as escaped literals cast to the key types), the binary/text decision and the
// refusals by column, progress and ETA, the report, and the every-hit fault point.
import { describe, expect, it } from 'vitest';
import { parseFaultInjection } from '../../core/fault-points.js';
import {
  type ChunkCopySpec,
  chunkPredicate,
  sourceCopySql,
  targetCopySql,
} from '../../migrate/copy/copy-chunks.js';
import { type CopyReport, formatCopyReport } from '../../migrate/copy/copy-command.js';
import type { CopyTableWork } from '../../migrate/copy/copy-plan.js';
import { CopyProgress } from '../../migrate/copy/copy-progress.js';
import {
  planCopyShape,
  type SourceTableFacts,
  type TargetTableFacts,
} from '../../migrate/copy/copy-table-facts.js';

const key = [
  { name: 'code', sourceType: 'text' },
  { name: 'seq', sourceType: 'integer' },
];

describe('chunk predicates', () => {
  it('is open below for the first chunk and above for the last', () => {
    expect(chunkPredicate(key, null, ['b', '7'])).toBe(
      `("code", "seq") <= ('b'::text, '7'::integer)`,
    );
    expect(chunkPredicate(key, ['b', '7'], null)).toBe(
      `("code", "seq") > ('b'::text, '7'::integer)`,
    );
    expect(chunkPredicate(key, null, null)).toBe('true');
  });

  it('escapes bound values: a key may hold quotes and backslashes', () => {
    const predicate = chunkPredicate(key, ["o'x\\", '1'], ['z', '2']);
    expect(predicate).toBe(
      `("code", "seq") > ('o''x\\'::text, '1'::integer) AND ("code", "seq") <= ('z'::text, '2'::integer)`,
    );
  });

  it('refuses a bound that does not fit the key', () => {
    expect(() => chunkPredicate(key, ['only one'], null)).toThrow(
      /1 values for a key of 2 columns/,
    );
  });

  it('builds the two COPY statements with quoted names and the chosen format', () => {
    const spec: ChunkCopySpec = {
      source: { schema: 'app', name: 'odd "name"' },
      target: { schema: 'dst', name: 'odd "name"' },
      columns: [...key, { name: 'v', sourceType: 'jsonb' }],
      key,
      format: 'binary',
      lower: ['a', '1'],
      upper: null,
    };
    expect(sourceCopySql(spec)).toBe(
      `COPY (SELECT "code", "seq", "v" FROM "app"."odd ""name""" WHERE ("code", "seq") > ('a'::text, '1'::integer)) TO STDOUT (FORMAT binary)`,
    );
    expect(targetCopySql({ ...spec, format: 'text' })).toBe(
      `COPY "dst"."odd ""name""" ("code", "seq", "v") FROM STDIN (FORMAT text)`,
    );
  });
});

const sourceFacts = (over: Partial<SourceTableFacts> = {}): SourceTableFacts => ({
  table: { schema: 'public', name: 't' },
  columns: [
    { name: 'id', sourceType: 'bigint' },
    { name: 'v', sourceType: 'text' },
  ],
  key: [{ name: 'id', sourceType: 'bigint' }],
  builtinTypes: true,
  estimatedRows: 10,
  estimatedBytes: 8192,
  ...over,
});

const targetFacts = (
  columns: Record<string, { type: string; generated?: boolean; builtin?: boolean }>,
): TargetTableFacts => ({
  columns: new Map(
    Object.entries(columns).map(([name, c]) => [
      name,
      { type: c.type, generated: c.generated ?? false, builtin: c.builtin ?? true },
    ]),
  ),
  key: ['id'],
});

describe('planCopyShape', () => {
  it('chooses binary when every column has the same built-in type on both sides', () => {
    const shape = planCopyShape(
      sourceFacts(),
      targetFacts({ id: { type: 'bigint' }, v: { type: 'text' } }),
    );
    expect(shape).toMatchObject({ format: 'binary' });
  });

  it('falls back to text for a different type (binary would not convert) or a user type (OIDs differ)', () => {
    expect(
      planCopyShape(
        sourceFacts(),
        targetFacts({ id: { type: 'bigint' }, v: { type: 'character varying(20)' } }),
      ),
    ).toMatchObject({ format: 'text' });
    expect(
      planCopyShape(
        sourceFacts({ builtinTypes: false }),
        targetFacts({ id: { type: 'bigint' }, v: { type: 'text' } }),
      ),
    ).toMatchObject({ format: 'text' });
    expect(
      planCopyShape(
        sourceFacts(),
        targetFacts({ id: { type: 'bigint' }, v: { type: 'text', builtin: false } }),
      ),
    ).toMatchObject({ format: 'text' });
  });

  it('refuses by name: no primary key, a column the target lacks, a column the target generates', () => {
    expect(
      planCopyShape(sourceFacts({ key: [] }), targetFacts({ id: { type: 'bigint' } })),
    ).toEqual({
      problem: expect.stringMatching(/public\.t has no primary key/),
    });
    expect(planCopyShape(sourceFacts(), targetFacts({ id: { type: 'bigint' } }))).toEqual({
      problem: expect.stringMatching(/target table public\.t lacks column v/),
    });
    expect(
      planCopyShape(
        sourceFacts(),
        targetFacts({ id: { type: 'bigint' }, v: { type: 'text', generated: true } }),
      ),
    ).toEqual({ problem: expect.stringMatching(/target column v of public\.t is generated/) });
  });

  it('leaves out nothing the source has and ignores extra target columns', () => {
    const shape = planCopyShape(
      sourceFacts(),
      targetFacts({ id: { type: 'bigint' }, v: { type: 'text' }, legacy: { type: 'text' } }),
    );
    expect('columns' in shape && shape.columns.map((c) => c.name)).toEqual(['id', 'v']);
  });
});

const work = (over: Partial<CopyTableWork> = {}): CopyTableWork => ({
  name: 'public.t',
  source: { schema: 'public', name: 't' },
  target: { schema: 'public', name: 't' },
  columns: [],
  key: [],
  format: 'binary',
  estimatedRows: 1000,
  estimatedBytes: 0,
  chunksTotal: 10,
  chunksDoneBefore: 4,
  rowsBefore: 400,
  bytesBefore: 4000,
  pending: [],
  start: 'resumed',
  ...over,
});

describe('CopyProgress', () => {
  it('counts a resumed table from its chunks done before and rates only this run', () => {
    const progress = new CopyProgress([work()]);
    progress.chunkDone({ table: 'public.t', rows: 100, bytes: 1000, seconds: 0.1 });
    const [table] = progress.perTable();
    expect(table).toMatchObject({
      chunksDone: 5,
      chunksTotal: 10,
      rows: 500,
      bytes: 5000,
      state: 'copying',
    });
    expect(table?.etaSeconds).not.toBeNull();
    const totals = progress.totals();
    expect(totals).toMatchObject({
      chunksDone: 5,
      chunksTotal: 10,
      rowsThisRun: 100,
      bytesThisRun: 1000,
    });
  });

  it('has no ETA before the first chunk and 0 when done; a failed table leaves the total ETA', () => {
    const progress = new CopyProgress([
      work({ name: 'public.a', chunksDoneBefore: 0, rowsBefore: 0, bytesBefore: 0 }),
      work({ name: 'public.b', chunksTotal: 4, chunksDoneBefore: 4, start: 'done' }),
    ]);
    expect(progress.perTable().map((t) => [t.state, t.etaSeconds])).toEqual([
      ['pending', null],
      ['done', 0],
    ]);
    progress.tableFailed('public.a', 'boom');
    expect(progress.perTable()[0]).toMatchObject({ state: 'failed', error: 'boom' });
    expect(progress.totals().etaSeconds).toBe(0);
  });

  it('draws one line per table under the total', () => {
    const progress = new CopyProgress([work()]);
    const lines = progress.viewLines(2);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^pgferry copy: 0\/1 tables, 4\/10 chunks, .* 2 jobs, ETA \?/);
    expect(lines[1]).toMatch(/public\.t\s+pending\s+40%\s+chunks 4\/10/);
  });
});

describe('formatCopyReport', () => {
  const report: CopyReport = {
    ok: false,
    interrupted: false,
    slot: 's',
    snapshotLsn: '0/1',
    snapshots: 1,
    jobs: 2,
    chunkRows: 100,
    seconds: 1,
    rows: 10,
    bytes: 100,
    rowsPerSecond: 10,
    mbPerSecond: 0,
    tables: [
      {
        table: 'public.a',
        source: 'public.a',
        start: 'new',
        state: 'done',
        format: 'binary',
        chunksTotal: 1,
        chunksDone: 1,
        chunksCopiedNow: 1,
        rows: 10,
        bytes: 100,
      },
      {
        table: 'public.b',
        source: 'public.b',
        start: 'new',
        state: 'failed',
        format: 'text',
        chunksTotal: 2,
        chunksDone: 0,
        chunksCopiedNow: 0,
        rows: 0,
        bytes: 0,
        error: 'public.b: chunk 0, column v: invalid input syntax',
      },
    ],
    indexes: [],
    indexSeconds: 0,
  };

  it('names each table, the failure with its column, and what to do next', () => {
    const text = formatCopyReport(report);
    expect(text).toContain('public.a: DONE 1/1 chunks, 10 rows');
    expect(text).toContain('public.b: FAILED 0/2 chunks');
    expect(text).toContain('column v: invalid input syntax');
    expect(text).toMatch(/copy: FAILED for 1 of 2 tables .* run pgferry copy again/);
    expect(formatCopyReport({ ...report, interrupted: true })).toMatch(/INTERRUPTED .* resume/);
  });

  it('lists the deferred indexes and fails the copy while one is not built', () => {
    const rowsDone = { ...report, ok: true, tables: report.tables.slice(0, 1) };
    const built = formatCopyReport({
      ...rowsDone,
      indexes: [
        { table: 'public.a', index: 'a_v_idx', state: 'built', seconds: 1.5 },
        { table: 'public.a', index: 'a_w_idx', state: 'already built', seconds: 0.2 },
      ],
    });
    expect(built).toContain('index a_v_idx on public.a: built in 1.5 s');
    expect(built).toContain('index a_w_idx on public.a: already built');
    expect(built).toMatch(/copy: OK, 1 table copied/);
    const failed = formatCopyReport({
      ...rowsDone,
      ok: false,
      indexes: [
        {
          table: 'public.a',
          index: 'a_v_idx',
          state: 'failed',
          seconds: 0,
          error: 'CREATE INDEX a_v_idx on public.a failed: out of disk',
        },
      ],
    });
    expect(failed).toContain('index a_v_idx on public.a: FAILED: CREATE INDEX a_v_idx');
    expect(failed).toMatch(
      /rows copied, but 1 deferred index\(es\) not built; .* run pgferry copy again/,
    );
  });
});

describe('fault point for every hit', () => {
  it('parses @* as every hit and still refuses @0', () => {
    expect(parseFaultInjection('copy-chunk:delay=150@*')).toEqual({
      point: 'copy-chunk',
      action: { kind: 'delay', ms: 150 },
      hit: 0,
    });
    expect(parseFaultInjection('copy-chunk:delay=150@0')).toMatch(/starts at 1/);
  });
});

import { describe, expect, it } from 'vitest';
import { isNothingRead, judgeCaughtUp } from '../../migrate/status/caught-up-judgement.js';
import { computePartitionLag } from '../../migrate/status/consumer-lag-reading.js';
import {
  buildCopyPart,
  copyRowsOfPipeline,
  copyTableStatus,
  overallEtaSeconds,
  topicPrefixesOfPattern,
} from '../../migrate/status/copy-progress-reading.js';
import { formatBytes, formatMigrationStatus } from '../../migrate/status/migration-status-text.js';
import type { ConsumerPart, MigrationStatus } from '../../migrate/status/migration-status-types.js';
import { statusExitCode, watchStatus } from '../../migrate/status/status-command.js';
import { readPipelineRouting, tableOfTopic } from '../../migrate/status/topic-routing.js';
import type { CopyTableRow } from '../../sink/bookkeeping/copy-rows.js';

/** A caught-up status; tests change one part. */
function makeStatus(change: (s: MigrationStatus) => void = () => undefined): MigrationStatus {
  const status: MigrationStatus = {
    at: '2026-01-02T03:04:05.000Z',
    connector: { name: 'pgferry-source', state: 'RUNNING', tasks: [{ id: 0, state: 'RUNNING' }] },
    slot: {
      name: 'pgferry_slot',
      exists: true,
      active: true,
      lagBytes: 2048,
      confirmedFlushLsn: '0/1000',
      currentLsn: '0/1800',
    },
    consumer: {
      groupId: 'g',
      totalLag: 0,
      partitions: [
        {
          topic: 'cdc.public.users',
          partition: 0,
          endOffset: '120',
          appliedOffset: '120',
          committedOffset: '120',
          lag: 0,
        },
      ],
    },
    tables: [
      {
        table: 'public.users',
        topic: 'cdc.public.users',
        changesApplied: 120,
        lastSourceTs: '2026-01-02T03:04:00.000Z',
        lastAppliedAt: '2026-01-02T03:04:01.000Z',
        endToEndLagSeconds: 5.2,
        dlqMessages: 1,
      },
    ],
    dlq: { sharedTopic: null, topics: [{ topic: 'cdc.public.users.dlq', messages: 1 }], total: 1 },
    caughtUp: true,
    reasons: [],
  };
  change(status);
  const reasons = judgeCaughtUp(status);
  return { ...status, reasons, caughtUp: reasons.length === 0 };
}

describe('computePartitionLag', () => {
  it('is end minus applied', () => {
    expect(computePartitionLag('120', '100', '0')).toBe(20);
    expect(computePartitionLag('120', '120', '0')).toBe(0);
  });

  it('counts from the log start when nothing is applied, or applied lies below it', () => {
    expect(computePartitionLag('120', null, '30')).toBe(90);
    expect(computePartitionLag('120', '10', '30')).toBe(90);
    expect(computePartitionLag('0', null, '0')).toBe(0);
  });

  it('is never negative and handles offsets beyond 2^53', () => {
    expect(computePartitionLag('5', '9', '0')).toBe(0);
    expect(computePartitionLag('9007199254740995', '9007199254740990', '0')).toBe(5);
  });
});

describe('judgeCaughtUp', () => {
  it('is caught up when the connector and tasks run, the slot is active and lag is 0', () => {
    expect(makeStatus().caughtUp).toBe(true);
    // Slot byte lag is shown, not judged.
    expect(
      makeStatus((s) => {
        s.slot.lagBytes = 10_000_000;
      }).caughtUp,
    ).toBe(true);
  });

  it.each([
    [
      'connector paused',
      (s: MigrationStatus) => {
        s.connector.state = 'PAUSED';
      },
      'connector pgferry-source is PAUSED',
    ],
    [
      'task failed',
      (s: MigrationStatus) => {
        s.connector.tasks = [{ id: 0, state: 'FAILED' }];
      },
      'connector task 0 is FAILED',
    ],
    [
      'no tasks',
      (s: MigrationStatus) => {
        s.connector.tasks = [];
      },
      'connector pgferry-source has no tasks',
    ],
    [
      'connector missing',
      (s: MigrationStatus) => {
        s.connector.state = null;
      },
      'connector pgferry-source not found',
    ],
    [
      'Connect down',
      (s: MigrationStatus) => {
        s.connector = { name: 'x', state: null, tasks: [], error: 'refused' };
      },
      'connector: refused',
    ],
    [
      'slot inactive',
      (s: MigrationStatus) => {
        s.slot.active = false;
      },
      'slot pgferry_slot is not active (nothing reads it)',
    ],
    [
      'slot missing before the connector exists',
      (s: MigrationStatus) => {
        s.slot.exists = false;
        s.connector = { name: 'pgferry-source', state: null, tasks: [] };
      },
      'slot pgferry_slot does not exist',
    ],
    [
      'slot missing while the connector runs (just applied: the slot is not made yet)',
      (s: MigrationStatus) => {
        s.slot.exists = false;
      },
      'slot pgferry_slot does not exist',
    ],
    [
      'slot missing and a task of the connector FAILED',
      (s: MigrationStatus) => {
        s.slot.exists = false;
        s.connector.tasks = [
          { id: 0, state: 'FAILED', trace: 'no longer available on the server' },
        ];
      },
      'slot pgferry_slot does not exist and connector pgferry-source has a FAILED task: the slot was lost, changes made since never reach Kafka; re-snapshot the target (docs/runbook.md, "If the replication slot was lost")',
    ],
    [
      'slot recorded lost, even though one exists again',
      (s: MigrationStatus) => {
        s.slot.lost = { at: '2026-01-02T03:00:00.000Z', by: 'pgferry run (group g)' };
      },
      'slot pgferry_slot was LOST (dropped on the source; seen by pgferry run (group g) at 2026-01-02T03:00:00.000Z): changes made while it was missing never reached Kafka; re-snapshot the target (docs/runbook.md, "If the replication slot was lost")',
    ],
    [
      'source unknown',
      (s: MigrationStatus) => {
        s.slot.error = 'not configured';
      },
      'slot: not configured',
    ],
    [
      'lag',
      (s: MigrationStatus) => {
        s.consumer.totalLag = 3;
      },
      'group g is 3 messages behind',
    ],
    [
      'no topics',
      (s: MigrationStatus) => {
        s.consumer.partitions = [];
      },
      'no topic matches KAFKA_TOPIC_PATTERN',
    ],
    [
      'Kafka down',
      (s: MigrationStatus) => {
        s.consumer.error = 'refused';
      },
      'consumer: refused',
    ],
    [
      'pgferry paused',
      (s: MigrationStatus) => {
        s.pgferry = [{ url: 'u', state: 'running', paused: true, pausing: false }];
      },
      'pgferry u is paused',
    ],
    [
      'pgferry starting',
      (s: MigrationStatus) => {
        s.pgferry = [{ url: 'u', state: 'starting', paused: false, pausing: false }];
      },
      'pgferry u is starting',
    ],
    [
      'pgferry down',
      (s: MigrationStatus) => {
        s.pgferry = [
          { url: 'u', state: 'unreachable', paused: false, pausing: false, error: 'refused' },
        ];
      },
      'pgferry u: refused',
    ],
  ])('is not caught up when %s', (_name, change, reason) => {
    const status = makeStatus(change);
    expect(status.caughtUp).toBe(false);
    expect(status.reasons).toContain(reason);
    expect(statusExitCode(status)).toBe(3);
  });

  it('exits 0 when caught up and 1 only when no part could be read', () => {
    expect(statusExitCode(makeStatus())).toBe(0);
    const nothing = makeStatus((s) => {
      s.connector = { name: 'c', state: null, tasks: [], error: 'down' };
      s.slot.error = 'down';
      s.consumer = { groupId: 'g', totalLag: 0, partitions: [], error: 'down' };
      s.tablesError = 'down';
    });
    expect(isNothingRead(nothing)).toBe(true);
    expect(statusExitCode(nothing)).toBe(1);
    // The target alone answered: something was read.
    const targetOnly = makeStatus((s) => {
      s.connector = { name: 'c', state: null, tasks: [], error: 'down' };
      s.slot.error = 'down';
      s.consumer = { groupId: 'g', totalLag: 0, partitions: [], error: 'down' };
    });
    expect(statusExitCode(targetOnly)).toBe(3);
  });
});

describe('tableOfTopic', () => {
  const routing = (
    pattern: RegExp,
    mapping: { topicPrefix?: string; targetSchema?: string } = {},
  ) => readPipelineRouting({ kafka: { topicPattern: pattern }, mapping });

  it('maps <prefix>.<schema>.<table> to schema.table, TARGET_SCHEMA overriding the schema', () => {
    const cdc = routing(/^cdc\.public\..*/);
    expect(tableOfTopic('cdc.public.users', cdc)).toBe('public.users');
    expect(tableOfTopic('a.b.sales.orders', routing(/.*/, { topicPrefix: 'a.b' }))).toBe(
      'sales.orders',
    );
    const mirror = routing(/^cdc\.public\..*/, { targetSchema: 'mirror' });
    expect(tableOfTopic('cdc.public.users', mirror, { targetSchema: 'mirror' })).toBe(
      'mirror.users',
    );
  });

  it('keeps a dot in a table name (the topic prefix is known)', () => {
    expect(tableOfTopic('cdc.public.my.table', routing(/^cdc\.public\..*/))).toBe(
      'public.my.table',
    );
    // The last-two-parts reading it replaces would have said my.table.
    expect(tableOfTopic('cdc.public.my.table', undefined)).toBe('my.table');
  });

  it('without a topic prefix (a pattern with no literal head), shows the last two parts', () => {
    expect(routing(/.*/)).toBeUndefined();
    expect(tableOfTopic('x.y.public.users', undefined)).toBe('public.users');
  });
});

describe('formatMigrationStatus', () => {
  it('prints the headline, then connector, slot, lag per partition and tables', () => {
    const text = formatMigrationStatus(makeStatus());
    expect(text).toBe(
      [
        'pgferry status at 2026-01-02T03:04:05.000Z: caught up',
        '',
        'Connector    pgferry-source: RUNNING (task 0 RUNNING)',
        'Source slot  pgferry_slot: active, lag 2.0 KiB (confirmed 0/1000, current 0/1800)',
        '',
        'Consumer     group g: 0 behind',
        '  TOPIC             PART  END  APPLIED  COMMITTED  LAG',
        '  cdc.public.users     0  120      120        120    0',
        '',
        'Tables',
        '  TABLE         APPLIED  LAST SOURCE TS            E2E LAG  DLQ',
        '  public.users      120  2026-01-02T03:04:00.000Z     5.2s    1',
      ].join('\n'),
    );
  });

  it('says how far behind and why', () => {
    const text = formatMigrationStatus(
      makeStatus((s) => {
        s.consumer.totalLag = 42;
        s.slot.lagBytes = 3 * 1024 * 1024;
        s.connector.state = 'PAUSED';
      }),
    );
    expect(text.split('\n').slice(0, 3)).toEqual([
      'pgferry status at 2026-01-02T03:04:05.000Z: behind by 42 messages / 3.0 MiB of WAL',
      '  - connector pgferry-source is PAUSED',
      '  - group g is 42 messages behind',
    ]);
  });

  it('puts a lost slot in the headline and under the slot', () => {
    const text = formatMigrationStatus(
      makeStatus((s) => {
        s.slot.exists = false;
        s.slot.lost = { at: '2026-01-02T03:00:00.000Z', by: 'pgferry run (group g)' };
      }),
    );
    expect(text.split('\n')[0]).toBe(
      'pgferry status at 2026-01-02T03:04:05.000Z: REPLICATION SLOT LOST: re-snapshot needed (docs/runbook.md, "If the replication slot was lost")',
    );
    expect(text).toContain(
      '  LOST: dropped on the source (seen by pgferry run (group g) at 2026-01-02T03:00:00.000Z)',
    );
  });

  it('shows each unreadable part with its error, and the rest', () => {
    const text = formatMigrationStatus(
      makeStatus((s) => {
        s.connector = { name: 'c', state: null, tasks: [], error: 'connection refused' };
        s.dlq.sharedTopic = 'pgferry.dlq';
        s.dlq.total = 4;
        s.pgferry = [
          { url: 'http://127.0.0.1:9464', state: 'running', paused: true, pausing: false },
        ];
      }),
    );
    expect(text).toContain('Connector    c: unknown (connection refused)');
    expect(text).toContain('Source slot  pgferry_slot: active');
    expect(text).toContain('  dead letters in pgferry.dlq: 4');
    expect(text).toContain('  http://127.0.0.1:9464: running, paused');
    expect(text).toMatch(/public\.users +120 .* 5\.2s +-$/m);
  });

  it('formats bytes compactly (durations: formatDuration, tested with the progress view)', () => {
    expect(formatBytes(512)).toBe('512 bytes');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(5 * 1024 ** 3)).toBe('5.0 GiB');
  });
});

describe('watchStatus', () => {
  it('reads and shows every interval until aborted, returning the last exit code', async () => {
    const controller = new AbortController();
    const shown: boolean[] = [];
    const statuses = [
      makeStatus((s) => {
        s.consumer.totalLag = 5;
      }),
      makeStatus(),
    ];
    let reads = 0;
    const code = await watchStatus({
      intervalMs: 5,
      signal: controller.signal,
      read: async () => statuses[Math.min(reads++, 1)] as MigrationStatus,
      show: (status) => {
        shown.push(status.caughtUp);
        if (shown.length === 3) controller.abort();
      },
    });
    expect(shown).toEqual([false, true, true]);
    expect(code).toBe(0);
  });
});

// --- pgferry copy in the status ---

const T0 = new Date('2026-01-02T03:00:00.000Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

function copyRow(change: Partial<CopyTableRow> = {}): CopyTableRow {
  return {
    schema: 'public',
    name: 'orders',
    sourceSchema: 'public',
    sourceName: 'orders',
    state: 'copying',
    keyColumns: ['id'],
    chunksTotal: 40,
    chunksDone: 10,
    rowsCopied: 100_000,
    bytesCopied: 8 * 1024 * 1024,
    startedAt: T0,
    finishedAt: null,
    lastChunkAt: at(50),
    lastError: null,
    ...change,
  };
}

describe('copyTableStatus', () => {
  it('rate = rows over startedAt..lastChunkAt; ETA = chunks left at that chunk rate', () => {
    const s = copyTableStatus(copyRow(), at(60), 7);
    expect(s).toMatchObject({
      table: 'public.orders',
      source: 'public.orders',
      state: 'copying',
      rowsPerSecond: 2000,
      // 30 chunks left at 10 chunks per 50 s.
      etaSeconds: 150,
      streamWaiting: true,
      queuedMessages: 7,
      startedAt: '2026-01-02T03:00:00.000Z',
      lastChunkAt: '2026-01-02T03:00:50.000Z',
    });
  });

  it('before the first chunk: no rate, no ETA; done: ETA 0, the stream flows', () => {
    const fresh = copyTableStatus(
      copyRow({ chunksDone: 0, rowsCopied: 0, lastChunkAt: null }),
      at(30),
      null,
    );
    expect(fresh).toMatchObject({ rowsPerSecond: null, etaSeconds: null, streamWaiting: true });
    const done = copyTableStatus(
      copyRow({ state: 'done', chunksDone: 40, lastChunkAt: at(200), finishedAt: at(200) }),
      at(900),
      0,
    );
    expect(done).toMatchObject({ rowsPerSecond: 500, etaSeconds: 0, streamWaiting: false });
  });

  it('failed: its rate stays, no ETA (it waits for the next pgferry copy)', () => {
    const failed = copyTableStatus(copyRow({ state: 'failed', lastError: 'bad' }), at(60), null);
    expect(failed).toMatchObject({ rowsPerSecond: 2000, etaSeconds: null, lastError: 'bad' });
  });
});

describe('overallEtaSeconds', () => {
  it('uses the run’s chunk rate (a table queued behind another has no rate of its own yet)', () => {
    const now = at(100);
    const tables = [
      copyTableStatus(
        copyRow({
          name: 'a',
          state: 'done',
          chunksDone: 60,
          chunksTotal: 60,
          finishedAt: at(60),
          lastChunkAt: at(60),
        }),
        now,
        null,
      ),
      copyTableStatus(
        copyRow({ name: 'b', chunksDone: 30, chunksTotal: 90, lastChunkAt: at(90) }),
        now,
        null,
      ),
      copyTableStatus(
        copyRow({ name: 'c', chunksDone: 0, chunksTotal: 30, lastChunkAt: null }),
        now,
        null,
      ),
    ];
    // 90 chunks in 90 s; 60 + 30 left.
    expect(overallEtaSeconds(tables, now)).toBe(90);
  });

  it('0 when every table is done; null when one failed or nothing is measured', () => {
    const now = at(100);
    const done = copyTableStatus(copyRow({ state: 'done', chunksDone: 40 }), now, null);
    expect(overallEtaSeconds([done], now)).toBe(0);
    const failed = copyTableStatus(copyRow({ state: 'failed' }), now, null);
    expect(overallEtaSeconds([done, failed], now)).toBeNull();
    const fresh = copyTableStatus(copyRow({ chunksDone: 0, lastChunkAt: null }), now, null);
    expect(overallEtaSeconds([fresh], now)).toBeNull();
  });
});

describe('copy rows of this pipeline', () => {
  it('reads the topic prefix off KAFKA_TOPIC_PATTERN’s literal head', () => {
    expect(topicPrefixesOfPattern(/^cdc\.public\..*/)).toEqual(['cdc']);
    expect(topicPrefixesOfPattern(/^sp_x1\.public\..*/)).toEqual(['sp_x1']);
    expect(topicPrefixesOfPattern(/^a\.b\.public\./)).toEqual(['a.b', 'a']);
    expect(topicPrefixesOfPattern(/^cdc\.public\.orders$/)).toEqual(['cdc.public', 'cdc']);
    expect(topicPrefixesOfPattern(/^cdc\..*/)).toEqual(['cdc']);
    expect(topicPrefixesOfPattern(/.*/)).toEqual([]);
    expect(topicPrefixesOfPattern(/^(a|b)\.public\..*/)).toEqual([]);
  });

  it('keeps the rows whose table’s topic would match the pattern, or whose topic exists', () => {
    const mine = copyRow({ name: 'mine', sourceName: 'mine' });
    const other = copyRow({ name: 'other', sourceName: 'other' });
    const otherSchema = copyRow({
      schema: 'sales',
      name: 'x',
      sourceSchema: 'sales',
      sourceName: 'x',
    });
    const rows = [mine, other, otherSchema];
    // By the pattern's head alone (no topic yet).
    expect(
      copyRowsOfPipeline(rows, { topicPattern: /^cdc\.public\.(mine|late)$/ }).map((r) => r.name),
    ).toEqual(['mine']);
    // By the prefix of the pipeline's topics.
    expect(
      copyRowsOfPipeline(rows, { topicPattern: /^(cdc)\.sales\..*/, topics: ['cdc.sales.y'] }).map(
        (r) => r.name,
      ),
    ).toEqual(['x']);
    // A table with a topic belongs, whatever its source name (TARGET_SCHEMA applied).
    const mapped = copyRow({ schema: 'mirror', name: 'mine', sourceName: 'mine' });
    expect(
      copyRowsOfPipeline([mapped], {
        topicPattern: /^(p)\..*/,
        targetSchema: 'mirror',
        topics: ['p.public.mine'],
      }),
    ).toHaveLength(1);
    // No prefix to tell: every row.
    expect(copyRowsOfPipeline(rows, { topicPattern: /.*/ })).toHaveLength(3);
  });
});

describe('buildCopyPart', () => {
  const consumer = (lag: number): ConsumerPart => ({
    groupId: 'g',
    totalLag: lag,
    partitions: [
      {
        topic: 'cdc.public.orders',
        partition: 0,
        endOffset: '9',
        appliedOffset: '2',
        committedOffset: null,
        lag,
      },
    ],
  });
  const scope = { topicPattern: /^cdc\.public\..*/, topics: ['cdc.public.orders'] };

  it('is absent without copy bookkeeping, so the status stays as it was', () => {
    expect(
      buildCopyPart(scope, { value: { applied: new Map(), tables: [] } }, consumer(0)),
    ).toBeUndefined();
    expect(buildCopyPart(scope, { error: 'down' }, consumer(0))).toBeUndefined();
    const otherPipeline = copyRow({ name: 'x', sourceName: 'x' });
    expect(
      buildCopyPart(
        { topicPattern: /^mine\.sales\..*/ },
        { value: { applied: new Map(), tables: [], copy: { rows: [otherPipeline], now: at(60) } } },
        consumer(0),
      ),
    ).toBeUndefined();
  });

  it('gives each table its held-back changes (its topic’s lag) and the totals', () => {
    const part = buildCopyPart(
      scope,
      {
        value: {
          applied: new Map(),
          tables: [],
          copy: {
            rows: [
              copyRow(),
              copyRow({ name: 'items', sourceName: 'items', state: 'done', chunksDone: 40 }),
            ],
            now: at(60),
          },
        },
      },
      consumer(7),
    );
    expect(part?.tablesDone).toBe(1);
    expect(part?.tables.map((t) => [t.table, t.queuedMessages])).toEqual([
      ['public.orders', 7],
      ['public.items', null],
    ]);
  });

  it('carries a read error (then the judgement cannot say the copy is done)', () => {
    const part = buildCopyPart(
      scope,
      {
        value: {
          applied: new Map(),
          tables: [],
          copyError: 'permission denied for table copy_tables',
        },
      },
      consumer(0),
    );
    expect(part).toEqual({
      tables: [],
      tablesDone: 0,
      etaSeconds: null,
      error: 'permission denied for table copy_tables',
    });
    const status = makeStatus((s) => {
      s.copy = part;
    });
    expect(status.reasons).toEqual(['copy: permission denied for table copy_tables']);
  });
});

describe('the status with a copy', () => {
  const withCopy = (rows: CopyTableRow[], lag = 0) =>
    makeStatus((s) => {
      s.consumer.totalLag = lag;
      if (s.consumer.partitions[0]) s.consumer.partitions[0].lag = lag;
      s.copy = buildCopyPart(
        { topicPattern: /^cdc\.public\..*/, topics: ['cdc.public.users'] },
        { value: { applied: new Map(), tables: [], copy: { rows, now: at(60) } } },
        s.consumer,
      );
    });
  const users = (change: Partial<CopyTableRow> = {}) =>
    copyRow({ name: 'users', sourceName: 'users', ...change });

  it('is not caught up while a table is copying or failed, naming each table', () => {
    const status = withCopy([
      users(),
      copyRow({
        name: 'bad',
        sourceName: 'bad',
        state: 'failed',
        chunksDone: 3,
        chunksTotal: 10,
        lastError: 'invalid input syntax for type integer\nCONTEXT: COPY',
      }),
      copyRow({ name: 'old', sourceName: 'old', state: 'done', chunksDone: 40 }),
    ]);
    expect(status.caughtUp).toBe(false);
    expect(status.reasons).toEqual([
      'copy of public.users not done (10/40 chunks): its stream waits until pgferry copy finishes it',
      'copy of public.bad FAILED (3/10 chunks: invalid input syntax for type integer): its stream waits; run pgferry copy again to resume it',
    ]);
    expect(statusExitCode(status)).toBe(3);
  });

  it('is caught up once every copy is done (and the rest is)', () => {
    const status = withCopy([users({ state: 'done', chunksDone: 40, finishedAt: at(50) })]);
    expect(status.caughtUp).toBe(true);
    expect(status.reasons).toEqual([]);
    expect(formatMigrationStatus(status).split('\n')[0]).toBe(
      'pgferry status at 2026-01-02T03:04:05.000Z: caught up',
    );
  });

  it('shows the Copy section: state, chunks, rows, bytes, rate, ETA, and that the stream waits', () => {
    const text = formatMigrationStatus(
      withCopy(
        [
          users(),
          copyRow({
            name: 'bad',
            sourceName: 'bad',
            state: 'failed',
            chunksDone: 3,
            chunksTotal: 10,
            rowsCopied: 3000,
            bytesCopied: 2048,
            lastError: 'boom',
          }),
          copyRow({
            name: 'done',
            sourceName: 'done',
            state: 'done',
            chunksDone: 4,
            chunksTotal: 4,
            rowsCopied: 400,
            bytesCopied: 512,
            lastChunkAt: at(20),
            finishedAt: at(20),
          }),
        ],
        12,
      ),
    );
    const lines = text.split('\n');
    expect(lines[0]).toBe(
      'pgferry status at 2026-01-02T03:04:05.000Z: behind by 12 messages / 2.0 KiB of WAL; copy not done: 1 of 3 tables copied, 1 FAILED',
    );
    const copyAt = lines.indexOf(
      'Copy         1 of 3 tables done, 1 copying, 1 FAILED; 17/54 chunks, 103,400 rows, 8.0 MiB copied',
    );
    expect(copyAt).toBeGreaterThan(0);
    expect(lines.slice(copyAt + 1, copyAt + 6)).toEqual([
      '  TABLE         STATE    CHUNKS     ROWS      BYTES  ROWS/S    ETA  STREAM',
      '  public.users  copying   10/40  100,000    8.0 MiB   2,000  2m30s  waits for the copy (12 changes held back)',
      '  public.bad    FAILED     3/10    3,000    2.0 KiB      60      -  waits for the copy',
      '  public.done   done        4/4      400  512 bytes      20      -  streaming',
      '  public.bad: boom',
    ]);
    // The Copy section sits between the slot and the consumer.
    expect(lines[copyAt - 1]).toBe('');
    expect(lines[copyAt - 2]).toMatch(/^Source slot/);
    expect(lines[copyAt + 6]).toBe('');
    expect(lines[copyAt + 7]).toMatch(/^Consumer/);
  });

  it('says so when the copy bookkeeping cannot be read', () => {
    const status = makeStatus((s) => {
      s.copy = { tables: [], tablesDone: 0, etaSeconds: null, error: 'permission denied' };
    });
    const text = formatMigrationStatus(status);
    expect(text).toContain('\nCopy         unknown (permission denied)\n');
    expect(text.split('\n')[0]).toMatch(/; copy unknown$/);
  });

  it('leaves the text and the JSON as they were without copy bookkeeping', () => {
    const status = makeStatus();
    expect('copy' in status).toBe(false);
    expect(formatMigrationStatus(status)).not.toContain('Copy');
  });
});

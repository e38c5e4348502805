import { describe, expect, it } from 'vitest';
import { isNothingRead, judgeCaughtUp } from '../../migrate/status/caught-up-judgement.js';
import { computePartitionLag } from '../../migrate/status/consumer-lag-reading.js';
import { formatBytes, formatMigrationStatus } from '../../migrate/status/migration-status-text.js';
import type { MigrationStatus } from '../../migrate/status/migration-status-types.js';
import { statusExitCode, watchStatus } from '../../migrate/status/status-command.js';
import { tableOfTopic } from '../../migrate/status/table-progress-reading.js';

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
  it('maps <prefix>.<schema>.<table> to schema.table, TARGET_SCHEMA overriding the schema', () => {
    expect(tableOfTopic('cdc.public.users')).toBe('public.users');
    expect(tableOfTopic('a.b.sales.orders')).toBe('sales.orders');
    expect(tableOfTopic('cdc.public.users', 'mirror')).toBe('mirror.users');
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

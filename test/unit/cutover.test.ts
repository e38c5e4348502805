// Pure parts of cutover and rollback: the mirrored config, the gate lines and verdicts, the
// Markdown report, and the caught-up gate's copy check (on a fake target). The gates themselves
// run against the real stack (test/integration).
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config.js';
import { ConfigError } from '../../core/errors.js';
import { findCopiesNotDone } from '../../migrate/cutover/cutover.js';
import { formatGateLine, formatVerdict } from '../../migrate/cutover/cutover-command.js';
import { renderCutoverMarkdown } from '../../migrate/cutover/cutover-report.js';
import type { CutoverResult } from '../../migrate/cutover/cutover-result.js';
import { reverseConfig } from '../../migrate/reverse-config.js';

const BASE = {
  KAFKA_BOOTSTRAP: 'k:9092',
  KAFKA_GROUP_ID: 'grp',
  TARGET_DB_HOST: 'target',
  TARGET_DB_NAME: 'tdb',
  TARGET_DB_USER: 'pgferry',
  TARGET_DB_PASSWORD: 'target-secret',
  SOURCE_DB_HOST: 'source',
  SOURCE_DB_PORT: '6432',
  SOURCE_DB_NAME: 'sdb',
  SOURCE_DB_USER: 'reader',
  SOURCE_DB_PASSWORD: 'reader-secret',
  SOURCE_DB_SSLMODE: 'verify-full',
  ROLLBACK_DB_USER: 'writer',
  ROLLBACK_DB_PASSWORD: 'writer-secret',
};

describe('reverseConfig', () => {
  it('mirrors the databases: the target is read, the source is written as ROLLBACK_DB_USER', () => {
    const reversed = reverseConfig(loadConfig(BASE));
    expect(reversed.source).toMatchObject({ host: 'target', database: 'tdb', user: 'pgferry' });
    expect(reversed.target).toMatchObject({
      host: 'source',
      port: 6432,
      database: 'sdb',
      user: 'writer',
      password: 'writer-secret',
      sslMode: 'verify-full',
    });
    expect(reversed.kafka.groupId).toBe('grp-reverse');
    expect(reversed.kafka.topicPattern.test('rev.public.users')).toBe(true);
    expect(reversed.kafka.topicPattern.test('cdc.public.users')).toBe(false);
    expect(reversed.connect.connectorName).toBe('pgferry-reverse');
    expect(reversed.replication).toEqual({
      publication: 'pgferry_reverse_publication',
      slotName: 'pgferry_reverse_slot',
    });
  });

  it('never carries the read-only role’s password over to the writer', () => {
    const { ROLLBACK_DB_PASSWORD: _unused, ...withoutPassword } = BASE;
    // A role without a password: only on a local source (elsewhere ROLLBACK_DB_PASSWORD is required).
    const reversed = reverseConfig(loadConfig({ ...withoutPassword, SOURCE_DB_HOST: '127.0.0.1' }));
    expect(reversed.target.user).toBe('writer');
    expect(reversed.target.password).toBeUndefined();
  });

  it('names every missing setting at once', () => {
    const { ROLLBACK_DB_USER, ROLLBACK_DB_PASSWORD, SOURCE_DB_HOST, ...rest } = BASE;
    const config = loadConfig({
      ...rest,
      SOURCE_DB_PORT: undefined,
      SOURCE_DB_NAME: undefined,
      SOURCE_DB_USER: undefined,
      SOURCE_DB_PASSWORD: undefined,
      TARGET_SCHEMA: 'moved',
    });
    expect(() => reverseConfig(config)).toThrow(ConfigError);
    try {
      reverseConfig(config);
    } catch (error) {
      const settings = (error as ConfigError).problems.map((p) => p.setting);
      expect(settings).toEqual(['SOURCE_DB_HOST', 'ROLLBACK_DB_USER', 'TARGET_SCHEMA']);
    }
  });

  it('refuses ROLLBACK_DB_PASSWORD without ROLLBACK_DB_USER at load time', () => {
    const { ROLLBACK_DB_USER: _unused, ...rest } = BASE;
    expect(() => loadConfig(rest)).toThrow(/ROLLBACK_DB_USER: not set/);
  });
});

const PASSED: CutoverResult = {
  direction: 'cutover',
  ok: true,
  dryRun: false,
  startedAt: '2026-11-27T10:00:00.000Z',
  finishedAt: '2026-11-27T10:01:00.000Z',
  source: 'source:5432/sdb',
  target: 'target:5432/tdb',
  tables: ['public.users'],
  reportFiles: ['r/cutover.json', 'r/cutover.md'],
  gates: [
    { gate: 'writes-stopped', status: 'passed', seconds: 15, summary: 'no writes for 15s' },
    {
      gate: 'caught-up',
      status: 'passed',
      seconds: 2.5,
      summary: 'slot confirmed',
      details: {
        slot: {
          name: 's',
          confirmedFlushLsn: '0/20',
          quietLsn: '0/10',
          watermarkLsn: '0/18',
          lagBytes: 56,
        },
        consumer: { totalLag: 0, partitions: [] },
      },
    },
    {
      gate: 'verified',
      status: 'passed',
      seconds: 1,
      summary: '1 table equal',
      details: {
        match: true,
        tables: [
          {
            source: 'public.users',
            target: 'public.users',
            match: true,
            sourceRows: 3,
            targetRows: 3,
            checksum: 'abc|def',
            differences: [],
          },
        ],
      },
    },
    {
      gate: 'sequences',
      status: 'passed',
      seconds: 0.1,
      summary: 'raised 1',
      details: [
        {
          table: 'public.users',
          column: 'id',
          sourceSequence: { schema: 'public', name: 'users_id_seq' },
          targetSequence: { schema: 'public', name: 'users_id_seq' },
          sourceLastValue: '3',
          targetLastValue: '1',
          targetMaxColumn: '3',
          setTo: '3',
        },
      ],
    },
    { gate: 'report', status: 'passed', seconds: 0, summary: 'written' },
  ],
};

describe('cutover output', () => {
  it('renders the report with gates, lag, per-table counts and checksums, and sequences', () => {
    const md = renderCutoverMarkdown(PASSED);
    expect(md).toMatch(/^# Cutover report\n/);
    expect(md).toContain('**ready: every gate passed**');
    expect(md).toContain('| 2 | caught-up | passed | 2.5 | slot confirmed |');
    expect(md).toContain(
      'confirmed 0/20, quiet point 0/10, watermark 0/18, 56 bytes of WAL behind',
    );
    // A pipe inside a value must not break the table.
    expect(md).toContain('| public.users | 3 | 3 | yes | `abc\\|def` |');
    expect(md).toContain('| public.users.id | 3 | 3 | 3 |');
  });

  it('says where it stopped when a gate refused', () => {
    const refused: CutoverResult = {
      ...PASSED,
      ok: false,
      reportFiles: [],
      gates: [
        { gate: 'writes-stopped', status: 'passed', seconds: 15, summary: 'quiet' },
        { gate: 'caught-up', status: 'failed', seconds: 120, summary: 'consumer lag 4' },
      ],
    };
    expect(formatVerdict(refused)).toMatch(/^REFUSED at gate 2 \(caught-up\)/);
    expect(renderCutoverMarkdown(refused)).toContain('**refused**');
    expect(formatVerdict(PASSED)).toMatch(
      /^READY TO CUT OVER: set up the rollback plan .*r\/cutover\.md/,
    );
    expect(formatVerdict({ ...PASSED, direction: 'rollback' })).toMatch(/^READY TO SWITCH BACK/);
    expect(formatVerdict({ ...PASSED, dryRun: true })).toMatch(/^DRY RUN/);
  });

  it('prints one aligned line per gate with its number', () => {
    const line = formatGateLine(
      { gate: 'verified', status: 'failed', seconds: 3.2, summary: '1 table differs' },
      'cutover',
    );
    expect(line).toBe('  [3/5] verified        FAILED    3.2s  1 table differs\n');
    expect(
      formatGateLine(
        { gate: 'writes-stopped', status: 'passed', seconds: 5, summary: 'x' },
        'rollback',
      ),
    ).toContain('[1/5] target quiet');
  });
});

describe('caught-up gate: the initial copy', () => {
  /** A target whose pgferry.copy_tables holds these rows (as readCopyTables selects them). */
  const targetWithCopies = (rows: Record<string, unknown>[] | undefined) =>
    ({
      query: async (sql: string) =>
        sql.includes('to_regclass')
          ? { rows: [{ t: rows === undefined ? null : 'pgferry.copy_tables' }] }
          : { rows },
    }) as unknown as pg.ClientBase;
  const row = (name: string, state: string, done: number, lastError: string | null = null) => ({
    table_schema: 'public',
    table_name: name,
    source_schema: 'public',
    source_name: name,
    state,
    key_columns: ['id'],
    chunks_total: 4,
    chunks_done: String(done),
    rows_copied: '10',
    bytes_copied: '100',
    started_at: new Date(0),
    finished_at: null,
    last_chunk_at: null,
    last_error: lastError,
  });
  const tables = [
    { schema: 'public', name: 'users' },
    { schema: 'public', name: 'orders' },
  ];

  it('names each cut-over table whose copy is not done, and only those', async () => {
    const target = targetWithCopies([
      row('users', 'copying', 1),
      row('orders', 'failed', 2, 'boom'),
      row('other', 'copying', 0),
    ]);
    expect(await findCopiesNotDone(target, tables)).toEqual([
      'copy of public.users not done (1/4 chunks): its stream waits until pgferry copy finishes it',
      'copy of public.orders FAILED (2/4 chunks: boom): its stream waits; run pgferry copy again to resume it',
    ]);
  });

  it('has nothing to say once every copy is done, or without copy bookkeeping', async () => {
    expect(await findCopiesNotDone(targetWithCopies([row('users', 'done', 4)]), tables)).toEqual(
      [],
    );
    expect(await findCopiesNotDone(targetWithCopies(undefined), tables)).toEqual([]);
  });
});

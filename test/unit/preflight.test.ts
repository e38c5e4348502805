// pgferry preflight's pure parts: the verdict rules of each check (replica identity, slot, slots
// and senders, connector user and state, topics, retention arithmetic, role attributes, column
// type classification, what pgferry copy needs), how a check runs (errors, timeouts, skips), the report text and the exit
// code rule.

import { describe, expect, it } from 'vitest';
import type { ConnectorStatus } from '../../core/connect-client.js';
import { EXIT_CHECK_FAILED, EXIT_OK } from '../../migrate/command-context.js';
import {
  CheckSkipped,
  type CheckStatus,
  countChecks,
  fail,
  type PreflightReport,
  type PreflightSection,
  pass,
  runCheck,
  warn,
} from '../../migrate/preflight/preflight-check.js';
import {
  formatPreflightReport,
  preflightExitCode,
} from '../../migrate/preflight/preflight-command.js';
import { firstTraceLine, judgeConnector } from '../../migrate/preflight/preflight-connect.js';
import {
  brokerRetentionMs,
  connectCreatesTopics,
  formatDuration,
  isRetentionShort,
  judgeRetention,
  judgeRoutingPrefix,
  judgeTopics,
  resolveTopicPrefix,
  type TopicRetention,
  topicOf,
} from '../../migrate/preflight/preflight-kafka.js';
import { type CopySlotReading, judgeCopySlot } from '../../migrate/preflight/source-copy-checks.js';
import {
  judgeReplicationCapacity,
  judgeSlot,
  type SlotReading,
} from '../../migrate/preflight/source-replication-checks.js';
import { resolveConnectorUser } from '../../migrate/preflight/source-role-checks.js';
import { judgeReplicaIdentity } from '../../migrate/preflight/source-table-checks.js';
import {
  type CopyTargetFacts,
  judgeCopyTargets,
} from '../../migrate/preflight/target-copy-checks.js';
import { judgeRoleAttributes } from '../../migrate/preflight/target-role-checks.js';
import {
  classifyColumnType,
  compareTableSchemas,
  judgeSchemaComparison,
} from '../../migrate/preflight/target-schema-checks.js';
import type {
  ColumnDefinition,
  ColumnType,
  SchemaCatalog,
  TableDefinition,
} from '../../migrate/schema-sync/schema-catalog-types.js';
import { SchemaMapping } from '../../pipeline/routing/schema-mapping.js';

const HOUR = 3_600_000;

describe('runCheck', () => {
  const check = (run: () => Promise<ReturnType<typeof pass>>) => ({ id: 'x', title: 'x', run });

  it('returns the verdict with the check id and title', async () => {
    expect(
      await runCheck(
        check(async () => pass('fine')),
        1000,
      ),
    ).toEqual({
      id: 'x',
      title: 'x',
      status: 'pass',
      message: 'fine',
    });
  });

  it('turns an error into a FAIL with its first line', async () => {
    const result = await runCheck(
      check(async () => {
        throw new Error('permission denied for table t\nDETAIL: more');
      }),
      1000,
    );
    expect(result.status).toBe('fail');
    expect(result.message).toBe('permission denied for table t');
  });

  it('turns a timeout into a FAIL and does not wait for the check', async () => {
    const started = Date.now();
    const result = await runCheck(
      check(() => new Promise(() => undefined)),
      50,
    );
    expect(result.status).toBe('fail');
    expect(result.message).toMatch(/no answer within 0\.1 s/);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('reports a missing prerequisite as SKIP', async () => {
    const result = await runCheck(
      check(async () => {
        throw new CheckSkipped('not checked: the source is unreachable');
      }),
      1000,
    );
    expect(result).toMatchObject({
      status: 'skip',
      message: 'not checked: the source is unreachable',
    });
  });
});

describe('exit code and report text', () => {
  const section = (statuses: CheckStatus[]): PreflightSection => ({
    name: 'source',
    title: 'Source PostgreSQL (h:1/db as u)',
    checks: statuses.map((status, i) => ({
      id: `c${i}`,
      title: `check ${i}`,
      status,
      message: `message ${i}`,
    })),
  });
  const report = (statuses: CheckStatus[]): PreflightReport => {
    const sections = [section(statuses)];
    const counts = countChecks(sections);
    return { at: 'now', sections, counts, ok: counts.fail === 0 };
  };

  it('exits 3 on any FAIL, 0 with only PASS, WARN and SKIP', () => {
    expect(preflightExitCode(report(['pass', 'warn', 'skip']))).toBe(EXIT_OK);
    expect(preflightExitCode(report(['pass']))).toBe(EXIT_OK);
    expect(preflightExitCode(report(['pass', 'fail', 'warn']))).toBe(EXIT_CHECK_FAILED);
  });

  it('prints one line per check under its section, details indented, and a summary', () => {
    const r = report(['pass', 'fail', 'warn']);
    const first = r.sections[0]?.checks[1];
    if (first) first.details = ['public.t: add a primary key'];
    expect(formatPreflightReport(r)).toBe(
      [
        'Source PostgreSQL (h:1/db as u)',
        '  PASS  check 0  message 0',
        '  FAIL  check 1  message 1',
        '               - public.t: add a primary key',
        '  WARN  check 2  message 2',
        '',
        'preflight: FAILED (1 passed, 1 warning, 1 failed)',
        '',
      ].join('\n'),
    );
    expect(formatPreflightReport(report(['pass', 'skip']))).toContain(
      'preflight: OK (1 passed, 0 warnings, 0 failed, 1 skipped)',
    );
    expect(formatPreflightReport(report(['warn']))).toContain('preflight: OK with warnings');
  });
});

describe('source rules', () => {
  it('replica identity: a primary key or USING INDEX key, FULL keyless (warned), else a failure', () => {
    expect(judgeReplicaIdentity({ hasPrimaryKey: true, identity: 'd' })).toBe('ok');
    expect(judgeReplicaIdentity({ hasPrimaryKey: true, identity: 'f' })).toBe('ok');
    expect(judgeReplicaIdentity({ hasPrimaryKey: false, identity: 'f' })).toBe('keyless');
    expect(judgeReplicaIdentity({ hasPrimaryKey: false, identity: 'i' })).toBe('index-key');
    expect(judgeReplicaIdentity({ hasPrimaryKey: false, identity: 'd' })).toBe('no-key');
    expect(judgeReplicaIdentity({ hasPrimaryKey: true, identity: 'n' })).toBe('nothing');
  });

  const slot = (extra: Partial<SlotReading>): SlotReading => ({
    name: 'pgferry_slot',
    exists: true,
    active: false,
    retainedBytes: 0,
    walStatus: 'reserved',
    database: 'db',
    currentDatabase: 'db',
    plugin: 'pgoutput',
    ...extra,
  });

  it('slot: warns only when inactive and retaining more than the threshold', () => {
    const MB = 1024 * 1024;
    expect(judgeSlot(slot({ exists: false }), 1024).status).toBe('pass');
    expect(judgeSlot(slot({ active: true, retainedBytes: 5000 * MB }), 1024).status).toBe('pass');
    expect(judgeSlot(slot({ retainedBytes: 1024 * MB }), 1024).status).toBe('pass');
    const big = judgeSlot(slot({ retainedBytes: 1024 * MB + 1 }), 1024);
    expect(big.status).toBe('warn');
    expect(big.message).toContain("pg_drop_replication_slot('pgferry_slot')");
    expect(big.message).toContain('1.0 GB');
    expect(judgeSlot(slot({ walStatus: 'lost', active: true }), 1024).status).toBe('fail');
    expect(judgeSlot(slot({ database: 'other' }), 1024).status).toBe('fail');
    // A slot the connector cannot read: physical, another decoder; or one about to lose WAL.
    expect(judgeSlot(slot({ plugin: null, database: null }), 1024).message).toMatch(
      /physical slot/,
    );
    expect(judgeSlot(slot({ plugin: 'wal2json' }), 1024).status).toBe('fail');
    expect(judgeSlot(slot({ plugin: 'decoderbufs' }), 1024, 'decoderbufs').status).toBe('pass');
    expect(judgeSlot(slot({ walStatus: 'unreserved' }), 1024).status).toBe('warn');
  });

  it('slots and senders: the connector needs one of each unless its slot exists / is active', () => {
    const base = {
      maxSlots: 10,
      usedSlots: 10,
      maxSenders: 10,
      activeSenders: 10,
      slotExists: false,
      slotActive: false,
    };
    const full = judgeReplicationCapacity(base);
    expect(full.status).toBe('fail');
    expect(full.message).toContain('max_replication_slots');
    expect(full.message).toContain('max_wal_senders');
    expect(judgeReplicationCapacity({ ...base, slotExists: true, slotActive: true }).status).toBe(
      'pass',
    );
    expect(judgeReplicationCapacity({ ...base, usedSlots: 9, activeSenders: 9 })).toEqual(
      pass('1 of 10 replication slots free, 1 of 10 WAL senders free'),
    );
  });

  it('connector user: --connector-user, else a literal database.user, never a placeholder', () => {
    const placeholder = { config: { 'database.user': '${env:DEBEZIUM_DB_USER}' } };
    expect(resolveConnectorUser(placeholder, undefined, 'c')).toMatchObject({
      unknown: expect.stringContaining('worker placeholder'),
    });
    expect(resolveConnectorUser(placeholder, 'debezium', 'c')).toEqual({
      user: 'debezium',
      from: '--connector-user',
    });
    expect(resolveConnectorUser({ config: { 'database.user': 'dbz' } }, undefined, 'c')).toEqual({
      user: 'dbz',
      from: 'connector c',
    });
    expect(resolveConnectorUser({}, undefined, 'c')).toMatchObject({
      unknown: expect.stringContaining('not registered'),
    });
    expect(resolveConnectorUser({ error: 'refused' }, undefined, 'c')).toMatchObject({
      unknown: expect.stringContaining('refused'),
    });
  });
});

describe('Kafka rules', () => {
  it('topic prefix: the connector’s topic.prefix, else KAFKA_TOPIC_PATTERN’s head, else cdc', () => {
    const pattern = /^cdc\.public\..*/;
    expect(resolveTopicPrefix({ config: { 'topic.prefix': 'app' } }, pattern).prefix).toBe('app');
    expect(resolveTopicPrefix({}, pattern)).toEqual({ prefix: 'cdc', from: 'KAFKA_TOPIC_PATTERN' });
    expect(resolveTopicPrefix({}, /^my\.app-1\.public\..*/).prefix).toBe('my.app-1');
    expect(resolveTopicPrefix({}, /^pf_x\..*/).prefix).toBe('pf_x');
    expect(resolveTopicPrefix({}, /.*/)).toEqual({ prefix: 'cdc', from: 'the default' });
    expect(
      resolveTopicPrefix({ config: { 'topic.prefix': '${env:PREFIX}' } }, /^rev\.public\./).prefix,
    ).toBe('rev');
  });

  it('routing: pgferry run must map topics with the prefix the connector writes', () => {
    const pattern = /^cdc\.public\..*/;
    expect(judgeRoutingPrefix('cdc', undefined, pattern)).toBeUndefined();
    expect(judgeRoutingPrefix(undefined, undefined, pattern)).toBeUndefined();
    expect(judgeRoutingPrefix('app', undefined, pattern)).toMatchObject({
      status: 'fail',
      message: expect.stringContaining('set KAFKA_TOPIC_PREFIX=app'),
    });
    expect(judgeRoutingPrefix('my.app', 'my.app', /^my\.app\..*/)).toBeUndefined();
    expect(judgeRoutingPrefix('cdc', undefined, /.*/)).toMatchObject({
      status: 'fail',
      message: expect.stringContaining('cannot tell the topic prefix'),
    });
    // Debezium's topic names: characters Kafka refuses become `_`, dots in names stay.
    expect(topicOf('cdc', { schema: 'public', name: 'my table' })).toBe('cdc.public.my_table');
    expect(topicOf('cdc', { schema: 'public', name: 'my.table' })).toBe('cdc.public.my.table');
  });

  it('topics: existing, or created by Connect or the broker; never outside the pattern', () => {
    const input = {
      expected: ['cdc.public.a', 'cdc.public.b'],
      existing: new Set(['cdc.public.a']),
      pattern: /^cdc\.public\..*/,
      brokerAutoCreate: false,
      connectCreates: false,
    };
    const missing = judgeTopics(input);
    expect(missing.status).toBe('fail');
    expect(missing.details).toEqual(['cdc.public.b']);
    expect(judgeTopics({ ...input, connectCreates: true }).status).toBe('pass');
    expect(judgeTopics({ ...input, brokerAutoCreate: true }).status).toBe('pass');
    expect(judgeTopics({ ...input, existing: new Set(input.expected) })).toEqual(
      pass('all 2 topic(s) exist'),
    );
    const outside = judgeTopics({ ...input, pattern: /^other\./, brokerAutoCreate: true });
    expect(outside.status).toBe('fail');
    expect(outside.message).toContain('KAFKA_TOPIC_PATTERN');
    expect(connectCreatesTopics({ 'topic.creation.default.partitions': '-1' })).toBe(true);
    expect(connectCreatesTopics({ 'topic.prefix': 'cdc' })).toBe(false);
  });

  it('broker retention: log.retention.ms, then .minutes, then .hours, then 168 h', () => {
    expect(brokerRetentionMs({ 'log.retention.ms': '1000', 'log.retention.hours': '1' }).ms).toBe(
      1000,
    );
    expect(brokerRetentionMs({ 'log.retention.ms': null, 'log.retention.minutes': '30' }).ms).toBe(
      30 * 60_000,
    );
    expect(brokerRetentionMs({ 'log.retention.ms': null, 'log.retention.hours': '24' })).toEqual({
      ms: 24 * HOUR,
      setting: 'log.retention.hours = 24',
    });
    expect(brokerRetentionMs({}).ms).toBe(168 * HOUR);
    expect(brokerRetentionMs({ 'log.retention.ms': '-1' }).ms).toBe(-1);
  });

  it('retention: shorter than the window fails, equal passes, -1 is forever', () => {
    expect(isRetentionShort(168 * HOUR - 1, 168)).toBe(true);
    expect(isRetentionShort(168 * HOUR, 168)).toBe(false);
    expect(isRetentionShort(-1, 168)).toBe(false);
    expect(isRetentionShort(HOUR, 0.5)).toBe(false);
    const topic = (retentionMs: number, extra: Partial<TopicRetention> = {}): TopicRetention => ({
      topic: 't',
      retentionMs,
      retentionBytes: -1,
      source: 'topic config',
      exists: true,
      ...extra,
    });
    const compacted = judgeRetention([topic(-1, { compacted: true })], 168);
    expect(compacted.status).toBe('warn');
    expect(compacted.details?.[0]).toContain('cleanup.policy=delete');
    const short = judgeRetention([topic(HOUR)], 168);
    expect(short.status).toBe('fail');
    expect(short.message).toContain('168 h');
    expect(short.details?.[0]).toContain('retention.ms = 3600000 (1 h');
    expect(short.details?.[0]).toContain('--add-config retention.ms=604800000');
    expect(judgeRetention([topic(HOUR, { exists: false })], 168).details?.[0]).toContain(
      'topic.creation.default.retention.ms=604800000',
    );
    expect(judgeRetention([topic(-1)], 168).message).toContain('forever');
    expect(judgeRetention([topic(7 * 24 * HOUR)], 168).status).toBe('pass');
    expect(judgeRetention([topic(-1, { retentionBytes: 1_000_000 })], 168).status).toBe('warn');
    expect(formatDuration(36 * HOUR)).toBe('36 h');
    expect(formatDuration(7 * 24 * HOUR)).toBe('7 days');
    expect(formatDuration(90_000)).toBe('2 min');
  });
});

describe('connector state', () => {
  const status = (
    state: string,
    tasks: { state: string; trace?: string }[],
    trace?: string,
  ): ConnectorStatus => ({
    name: 'c',
    connector: { state, ...(trace ? { trace } : {}) },
    tasks: tasks.map((t, id) => ({ id, ...t })),
  });

  it('WARN when not registered, PASS when it and its tasks run, FAIL with the trace’s first line', () => {
    expect(judgeConnector('c', undefined)).toEqual(
      warn('c is not registered yet: run pgferry connector apply'),
    );
    expect(judgeConnector('c', status('RUNNING', [{ state: 'RUNNING' }])).status).toBe('pass');
    const failedTask = judgeConnector(
      'c',
      status('RUNNING', [
        { state: 'FAILED', trace: 'org.x.ConnectException: slot in use\n\tat y' },
      ]),
    );
    expect(failedTask.status).toBe('fail');
    expect(failedTask.message).toContain('org.x.ConnectException: slot in use');
    expect(failedTask.message).not.toContain('at y');
    expect(
      judgeConnector('c', status('FAILED', [], 'java.lang.Boom: no\n at z')).message,
    ).toContain('java.lang.Boom: no');
    expect(judgeConnector('c', status('PAUSED', [{ state: 'PAUSED' }])).status).toBe('warn');
    expect(judgeConnector('c', status('RUNNING', [])).status).toBe('warn');
    expect(firstTraceLine(undefined)).toBe('no trace');
  });
});

describe('target rules', () => {
  it('role attributes: WARN on each one pgferry does not need', () => {
    const none = { superuser: false, bypassRls: false, createRole: false, createDb: false };
    expect(judgeRoleAttributes('pgferry', none).status).toBe('pass');
    const superuser = judgeRoleAttributes('postgres', { ...none, superuser: true, createDb: true });
    expect(superuser.status).toBe('warn');
    expect(superuser.message).toContain('SUPERUSER, CREATEDB');
    expect(superuser.message).toContain('NOSUPERUSER NOCREATEDB');
  });

  const builtin = (sql: string, array = false): ColumnType => ({ sql, array });
  const enumType = (schema: string, name: string): ColumnType => ({
    sql: `${schema}.${name}`,
    user: { schema, name, kind: 'enum' },
    array: false,
  });

  it('column types: the sink’s decision — same, accepted, widened or incompatible', () => {
    expect(classifyColumnType(builtin('integer'), builtin('integer'))).toEqual({ kind: 'same' });
    expect(
      classifyColumnType(
        builtin('timestamp(6) without time zone'),
        builtin('timestamp without time zone'),
      ),
    ).toEqual({ kind: 'same' });
    expect(classifyColumnType(builtin('text'), builtin('integer'))).toEqual({ kind: 'accepts' });
    expect(classifyColumnType(builtin('bigint'), builtin('integer'))).toEqual({ kind: 'accepts' });
    expect(classifyColumnType(builtin('integer'), builtin('bigint'))).toEqual({
      kind: 'widen',
      to: 'bigint',
    });
    expect(classifyColumnType(builtin('numeric(10,2)'), builtin('numeric(12,2)'))).toEqual({
      kind: 'widen',
      to: 'numeric(12,2)',
    });
    expect(
      classifyColumnType(builtin('character varying(20)'), builtin('character varying(50)')),
    ).toEqual({ kind: 'widen', to: 'character varying(50)' });
    expect(classifyColumnType(builtin('integer'), builtin('text')).kind).toBe('incompatible');
    expect(classifyColumnType(builtin('date'), builtin('timestamp with time zone')).kind).toBe(
      'incompatible',
    );
    expect(classifyColumnType(enumType('tgt', 'mood'), enumType('public', 'mood'))).toEqual({
      kind: 'same',
    });
    expect(classifyColumnType(enumType('public', 'mood'), builtin('text')).kind).toBe(
      'incompatible',
    );
  });

  const col = (name: string, type: ColumnType, notNull = false): ColumnDefinition => ({
    name,
    type,
    notNull,
  });
  const table = (
    schema: string,
    name: string,
    columns: ColumnDefinition[],
    pk: string[] | null = ['id'],
  ): TableDefinition => ({
    schema,
    name,
    partitioned: false,
    columns,
    ...(pk ? { primaryKey: { name: `${name}_pkey`, definition: 'PRIMARY KEY', columns: pk } } : {}),
    constraints: [],
    indexes: [],
    foreignKeys: [],
    triggers: [],
  });
  const catalog = (tables: TableDefinition[]): SchemaCatalog => ({
    schemas: [],
    tables,
    enums: [],
    domains: [],
    otherTypes: [],
    sequences: [],
  });

  it('schema comparison lists every difference with table.column and both types', () => {
    const source = catalog([
      table('public', 'orders', [
        col('id', builtin('integer'), true),
        col('note', builtin('text')),
        col('qty', builtin('integer')),
        col('amount', builtin('numeric(12,2)')),
        col('extra', builtin('text')),
        col('label', builtin('integer')),
      ]),
      table('public', 'fresh', [col('id', builtin('integer'), true)]),
      table('public', 'nokey', [col('a', builtin('integer'))], null),
      table('public', 'same', [col('id', builtin('integer'), true)]),
    ]);
    const target = catalog([
      table('public', 'orders', [
        col('id', builtin('integer'), true),
        col('note', builtin('integer')),
        col('qty', builtin('smallint'), true),
        col('amount', builtin('numeric(10,2)')),
        col('label', builtin('text')),
      ]),
      table('public', 'same', [col('id', builtin('integer'), true)]),
    ]);
    const comparison = compareTableSchemas(source, target);
    expect(comparison).toMatchObject({
      tables: 4,
      matching: 1,
      created: 2,
      differing: 1,
      skipped: 0,
    });
    const texts = comparison.findings.map((f) => `${f.level} ${f.text}`);
    expect(texts).toEqual([
      expect.stringMatching(
        /^fail public\.orders\.note: target type integer, source type text: incompatible.*ALTER TABLE "public"\."orders" ALTER COLUMN "note" TYPE text$/,
      ),
      expect.stringMatching(
        /^warn public\.orders\.qty: target type smallint, source type integer: pgferry widens it to integer/,
      ),
      expect.stringMatching(
        /^warn public\.orders\.qty: NOT NULL on the target, nullable on the source/,
      ),
      expect.stringMatching(
        /^warn public\.orders\.amount: target type numeric\(10,2\), source type numeric\(12,2\): pgferry widens/,
      ),
      'warn public.orders.extra: missing on the target (source type text): schema-sync or pgferry run adds it',
      'note public.orders.label: target type text, source type integer: the target column accepts every source value',
      'note public.fresh: will be created by schema-sync or pgferry run',
      "note public.nokey: no primary key on the source: compared without a key (see the source's keys check)",
      'note public.nokey: will be created by schema-sync or pgferry run',
    ]);
    const verdict = judgeSchemaComparison(comparison);
    expect(verdict.status).toBe('fail');
    expect(verdict.message).toContain('1 incompatible difference(s)');
    expect(verdict.details).toHaveLength(9);
  });

  it('schema comparison: TARGET_SCHEMA, primary key differences, and a clean PASS', () => {
    const source = catalog([table('public', 't', [col('id', builtin('integer'), true)])]);
    const moved = catalog([table('app', 't', [col('id', builtin('integer'), true)], ['id'])]);
    expect(judgeSchemaComparison(compareTableSchemas(source, moved, 'app'))).toEqual(
      pass('1 table(s): 1 match, 0 will be created by schema-sync or pgferry run, 0 differ'),
    );
    const noPk = catalog([table('public', 't', [col('id', builtin('integer'), true)], null)]);
    const verdict = judgeSchemaComparison(compareTableSchemas(source, noPk));
    expect(verdict.status).toBe('fail');
    expect(verdict.details?.[0]).toContain('ADD PRIMARY KEY ("id")');
    expect(fail('x').status).toBe('fail');
  });

  it('schema comparison: each source schema against its SCHEMA_MAP target schema', () => {
    const source = catalog([
      table('a', 'items', [col('id', builtin('integer'), true)]),
      table('b', 'items', [col('id', builtin('integer'), true)]),
    ]);
    const target = catalog([
      table('a', 'items', [col('id', builtin('integer'), true)], ['id']),
      table('b_copy', 'items', [col('id', builtin('smallint'), true)], ['id']),
    ]);
    const schemas = SchemaMapping.fromSettings({
      sourceSchemas: ['a', 'b'],
      schemaMap: { b: 'b_copy' },
    });
    const comparison = compareTableSchemas(source, target, schemas);
    expect(comparison).toMatchObject({ tables: 2, matching: 1, created: 0, differing: 1 });
    expect(comparison.findings.map((f) => f.text)).toEqual([
      expect.stringMatching(/^b_copy\.items\.id: target type smallint, source type integer/),
    ]);
  });
});

describe('pgferry copy rules', () => {
  const slot = (change: Partial<CopySlotReading> = {}): CopySlotReading => ({
    name: 'pgferry_slot',
    exists: true,
    logical: true,
    confirmedFlushLsn: '0/16B3748',
    ...change,
  });

  it('slot: PASS with a consistent point; WARN (not FAIL) when missing or still being created', () => {
    expect(judgeCopySlot(slot())).toEqual(
      pass(
        'pgferry_slot has a consistent point (confirmed_flush_lsn 0/16B3748): pgferry copy can take its snapshot',
      ),
    );
    expect(judgeCopySlot(slot({ exists: false, confirmedFlushLsn: null }))).toEqual(
      warn(
        'pgferry_slot does not exist yet: register the connector first with `pgferry connector apply --snapshot-mode no_data` before `pgferry copy` (normal before the connector is applied)',
      ),
    );
    const creating = judgeCopySlot(slot({ confirmedFlushLsn: null }));
    expect(creating.status).toBe('warn');
    expect(creating.message).toContain('still being created (no consistent point yet)');
    expect(judgeCopySlot(slot({ logical: false })).status).toBe('warn');
  });

  const table = (name: string, change: Partial<CopyTargetFacts> = {}): CopyTargetFacts => ({
    table: `public.${name}`,
    exists: true,
    hasRows: false,
    registered: false,
    ...change,
  });

  it('target tables: empty, copied, resumable or not created yet is a PASS', () => {
    const verdict = judgeCopyTargets([
      table('a'),
      table('b', {
        copy: { state: 'done', chunksDone: 4, chunksTotal: 4, lastError: null },
        hasRows: true,
      }),
      table('c', { copy: { state: 'copying', chunksDone: 1, chunksTotal: 4, lastError: null } }),
      table('d', { exists: false }),
    ]);
    expect(verdict).toEqual(
      pass(
        '4 target table(s): 1 empty, 1 copied, 1 with a copy to resume, 1 not created yet (schema-sync creates them before the copy)',
      ),
    );
  });

  it('target tables: rows without copy bookkeeping, a replicated table or a failed copy is a WARN naming the table', () => {
    const verdict = judgeCopyTargets([
      table('a'),
      table('filled', { hasRows: true }),
      table('streamed', { registered: true }),
      table('bad', {
        copy: {
          state: 'failed',
          chunksDone: 2,
          chunksTotal: 5,
          lastError: 'invalid input syntax\nCONTEXT: COPY',
        },
      }),
      table('secret', { readError: 'permission denied for table secret' }),
    ]);
    expect(verdict.status).toBe('warn');
    expect(verdict.message).toBe(
      '5 target table(s): 1 empty, 1 with a copy to resume; 4 need attention before pgferry copy',
    );
    expect(verdict.details).toEqual([
      "public.filled: has rows but no copy bookkeeping: pgferry copy would refuse it (empty it, or pgferry copy --restart); fine if you use Debezium's snapshot path",
      "public.streamed: pgferry run already replicates it and it has no copy bookkeeping: pgferry copy would refuse it; fine if you use Debezium's snapshot path",
      'public.bad: its copy failed at 2/5 chunks (invalid input syntax): pgferry copy resumes it once the cause is fixed',
      'public.secret: cannot tell whether it is empty (permission denied for table secret)',
    ]);
  });
});

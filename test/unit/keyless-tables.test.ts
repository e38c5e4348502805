// Tables without a primary key, the pure parts: the apply SQL (an update or delete touches one
// row equal to the event's before row: NULL by IS NULL, values as parameters cast to the target's
// types), dedupe keeping every change, the stream order that skips Debezium's replays, the sink's
// refusals, connector apply's topic group and snapshot list, verify's multiset SQL. The
// statements also run against the real stack in test/integration/keyless-tables.test.ts.
import type pg from 'pg';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { TableStoppedError } from '../../core/errors.js';
import {
  KEYLESS_TOPIC_GROUP,
  withKeylessSnapshot,
  withKeylessTopicGroup,
} from '../../migrate/connector/keyless-topics.js';
import {
  buildMultisetChecksumSql,
  buildMultisetGroupsSql,
} from '../../migrate/verify/chunk-checksum-sql.js';
import { createDedupeProcessor } from '../../pipeline/processors/dedupe-processor.js';
import { Topology } from '../../pipeline/processors/topology.js';
import { TopologyTestDriver } from '../../pipeline/processors/topology-test-driver.js';
import { commitPositionOf } from '../../pipeline/processors/transform-processor.js';
import { type RowChange, UNCHANGED_TOAST } from '../../pipeline/row-change.js';
import { admitStreamed, type StreamOrder } from '../../sink/keyless-apply.js';
import {
  type KeylessTarget,
  keylessCopySql,
  keylessDeleteSql,
  keylessTruncateSql,
  keylessUpdateSql,
} from '../../sink/keyless-sql.js';
import { TargetTableCache } from '../../sink/target-table-cache.js';

const target: KeylessTarget = {
  schema: 'public',
  name: 'pgbench "history"',
  columns: new Map([
    ['tid', 'integer'],
    ['delta', 'numeric(12,2)'],
    ['doc', 'json'],
    ['mtime', 'timestamp without time zone'],
  ]),
};
const T = '"public"."pgbench ""history"""';

describe('keyless SQL', () => {
  it('deletes one row equal to the before row: NULL by IS NULL, json by its text', () => {
    const sql = keylessDeleteSql(target, {
      tid: '1',
      delta: null,
      doc: '{"a":1}',
      mtime: '2024-01-01 00:00:00',
    });
    expect(sql.text).toBe(
      `DELETE FROM ${T} WHERE ctid = (SELECT ctid FROM ${T} WHERE "tid" = $1::integer AND "delta" IS NULL AND "doc"::text = $2::json::text AND "mtime" = $3::timestamp without time zone LIMIT 1)`,
    );
    expect(sql.values).toEqual(['1', '{"a":1}', '2024-01-01 00:00:00']);
  });

  it('updates one matching row, leaves unchanged TOAST values and columns the target lacks alone', () => {
    const sql = keylessUpdateSql(
      target,
      { tid: '1', delta: '2.50', doc: UNCHANGED_TOAST, mtime: null, gone: 'x' },
      { tid: '1', delta: '3.00', doc: UNCHANGED_TOAST, mtime: null, gone: 'y' },
    );
    expect(sql?.text).toBe(
      `UPDATE ${T} SET "tid" = $1::integer, "delta" = $2::numeric(12,2), "mtime" = $3::timestamp without time zone WHERE ctid = (SELECT ctid FROM ${T} WHERE "tid" = $4::integer AND "delta" = $5::numeric(12,2) AND "mtime" IS NULL LIMIT 1)`,
    );
    expect(sql?.values).toEqual(['1', '3.00', null, '1', '2.50']);
  });

  it('never takes an inherited member for a value: target columns named constructor and toString the change lacks', () => {
    const odd: KeylessTarget = {
      schema: 'public',
      name: 'odd',
      columns: new Map([
        ['tid', 'integer'],
        ['constructor', 'text'],
        ['toString', 'text'],
      ]),
    };
    const sql = keylessUpdateSql(odd, { tid: '1' }, { tid: '2' });
    expect(sql?.text).toBe(
      'UPDATE "public"."odd" SET "tid" = $1::integer WHERE ctid = (SELECT ctid FROM "public"."odd" WHERE "tid" = $2::integer LIMIT 1)',
    );
    expect(sql?.values).toEqual(['2', '1']);
  });

  it('has nothing to update when the change sets no column of the target', () => {
    expect(keylessUpdateSql(target, { gone: 'x' }, { gone: 'y' })).toBeUndefined();
  });

  it('copies inserts, and a truncate deletes every row', () => {
    expect(keylessCopySql(target, ['tid', 'delta'])).toBe(`COPY ${T} ("tid", "delta") FROM STDIN`);
    expect(keylessTruncateSql(target)).toBe(`DELETE FROM ${T}`);
  });
});

describe('dedupe of a keyless table', () => {
  const change = (op: RowChange['op'], offset: string, position: bigint): RowChange => ({
    table: { schema: 'public', name: 'h' },
    op,
    key: {},
    after: op === 'd' ? null : { v: '1' },
    ...(op === 'c' ? {} : { before: { v: '1' } }),
    position,
    sourceTsMs: 0,
    txId: null,
    schema: {
      id: 'none:1',
      columns: [{ name: 'v', pgType: 'text', nullable: true }],
      primaryKey: [],
    },
    origin: { topic: 'cdc.public.h', partition: 0, offset },
  });

  it('keeps every change, identical rows included (no fold by row)', async () => {
    const driver = new TopologyTestDriver(
      Topology.from<RowChange>().through(createDedupeProcessor()),
    );
    // Two identical inserts, then a delete of one of them: all three must reach the sink.
    const changes = [change('c', '0', 10n), change('c', '1', 20n), change('d', '2', 30n)];
    const { outputs } = await driver.pipe(changes);
    expect(outputs.map((c) => [c.op, c.origin.offset])).toEqual([
      ['c', '0'],
      ['c', '1'],
      ['d', '2'],
    ]);
  });

  it('drops the changes before a truncate in the same batch, keeps the ones after it', async () => {
    const driver = new TopologyTestDriver(
      Topology.from<RowChange>().through(createDedupeProcessor()),
    );
    const truncate = { ...change('c', '1', 20n), op: 't' as const, after: null };
    const { outputs } = await driver.pipe([change('c', '0', 10n), truncate, change('c', '2', 30n)]);
    expect(outputs.map((c) => [c.op, c.origin.offset])).toEqual([
      ['t', '1'],
      ['c', '2'],
    ]);
  });
});

describe('the keyless topics group of `connector apply`', () => {
  const base = { 'topic.prefix': 'cdc', 'topic.creation.default.partitions': '-1' };

  it('gives the keyless tables’ topics one partition, names escaped as regexes', () => {
    const { config } = withKeylessTopicGroup(base, [
      { schema: 'public', name: 'pgbench_history' },
      { schema: 'sales', name: 'odd name$' },
    ]);
    expect(config).toEqual({
      ...base,
      'topic.creation.groups': KEYLESS_TOPIC_GROUP,
      [`topic.creation.${KEYLESS_TOPIC_GROUP}.include`]:
        'cdc\\.public\\.pgbench_history,cdc\\.sales\\.odd_name_',
      [`topic.creation.${KEYLESS_TOPIC_GROUP}.partitions`]: '1',
      [`topic.creation.${KEYLESS_TOPIC_GROUP}.replication.factor`]: '-1',
    });
  });

  it('keeps other groups, drops its own when no table is keyless, leaves a placeholder prefix alone', () => {
    const withGroup = withKeylessTopicGroup({ ...base, 'topic.creation.groups': 'big' }, [
      { schema: 'public', name: 'h' },
    ]).config;
    expect(withGroup['topic.creation.groups']).toBe(`big,${KEYLESS_TOPIC_GROUP}`);
    const none = withKeylessTopicGroup(withGroup, []).config;
    expect(none['topic.creation.groups']).toBe('big');
    expect(Object.keys(none).some((k) => k.includes(KEYLESS_TOPIC_GROUP))).toBe(false);
    const placeholder = withKeylessTopicGroup({ 'topic.prefix': '${env:PREFIX}' }, [
      { schema: 'public', name: 'h' },
    ]);
    expect(placeholder.config).toEqual({ 'topic.prefix': '${env:PREFIX}' });
    expect(placeholder.note).toMatch(/not literal/);
  });
});

describe('connector apply --snapshot-keyless', () => {
  it('snapshots only the REPLICA IDENTITY FULL tables without a key, as regexes; none without them', () => {
    const config = withKeylessSnapshot({ 'snapshot.mode': 'no_data' }, [
      { schema: 'public', name: 'pgbench_history', identity: 'f' },
      { schema: 'public', name: 'refused', identity: 'd' },
      { schema: 'odd.s', name: 'h$', identity: 'f' },
    ]);
    expect(config).toEqual({
      'snapshot.mode': 'initial',
      'snapshot.include.collection.list': 'public\\.pgbench_history,odd\\.s\\.h\\$',
    });
    expect(withKeylessSnapshot(config, [])).toEqual({ 'snapshot.mode': 'no_data' });
  });
});

describe('verify of a keyless table', () => {
  const table = { schema: 's', name: 'h', keyColumns: [], columns: ['a', 'b c'] };

  it('checksums the rows order-independently (count + sums of two hash slices)', () => {
    expect(buildMultisetChecksumSql(table)).toEqual({
      text:
        `SELECT count(*)::int8 AS rows, CASE WHEN count(*) = 0 THEN NULL ELSE ` +
        `sum(('x' || substr(row_hash, 1, 15))::bit(60)::int8)::text || ':' || ` +
        `sum(('x' || substr(row_hash, 16, 15))::bit(60)::int8)::text END AS hash ` +
        `FROM (SELECT md5(ROW("a", "b c")::text) FROM "s"."h") AS t(row_hash)`,
      values: [],
    });
  });

  it('lists distinct rows with their copies in byte order of the hash (both sides alike)', () => {
    expect(buildMultisetGroupsSql(table)).toBe(
      `SELECT row_hash, count(*)::int8 AS copies, min(row_text) AS row_text FROM (SELECT md5(ROW("a", "b c")::text), ROW("a", "b c")::text FROM "s"."h") AS t(row_hash, row_text) GROUP BY row_hash ORDER BY row_hash COLLATE "C"`,
    );
  });
});

describe('the stream order of a keyless table (Debezium replays skipped)', () => {
  const streamed = (commit: bigint, lsn: bigint, op: RowChange['op'] = 'c'): RowChange => ({
    table: { schema: 'public', name: 'h' },
    op,
    key: {},
    after: { v: '1' },
    position: lsn,
    commitPosition: commit,
    sourceTsMs: 0,
    txId: null,
    schema: { id: 'none:1', columns: [], primaryKey: [] },
    origin: { topic: 'cdc.public.h', partition: 0, offset: String(lsn) },
  });

  it('admits changes above the last applied (commit LSN, LSN) and skips the ones at or below it', () => {
    const order: StreamOrder = { last: [100n, 150n], replays: 0 };
    const changes = [
      streamed(100n, 150n), // the last applied itself, sent again
      streamed(90n, 400n), // an older transaction's change with a higher LSN: still older
      streamed(100n, 160n), // later in the same transaction
      streamed(200n, 120n), // a later transaction whose change has a lower LSN: newer
      streamed(200n, 120n), // twice
    ];
    expect(changes.map((c) => admitStreamed(order, c))).toEqual([false, false, true, true, false]);
    expect(order).toEqual({ last: [200n, 120n], replays: 3 });
  });

  it('always admits snapshot reads and changes without a stream order; starts from nothing', () => {
    const order: StreamOrder = { last: [100n, 150n], replays: 0 };
    const read = { ...streamed(0n, 1n, 'r') };
    expect(admitStreamed(order, read)).toBe(true);
    const { commitPosition: _c, ...noOrder } = streamed(0n, 1n);
    expect(admitStreamed(order, noOrder)).toBe(true);
    const fresh: StreamOrder = { last: undefined, replays: 0 };
    expect(admitStreamed(fresh, streamed(0n, 5n))).toBe(true);
    expect(fresh.last).toEqual([0n, 5n]);
  });

  it("reads the commit LSN from Debezium's source.sequence", () => {
    expect(commitPositionOf({ sequence: '["24023128","24023200"]' })).toBe(24023128n);
    expect(commitPositionOf({ sequence: '[null,"24023200"]' })).toBe(0n);
    expect(commitPositionOf({})).toBe(0n);
    expect(() => commitPositionOf({ sequence: '["x"]' })).toThrow(/does not hold LSNs/);
    expect(() => commitPositionOf({ sequence: 'nope' })).toThrow(/not JSON/);
  });
});

describe('the sink refuses a keyless table it cannot apply in order', () => {
  const log = pino({ level: 'silent' });
  const noClient = {} as pg.Client; // the refusals come before any SQL
  const keylessInsert = (partition: number): RowChange => ({
    table: { schema: 'public', name: 'h' },
    op: 'c',
    key: {},
    after: { v: '1' },
    position: 1n,
    sourceTsMs: 0,
    txId: null,
    schema: { id: 'none:1', columns: [], primaryKey: [] },
    origin: { topic: 'cdc.public.h', partition, offset: '0' },
  });
  const ref = { schema: 'public', name: 'h' };

  it('stops it by name when the source is not REPLICA IDENTITY FULL, naming the fix', async () => {
    const cache = new TargetTableCache(log, undefined, async () => 'd');
    const refused = cache.targetFor(noClient, ref, [keylessInsert(0)]);
    await expect(refused).rejects.toBeInstanceOf(TableStoppedError);
    await expect(refused).rejects.toThrow(
      "table public.h has no primary key and REPLICA IDENTITY DEFAULT: pgferry applies a table without a key by full-row match, which needs the source's whole old rows. Give it a primary key, or ALTER TABLE public.h REPLICA IDENTITY FULL on the source",
    );
  });

  it('checks every batch, not only the first of a table (a cached target, a later stray change)', async () => {
    const cache = new TargetTableCache(log, undefined, async () => 'f');
    const prepared = {
      ref,
      columns: new Map(),
      primaryKey: [],
      positionTable: 'p',
      truncatedPosition: 0n,
    };
    // The target as already prepared (the catalog part is tested on the stack).
    Object.assign(cache, { prepare: async () => prepared });
    await expect(cache.targetFor(noClient, ref, [keylessInsert(0)])).resolves.toBe(prepared);
    const truncate = { ...keylessInsert(1), op: 't' as const, after: null };
    await expect(cache.targetFor(noClient, ref, [truncate])).rejects.toThrow(
      /a change arrived on partition 1/,
    );
  });

  it('stops it when a change arrives on a partition other than 0 (its topic has several)', async () => {
    const cache = new TargetTableCache(log, undefined, async () => 'f');
    const refused = cache.targetFor(noClient, ref, [keylessInsert(0), keylessInsert(2)]);
    await expect(refused).rejects.toBeInstanceOf(TableStoppedError);
    await expect(refused).rejects.toThrow(
      /has more than one partition \(a change arrived on partition 2\).*one-partition topic/,
    );
  });
});

// Dedupe within one batch: per (table, primary key) the change with the highest log position
// survives; truncates drop their table's older changes and come out first.
import { describe, expect, it } from 'vitest';
import { createDedupeProcessor } from '../../pipeline/processors/dedupe-processor.js';
import { Topology } from '../../pipeline/processors/topology.js';
import { TopologyTestDriver } from '../../pipeline/processors/topology-test-driver.js';
import {
  type ChangeOp,
  type PgRow,
  type RowChange,
  type TableRef,
  UNCHANGED_TOAST,
} from '../../pipeline/row-change.js';

const ORDERS: TableRef = { schema: 'public', name: 'orders' };
const ITEMS: TableRef = { schema: 'public', name: 'items' };

interface ChangeSpec {
  table?: TableRef;
  op?: ChangeOp;
  key?: Record<string, string>;
  position: bigint;
  offset: string;
  after?: PgRow | null;
}

function change(spec: ChangeSpec): RowChange {
  const key = spec.key ?? { id: '1' };
  const op = spec.op ?? 'u';
  return {
    table: spec.table ?? ORDERS,
    op,
    key: op === 't' ? {} : key,
    after: spec.after !== undefined ? spec.after : op === 'd' || op === 't' ? null : { ...key },
    position: spec.position,
    sourceTsMs: 0,
    txId: null,
    schema: { id: '1:2', columns: [], primaryKey: Object.keys(key) },
    origin: { topic: 'cdc.public.orders', partition: 0, offset: spec.offset },
  };
}

const newDriver = () =>
  new TopologyTestDriver(Topology.from<RowChange>().through(createDedupeProcessor()));

/** Compact view of what came out: op, table, key, position, offset. */
const summary = (changes: RowChange[]) =>
  changes.map((c) => [c.op, c.table.name, JSON.stringify(c.key), c.position, c.origin.offset]);

/** The change without dedupe's record of what it replaced, to compare with an input change. */
function withoutFolded(change: RowChange | undefined): RowChange | undefined {
  if (!change) return change;
  const { folded: _folded, ...rest } = change;
  return rest;
}

describe('dedupe', () => {
  it('keeps the highest position whatever the arrival order', async () => {
    const a = change({ position: 30n, offset: '0', op: 'c' });
    const b = change({ position: 10n, offset: '1' });
    const c = change({ position: 20n, offset: '2' });
    for (const order of [
      [a, b, c],
      [b, c, a],
      [c, a, b],
    ]) {
      const { outputs, failures } = await newDriver().pipe(order);
      expect(failures).toEqual([]);
      expect(outputs).toHaveLength(1);
      expect(withoutFolded(outputs[0])).toEqual(a);
      // The changes it replaced are named, so a rejected winner dead-letters them too.
      expect(outputs[0]?.folded?.map((o) => o.offset).sort()).toEqual(
        [b.origin.offset, c.origin.offset].sort(),
      );
    }
  });

  it('breaks a position tie by the later Kafka offset, compared as numbers', async () => {
    const early = change({ position: 50n, offset: '7', after: { id: '1', v: 'early' } });
    const late = change({ position: 50n, offset: '12', after: { id: '1', v: 'late' } });
    expect((await newDriver().pipe([late, early])).outputs.map(withoutFolded)).toEqual([late]);
    expect((await newDriver().pipe([early, late])).outputs.map(withoutFolded)).toEqual([late]);
  });

  it('keeps one change per key and table', async () => {
    const one = change({ key: { id: '1' }, position: 5n, offset: '0' });
    const two = change({ key: { id: '2' }, position: 4n, offset: '1' });
    const otherTable = change({ table: ITEMS, key: { id: '1' }, position: 3n, offset: '2' });
    const { outputs } = await newDriver().pipe([one, two, otherTable]);
    expect(summary(outputs)).toEqual([
      ['u', 'orders', '{"id":"1"}', 5n, '0'],
      ['u', 'orders', '{"id":"2"}', 4n, '1'],
      ['u', 'items', '{"id":"1"}', 3n, '2'],
    ]);
  });

  it('tells composite keys apart by every column, and merges equal ones', async () => {
    const k = (tenant: string, order: string) => ({ tenant_id: tenant, order_no: order });
    const changes = [
      change({ key: k('1', '23'), position: 1n, offset: '0' }),
      change({ key: k('12', '3'), position: 2n, offset: '1' }),
      change({ key: k('1', '2,3'), position: 3n, offset: '2' }),
      change({ key: k('1', '23'), position: 9n, offset: '3', op: 'd' }),
    ];
    const { outputs } = await newDriver().pipe(changes);
    expect(summary(outputs)).toEqual([
      ['d', 'orders', '{"tenant_id":"1","order_no":"23"}', 9n, '3'],
      ['u', 'orders', '{"tenant_id":"12","order_no":"3"}', 2n, '1'],
      ['u', 'orders', '{"tenant_id":"1","order_no":"2,3"}', 3n, '2'],
    ]);
  });

  it('lets a delete win over an older update and an update over an older delete', async () => {
    const update = change({ position: 10n, offset: '0' });
    const del = change({ op: 'd', position: 20n, offset: '1' });
    expect((await newDriver().pipe([del, update])).outputs.map(withoutFolded)).toEqual([del]);
    const recreate = change({ op: 'c', position: 30n, offset: '2' });
    expect((await newDriver().pipe([recreate, del, update])).outputs.map(withoutFolded)).toEqual([
      recreate,
    ]);
  });

  it('keeps both sides of a primary-key change (delete old key, create new key, same LSN)', async () => {
    const k = (order: string) => ({ tenant_id: '2', order_no: order });
    const del = change({ op: 'd', key: k('100'), position: 27442048n, offset: '3' });
    const create = change({ op: 'c', key: k('101'), position: 27442048n, offset: '5' });
    const { outputs } = await newDriver().pipe([del, create]);
    expect(outputs).toEqual([del, create]);
  });

  it('drops the older changes of a truncated table only, and emits the truncate first', async () => {
    const before = change({ key: { id: '1' }, position: 10n, offset: '0' });
    const otherTable = change({ table: ITEMS, key: { id: '1' }, position: 5n, offset: '1' });
    const truncate = change({ op: 't', position: 20n, offset: '2' });
    const after = change({ key: { id: '2' }, position: 40n, offset: '3', op: 'c' });
    const lateOlder = change({ key: { id: '3' }, position: 15n, offset: '4' });
    const { outputs } = await newDriver().pipe([before, otherTable, truncate, after, lateOlder]);
    expect(summary(outputs)).toEqual([
      ['t', 'orders', '{}', 20n, '2'],
      ['u', 'items', '{"id":"1"}', 5n, '1'],
      ['c', 'orders', '{"id":"2"}', 40n, '3'],
    ]);
  });

  it('keeps only the latest of several truncates of a table', async () => {
    const first = change({ op: 't', position: 20n, offset: '0' });
    const between = change({ key: { id: '1' }, position: 30n, offset: '1' });
    const second = change({ op: 't', position: 60n, offset: '2' });
    const afterwards = change({ key: { id: '2' }, position: 70n, offset: '3' });
    const { outputs } = await newDriver().pipe([first, between, second, afterwards]);
    expect(summary(outputs)).toEqual([
      ['t', 'orders', '{}', 60n, '2'],
      ['u', 'orders', '{"id":"2"}', 70n, '3'],
    ]);
    const reversed = await newDriver().pipe([second, first]);
    expect(summary(reversed.outputs)).toEqual([['t', 'orders', '{}', 60n, '2']]);
  });

  it('carries a TOASTed value set by a dropped change into the winner that left it unchanged', async () => {
    // insert (full row), then an update of another column: PostgreSQL logs no value for the
    // unchanged TOASTed column, so keeping only the update would lose the inserted text.
    const insert = change({
      op: 'c',
      position: 10n,
      offset: '0',
      after: { id: '1', body: 'A', label: 'v1' },
    });
    const update = change({
      position: 20n,
      offset: '1',
      after: { id: '1', body: UNCHANGED_TOAST, label: 'v2' },
    });
    for (const order of [
      [insert, update],
      [update, insert],
    ]) {
      const { outputs } = await newDriver().pipe(order);
      expect(outputs).toHaveLength(1);
      expect(outputs[0]?.op).toBe('u');
      expect(outputs[0]?.position).toBe(20n);
      expect(outputs[0]?.after).toEqual({ id: '1', body: 'A', label: 'v2' });
    }
    expect(update.after?.body).toBe(UNCHANGED_TOAST); // the input record is not changed
  });

  it('carries an unchanged TOAST value of a column named __proto__, and reads no inherited member', async () => {
    // Rows are objects keyed by column name: `row.__proto__ = v` would set the prototype, and
    // a column "constructor" the older version lacks would read Object's constructor.
    const row = (values: [string, PgRow[string]][]): PgRow => Object.fromEntries(values);
    const insert = change({
      op: 'c',
      position: 10n,
      offset: '0',
      after: row([
        ['id', '1'],
        ['__proto__', 'A'],
        ['label', 'v1'],
      ]),
    });
    const update = change({
      position: 20n,
      offset: '1',
      after: row([
        ['id', '1'],
        ['__proto__', UNCHANGED_TOAST],
        ['constructor', UNCHANGED_TOAST],
        ['label', 'v2'],
      ]),
    });
    const { outputs } = await newDriver().pipe([insert, update]);
    const after = outputs[0]?.after as PgRow;
    expect(Object.hasOwn(after, '__proto__')).toBe(true);
    expect(Object.entries(after)).toEqual([
      ['id', '1'],
      ['__proto__', 'A'],
      ['constructor', UNCHANGED_TOAST],
      ['label', 'v2'],
    ]);
    expect(Object.getPrototypeOf(after)).toBe(Object.prototype);
  });

  it('names the records it folded, never the winner, even when TOAST made the winner a copy', async () => {
    const insert = change({ op: 'c', position: 10n, offset: '4', after: { id: '1', body: 'A' } });
    const update = change({
      position: 20n,
      offset: '9',
      after: { id: '1', body: UNCHANGED_TOAST },
    });
    const { outputs } = await newDriver().pipe([update, insert]);
    expect(outputs[0]?.after).toEqual({ id: '1', body: 'A' });
    expect(outputs[0]?.origin).toBe(update.origin);
    // A rejected winner dead-letters its own record once, and the insert with it.
    expect(outputs[0]?.folded).toEqual([insert.origin]);
  });

  it('breaks a position tie by offsets past 2^53 exactly', async () => {
    const early = change({ position: 50n, offset: '9007199254740993', after: { id: '1', v: 'a' } });
    const late = change({ position: 50n, offset: '9007199254740994', after: { id: '1', v: 'b' } });
    const later = change({
      position: 50n,
      offset: '10000000000000000000',
      after: { id: '1', v: 'c' },
    });
    for (const order of [
      [late, later, early],
      [later, early, late],
    ]) {
      expect((await newDriver().pipe(order)).outputs.map(withoutFolded)).toEqual([later]);
    }
  });

  it('takes the newest value a dropped change set, and none across a delete', async () => {
    const u1 = change({ position: 10n, offset: '0', after: { id: '1', body: 'old', n: '1' } });
    const u2 = change({
      position: 20n,
      offset: '1',
      after: { id: '1', body: 'new', n: UNCHANGED_TOAST },
    });
    const u3 = change({
      position: 30n,
      offset: '2',
      after: { id: '1', body: UNCHANGED_TOAST, n: UNCHANGED_TOAST },
    });
    const { outputs } = await newDriver().pipe([u3, u1, u2]);
    expect(outputs[0]?.after).toEqual({ id: '1', body: 'new', n: '1' });

    const del = change({ op: 'd', position: 40n, offset: '3' });
    const lone = change({ position: 50n, offset: '4', after: { id: '1', body: UNCHANGED_TOAST } });
    const afterDelete = await newDriver().pipe([u2, del, lone]);
    expect(afterDelete.outputs[0]?.after).toEqual({ id: '1', body: UNCHANGED_TOAST });
  });

  it('starts every batch empty (the SQL position guard handles older changes across batches)', async () => {
    const driver = newDriver();
    const newer = change({ position: 50n, offset: '0' });
    const truncate = change({ op: 't', position: 60n, offset: '1', table: ITEMS });
    expect((await driver.pipe([newer, truncate])).outputs).toEqual([truncate, newer]);

    const older = change({ position: 10n, offset: '2' });
    const itemBeforeTruncate = change({ table: ITEMS, position: 55n, offset: '3' });
    expect((await driver.pipe([older, itemBeforeTruncate])).outputs).toEqual([
      older,
      itemBeforeTruncate,
    ]);
    expect((await driver.pipe([])).outputs).toEqual([]);
  });
});

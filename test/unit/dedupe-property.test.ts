// The dedupe processor against the straightforward one it replaced (kept below as the oracle: a
// JSON key per change, a sort per row, BigInt offsets) on random batches: one-column, numeric
// (scales differ) and composite keys, keyless tables, schema versions, positions that tie,
// offsets around 2^53 and past it, truncates and unchanged-TOAST placeholders.
import { describe, expect, it } from 'vitest';
import { numericIdentity } from '../../pipeline/codec/decimal.js';
import {
  compareOffsets,
  createDedupeProcessor,
} from '../../pipeline/processors/dedupe-processor.js';
import { Topology } from '../../pipeline/processors/topology.js';
import { TopologyTestDriver } from '../../pipeline/processors/topology-test-driver.js';
import {
  type ChangeOp,
  type PgRow,
  type PgValue,
  type RowChange,
  type TableRef,
  tableKey,
  UNCHANGED_TOAST,
} from '../../pipeline/row-change.js';
import type { TableSchema } from '../../pipeline/table-schema.js';
import { createSeededRandom, type SeededRandom } from '../support/seeded-random.js';

// ---- the oracle: dedupe as it was before it was made allocation-light ----

function oracleRowIdentity(change: RowChange): string {
  if (change.schema.primaryKey.length === 0) {
    return `${tableKey(change.table)}\u0000@${change.origin.topic}\u0000${change.origin.partition}\u0000${change.origin.offset}`;
  }
  return `${tableKey(change.table)}\u0000${JSON.stringify(change.schema.primaryKey.map((c) => oracleKeyIdentity(change, c)))}`;
}

function oracleKeyIdentity(change: RowChange, column: string): PgValue | undefined {
  const value = change.key[column];
  if (typeof value !== 'string') return value;
  const type = change.schema.columns.find((c) => c.name === column)?.pgType;
  return type !== undefined && /^numeric(\(|$)/.test(type) ? numericIdentity(value) : value;
}

function oracleIsNewer(a: RowChange, b: RowChange): boolean {
  if (a.position !== b.position) return a.position > b.position;
  return BigInt(a.origin.offset) > BigInt(b.origin.offset);
}

function oracleCarry(change: RowChange, previous: RowChange): RowChange {
  if (!change.after || !previous.after) return change;
  let after: PgRow | undefined;
  for (const [column, value] of Object.entries(change.after)) {
    if (value !== UNCHANGED_TOAST) continue;
    const earlier = previous.after[column];
    if (earlier === undefined || earlier === UNCHANGED_TOAST) continue;
    after ??= { ...change.after };
    after[column] = earlier;
  }
  return after ? { ...change, after } : change;
}

function oracleResolveLatest(changes: readonly RowChange[]): RowChange {
  const ordered = [...changes].sort((a, b) =>
    oracleIsNewer(a, b) ? 1 : oracleIsNewer(b, a) ? -1 : 0,
  );
  let latest = ordered[0] as RowChange;
  for (const next of ordered.slice(1)) latest = oracleCarry(next, latest);
  if (ordered.length > 1) {
    latest = { ...latest, folded: ordered.filter((c) => c !== latest).map((c) => c.origin) };
  }
  return latest;
}

function oracleDedupe(changes: readonly RowChange[]): RowChange[] {
  const rows = new Map<string, RowChange[]>();
  const truncates = new Map<string, RowChange>();
  for (const change of changes) {
    const table = tableKey(change.table);
    const truncate = truncates.get(table);
    if (change.op === 't') {
      if (!truncate || change.position > truncate.position) truncates.set(table, change);
      for (const [id, held] of rows) {
        if (tableKey((held[0] as RowChange).table) !== table) continue;
        const kept = held.filter((c) => c.position >= change.position);
        if (kept.length === 0) rows.delete(id);
        else rows.set(id, kept);
      }
      continue;
    }
    if (truncate && change.position < truncate.position) continue;
    const id = oracleRowIdentity(change);
    const held = rows.get(id);
    if (held) held.push(change);
    else rows.set(id, [change]);
  }
  return [...truncates.values(), ...[...rows.values()].map(oracleResolveLatest)];
}

// ---- random batches ----

const TEXT_KEYED: TableRef = { schema: 'public', name: 'orders' };
const NUMERIC_KEYED: TableRef = { schema: 'public', name: 'prices' };
const COMPOSITE: TableRef = { schema: 'sales', name: 'lines' };
const KEYLESS: TableRef = { schema: 'public', name: 'events' };

const col = (name: string, pgType = 'text') => ({ name, pgType, nullable: true });

/** Per table, schema versions (separate objects, as the registry gives one per schema id). */
const SCHEMAS = new Map<TableRef, TableSchema[]>([
  [
    TEXT_KEYED,
    [
      { id: '1', columns: [col('id'), col('body'), col('label')], primaryKey: ['id'] },
      { id: '2', columns: [col('id'), col('body'), col('label'), col('n')], primaryKey: ['id'] },
    ],
  ],
  [
    NUMERIC_KEYED,
    [
      {
        id: '3',
        columns: [col('amount', 'numeric'), col('body'), col('label')],
        primaryKey: ['amount'],
      },
      {
        id: '4',
        columns: [col('amount', 'numeric(12,2)'), col('body'), col('label')],
        primaryKey: ['amount'],
      },
    ],
  ],
  [
    COMPOSITE,
    [
      {
        id: '5',
        columns: [col('tenant'), col('code', 'numeric(8,3)'), col('body')],
        primaryKey: ['tenant', 'code'],
      },
      {
        id: '6',
        columns: [col('tenant'), col('code', 'numeric(8,3)'), col('body'), col('label')],
        primaryKey: ['tenant', 'code'],
      },
    ],
  ],
  [KEYLESS, [{ id: '7', columns: [col('body'), col('label')], primaryKey: [] }]],
]);

const TEXT_KEYS = ['1', '2', '12', '1,2', '', '"', '-', '1:1', 'null', 'ü', '16.0'];
const NUMERIC_KEYS = ['16', '16.0', '16.00', '016.0', '6', '-0', '0', '0.00', '-0.0', '7.5', 'NaN'];
/** With the codes above, tenant and code joined naively would collide ('1' + '16', '11' + '6'). */
const TENANTS = ['1', '11', '12', '', '1:', '2-'];
/** Offsets near 2^53 (= 9007199254740992) and past it, where Number would round. */
const OFFSET_BASES = [0n, 9_007_199_254_740_980n, 9_999_999_999_999_999_990n];

function randomValue(random: SeededRandom): PgValue {
  const r = random.int(6);
  if (r === 0) return UNCHANGED_TOAST;
  if (r === 1) return null;
  return random.pick(['a', 'b', 'long text', '', '\\N']);
}

function randomBatch(random: SeededRandom): RowChange[] {
  const tables = [...SCHEMAS.keys()];
  const size = 1 + random.int(40);
  const base = random.pick(OFFSET_BASES);
  // Unique offsets of one partition, arriving in any order.
  const offsets = Array.from({ length: size }, (_, i) => base + BigInt(i * (1 + random.int(3))));
  for (let i = offsets.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    [offsets[i], offsets[j]] = [offsets[j] as bigint, offsets[i] as bigint];
  }
  return offsets.map((offset) => {
    const table = random.pick(tables);
    const schema = random.pick(SCHEMAS.get(table) as TableSchema[]);
    const op: ChangeOp = random.pick(['c', 'u', 'u', 'u', 'd', 'd', 'r', 't']);
    const key: Record<string, string> = {};
    if (op !== 't') {
      if (table === TEXT_KEYED) key.id = random.pick(TEXT_KEYS);
      else if (table === NUMERIC_KEYED) key.amount = random.pick(NUMERIC_KEYS);
      else if (table === COMPOSITE) {
        key.tenant = random.pick(TENANTS);
        key.code = random.pick(NUMERIC_KEYS);
      }
    }
    let after: PgRow | null = null;
    if (op !== 'd' && op !== 't') {
      after = { ...key };
      for (const c of schema.columns) if (!(c.name in key)) after[c.name] = randomValue(random);
    }
    return {
      table,
      op,
      key,
      after,
      ...(table === KEYLESS && op !== 'c' && op !== 't' ? { before: { body: 'x' } } : {}),
      position: BigInt(1 + random.int(12)),
      sourceTsMs: random.int(1000),
      txId: null,
      schema,
      origin: { topic: `cdc.${table.schema}.${table.name}`, partition: 0, offset: String(offset) },
    };
  });
}

/**
 * The oracle's output with one fix the new dedupe makes: when TOAST values carried forward into
 * the winner (a copy), the oracle also named the winner's own record among the folded ones, so a
 * rejected winner went to the DLQ twice.
 */
function withoutWinnerInFolded(change: RowChange): RowChange {
  if (!change.folded) return change;
  return { ...change, folded: change.folded.filter((origin) => origin !== change.origin) };
}

describe('dedupe against the reference implementation', () => {
  it('gives the same changes, in the same order, on 3000 random batches', async () => {
    const random = createSeededRandom(17);
    let folds = 0;
    let carried = 0;
    for (let run = 0; run < 3000; run++) {
      const batch = randomBatch(random);
      const expected = oracleDedupe(batch).map(withoutWinnerInFolded);
      const driver = new TopologyTestDriver(
        Topology.from<RowChange>().through(createDedupeProcessor()),
      );
      const { outputs, failures } = await driver.pipe(batch);
      expect(failures).toEqual([]);
      expect(outputs, `seed 17, run ${run}`).toEqual(expected);
      for (let i = 0; i < expected.length; i++) {
        const want = expected[i] as RowChange;
        // A change alone in its row comes out as it came in: no copy.
        if (batch.includes(want)) expect(outputs[i]).toBe(want);
        if (want.folded) folds += 1;
        if (want.folded && !batch.some((c) => c.after === want.after)) carried += 1;
      }
    }
    // The random batches did exercise folding and TOAST carry-forward.
    expect(folds).toBeGreaterThan(1000);
    expect(carried).toBeGreaterThan(100);
  });
});

describe('compareOffsets', () => {
  it('orders int64 offsets exactly, past 2^53 too, like BigInt', () => {
    const random = createSeededRandom(5);
    const samples = [
      '0',
      '1',
      '9',
      '10',
      '9007199254740991',
      '9007199254740992',
      '9007199254740993',
      '18014398509481984',
      '9223372036854775807',
      '00',
      '007',
      '-1',
    ];
    for (let i = 0; i < 200; i++) samples.push(String(BigInt(random.int(2 ** 31)) ** 2n));
    for (const a of samples) {
      for (const b of samples) {
        const x = BigInt(a);
        const y = BigInt(b);
        expect(Math.sign(compareOffsets(a, b)), `${a} vs ${b}`).toBe(x < y ? -1 : x > y ? 1 : 0);
      }
    }
  });
});

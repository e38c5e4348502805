// PostgresSink.writeBatch against the real target database, as the least-privilege `pgferry` role:
// table creation and evolution, offsets in the same transaction (idempotent replays), the
// per-row position guard (no overwrite by older changes, no resurrection), unchanged TOAST
// values, truncates, and rejected rows isolated by bisection. Every check reads the target back
// through a superuser connection.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PostgresSettings } from '../../core/config.js';
import { TableStoppedError } from '../../core/errors.js';
import { createLogger } from '../../core/logger.js';
import { qualifiedName, quoteIdent } from '../../core/sql-identifier.js';
import type { ChangeBatch, RejectedChange } from '../../pipeline/ports.js';
import {
  type ChangeOp,
  type PgRow,
  type RowChange,
  type TableRef,
  UNCHANGED_TOAST,
} from '../../pipeline/row-change.js';
import type { ColumnSchema, TableSchema } from '../../pipeline/table-schema.js';
import { PostgresSink } from '../../sink/postgres-sink.js';
import { TargetConnection } from '../../sink/target-connection.js';
import { loadStackEnv } from '../support/stack-env.js';

const stack = loadStackEnv();
const runId = randomBytes(4).toString('hex');
const PREFIX = `sinktest_${runId}`;
const GROUP = `pgferry-sinktest-${runId}`;

function sinkSettings(): PostgresSettings {
  const need = (name: string): string => {
    const value = stack.vars[name];
    if (!value) throw new Error(`stack env is missing ${name}`);
    return value;
  };
  return {
    host: need('TARGET_DB_HOST'),
    port: Number(need('TARGET_DB_PORT')),
    database: need('TARGET_DB_NAME'),
    user: need('TARGET_DB_USER'),
    password: need('TARGET_DB_PASSWORD'),
    sslMode: 'disable',
  };
}

const settings = sinkSettings();
const log = createLogger('silent');
const admin = new pg.Client({ connectionString: stack.targetDatabaseUrl });
let sink: PostgresSink;

// ---- building changes and batches by hand ----

const col = (name: string, pgType: string, nullable = true): ColumnSchema => ({
  name,
  pgType,
  nullable,
});

interface TestTable {
  ref: TableRef;
  topic: string;
  schema: TableSchema;
  offset: number;
}

function newTable(label: string, schema: Omit<TableSchema, 'id'>, name?: string): TestTable {
  const tableName = name ?? `${PREFIX}_${label}`;
  return {
    ref: { schema: 'public', name: tableName },
    topic: `cdc.public.${tableName}`,
    schema: { id: `${label}:v1`, ...schema },
    offset: 0,
  };
}

interface ChangeOptions {
  schema?: TableSchema;
  /** Kafka offset; the next one of the table's topic when left out. */
  offset?: number;
}

/** A change for `values` (which carry the key columns; for deletes, only the key is used). */
function change(
  t: TestTable,
  op: ChangeOp,
  position: bigint,
  values: PgRow,
  options: ChangeOptions = {},
): RowChange {
  const schema = options.schema ?? t.schema;
  const offset = options.offset ?? t.offset++;
  const key: Record<string, string> = {};
  if (op !== 't') {
    for (const k of schema.primaryKey) {
      const v = values[k];
      if (typeof v !== 'string') throw new Error(`key column ${k} needs a text value`);
      key[k] = v;
    }
  }
  return {
    table: t.ref,
    op,
    key,
    after: op === 'd' || op === 't' ? null : values,
    position,
    sourceTsMs: 1_700_000_000_000 + Number(position),
    txId: null,
    schema,
    origin: { topic: t.topic, partition: 0, offset: String(offset) },
  };
}

const truncate = (t: TestTable, position: bigint): RowChange => change(t, 't', position, {});

function batchOf(t: TestTable, changes: RowChange[]): ChangeBatch {
  const last = changes.reduce((max, c) => Math.max(max, Number(c.origin.offset)), -1);
  return { groupId: GROUP, topic: t.topic, partition: 0, nextOffset: String(last + 1), changes };
}

const write = (t: TestTable, changes: RowChange[]) => sink.writeBatch(batchOf(t, changes));

// ---- reading the target back as superuser ----

const target = (t: TestTable): string => qualifiedName(t.ref.schema, t.ref.name);

/** Every row as text values, ordered by the key columns. */
async function rowsOf(t: TestTable, columns?: string[]): Promise<Record<string, string | null>[]> {
  const cols = columns ?? (await columnsOf(t)).map((c) => c.name);
  const list = cols.map((c) => `t.${quoteIdent(c)}::text AS ${quoteIdent(c)}`).join(', ');
  const order = t.schema.primaryKey.map((k) => `t.${quoteIdent(k)}`).join(', ');
  const result = await admin.query(`SELECT ${list} FROM ${target(t)} AS t ORDER BY ${order}`);
  return result.rows;
}

async function columnsOf(
  t: TestTable,
): Promise<{ name: string; type: string; notNull: boolean }[]> {
  const result = await admin.query<{ name: string; type: string; notNull: boolean }>(
    `SELECT attname AS name, format_type(atttypid, atttypmod) AS type, attnotnull AS "notNull"
       FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped
      ORDER BY attnum`,
    [target(t)],
  );
  return result.rows;
}

async function primaryKeyOf(t: TestTable): Promise<string[]> {
  const result = await admin.query<{ name: string }>(
    `SELECT a.attname AS name
       FROM pg_index i
       CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indrelid = $1::regclass AND i.indisprimary
      ORDER BY k.ord`,
    [target(t)],
  );
  return result.rows.map((r) => r.name);
}

async function storedOffset(t: TestTable): Promise<string | undefined> {
  const result = await admin.query<{ next_offset: string }>(
    'SELECT next_offset::text FROM pgferry.offsets WHERE group_id = $1 AND topic = $2 AND partition = 0',
    [GROUP, t.topic],
  );
  return result.rows[0]?.next_offset;
}

async function registration(
  t: TestTable,
): Promise<{ position_table: string; truncated_position: string; changes_applied: string }> {
  const result = await admin.query(
    `SELECT position_table, truncated_position::text,
            (t.changes_applied + COALESCE((SELECT sum(p.changes_applied) FROM pgferry.table_progress p
              WHERE p.table_schema = t.table_schema AND p.table_name = t.table_name), 0))::text AS changes_applied
       FROM pgferry.tables t WHERE table_schema = $1 AND table_name = $2`,
    [t.ref.schema, t.ref.name],
  );
  return result.rows[0];
}

async function positionsOf(
  t: TestTable,
): Promise<{ key: string; pos: string; deleted: boolean }[]> {
  const reg = await registration(t);
  const key = t.schema.primaryKey.map((k) => `${quoteIdent(k)}::text`).join(` || '|' || `);
  const result = await admin.query(
    `SELECT ${key} AS key, __pos::text AS pos, __deleted AS deleted
       FROM ${qualifiedName('pgferry', reg.position_table)} ORDER BY 1`,
  );
  return result.rows;
}

// ---- lifecycle ----

async function cleanUp(): Promise<void> {
  const like = `${PREFIX.replace(/_/g, '\\_')}%`;
  const registered = await admin.query<{ table_name: string; position_table: string }>(
    `SELECT table_name, position_table FROM pgferry.tables WHERE table_schema = 'public' AND table_name LIKE $1`,
    [like],
  );
  for (const r of registered.rows) {
    await admin.query(`DROP TABLE IF EXISTS ${qualifiedName('pgferry', r.position_table)}`);
  }
  const tables = await admin.query<{ tablename: string }>(
    `SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE $1`,
    [like],
  );
  for (const r of tables.rows) {
    await admin.query(`DROP TABLE IF EXISTS ${qualifiedName('public', r.tablename)}`);
  }
  const types = await admin.query<{ typname: string }>(
    `SELECT typname FROM pg_type WHERE typnamespace = 'public'::regnamespace AND typtype = 'e' AND typname LIKE $1`,
    [like],
  );
  for (const r of types.rows) {
    await admin.query(`DROP TYPE IF EXISTS ${qualifiedName('public', r.typname)}`);
  }
  await admin.query(
    `DELETE FROM pgferry.tables WHERE table_schema = 'public' AND table_name LIKE $1`,
    [like],
  );
  await admin.query('DELETE FROM pgferry.offsets WHERE group_id = $1', [GROUP]);
}

beforeAll(async () => {
  await admin.connect();
  await admin.query(`SET TimeZone = 'UTC'`);
  sink = new PostgresSink({ settings, log });
  await sink.start();
});

afterAll(async () => {
  await sink?.stop();
  await cleanUp();
  await admin.end();
});

// ---- the tests ----

describe('PostgresSink on the real target', () => {
  it('runs as the least-privilege pgferry role, never a superuser', async () => {
    expect(settings.user).toBe('pgferry');
    const role = await admin.query(
      'SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = $1',
      [settings.user],
    );
    expect(role.rows).toEqual([
      {
        rolsuper: false,
        rolcreaterole: false,
        rolcreatedb: false,
        rolreplication: false,
        rolbypassrls: false,
      },
    ]);
  });

  it('commits durably on a target tuned with synchronous_commit = off, keeps a stricter setting', async () => {
    const role = `ALTER ROLE ${quoteIdent(settings.user)} IN DATABASE ${quoteIdent(settings.database)}`;
    const showOnNewSession = async (): Promise<string> => {
      const connection = new TargetConnection(settings, log, () => undefined);
      try {
        const client = await connection.session();
        return (
          (
            await client.query<{ s: string }>('SELECT current_setting($1) AS s', [
              'synchronous_commit',
            ])
          ).rows[0]?.s ?? ''
        );
      } finally {
        await connection.close();
      }
    };
    try {
      await admin.query(`${role} SET synchronous_commit = off`);
      expect(await showOnNewSession()).toBe('local');
      await admin.query(`${role} SET synchronous_commit = remote_write`);
      expect(await showOnNewSession()).toBe('remote_write');
    } finally {
      await admin.query(`${role} RESET synchronous_commit`);
    }
    expect(await showOnNewSession()).toBe('on');
  });

  it('creates the table on the first batch, then applies updates and deletes', async () => {
    const odd = 'Odd "Name" ü';
    const t = newTable('create', {
      columns: [
        col('id', 'integer', false),
        col('code', 'character varying(20)', false),
        col('price', 'numeric(12,2)'),
        col('happened', 'timestamp(6) with time zone'),
        col('flag', 'boolean'),
        col('doc', 'jsonb'),
        col(odd, 'text'),
      ],
      primaryKey: ['id'],
    });
    const row = (id: string, extra: PgRow): PgRow => ({
      id,
      code: `c${id}`,
      price: '12.50',
      happened: '2024-01-02 03:04:05.123456+00',
      flag: 't',
      doc: '{"a": [1, "x\\ty"]}',
      [odd]: null,
      ...extra,
    });
    const first = await write(t, [
      change(t, 'c', 100n, row('1', { [odd]: 'tab\there, newline\nand CR\r\n' })),
      change(t, 'c', 101n, row('2', { [odd]: 'back\\slash and a literal \\N' })),
      change(t, 'c', 102n, row('3', { [odd]: '日本語 🚢 naïve', price: null, flag: 'f' })),
      change(t, 'c', 103n, row('4', { [odd]: '' })),
    ]);
    expect(first).toMatchObject({
      applied: 4,
      rejected: [],
      alreadyApplied: false,
      tables: [{ table: `public.${t.ref.name}`, upserted: 4, deleted: 0 }],
    });

    expect(await columnsOf(t)).toEqual([
      { name: 'id', type: 'integer', notNull: true },
      { name: 'code', type: 'character varying(20)', notNull: true },
      { name: 'price', type: 'numeric(12,2)', notNull: false },
      { name: 'happened', type: 'timestamp(6) with time zone', notNull: false },
      { name: 'flag', type: 'boolean', notNull: false },
      { name: 'doc', type: 'jsonb', notNull: false },
      { name: odd, type: 'text', notNull: false },
    ]);
    expect(await primaryKeyOf(t)).toEqual(['id']);
    const owner = await admin.query<{ tableowner: string }>(
      'SELECT tableowner FROM pg_tables WHERE schemaname = $1 AND tablename = $2',
      [t.ref.schema, t.ref.name],
    );
    expect(owner.rows).toEqual([{ tableowner: 'pgferry' }]);
    expect(await registration(t)).toEqual({
      position_table: `pos_public__${t.ref.name}`,
      truncated_position: '0',
      changes_applied: '4',
    });

    const common = {
      happened: '2024-01-02 03:04:05.123456+00',
      doc: '{"a": [1, "x\\ty"]}',
    };
    expect(await rowsOf(t)).toEqual([
      {
        id: '1',
        code: 'c1',
        price: '12.50',
        flag: 'true',
        ...common,
        [odd]: 'tab\there, newline\nand CR\r\n',
      },
      {
        id: '2',
        code: 'c2',
        price: '12.50',
        flag: 'true',
        ...common,
        [odd]: 'back\\slash and a literal \\N',
      },
      { id: '3', code: 'c3', price: null, flag: 'false', ...common, [odd]: '日本語 🚢 naïve' },
      { id: '4', code: 'c4', price: '12.50', flag: 'true', ...common, [odd]: '' },
    ]);

    const second = await write(t, [
      change(t, 'u', 200n, row('1', { code: 'c1-new', price: '99.99', [odd]: null })),
      change(t, 'd', 201n, { id: '2' }),
      change(t, 'u', 202n, row('4', { flag: null, doc: '[]' })),
    ]);
    expect(second).toMatchObject({ applied: 3, rejected: [], alreadyApplied: false });
    expect(second.tables).toEqual([{ table: `public.${t.ref.name}`, upserted: 2, deleted: 1 }]);
    expect(await rowsOf(t)).toEqual([
      { id: '1', code: 'c1-new', price: '99.99', flag: 'true', ...common, [odd]: null },
      { id: '3', code: 'c3', price: null, flag: 'false', ...common, [odd]: '日本語 🚢 naïve' },
      {
        id: '4',
        code: 'c4',
        price: '12.50',
        flag: null,
        happened: common.happened,
        doc: '[]',
        [odd]: null,
      },
    ]);
    expect(await storedOffset(t)).toBe('7');
    expect(await positionsOf(t)).toEqual([
      { key: '1', pos: '200', deleted: false },
      { key: '2', pos: '201', deleted: true },
      { key: '3', pos: '102', deleted: false },
      { key: '4', pos: '202', deleted: false },
    ]);
  });

  it('handles composite keys and a table name that needs quoting', async () => {
    const t = newTable(
      'composite',
      {
        columns: [
          col('region', 'text', false),
          col('line "no"', 'integer', false),
          col('Qty', 'integer'),
        ],
        primaryKey: ['region', 'line "no"'],
      },
      `${PREFIX}_Composite "Lines" ü`,
    );
    await write(t, [
      change(t, 'c', 10n, { region: 'eu', 'line "no"': '1', Qty: '5' }),
      change(t, 'c', 11n, { region: 'eu', 'line "no"': '2', Qty: '6' }),
      change(t, 'c', 12n, { region: 'us', 'line "no"': '1', Qty: '7' }),
    ]);
    expect(await primaryKeyOf(t)).toEqual(['region', 'line "no"']);
    await write(t, [
      change(t, 'u', 20n, { region: 'eu', 'line "no"': '1', Qty: '50' }),
      change(t, 'd', 21n, { region: 'us', 'line "no"': '1' }),
    ]);
    // An older change for one part of the key does not touch the other rows.
    await write(t, [change(t, 'u', 5n, { region: 'eu', 'line "no"': '2', Qty: '-1' })]);
    expect(await rowsOf(t)).toEqual([
      { region: 'eu', 'line "no"': '1', Qty: '50' },
      { region: 'eu', 'line "no"': '2', Qty: '6' },
    ]);
  });

  it('skips a batch it already applied and applies only the new part of an overlapping one', async () => {
    const t = newTable('idempotent', {
      columns: [col('id', 'integer', false), col('v', 'text')],
      primaryKey: ['id'],
    });
    const first = batchOf(t, [
      change(t, 'c', 10n, { id: '1', v: 'a' }, { offset: 0 }),
      change(t, 'c', 11n, { id: '2', v: 'b' }, { offset: 1 }),
      change(t, 'c', 12n, { id: '3', v: 'c' }, { offset: 2 }),
      change(t, 'c', 13n, { id: '4', v: 'd' }, { offset: 3 }),
    ]);
    expect(first.nextOffset).toBe('4');
    expect((await sink.writeBatch(first)).alreadyApplied).toBe(false);
    const before = await rowsOf(t);
    const beforeRegistration = await registration(t);

    expect(await sink.writeBatch(first)).toMatchObject({
      applied: 0,
      rejected: [],
      alreadyApplied: true,
      tables: [],
    });
    expect(await rowsOf(t)).toEqual(before);
    expect(await registration(t)).toEqual(beforeRegistration);
    expect(await storedOffset(t)).toBe('4');

    // Offsets 2 and 3 were applied already: even with newer positions (so the row guard would let
    // them through), the offset filter must drop them. Offsets 4 and 5 are new.
    const overlapping = batchOf(t, [
      change(t, 'u', 102n, { id: '3', v: 'replayed' }, { offset: 2 }),
      change(t, 'u', 103n, { id: '4', v: 'replayed' }, { offset: 3 }),
      change(t, 'u', 104n, { id: '1', v: 'new' }, { offset: 4 }),
      change(t, 'c', 105n, { id: '5', v: 'e' }, { offset: 5 }),
    ]);
    const result = await sink.writeBatch(overlapping);
    expect(result).toMatchObject({ applied: 2, alreadyApplied: false, rejected: [] });
    expect(await rowsOf(t)).toEqual([
      { id: '1', v: 'new' },
      { id: '2', v: 'b' },
      { id: '3', v: 'c' },
      { id: '4', v: 'd' },
      { id: '5', v: 'e' },
    ]);
    expect(await storedOffset(t)).toBe('6');
  });

  it('never lets an older change overwrite a newer one or resurrect a deleted row', async () => {
    const t = newTable('guard', {
      columns: [col('id', 'integer', false), col('v', 'text')],
      primaryKey: ['id'],
    });
    await write(t, [
      change(t, 'c', 100n, { id: '1', v: 'v100' }),
      change(t, 'c', 10n, { id: '2', v: 'v10' }),
    ]);
    await write(t, [change(t, 'u', 200n, { id: '1', v: 'v200' })]);
    // Older update in a later batch (new offsets): ignored. The same position again: ignored.
    const older = await write(t, [change(t, 'u', 150n, { id: '1', v: 'v150' })]);
    expect(older).toMatchObject({ applied: 1, alreadyApplied: false, rejected: [] });
    expect(older.tables).toEqual([{ table: `public.${t.ref.name}`, upserted: 0, deleted: 0 }]);
    await write(t, [change(t, 'u', 200n, { id: '1', v: 'same position' })]);
    expect(await rowsOf(t)).toEqual([
      { id: '1', v: 'v200' },
      { id: '2', v: 'v10' },
    ]);

    await write(t, [change(t, 'd', 50n, { id: '2' })]);
    expect(await rowsOf(t)).toEqual([{ id: '1', v: 'v200' }]);
    // A late update from before the delete must not bring the row back.
    await write(t, [change(t, 'u', 40n, { id: '2', v: 'v40 late' })]);
    expect(await rowsOf(t)).toEqual([{ id: '1', v: 'v200' }]);
    expect(await positionsOf(t)).toEqual([
      { key: '1', pos: '200', deleted: false },
      { key: '2', pos: '50', deleted: true },
    ]);
    // A newer insert does.
    await write(t, [change(t, 'c', 60n, { id: '2', v: 'v60' })]);
    expect(await rowsOf(t)).toEqual([
      { id: '1', v: 'v200' },
      { id: '2', v: 'v60' },
    ]);
    expect(await positionsOf(t)).toEqual([
      { key: '1', pos: '200', deleted: false },
      { key: '2', pos: '60', deleted: false },
    ]);
  });

  it('keeps unchanged TOAST values and updates other rows of the same batch fully', async () => {
    const t = newTable('toast', {
      columns: [
        col('id', 'integer', false),
        col('name', 'text'),
        col('body', 'text'),
        col('note', 'text'),
      ],
      primaryKey: ['id'],
    });
    const big = (n: number) => `${'x'.repeat(10_000)}-${n}`;
    await write(t, [
      change(t, 'c', 10n, { id: '1', name: 'n1', body: big(1), note: 'o1' }),
      change(t, 'c', 11n, { id: '2', name: 'n2', body: big(2), note: 'o2' }),
      change(t, 'c', 12n, { id: '3', name: 'n3', body: big(3), note: 'o3' }),
    ]);
    const result = await write(t, [
      change(t, 'u', 20n, { id: '1', name: 'n1b', body: UNCHANGED_TOAST, note: 'o1b' }),
      change(t, 'u', 21n, { id: '2', name: 'n2b', body: 'small now', note: null }),
      change(t, 'u', 22n, { id: '3', name: 'n3b', body: UNCHANGED_TOAST, note: UNCHANGED_TOAST }),
    ]);
    expect(result.tables).toEqual([{ table: `public.${t.ref.name}`, upserted: 3, deleted: 0 }]);
    expect(await rowsOf(t)).toEqual([
      { id: '1', name: 'n1b', body: big(1), note: 'o1b' },
      { id: '2', name: 'n2b', body: 'small now', note: null },
      { id: '3', name: 'n3b', body: big(3), note: 'o3' },
    ]);
  });

  it('keeps the value of a column that an older schema version lacks', async () => {
    const t = newTable('oldschema', {
      columns: [col('id', 'integer', false), col('name', 'text'), col('body', 'text')],
      primaryKey: ['id'],
    });
    const v0: TableSchema = {
      id: 'oldschema:v0',
      columns: [col('id', 'integer', false), col('name', 'text')],
      primaryKey: ['id'],
    };
    await write(t, [
      change(t, 'c', 10n, { id: '1', name: 'a', body: 'body 1' }),
      change(t, 'c', 11n, { id: '2', name: 'b', body: 'body 2' }),
      change(t, 'c', 12n, { id: '3', name: 'c', body: 'body 3' }),
    ]);
    // A batch of old-version changes only.
    await write(t, [change(t, 'u', 20n, { id: '1', name: 'a2' }, { schema: v0 })]);
    // Both versions in one batch.
    await write(t, [
      change(t, 'u', 30n, { id: '2', name: 'b2' }, { schema: v0 }),
      change(t, 'u', 31n, { id: '3', name: 'c2', body: 'body 3 new' }),
    ]);
    expect(await rowsOf(t)).toEqual([
      { id: '1', name: 'a2', body: 'body 1' },
      { id: '2', name: 'b2', body: 'body 2' },
      { id: '3', name: 'c2', body: 'body 3 new' },
    ]);
    // The old version did not drop the column.
    expect((await columnsOf(t)).map((c) => c.name)).toEqual(['id', 'name', 'body']);
  });

  it('truncates rows older than the truncate and skips older changes after it', async () => {
    const t = newTable('truncate', {
      columns: [col('id', 'integer', false), col('v', 'text')],
      primaryKey: ['id'],
    });
    await write(t, [
      change(t, 'c', 100n, { id: '1', v: 'a' }),
      change(t, 'c', 110n, { id: '2', v: 'b' }),
    ]);
    // Applied earlier (e.g. from another partition) although it happened after the truncate.
    await write(t, [change(t, 'c', 300n, { id: '3', v: 'after truncate' })]);
    await write(t, [truncate(t, 200n)]);
    expect(await rowsOf(t)).toEqual([{ id: '3', v: 'after truncate' }]);
    expect((await registration(t)).truncated_position).toBe('200');

    await write(t, [
      change(t, 'c', 150n, { id: '4', v: 'before truncate' }),
      change(t, 'u', 190n, { id: '1', v: 'before truncate' }),
      change(t, 'c', 250n, { id: '5', v: 'e' }),
      change(t, 'u', 320n, { id: '3', v: 'updated' }),
    ]);
    expect(await rowsOf(t)).toEqual([
      { id: '3', v: 'updated' },
      { id: '5', v: 'e' },
    ]);
    // An older truncate replayed later does not lower the recorded position.
    await write(t, [truncate(t, 120n)]);
    expect((await registration(t)).truncated_position).toBe('200');
    expect(await rowsOf(t)).toEqual([
      { id: '3', v: 'updated' },
      { id: '5', v: 'e' },
    ]);
  });

  it('remembers a truncate of a table the target does not have yet', async () => {
    const t = newTable('truncfirst', {
      columns: [col('id', 'integer', false), col('v', 'text')],
      primaryKey: ['id'],
    });
    const result = await write(t, [truncate(t, 500n)]);
    expect(result.alreadyApplied).toBe(false);
    expect(await storedOffset(t)).toBe('1');
    await write(t, [
      change(t, 'c', 400n, { id: '1', v: 'before truncate' }),
      change(t, 'c', 600n, { id: '2', v: 'after truncate' }),
    ]);
    expect(await rowsOf(t)).toEqual([{ id: '2', v: 'after truncate' }]);
    expect((await registration(t)).truncated_position).toBe('500');
  });

  it('hands back exactly the row the target rejects and applies the other nine', async () => {
    const t = newTable('reject', {
      columns: [col('id', 'integer', false), col('qty', 'integer')],
      primaryKey: ['id'],
    });
    await write(t, [change(t, 'c', 1n, { id: '0', qty: '0' })]);
    const changes = Array.from({ length: 10 }, (_, i) =>
      change(t, 'c', BigInt(10 + i), { id: String(i + 1), qty: i === 6 ? 'abc' : String(i) }),
    );
    const bad = changes[6] as RowChange;
    let seen: RejectedChange[] | undefined;
    let visibleBeforeCommit: number | undefined;
    const batch = batchOf(t, changes);
    const result = await sink.writeBatch(batch, {
      beforeCommit: async (rejected) => {
        seen = [...rejected];
        const count = await admin.query(`SELECT count(*)::int AS n FROM ${target(t)}`);
        visibleBeforeCommit = count.rows[0].n;
      },
    });
    expect(result.rejected).toHaveLength(1);
    expect(result.rejected[0]?.change).toBe(bad);
    expect(result.rejected[0]?.error.message).toMatch(/invalid input syntax for type integer/);
    expect(seen).toEqual(result.rejected);
    // The hook runs inside the transaction: nothing of the batch is visible yet.
    expect(visibleBeforeCommit).toBe(1);
    expect(await rowsOf(t)).toEqual([
      { id: '0', qty: '0' },
      ...[0, 1, 2, 3, 4, 5, 7, 8, 9].map((i) => ({ id: String(i + 1), qty: String(i) })),
    ]);
    expect(await storedOffset(t)).toBe(batch.nextOffset);
  });

  it('isolates a row that violates a constraint of the target table', async () => {
    const t = newTable('check', {
      columns: [col('id', 'integer', false), col('qty', 'integer')],
      primaryKey: ['id'],
    });
    await write(t, [change(t, 'c', 1n, { id: '100', qty: '1' })]);
    await admin.query(`ALTER TABLE ${target(t)} ADD CONSTRAINT qty_not_negative CHECK (qty >= 0)`);
    const changes = Array.from({ length: 10 }, (_, i) =>
      change(t, 'c', BigInt(100 + i), { id: String(i + 1), qty: i === 3 ? '-5' : String(i) }),
    );
    let seen: RejectedChange[] = [];
    const result = await sink.writeBatch(batchOf(t, changes), {
      beforeCommit: async (rejected) => {
        seen = [...rejected];
      },
    });
    expect(result.rejected.map((r) => r.change)).toEqual([changes[3]]);
    expect(result.rejected[0]?.error.message).toMatch(/qty_not_negative/);
    expect(seen.map((r) => r.change)).toEqual([changes[3]]);
    expect((await rowsOf(t)).map((r) => r.id)).toEqual([
      '1',
      '2',
      '3',
      '5',
      '6',
      '7',
      '8',
      '9',
      '10',
      '100',
    ]);
    // The rejected change's position was not recorded: an older valid change for its key applies.
    await write(t, [change(t, 'c', 50n, { id: '4', qty: '4' })]);
    expect(await rowsOf(t, ['id', 'qty'])).toContainEqual({ id: '4', qty: '4' });
  });

  it("opens a batch's row savepoint with its BEGIN once the staging table exists, and still isolates a rejected row", async () => {
    const t = newTable('savepoint', {
      columns: [col('id', 'integer', false), col('qty', 'integer')],
      primaryKey: ['id'],
    });
    await write(t, [change(t, 'c', 1n, { id: '1', qty: '1' })]);
    await admin.query(`ALTER TABLE ${target(t)} ADD CONSTRAINT qty_small CHECK (qty < 100)`);
    // Every query the sink's sessions send during the second batch (the sink runs in this process).
    const sent: string[] = [];
    const query = pg.Client.prototype.query;
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      if (typeof args[0] === 'string') sent.push(args[0]);
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof query;
    let result: Awaited<ReturnType<typeof sink.writeBatch>>;
    const changes = [2, 3, 4].map((i) =>
      change(t, 'c', BigInt(10 + i), { id: String(i), qty: i === 3 ? '500' : String(i) }),
    );
    try {
      result = await sink.writeBatch(batchOf(t, changes));
    } finally {
      pg.Client.prototype.query = query;
    }
    const opening = sent.filter((q) => q.startsWith('BEGIN;'));
    expect(opening).toHaveLength(1);
    expect(opening[0]).toMatch(/;\nSAVEPOINT pgferry_rows$/);
    // Five attempts (all three, [2, 3], [2], [3], [4]), three of them rolled back: the first ran
    // under the savepoint opened with BEGIN, the bisection's four opened their own.
    expect(sent.filter((q) => q === 'ROLLBACK TO SAVEPOINT pgferry_rows')).toHaveLength(3);
    expect(sent.filter((q) => q === 'SAVEPOINT pgferry_rows')).toHaveLength(4);
    expect(result.rejected.map((r) => r.change)).toEqual([changes[1]]);
    expect((await rowsOf(t, ['id', 'qty'])).map((r) => r.id)).toEqual(['1', '2', '4']);
  });

  it('follows schema evolution: added column, widened type; stops on an incompatible change', async () => {
    const t = newTable('evolve', {
      columns: [col('id', 'integer', false), col('qty', 'integer')],
      primaryKey: ['id'],
    });
    await write(t, [change(t, 'c', 10n, { id: '1', qty: '1' })]);

    const v2: TableSchema = {
      id: 'evolve:v2',
      columns: [col('id', 'integer', false), col('qty', 'integer'), col('note', 'text')],
      primaryKey: ['id'],
    };
    await write(t, [
      change(t, 'c', 20n, { id: '2', qty: '2', note: 'with note' }, { schema: v2 }),
      change(t, 'u', 21n, { id: '1', qty: '11', note: 'added' }, { schema: v2 }),
    ]);
    expect(await columnsOf(t)).toEqual([
      { name: 'id', type: 'integer', notNull: true },
      { name: 'qty', type: 'integer', notNull: false },
      { name: 'note', type: 'text', notNull: false },
    ]);
    expect(await rowsOf(t)).toEqual([
      { id: '1', qty: '11', note: 'added' },
      { id: '2', qty: '2', note: 'with note' },
    ]);

    const v3: TableSchema = {
      id: 'evolve:v3',
      columns: [col('id', 'integer', false), col('qty', 'bigint'), col('note', 'text')],
      primaryKey: ['id'],
    };
    await write(t, [
      change(t, 'u', 30n, { id: '2', qty: '5000000000', note: 'big' }, { schema: v3 }),
    ]);
    expect((await columnsOf(t)).find((c) => c.name === 'qty')?.type).toBe('bigint');
    expect(await rowsOf(t)).toEqual([
      { id: '1', qty: '11', note: 'added' },
      { id: '2', qty: '5000000000', note: 'big' },
    ]);

    const offsetBefore = await storedOffset(t);
    const v4: TableSchema = {
      id: 'evolve:v4',
      columns: [col('id', 'integer', false), col('qty', 'boolean'), col('note', 'text')],
      primaryKey: ['id'],
    };
    const incompatible = write(t, [
      change(t, 'u', 40n, { id: '1', qty: 't', note: 'bool' }, { schema: v4 }),
    ]);
    await expect(incompatible).rejects.toBeInstanceOf(TableStoppedError);
    await expect(incompatible).rejects.toMatchObject({
      table: `public.${t.ref.name}`,
      retriable: false,
      message: expect.stringMatching(/qty.*bigint.*boolean/),
    });
    expect((await columnsOf(t)).find((c) => c.name === 'qty')?.type).toBe('bigint');
    expect(await rowsOf(t)).toEqual([
      { id: '1', qty: '11', note: 'added' },
      { id: '2', qty: '5000000000', note: 'big' },
    ]);
    expect(await storedOffset(t)).toBe(offsetBefore);
  });

  it('widens a primary-key column in the position table too', async () => {
    const t = newTable('widenkey', {
      columns: [col('id', 'integer', false), col('v', 'text')],
      primaryKey: ['id'],
    });
    await write(t, [change(t, 'c', 10n, { id: '1', v: 'a' })]);
    const v2: TableSchema = {
      id: 'widenkey:v2',
      columns: [col('id', 'bigint', false), col('v', 'text')],
      primaryKey: ['id'],
    };
    const result = await write(t, [
      change(t, 'c', 20n, { id: '3000000000', v: 'big key' }, { schema: v2 }),
    ]);
    expect(result.rejected).toEqual([]);
    expect((await columnsOf(t)).find((c) => c.name === 'id')?.type).toBe('bigint');
    expect(await rowsOf(t)).toEqual([
      { id: '1', v: 'a' },
      { id: '3000000000', v: 'big key' },
    ]);
  });

  it('empties a staging table with its merge: nothing staged outlives its batch', async () => {
    // Staging tables are not ON COMMIT DELETE ROWS (PostgreSQL would empty every such table of
    // the session at each commit, one per table applied): each merge empties its own.
    const mark = `staged_${runId}`;
    const t = newTable('staging', {
      columns: [col('id', 'integer', false), col(mark, 'text')],
      primaryKey: ['id'],
    });
    const big = 'x'.repeat(200_000); // stored out of line: the staging table's TOAST table too
    // The sink's staging tables of this table (temporary, in its sessions): their files' sizes.
    const stagedBytes = async () => {
      const { rows } = await admin.query<{ main: string; toast: string }>(
        `SELECT pg_relation_size(c.oid)::text AS main, pg_relation_size(c.reltoastrelid)::text AS toast
           FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
          WHERE c.relpersistence = 't' AND c.relname LIKE 'pgferry_stage_%' AND a.attname = $1`,
        [mark],
      );
      return rows.map((r) => Number(r.main) + Number(r.toast));
    };
    await write(t, [
      change(t, 'c', 10n, { id: '1', [mark]: big }),
      change(t, 'c', 11n, { id: '2', [mark]: 'b' }),
    ]);
    expect(await rowsOf(t, ['id'])).toEqual([{ id: '1' }, { id: '2' }]);
    expect(await stagedBytes()).toEqual([0]);
    // A batch rolled back after its merge (its dead letters could not be sent) leaves its staged
    // rows behind, invisible; the next merge empties them.
    const failing = sink.writeBatch(batchOf(t, [change(t, 'u', 12n, { id: '2', [mark]: big })]), {
      beforeCommit: async () => {
        throw new Error('dead-letter topic unavailable');
      },
    });
    await expect(failing).rejects.toThrow('dead-letter topic unavailable');
    await write(t, [change(t, 'u', 13n, { id: '1', [mark]: 'a' })]);
    expect(await rowsOf(t)).toEqual([
      { id: '1', [mark]: 'a' },
      { id: '2', [mark]: 'b' },
    ]);
    expect(await stagedBytes()).toEqual([0]);
  });

  it('recovers when a batch that created a staging table is rolled back', async () => {
    const t = newTable('rollback', {
      columns: [col('id', 'integer', false), col('v', 'text')],
      primaryKey: ['id'],
    });
    const batch = batchOf(t, [change(t, 'c', 10n, { id: '1', v: 'a' })]);
    // The DLQ produce inside the transaction fails (say, Kafka is down): the batch rolls back.
    const failing = sink.writeBatch(batch, {
      beforeCommit: async () => {
        throw new Error('dead-letter topic unavailable');
      },
    });
    await expect(failing).rejects.toThrow('dead-letter topic unavailable');
    expect(await rowsOf(t)).toEqual([]);
    expect(await storedOffset(t)).toBeUndefined();
    // The retry of the same batch must apply it.
    expect((await sink.writeBatch(batch)).alreadyApplied).toBe(false);
    expect(await rowsOf(t)).toEqual([{ id: '1', v: 'a' }]);
    expect(await storedOffset(t)).toBe('1');
    // What a consumer seeks to on assignment: every topic in one read, none for a topic unseen.
    expect(await sink.storedOffsets(GROUP, [t.topic, `${t.topic}_unseen`])).toEqual(
      new Map([[t.topic, new Map([[0, '1']])]]),
    );
  });

  it('writes into a table made before replication (schema-sync, pg_dump): enum, GENERATED ALWAYS key, generated column', async () => {
    const name = `${PREFIX}_presynced`;
    const mood = `${PREFIX}_mood`;
    await admin.query(`CREATE TYPE ${qualifiedName('public', mood)} AS ENUM ('new', 'paid')`);
    await admin.query(`CREATE TABLE ${qualifiedName('public', name)} (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      mood ${qualifiedName('public', mood)} NOT NULL DEFAULT 'new',
      amount numeric(12,2),
      doubled numeric GENERATED ALWAYS AS (amount * 2) STORED)`);
    await admin.query(
      `GRANT ALL ON ${qualifiedName('public', name)} TO ${quoteIdent(settings.user)}`,
    );
    // As the codec describes it: the enum by its bare quoted name; a snapshot event also carries
    // the generated column's source value.
    const t = newTable(
      'presynced',
      {
        columns: [
          col('id', 'bigint', false),
          col('mood', quoteIdent(mood), false),
          col('amount', 'numeric(12,2)'),
          col('doubled', 'numeric'),
        ],
        primaryKey: ['id'],
      },
      name,
    );
    const before = await columnsOf(t);
    const first = await write(t, [
      change(t, 'r', 10n, { id: '5', mood: 'paid', amount: '1.25', doubled: '2.50' }),
      change(t, 'c', 11n, { id: '6', mood: 'new', amount: null, doubled: null }),
    ]);
    expect(first.rejected).toEqual([]);
    const second = await write(t, [
      change(t, 'u', 12n, { id: '5', mood: 'new', amount: '2.00', doubled: '4.00' }),
    ]);
    expect(second.rejected).toEqual([]);
    expect(await rowsOf(t)).toEqual([
      { id: '5', mood: 'new', amount: '2.00', doubled: '4.00' },
      { id: '6', mood: 'new', amount: null, doubled: null },
    ]);
    // Taken as it is: the enum stays an enum, nothing was widened or relaxed.
    expect(await columnsOf(t)).toEqual(before);
    // The table and its type go in cleanUp(): the sink's staging table uses the type until it stops.
  });
});

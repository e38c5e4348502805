import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectClient } from '../../core/connect-client.js';
import { runPgferryCli } from '../support/cli-run.js';
import { type PgferryProcess, startPgferry } from '../support/pgferry-process.js';
import { loadStackEnv } from '../support/stack-env.js';
import { waitForEqual } from '../support/table-checksum.js';
import { applyTestConnector, removeTestConnector } from '../support/test-connector.js';

const stack = loadStackEnv();
const run = Date.now().toString(36);
const prefix = `sze_${run}`;
const groupId = `pgferry-sze-${run}`;
const connectorName = `pgferry-sze-${run}`;
const slotName = `pgferry_sze_${run}`;
const t = (name: string) => `sze_${name}_${run}`;
const MOOD = t('mood');
const ORDERS = t('orders');
const ITEMS = t('items');
const ACCOUNTS = t('accounts');
const TABLES = [
  { name: ORDERS, orderBy: 'tenant, id' },
  { name: ITEMS, orderBy: 'id' },
  { name: ACCOUNTS, orderBy: 'id' },
];

const source = new pg.Client({ connectionString: stack.sourceDatabaseUrl });
const target = new pg.Client({ connectionString: stack.targetDatabaseUrl });
const connect = new ConnectClient({ baseUrl: stack.connectUrl });
let pgferry: PgferryProcess | undefined;

function sumMetric(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n'))
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `))
      sum += Number(line.split(' ').pop());
  return sum;
}

async function columnTypes(table: string): Promise<Record<string, string>> {
  const r = await target.query<{ attname: string; type: string; attidentity: string }>(
    `SELECT attname, format_type(atttypid, atttypmod) AS type, attidentity FROM pg_attribute
      WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    [`public.${table}`],
  );
  return Object.fromEntries(
    r.rows.map((c) => [c.attname, `${c.type}${c.attidentity ? ` identity ${c.attidentity}` : ''}`]),
  );
}

describe.sequential('replication into schema-synced tables', () => {
  beforeAll(async () => {
    await source.connect();
    await target.connect();
    await source.query(`CREATE TYPE ${MOOD} AS ENUM ('new', 'paid', 'shipped', 'it''s "odd"')`);
    await source.query(`CREATE TABLE ${ORDERS} (
      tenant integer NOT NULL,
      id bigint GENERATED ALWAYS AS IDENTITY,
      mood ${MOOD} NOT NULL DEFAULT 'new',
      amount numeric(12,2) NOT NULL DEFAULT 0,
      note varchar(40),
      created timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (tenant, id))`);
    await source.query(`CREATE TABLE ${ITEMS} (
      id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      mood ${MOOD},
      qty numeric(12,2) DEFAULT 1.5,
      total numeric GENERATED ALWAYS AS (qty * 2) STORED)`);
    await source.query(`CREATE TABLE ${ACCOUNTS} (
      id serial PRIMARY KEY,
      name text NOT NULL DEFAULT 'anon',
      balance numeric(12,2),
      mood ${MOOD} NOT NULL DEFAULT 'paid')`);
    // Snapshot rows.
    await source.query(`INSERT INTO ${ORDERS} (tenant, mood, amount, note)
      SELECT g % 3, (ARRAY['new','paid','shipped','it''s "odd"']::${MOOD}[])[1 + g % 4], g * 1.25, 'snap ' || g
      FROM generate_series(1, 40) g`);
    await source.query(`INSERT INTO ${ITEMS} (mood) SELECT 'paid' FROM generate_series(1, 10)`);
    await source.query(
      `INSERT INTO ${ACCOUNTS} (balance) SELECT g * 100.01 FROM generate_series(1, 10) g`,
    );

    // schema-sync creates the target tables before replication starts.
    const sync = await runPgferryCli(
      ['schema-sync', '--tables', TABLES.map((x) => x.name).join(',')],
      { ...stack.vars, LOG_LEVEL: 'silent' },
    );
    expect(sync.code, sync.stdout + sync.stderr).toBe(0);
    // As after cutover, or in a target made with pg_dump: the source ids must still go in.
    await target.query(`ALTER TABLE ${ORDERS} ALTER COLUMN id SET GENERATED ALWAYS`);

    await applyTestConnector(connect, {
      name: connectorName,
      topicPrefix: prefix,
      slotName,
      tableIncludeList: `public\\.sze_.*_${run}`,
    });
    pgferry = await startPgferry({
      ...stack.vars,
      KAFKA_TOPIC_PATTERN: `^${prefix}\\.public\\..*`,
      KAFKA_GROUP_ID: groupId,
      TOPIC_REFRESH_SECONDS: '2',
      RETRY_MAX_DELAY_SECONDS: '2',
      LOG_LEVEL: 'info',
    });
  });

  afterAll(async () => {
    if (pgferry) {
      pgferry.child.kill('SIGTERM');
      await pgferry.exited.catch(() => undefined);
    }
    await removeTestConnector(stack.connectUrl, connectorName, source, slotName);
    for (const client of [source, target]) {
      for (const table of TABLES)
        await client.query(`DROP TABLE IF EXISTS ${table.name}`).catch(() => undefined);
      await client.query(`DROP TYPE IF EXISTS ${MOOD}`).catch(() => undefined);
    }
    await source.end();
    await target.end();
  });

  it('applies snapshot and streamed changes; the schema-synced definitions stay as they were', async () => {
    const before = {
      orders: await columnTypes(ORDERS),
      items: await columnTypes(ITEMS),
      accounts: await columnTypes(ACCOUNTS),
    };
    expect(before.orders).toMatchObject({
      id: 'bigint identity a',
      mood: MOOD,
      amount: 'numeric(12,2)',
    });
    expect(before.items).toMatchObject({ id: 'integer identity d', qty: 'numeric(12,2)' });

    await source.query(`INSERT INTO ${ORDERS} (tenant, mood, amount, note)
      SELECT 7, 'it''s "odd"', 9999999999.99, 'stream ' || g FROM generate_series(1, 25) g`);
    await source.query(
      `UPDATE ${ORDERS} SET mood = 'shipped', amount = amount + 0.01 WHERE tenant = 1`,
    );
    await source.query(`DELETE FROM ${ORDERS} WHERE tenant = 2 AND id % 2 = 0`);
    await source.query(`INSERT INTO ${ITEMS} (mood, qty) VALUES (NULL, 3.33), ('new', DEFAULT)`);
    await source.query(`UPDATE ${ITEMS} SET mood = 'it''s "odd"' WHERE id <= 3`);
    await source.query(`DELETE FROM ${ITEMS} WHERE id = 4`);
    await source.query(
      `INSERT INTO ${ACCOUNTS} (name, balance, mood) VALUES ('late', -0.01, 'new')`,
    );
    await source.query(
      `UPDATE ${ACCOUNTS} SET balance = balance * 2, mood = 'shipped' WHERE id % 2 = 1`,
    );

    await waitForEqual(stack.sourceDatabaseUrl, stack.targetDatabaseUrl, TABLES, 180_000);

    const metrics = await (pgferry as PgferryProcess).metrics();
    expect(sumMetric(metrics, 'pgferry_dlq_messages_total')).toBe(0);
    expect(sumMetric(metrics, 'pgferry_table_stopped')).toBe(0);
    // The sink took the tables as they were: no column recreated, widened or turned into text.
    expect(await columnTypes(ORDERS)).toEqual(before.orders);
    expect(await columnTypes(ITEMS)).toEqual(before.items);
    expect(await columnTypes(ACCOUNTS)).toEqual(before.accounts);
    const odd = await target.query(
      `SELECT count(*)::int AS n FROM ${ORDERS} WHERE mood = 'it''s "odd"'`,
    );
    expect(odd.rows[0].n).toBeGreaterThanOrEqual(25);
  });
});

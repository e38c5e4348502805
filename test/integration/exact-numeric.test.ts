// Numerics arrive exactly through the real pipeline: source PostgreSQL -> Debezium with the
// project's connector file (decimal.handling.mode=string) -> Kafka -> `pgferry run` -> target.
// Every value must read back on the target as the very text the source shows (`::text`: display
// scale, NaN and ±Infinity included), in a table pgferry creates itself and in a numeric column
// added later, and `pgferry verify` must find the tables equal.
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectClient } from '../../core/connect-client.js';
import type { VerifyReport } from '../../migrate/verify/table-verify.js';
import { runPgferryCli } from '../support/cli-run.js';
import { type PgferryProcess, startPgferry } from '../support/pgferry-process.js';
import { loadStackEnv } from '../support/stack-env.js';
import { applyTestConnector, removeTestConnector } from '../support/test-connector.js';

const stack = loadStackEnv();
const run = Date.now().toString(36);
const prefix = `h5num_${run}`;
const TABLE = `h5_num_${run}`;
/** Keyed by an unconstrained numeric: 16.0 and 16.00 are one key, with two texts. */
const KEYED = `h5_numkey_${run}`;
const connectorName = `h5-num-${run}`;
const slotName = `h5_num_${run}`;

const source = new pg.Client({ connectionString: stack.sourceDatabaseUrl });
const target = new pg.Client({ connectionString: stack.targetDatabaseUrl });
let pgferry: PgferryProcess | undefined;

const THOUSAND_DIGITS = `${'9'.repeat(600)}.${'1234567890'.repeat(40)}`;
/** [unconstrained numeric, numeric(10,2)] per row; the snapshot row goes in before the connector. */
const STREAMED: [string | null, string | null][] = [
  ['16.0000000000000000', '16.00'],
  ['-0.0000000001', '-0.01'],
  ['NaN', '12345678.90'],
  ['Infinity', '-99999999.99'],
  ['-Infinity', '0.00'],
  ['1e-30', '1.5'],
  [THOUSAND_DIGITS, null],
  ['0.000100', '7'],
  ['100000000000000000000', '-0.5'],
  [null, null],
];

/** The rows as PostgreSQL renders them, column by column as text. */
async function rowsAsText(client: pg.Client): Promise<string[][]> {
  const result = await client.query<{ r: string[] }>(
    `SELECT ARRAY[id::text, n::text, n2::text, arr::text, late::text] AS r FROM ${TABLE} ORDER BY id`,
  );
  return result.rows.map((row) => row.r);
}

async function waitForTargetRows(expected: string[][], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const rows = await rowsAsText(target);
      if (JSON.stringify(rows) === JSON.stringify(expected)) return;
      const differing = expected.find((row, i) => JSON.stringify(row) !== JSON.stringify(rows[i]));
      last = `${rows.length} rows; source row ${JSON.stringify(differing)?.slice(0, 200)}`;
    } catch (error) {
      last = error; // the table or the late column is not there yet
    }
    if (Date.now() > deadline) {
      throw new Error(`target did not reach the source's rows: ${String(last)}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe.sequential('exact numerics through Debezium and pgferry', () => {
  beforeAll(async () => {
    await source.connect();
    await target.connect();
    await source.query(
      `CREATE TABLE ${TABLE} (id integer PRIMARY KEY, n numeric, n2 numeric(10,2), arr numeric[])`,
    );
    await source.query(`CREATE TABLE ${KEYED} (id numeric PRIMARY KEY, note text)`);
    // Debezium's snapshot reads this one (JDBC), the others come from the WAL (pgoutput).
    await source.query(
      `INSERT INTO ${TABLE} VALUES (0, '16.0000000000000000', '12.30', '{1.50,2.000,NULL,-0.0000000001}')`,
    );
    await applyTestConnector(new ConnectClient({ baseUrl: stack.connectUrl }), {
      name: connectorName,
      topicPrefix: prefix,
      slotName,
      tableIncludeList: `public\\.${TABLE},public\\.${KEYED}`,
    });
    pgferry = await startPgferry({
      ...stack.vars,
      KAFKA_TOPIC_PATTERN: `^${prefix}\\.public\\..*`,
      KAFKA_GROUP_ID: `pgferry-h5num-${run}`,
      TOPIC_REFRESH_SECONDS: '2',
      RETRY_MAX_DELAY_SECONDS: '2',
      LOG_LEVEL: 'warn',
    });
  });

  afterAll(async () => {
    if (pgferry) {
      pgferry.child.kill('SIGTERM');
      await pgferry.exited.catch(() => undefined);
    }
    await removeTestConnector(stack.connectUrl, connectorName, source, slotName);
    // Its topics and consumer group too: nothing of this file stays in Kafka.
    const admin = new Kafka({
      brokers: [stack.kafkaBootstrap],
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${prefix}.`));
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.deleteGroups([`pgferry-h5num-${run}`]).catch(() => undefined);
    await admin.disconnect();
    for (const client of [source, target]) {
      for (const table of [TABLE, KEYED]) {
        await client.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
      }
    }
    await source.end();
    await target.end();
  });

  it('writes every numeric text-equal to the source, and verify finds the table equal', async () => {
    for (const [i, [n, n2]] of STREAMED.entries()) {
      await source.query(`INSERT INTO ${TABLE} (id, n, n2) VALUES ($1, $2, $3)`, [i + 1, n, n2]);
    }
    await source.query(`UPDATE ${TABLE} SET arr = '{-1.10,NULL,100.000}', n = '2.50' WHERE id = 2`);
    // A numeric column added later: pgferry adds it from the new schema version.
    await source.query(`ALTER TABLE ${TABLE} ADD COLUMN late numeric`);
    await source.query(`INSERT INTO ${TABLE} (id, n, late) VALUES (50, '0.0', '1.000')`);
    await source.query(`UPDATE ${TABLE} SET late = '-Infinity' WHERE id = 1`);

    const expected = await rowsAsText(source);
    // The values under test really are in the source as written (no test of nothing).
    expect(expected.map((r) => r[1])).toEqual(
      expect.arrayContaining(['16.0000000000000000', 'NaN', 'Infinity', '-Infinity', '0.0']),
    );
    expect(expected.find((r) => r[0] === '6')?.[1]).toBe('0.000000000000000000000000000001');
    expect(expected.find((r) => r[0] === '7')?.[1]).toBe(THOUSAND_DIGITS);
    await waitForTargetRows(expected, 120_000);

    const types = await target.query<{ attname: string; type: string }>(
      `SELECT attname, format_type(atttypid, atttypmod) AS type FROM pg_attribute
        WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
      [`public.${TABLE}`],
    );
    expect(types.rows.map((c) => `${c.attname} ${c.type}`)).toEqual([
      'id integer',
      'n numeric',
      'n2 numeric(10,2)',
      'arr numeric[]',
      'late numeric',
    ]);

    const verify = await runPgferryCli(['verify', '--tables', `public.${TABLE}`, '--json'], {
      ...stack.vars,
      LOG_LEVEL: 'silent',
    });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    const report = JSON.parse(verify.stdout) as VerifyReport;
    expect(report.match).toBe(true);
    expect(report.tables.map((t) => [t.source, t.match, t.sourceRows, t.targetRows])).toEqual([
      [`public.${TABLE}`, true, expected.length, expected.length],
    ]);
  });

  it('keeps a numeric key whose display scale changes (16.0 deleted, 16.00 inserted) as the source has it', async () => {
    await source.query(`INSERT INTO ${KEYED} VALUES ('16.0', 'first'), ('1.50', 'kept')`);
    const read = (client: pg.Client) =>
      client
        .query<{ r: string }>(`SELECT id::text || ' ' || note AS r FROM ${KEYED} ORDER BY id`)
        .then((r) => r.rows.map((row) => row.r));
    const waitFor = async (expected: string[]) => {
      const deadline = Date.now() + 60_000;
      let rows: string[] = [];
      while (Date.now() < deadline) {
        rows = await read(target).catch(() => []);
        if (JSON.stringify(rows) === JSON.stringify(expected)) break;
        await new Promise((r) => setTimeout(r, 300));
      }
      expect(rows).toEqual(expected);
    };
    await waitFor(['1.50 kept', '16.0 first']);
    await source.query('BEGIN');
    await source.query(`DELETE FROM ${KEYED} WHERE id = '16.0'`);
    await source.query(`INSERT INTO ${KEYED} VALUES ('16.00', 'second')`);
    await source.query('COMMIT');
    await source.query(`UPDATE ${KEYED} SET id = '1.500' WHERE id = '1.50'`);
    const expected = await read(source);
    expect(expected).toEqual(['1.500 kept', '16.00 second']);
    await waitFor(expected);
  });

  it('Debezium sends a numeric[] holding NaN as NULL in string mode too: verify names the row', async () => {
    await source.query(`INSERT INTO ${TABLE} (id, arr) VALUES (90, '{1.5,NaN}')`);
    const deadline = Date.now() + 60_000;
    let arrived = false;
    while (!arrived && Date.now() < deadline) {
      const r = await target.query(`SELECT arr FROM ${TABLE} WHERE id = 90`);
      arrived = r.rowCount === 1;
      if (arrived) expect(r.rows[0].arr).toBeNull();
      else await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(arrived).toBe(true);
    const verify = await runPgferryCli(
      ['verify', '--tables', `public.${TABLE}`, '--json', '--recheck-attempts', '0'],
      { ...stack.vars, LOG_LEVEL: 'silent' },
    );
    expect(verify.code).toBe(3);
    const report = JSON.parse(verify.stdout) as VerifyReport;
    expect(report.tables[0]?.differences).toEqual([
      expect.objectContaining({ kind: 'changed', key: { id: '90' } }),
    ]);
  });
});

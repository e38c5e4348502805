// Triggers never fire on replicated writes and are live after cutover, through the real pipeline:
// a `last_updated` trigger on a source table; schema-sync creates it on the target DISABLED; the
// copy and `pgferry run` (connector, Kafka, sink) bring rows whose last_updated the source's
// trigger set, and the target keeps those values exactly; cutover enables the trigger, and a write
// on the target then fires it. A schema-sync run after cutover leaves it enabled.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quoteIdent } from '../../core/sql-identifier.js';
import type { CutoverResult } from '../../migrate/cutover/cutover-result.js';
import { runPgferryCli } from '../support/cli-run.js';
import { stopProcess } from '../support/fault-harness.js';
import { type PgferryProcess, startPgferry } from '../support/pgferry-process.js';
import { loadStackEnv } from '../support/stack-env.js';
import {
  deleteTestTopics,
  removeMigrationBookkeeping,
  removeTestConnector,
  writeTestConnectorFile,
} from '../support/test-connector.js';

const stack = loadStackEnv();
const run = Date.now().toString(36);
const SRC = `h2_trg_${run}`;
const TGT = `h2_trgt_${run}`;
const prefix = `h2_${run}`;
const publication = `h2_pub_${run}`;
const slot = `h2_slot_${run}`;
const connectorName = `pgferry-h2-${run}`;
const groupId = `pgferry-h2-${run}`;
const reportDir = mkdtempSync(join(tmpdir(), 'pgferry-h2-'));

const { KAFKA_TOPIC_PATTERN: _stackPattern, ...stackVars } = stack.vars;
const env: Record<string, string> = {
  ...stackVars,
  SOURCE_SCHEMAS: SRC,
  TARGET_SCHEMA: TGT,
  KAFKA_TOPIC_PREFIX: prefix,
  SOURCE_PUBLICATION: publication,
  SOURCE_SLOT_NAME: slot,
  CONNECTOR_NAME: connectorName,
  KAFKA_GROUP_ID: groupId,
  CONNECT_URL: stack.connectUrl,
  COPY_METRICS_PORT: '0',
  TOPIC_REFRESH_SECONDS: '2',
  RETRY_MAX_DELAY_SECONDS: '2',
  PROGRESS_LOG_SECONDS: '0',
  LOG_LEVEL: 'warn',
};

const source = new pg.Client({ connectionString: stack.sourceDatabaseUrl });
const target = new pg.Client({ connectionString: stack.targetDatabaseUrl });
let pgferry: PgferryProcess | undefined;
const src = `${quoteIdent(SRC)}.items`;
const tgt = `${quoteIdent(TGT)}.items`;

/** Every row with its last_updated to the microsecond, as text. */
async function rows(client: pg.Client, table: string): Promise<string[]> {
  const r = await client.query<{ row: string }>(
    `SELECT id || '|' || name || '|' || to_char(last_updated AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS row
       FROM ${table} ORDER BY id`,
  );
  return r.rows.map((x) => x.row);
}

async function waitForSame(timeoutMs = 60_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [s, t] = [await rows(source, src), await rows(target, tgt).catch((): string[] => [])];
    if (JSON.stringify(s) === JSON.stringify(t)) return t;
    if (Date.now() > deadline) {
      const diff = s.filter((row) => !t.includes(row)).slice(0, 3);
      throw new Error(`target did not converge: ${s.length} vs ${t.length} rows, e.g. ${diff}`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}

async function triggerState(): Promise<string | undefined> {
  const r = await target.query<{ tgenabled: string }>(
    `SELECT tgenabled FROM pg_trigger WHERE tgrelid = to_regclass($1) AND tgname = 'touch'`,
    [tgt],
  );
  return r.rows[0]?.tgenabled;
}

beforeAll(async () => {
  await source.connect();
  await target.connect();
  const reader = quoteIdent(stack.vars.SOURCE_DB_USER ?? 'pgferry_reader');
  await source.query(`
    CREATE SCHEMA ${quoteIdent(SRC)};
    GRANT USAGE ON SCHEMA ${quoteIdent(SRC)} TO debezium, ${reader};
    ALTER DEFAULT PRIVILEGES IN SCHEMA ${quoteIdent(SRC)} GRANT SELECT ON TABLES TO debezium, ${reader};
    CREATE TABLE ${src} (
      id integer PRIMARY KEY,
      name text NOT NULL,
      last_updated timestamptz NOT NULL DEFAULT now());
    CREATE FUNCTION ${quoteIdent(SRC)}.touch() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN NEW.last_updated := clock_timestamp(); RETURN NEW; END $$;
    CREATE TRIGGER touch BEFORE INSERT OR UPDATE ON ${src}
      FOR EACH ROW EXECUTE FUNCTION ${quoteIdent(SRC)}.touch();
    INSERT INTO ${src} (id, name) SELECT g, 'row ' || g FROM generate_series(1, 50) g;
    CREATE MATERIALIZED VIEW ${quoteIdent(SRC)}.item_count AS SELECT count(*) AS n FROM ${src};
    CREATE PUBLICATION ${quoteIdent(publication)} FOR TABLES IN SCHEMA ${quoteIdent(SRC)};`);
  // Distinct, old values: any trigger firing on the target would show at once.
  await source.query(`ALTER TABLE ${src} DISABLE TRIGGER touch`);
  await source.query(
    `UPDATE ${src} SET last_updated = timestamptz '2001-02-03 04:05:06.789012+00' + id * interval '1 second'`,
  );
  await source.query(`ALTER TABLE ${src} ENABLE TRIGGER touch`);
}, 60_000);

afterAll(async () => {
  if (pgferry) await stopProcess(pgferry, 'SIGTERM').catch(() => undefined);
  await removeTestConnector(stack.connectUrl, connectorName, source, slot);
  await source.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(publication)}`).catch(() => {});
  await source.query(`DROP SCHEMA IF EXISTS ${quoteIdent(SRC)} CASCADE`).catch(() => {});
  await target.query(`DROP SCHEMA IF EXISTS ${quoteIdent(TGT)} CASCADE`).catch(() => {});
  await removeMigrationBookkeeping(target, groupId, [TGT]);
  await deleteTestTopics(stack.kafkaBootstrap, prefix);
  await source.end();
  await target.end();
}, 90_000);

describe.sequential('a last_updated trigger through replication and cutover', () => {
  it('schema-sync creates the trigger disabled; copy and run keep the source values exactly', async () => {
    const file = await writeTestConnectorFile({
      name: connectorName,
      topicPrefix: prefix,
      slotName: slot,
      config: { 'publication.name': publication },
    });
    const applied = await runPgferryCli(
      ['connector', 'apply', '--file', file, '--snapshot-mode', 'no_data', '--timeout', '150'],
      env,
    );
    expect(applied.code, applied.stderr + applied.log).toBe(0);

    const synced = await runPgferryCli(['schema-sync'], env);
    expect(synced.code, synced.stdout + synced.stderr).toBe(0);
    expect(synced.stdout).toContain(
      `trigger ${SRC}.items touch -> ${TGT}.items touch: create trigger (disabled until cutover)`,
    );
    expect(await triggerState()).toBe('D');
    await expect(target.query(`SELECT n FROM ${quoteIdent(TGT)}.item_count`)).rejects.toThrow(
      /has not been populated/,
    );

    const copied = await runPgferryCli(['copy'], env);
    expect(copied.code, copied.stdout + copied.stderr).toBe(0);
    const before = await rows(source, src);
    expect(await rows(target, tgt)).toEqual(before);

    pgferry = await startPgferry(env);
    // The application keeps writing: the source's trigger sets last_updated on each.
    await source.query(`UPDATE ${src} SET name = name || ' changed' WHERE id % 3 = 0`);
    await source.query(
      `INSERT INTO ${src} (id, name) SELECT g, 'new ' || g FROM generate_series(51, 70) g`,
    );
    await source.query(`DELETE FROM ${src} WHERE id % 10 = 0`);
    const converged = await waitForSame();
    expect(converged).toHaveLength(70 - 7);
    // Updated rows carry the source's new stamps (not 2001), unchanged rows the old ones.
    expect(converged.find((r) => r.startsWith('3|'))).not.toContain('2001-02-03');
    expect(converged.find((r) => r.startsWith('1|'))).toBe('1|row 1|2001-02-03 04:05:07.789012');
    expect(await triggerState()).toBe('D');
  }, 240_000);

  it('cutover enables it; a write on the target then fires it', async () => {
    const cutover = await runPgferryCli(
      [
        'cutover',
        '--yes',
        '--json',
        '--quiet-seconds',
        '2',
        '--lag-timeout',
        '60',
        '--report-dir',
        reportDir,
      ],
      env,
    );
    const result = JSON.parse(cutover.stdout) as CutoverResult;
    expect(cutover.code, JSON.stringify(result.gates, null, 2)).toBe(0);
    const sequences = result.gates.find((g) => g.gate === 'sequences');
    expect(sequences?.summary).toContain(
      `enabled 1 trigger(s) (${TGT}.items touch), refreshed 1 materialized view(s)`,
    );
    // Created WITH NO DATA by schema-sync, refreshed from the final rows.
    const counted = await target.query(`SELECT n FROM ${quoteIdent(TGT)}.item_count`);
    expect(counted.rows).toEqual([{ n: String(70 - 7) }]);
    expect(await triggerState()).toBe('O');

    const [before] = await rows(target, `${tgt} WHERE id = 1`);
    expect(before).toBe('1|row 1|2001-02-03 04:05:07.789012');
    await target.query(`UPDATE ${tgt} SET name = 'by the application' WHERE id = 1`);
    const after = await target.query<{ fresh: boolean }>(
      `SELECT last_updated > now() - interval '1 minute' AS fresh FROM ${tgt} WHERE id = 1`,
    );
    expect(after.rows[0]?.fresh).toBe(true);

    // Run again after cutover, schema-sync leaves the trigger enabled.
    if (pgferry) await stopProcess(pgferry, 'SIGTERM');
    pgferry = undefined;
    const again = await runPgferryCli(['schema-sync'], env);
    expect(again.code, again.stdout).toBe(0);
    expect(again.stdout).not.toContain('disable trigger');
    expect(await triggerState()).toBe('O');
    // After cutover the target's catalog matches the source's, nothing waiting any more.
    const check = await runPgferryCli(['schema-sync', '--check', '--json'], env);
    const report = JSON.parse(check.stdout);
    expect(check.code, check.stdout).toBe(0);
    expect(report.match).toBe(true);
    expect(report.compared).toMatchObject({
      function: 1,
      table: 1,
      trigger: 1,
      'materialized-view': 1,
    });
    expect(report.differences).toEqual([]);
  }, 120_000);
});

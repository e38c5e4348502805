// A whole application migrates (issue 18's acceptance): the film-rental sample schema
// (test/fixtures/sample-app/: extension, enum, domains, composite and range types, arrays, a
// full-text column kept by a trigger, last_update triggers, functions, a procedure, views, a
// materialized view, range- and list-partitioned tables, foreign keys, RLS, comments) in a source
// schema of its own, through the real stack: preflight -> schema-sync -> connector (no_data) ->
// copy -> run under a write load touching every table -> verify equal -> cutover -> the target's
// catalog matches the source's, and the target's triggers are live again.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quoteIdent } from '../../core/sql-identifier.js';
import type { CopyReport } from '../../migrate/copy/copy-command.js';
import type { CutoverResult } from '../../migrate/cutover/cutover-result.js';
import type { PreflightReport } from '../../migrate/preflight/preflight-check.js';
import type { CatalogComparison } from '../../migrate/schema-sync/catalog-comparison.js';
import type { VerifyReport } from '../../migrate/verify/table-verify.js';
import { runPgferryCli } from '../support/cli-run.js';
import { stopProcess } from '../support/fault-harness.js';
import { type PgferryProcess, startPgferry } from '../support/pgferry-process.js';
import { loadSampleApp, SAMPLE_APP_TABLES, writeSampleAppRound } from '../support/sample-app.js';
import { loadStackEnv } from '../support/stack-env.js';
import { tableFingerprint } from '../support/table-checksum.js';
import {
  deleteTestTopics,
  removeMigrationBookkeeping,
  removeTestConnector,
  writeTestConnectorFile,
} from '../support/test-connector.js';

const stack = loadStackEnv();
const run = Date.now().toString(36);
const APP = `app_${run}`;
const prefix = `app_${run}`;
const publication = `app_pub_${run}`;
const slot = `app_slot_${run}`;
const connectorName = `pgferry-app-${run}`;
const groupId = `pgferry-app-${run}`;
const q = (table: string) => `${quoteIdent(APP)}.${quoteIdent(table)}`;

const { KAFKA_TOPIC_PATTERN: _stackPattern, ...stackVars } = stack.vars;
const env: Record<string, string> = {
  ...stackVars,
  SOURCE_SCHEMAS: APP,
  KAFKA_TOPIC_PREFIX: prefix,
  SOURCE_PUBLICATION: publication,
  SOURCE_SLOT_NAME: slot,
  CONNECTOR_NAME: connectorName,
  KAFKA_GROUP_ID: groupId,
  CONNECT_URL: stack.connectUrl,
  COPY_METRICS_PORT: '0',
  BATCH_SIZE: '500',
  TOPIC_REFRESH_SECONDS: '2',
  RETRY_MAX_DELAY_SECONDS: '2',
  PROGRESS_LOG_SECONDS: '0',
  LOG_LEVEL: 'info',
};

const source = new pg.Client({ connectionString: stack.sourceDatabaseUrl });
const target = new pg.Client({ connectionString: stack.targetDatabaseUrl });
let pgferry: PgferryProcess | undefined;

async function checkCatalogs(): Promise<CatalogComparison> {
  const checked = await runPgferryCli(['schema-sync', '--check', '--json'], env);
  const parsed = JSON.parse(checked.stdout) as Partial<CatalogComparison>;
  if (!parsed.differences) throw new Error(`no comparison in: ${checked.stdout}${checked.stderr}`);
  return parsed as CatalogComparison;
}

/** The first row (in key order) whose text differs on the two sides, for the failure message. */
async function firstDifference(table: string, orderBy: string): Promise<string> {
  const read = async (client: pg.Client) => {
    await client.query("SET TimeZone = 'UTC'; SET extra_float_digits = 3");
    return (
      await client.query<{ row: string }>(
        `SELECT t::text AS row FROM ${q(table)} t ORDER BY ${orderBy} LIMIT 5000`,
      )
    ).rows.map((r) => r.row);
  };
  const [s, t] = [await read(source), await read(target).catch(() => [] as string[])];
  const at = s.findIndex((row, i) => row !== t[i]);
  return at < 0 ? '' : `\n  source: ${s[at]}\n  target: ${t[at] ?? '(none)'}`;
}

/** Every table's fingerprint equal on both sides, within the timeout. */
async function waitForAllEqual(timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const diffs: string[] = [];
    for (const { table, orderBy } of SAMPLE_APP_TABLES) {
      const s = await tableFingerprint(stack.sourceDatabaseUrl, q(table), orderBy);
      const t = await tableFingerprint(stack.targetDatabaseUrl, q(table), orderBy).catch(
        (e: Error) => ({ rows: -1, md5: e.message }),
      );
      if (s.rows !== t.rows || s.md5 !== t.md5)
        diffs.push(
          `${table}: source ${s.rows} ${s.md5}, target ${t.rows} ${t.md5}${await firstDifference(table, orderBy)}`,
        );
    }
    if (diffs.length === 0) return;
    if (Date.now() > deadline) throw new Error(`not converged:\n${diffs.join('\n')}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

beforeAll(async () => {
  await source.connect();
  await target.connect();
  await loadSampleApp(source, APP);
  const reader = quoteIdent(stack.vars.SOURCE_DB_USER ?? 'pgferry_reader');
  const s = quoteIdent(APP);
  await source.query(`
    GRANT USAGE ON SCHEMA ${s} TO debezium, ${reader};
    GRANT SELECT ON ALL TABLES IN SCHEMA ${s} TO debezium, ${reader};
    GRANT SELECT ON ALL SEQUENCES IN SCHEMA ${s} TO ${reader};
    ALTER DEFAULT PRIVILEGES IN SCHEMA ${s} GRANT SELECT ON TABLES TO debezium, ${reader};
    ALTER DEFAULT PRIVILEGES IN SCHEMA ${s} GRANT SELECT ON SEQUENCES TO ${reader};
    CREATE PUBLICATION ${quoteIdent(publication)} FOR TABLES IN SCHEMA ${s}
      WITH (publish_via_partition_root = true);`);
}, 120_000);

afterAll(async () => {
  if (pgferry) await stopProcess(pgferry, 'SIGTERM').catch(() => undefined);
  await removeTestConnector(stack.connectUrl, connectorName, source, slot);
  await source.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(publication)}`).catch(() => {});
  await source.query(`DROP SCHEMA IF EXISTS ${quoteIdent(APP)} CASCADE`).catch(() => {});
  await target.query(`DROP SCHEMA IF EXISTS ${quoteIdent(APP)} CASCADE`).catch(() => {});
  await removeMigrationBookkeeping(target, groupId, [APP]);
  await deleteTestTopics(stack.kafkaBootstrap, prefix);
  await source.end();
  await target.end();
}, 120_000);

describe.sequential('a whole application schema migrates', () => {
  it('schema-sync carries every object; the catalogs differ only by what waits for cutover', async () => {
    const synced = await runPgferryCli(['schema-sync'], env);
    expect(synced.code, synced.stdout + synced.stderr).toBe(0);
    const comparison = await checkCatalogs();
    const open = comparison.differences.filter((d) => d.status !== 'at-cutover');
    expect(open, JSON.stringify(open, null, 1)).toEqual([]);
    expect(comparison.match).toBe(true);
    // Every kind the sample has was compared.
    for (const kind of ['table', 'view', 'materialized-view', 'function', 'procedure', 'trigger'])
      expect(comparison.compared[kind], kind).toBeGreaterThan(0);
    const waiting = comparison.differences.map((d) => `${d.kind} ${d.status}`);
    expect(waiting).toContain('trigger at-cutover');
    expect(waiting).toContain('materialized-view at-cutover');
    // The partitioned tables exist as such on the target, partitions included.
    const parts = await target.query<{ n: string }>(
      `SELECT count(*) AS n FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhparent
        WHERE c.relnamespace = $1::regnamespace AND c.relkind = 'p'`,
      [APP],
    );
    expect(Number(parts.rows[0]?.n)).toBe(6);
  }, 120_000);

  it('connector (no_data) and preflight: no check fails', async () => {
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
    const preflight = await runPgferryCli(['preflight', '--json'], env);
    const report = JSON.parse(preflight.stdout) as PreflightReport;
    const failed = report.sections.flatMap((s) =>
      s.checks.filter((c) => c.status === 'fail').map((c) => `${c.id}: ${c.message}`),
    );
    expect(failed).toEqual([]);
  }, 240_000);

  it('copy fills every table, partitioned ones through their root', async () => {
    const copied = await runPgferryCli(['copy', '--json'], env);
    expect(copied.code, copied.stdout + copied.stderr).toBe(0);
    const report = JSON.parse(copied.stdout) as CopyReport;
    expect(report.tables.map((t) => t.table).sort()).toEqual(
      SAMPLE_APP_TABLES.map(({ table }) => `${APP}.${table}`).sort(),
    );
    await waitForAllEqual(1_000);
  }, 180_000);

  it('run streams a write load on every table to equal rows, source trigger values kept', async () => {
    pgferry = await startPgferry(env);
    for (let round = 1; round <= 40; round++) await writeSampleAppRound(source, APP, round);
    await waitForAllEqual(120_000);
    expect(pgferry.child.exitCode).toBeNull();
    // The target's triggers did not fire on replicated writes: last_update and fulltext are the
    // source's (equal fingerprints above include them); say it explicitly for one row.
    const read = async (client: pg.Client) =>
      (
        await client.query<{ last_update: string; fulltext: string }>(
          `SELECT last_update::text, fulltext::text FROM ${q('film')} WHERE title = 'NEW FILM 40'`,
        )
      ).rows;
    expect(await read(target)).toEqual(await read(source));

    const verified = await runPgferryCli(['verify', '--json', '--recheck-attempts', '2'], env);
    const report = JSON.parse(verified.stdout) as VerifyReport;
    expect(
      report.tables.filter((t) => !t.match).map((t) => t.target),
      verified.stderr,
    ).toEqual([]);
    expect(report.tables).toHaveLength(SAMPLE_APP_TABLES.length);
    expect(verified.code).toBe(0);
  }, 300_000);

  it('cutover passes, enables the triggers, refreshes the materialized view; the catalogs match', async () => {
    // The quiet window must not see this file's writes' late statistics.
    await new Promise((r) => setTimeout(r, 11_000));
    const cutover = await runPgferryCli(
      [
        'cutover',
        '--quiet-seconds',
        '2',
        '--lag-timeout',
        '60',
        '--report-dir',
        mkdtempSync(join(tmpdir(), 'pgferry-app-report-')),
        '--json',
        '--yes',
      ],
      env,
    );
    const result = JSON.parse(cutover.stdout) as CutoverResult;
    expect(result.ok, result.gates.map((g) => `${g.gate}: ${g.summary}`).join('\n')).toBe(true);
    expect(cutover.code).toBe(0);
    if (pgferry) await stopProcess(pgferry, 'SIGTERM');
    pgferry = undefined;

    const comparison = await checkCatalogs();
    const left = comparison.differences.filter((d) =>
      ['missing', 'different', 'extra'].includes(d.status),
    );
    expect(left, JSON.stringify(comparison.differences, null, 1)).toEqual([]);
    // Nothing waits any more: triggers enabled, the view refreshed, the foreign keys added.
    expect(comparison.differences.filter((d) => d.status === 'at-cutover')).toEqual([]);
    const foreignKeys = `SELECT conrelid::regclass::text AS t, conname, convalidated
      FROM pg_constraint WHERE contype = 'f' AND connamespace = $1::regnamespace ORDER BY 1, 2`;
    const sourceKeys = (await source.query(foreignKeys, [APP])).rows;
    expect(sourceKeys.length).toBeGreaterThan(5);
    expect((await target.query(foreignKeys, [APP])).rows).toEqual(sourceKeys);

    // The materialized view has the source's rows.
    const mv = `SELECT count(*)::int AS n, sum(rentals)::int AS rentals FROM ${q('rental_by_customer')}`;
    await source.query(`REFRESH MATERIALIZED VIEW ${q('rental_by_customer')}`);
    expect((await target.query(mv)).rows).toEqual((await source.query(mv)).rows);

    // A write on the target now fires its triggers: last_update moves, fulltext follows title.
    const before = await target.query<{ last_update: Date }>(
      `SELECT last_update FROM ${q('actor')} WHERE actor_id = 1`,
    );
    await target.query(`UPDATE ${q('actor')} SET first_name = 'Cutover' WHERE actor_id = 1`);
    const after = await target.query<{ last_update: Date }>(
      `SELECT last_update FROM ${q('actor')} WHERE actor_id = 1`,
    );
    expect(after.rows[0]?.last_update.getTime()).toBeGreaterThan(
      before.rows[0]?.last_update.getTime() ?? Number.POSITIVE_INFINITY,
    );
    await target.query(`UPDATE ${q('film')} SET title = 'Zanzibar Cutover' WHERE film_id = 2`);
    const fulltext = await target.query<{ fulltext: string }>(
      `SELECT fulltext::text FROM ${q('film')} WHERE film_id = 2`,
    );
    expect(fulltext.rows[0]?.fulltext).toContain("'zanzibar'");
  }, 300_000);
});

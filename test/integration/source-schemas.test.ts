import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectClient } from '../../core/connect-client.js';
import { quoteIdent } from '../../core/sql-identifier.js';
import type { CopyReport } from '../../migrate/copy/copy-command.js';
import type { CutoverResult } from '../../migrate/cutover/cutover-result.js';
import type { SequenceSyncStep } from '../../migrate/cutover/sequence-sync.js';
import type { CheckResult, PreflightReport } from '../../migrate/preflight/preflight-check.js';
import {
  findSchemasNotPublished,
  formatAddSchemasFix,
} from '../../migrate/preflight/source-schema-checks.js';
import type { MigrationStatus } from '../../migrate/status/migration-status-types.js';
import type { VerifyReport } from '../../migrate/verify/table-verify.js';
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
const A = `h4_a_${run}`;
const B = `h4_b_${run}`;
const B_TARGET = `h4_b_copy_${run}`;
const prefix = `h4_${run}`;
const publication = `h4_pub_${run}`;
const slot = `h4_slot_${run}`;
const connectorName = `pgferry-h4-${run}`;
const groupId = `pgferry-h4-${run}`;
const WEIRD = 'we"ird.name';
const q = (schema: string, table: string) => `${quoteIdent(schema)}.${quoteIdent(table)}`;

const { KAFKA_TOPIC_PATTERN: _stackPattern, ...stackVars } = stack.vars;
const env: Record<string, string> = {
  ...stackVars,
  SOURCE_SCHEMAS: `${A},${B}`,
  SCHEMA_MAP: `${B}:${B_TARGET}`,
  TABLES_EXCLUDE: `${A}.secret, ${B}."we""ird.name"`,
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
const kafka = new Kafka({
  brokers: [stack.kafkaBootstrap],
  clientId: 'pgferry-h4',
  logLevel: logLevel.NOTHING,
});
let pgferry: PgferryProcess | undefined;

async function topics(): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.listTopics()).filter((t) => t.startsWith(`${prefix}.`)).sort();
  } finally {
    await admin.disconnect();
  }
}

async function exists(client: pg.Client, schema: string, table: string): Promise<boolean> {
  const r = await client.query<{ found: string | null }>('SELECT to_regclass($1) AS found', [
    q(schema, table),
  ]);
  return r.rows[0]?.found !== null;
}

/** Source and target fingerprints of a (source, target) table pair, equal within the timeout. */
async function waitForPair(from: [string, string], to: [string, string], timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const read = async (client: pg.Client, [schema, table]: [string, string]) =>
      (
        await client
          .query<{ rows: string; md5: string | null }>(
            `SELECT count(*) AS rows, md5(string_agg(t::text, ',' ORDER BY id)) AS md5 FROM ${q(schema, table)} t`,
          )
          .catch((e: Error) => ({ rows: [{ rows: '-1', md5: e.message }] }))
      ).rows[0];
    const [s, t] = [await read(source, from), await read(target, to)];
    if (s?.rows === t?.rows && s?.md5 === t?.md5) return Number(s?.rows);
    if (Date.now() > deadline)
      throw new Error(`${to.join('.')} did not converge: ${JSON.stringify({ s, t })}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** One check of `pgferry preflight --json` with this file's settings. */
async function preflightCheck(id: string): Promise<CheckResult> {
  const result = await runPgferryCli(['preflight', '--json'], { ...env, LOG_LEVEL: 'silent' });
  const report = JSON.parse(result.stdout) as PreflightReport;
  const found = report.sections.flatMap((s) => s.checks).find((c) => c.id === id);
  if (!found) throw new Error(`no check ${id} in ${result.stdout}`);
  return found;
}

beforeAll(async () => {
  await source.connect();
  await target.connect();
  const reader = quoteIdent(stack.vars.SOURCE_DB_USER ?? 'pgferry_reader');
  for (const schema of [A, B]) {
    const s = quoteIdent(schema);
    await source.query(`
      CREATE SCHEMA ${s};
      GRANT USAGE ON SCHEMA ${s} TO debezium, ${reader};
      ALTER DEFAULT PRIVILEGES IN SCHEMA ${s} GRANT SELECT ON TABLES TO debezium, ${reader};
      ALTER DEFAULT PRIVILEGES IN SCHEMA ${s} GRANT SELECT ON SEQUENCES TO ${reader};
      CREATE TABLE ${s}.items (id serial PRIMARY KEY, v text NOT NULL, n numeric(10,2));
      INSERT INTO ${s}.items SELECT g, '${schema} ' || g, g / 4.0 FROM generate_series(1, 300) g;`);
  }
  await source.query(`
    CREATE TABLE ${q(A, 'secret')} (id integer PRIMARY KEY, s text);
    INSERT INTO ${q(A, 'secret')} VALUES (1, 'never leaves the source');
    CREATE TABLE ${q(A, 'SECRET')} (id integer PRIMARY KEY, s text);
    INSERT INTO ${q(A, 'SECRET')} VALUES (1, 'a'), (2, 'b'), (3, 'c');
    CREATE TABLE ${q(B, WEIRD)} (id integer PRIMARY KEY);
    INSERT INTO ${q(B, WEIRD)} VALUES (1);`);
  // First only B: preflight's check must name A and the statement that adds it.
  await source.query(
    `CREATE PUBLICATION ${quoteIdent(publication)} FOR TABLES IN SCHEMA ${quoteIdent(B)}`,
  );
}, 60_000);

afterAll(async () => {
  if (pgferry) await stopProcess(pgferry, 'SIGTERM').catch(() => undefined);
  await removeTestConnector(stack.connectUrl, connectorName, source, slot);
  await source.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(publication)}`).catch(() => {});
  for (const schema of [A, B]) {
    await source.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`).catch(() => {});
  }
  for (const schema of [A, B, B_TARGET]) {
    await target.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`).catch(() => {});
  }
  await removeMigrationBookkeeping(target, groupId, [A, B_TARGET]);
  await deleteTestTopics(stack.kafkaBootstrap, prefix);
  await source.end();
  await target.end();
}, 90_000);

describe.sequential('two source schemas, a same-named table in each, one excluded table', () => {
  it('preflight names the schema the publication leaves out, and its fix works', async () => {
    expect(await findSchemasNotPublished(source, publication, [A, B])).toEqual([A]);
    const fix = formatAddSchemasFix(publication, [A]);
    expect(fix).toBe(
      `ALTER PUBLICATION ${quoteIdent(publication)} ADD TABLES IN SCHEMA ${quoteIdent(A)}`,
    );
    const before = await preflightCheck('source.publication_schemas');
    expect(before.status).toBe('fail');
    expect(before.message).toContain(fix);
    await source.query(fix);
    expect(await findSchemasNotPublished(source, publication, [A, B])).toEqual([]);
    expect(await preflightCheck('source.publication_schemas')).toMatchObject({
      status: 'pass',
      message: `${publication} publishes every source schema as a whole (${A}, ${B})`,
    });
  }, 60_000);

  it('connector apply takes the schemas and the excluded table from the settings', async () => {
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
    expect(applied.stderr).toContain('schema.include.list, table.exclude.list from SOURCE_SCHEMAS');
    const stored = await new ConnectClient({ baseUrl: stack.connectUrl }).getConnectorConfig(
      connectorName,
    );
    expect(stored?.['schema.include.list']).toBe(`(?s-i)${A},(?s-i)${B}`);
    expect(stored?.['table.exclude.list']).toBe(
      `(?s-i)${A}\\u002esecret,(?s-i)${B}\\u002ewe\\u0022ird\\u002ename`,
    );
  }, 180_000);

  it('schema-sync and copy create and fill each schema’s target, never the excluded table', async () => {
    const synced = await runPgferryCli(['schema-sync'], env);
    expect(synced.code, synced.stdout + synced.stderr).toBe(0);
    expect(await exists(target, A, 'items')).toBe(true);
    expect(await exists(target, B_TARGET, 'items')).toBe(true);
    expect(await exists(target, B, 'items')).toBe(false);
    expect(await exists(target, A, 'secret')).toBe(false);
    expect(await exists(target, A, 'SECRET')).toBe(true);
    expect(await exists(target, B_TARGET, WEIRD)).toBe(false);

    const copied = await runPgferryCli(['copy', '--json'], env);
    expect(copied.code, copied.stdout + copied.stderr).toBe(0);
    const report = JSON.parse(copied.stdout) as CopyReport;
    expect(report.tables.map((t) => `${t.source} -> ${t.table}`).sort()).toEqual(
      [
        `${A}.SECRET -> ${A}.SECRET`,
        `${A}.items -> ${A}.items`,
        `${B}.items -> ${B_TARGET}.items`,
      ].sort(),
    );
    expect(await waitForPair([A, 'SECRET'], [A, 'SECRET'], 1_000)).toBe(3);
    expect(await waitForPair([A, 'items'], [A, 'items'], 1_000)).toBe(300);
    expect(await waitForPair([B, 'items'], [B_TARGET, 'items'], 1_000)).toBe(300);
  }, 60_000);

  it('run streams both schemas, and a table created later, without any restart', async () => {
    pgferry = await startPgferry(env);
    for (const schema of [A, B]) {
      await source.query(`
        SELECT setval(pg_get_serial_sequence('${q(schema, 'items')}', 'id'), 300);
        INSERT INTO ${q(schema, 'items')} (v, n) SELECT 'new ' || g, g FROM generate_series(301, 340) g;
        UPDATE ${q(schema, 'items')} SET v = v || ' updated', n = n + 1 WHERE id % 7 = 0;
        DELETE FROM ${q(schema, 'items')} WHERE id % 11 = 0;`);
    }
    await source.query(`
      INSERT INTO ${q(A, 'secret')} VALUES (2, 'still secret');
      UPDATE ${q(A, 'secret')} SET s = 'changed' WHERE id = 1;
      INSERT INTO ${q(B, WEIRD)} VALUES (2);
      INSERT INTO ${q(A, 'SECRET')} VALUES (4, 'd');
      UPDATE ${q(A, 'SECRET')} SET s = 'changed' WHERE id = 1;`);
    expect(await waitForPair([A, 'SECRET'], [A, 'SECRET'])).toBe(4);
    expect(await waitForPair([A, 'items'], [A, 'items'])).toBe(340 - 30);
    expect(await waitForPair([B, 'items'], [B_TARGET, 'items'])).toBe(340 - 30);

    // A new table in a selected schema: in the schema's publication, the connector's include
    // list and pgferry's topic pattern already; created on the target by run itself.
    await source.query(`
      CREATE TABLE ${q(B, 'later')} (id integer PRIMARY KEY, v text);
      INSERT INTO ${q(B, 'later')} SELECT g, 'later ' || g FROM generate_series(1, 25) g;
      UPDATE ${q(B, 'later')} SET v = 'changed' WHERE id = 3;
      DELETE FROM ${q(B, 'later')} WHERE id = 4;`);
    expect(await waitForPair([B, 'later'], [B_TARGET, 'later'], 75_000)).toBe(24);
    expect(pgferry.child.exitCode).toBeNull();
  }, 150_000);

  it('verify finds every pair equal; the excluded table has no topic and no target table', async () => {
    const verified = await runPgferryCli(['verify', '--json', '--recheck-attempts', '2'], env);
    const report = JSON.parse(verified.stdout) as VerifyReport;
    expect(
      report.tables.map((t) => [t.source, t.target, t.match]),
      verified.stderr,
    ).toEqual([
      [`${A}.SECRET`, `${A}.SECRET`, true],
      [`${A}.items`, `${A}.items`, true],
      [`${B}.items`, `${B_TARGET}.items`, true],
      [`${B}.later`, `${B_TARGET}.later`, true],
    ]);
    expect(verified.code).toBe(0);

    expect(await exists(target, A, 'secret')).toBe(false);
    expect(await exists(target, B_TARGET, WEIRD)).toBe(false);
    const mine = await topics();
    expect(mine).toContain(`${prefix}.${A}.items`);
    expect(mine).toContain(`${prefix}.${B}.items`);
    expect(mine).toContain(`${prefix}.${B}.later`);
    expect(mine).toContain(`${prefix}.${A}.SECRET`);
    // Debezium never captured them: no topic, nothing consumed, nothing dead-lettered.
    expect(
      mine.filter((t) => t.includes('secret') || t.includes('ird') || t.endsWith('.dlq')),
    ).toEqual([]);
    const consumed = await target.query<{ topic: string }>(
      'SELECT DISTINCT topic FROM pgferry.offsets WHERE group_id = $1 ORDER BY topic',
      [groupId],
    );
    expect(consumed.rows.map((r) => r.topic).sort()).toEqual(
      [
        `${prefix}.${A}.SECRET`,
        `${prefix}.${A}.items`,
        `${prefix}.${B}.items`,
        `${prefix}.${B}.later`,
      ].sort(),
    );

    // status reads each topic back to its pair's target table.
    const status = await runPgferryCli(['status', '--json'], env);
    const seen = JSON.parse(status.stdout) as MigrationStatus;
    expect(seen.tables.map((t) => `${t.topic} -> ${t.table}`).sort()).toEqual(
      [
        `${prefix}.${A}.SECRET -> ${A}.SECRET`,
        `${prefix}.${A}.items -> ${A}.items`,
        `${prefix}.${B}.items -> ${B_TARGET}.items`,
        `${prefix}.${B}.later -> ${B_TARGET}.later`,
      ].sort(),
    );
    expect(seen.caughtUp, seen.reasons.join('; ')).toBe(true);
  }, 60_000);

  it('cutover (dry run) gates every pair: caught up, verified, each schema’s sequence', async () => {
    const cutover = await runPgferryCli(
      ['cutover', '--dry-run', '--quiet-seconds', '1', '--lag-timeout', '60', '--json'],
      env,
    );
    const result = JSON.parse(cutover.stdout) as CutoverResult;
    expect(
      result.gates.map((g) => `${g.gate}: ${g.status}`),
      result.gates.map((g) => g.summary).join('\n'),
    ).toEqual([
      'writes-stopped: passed',
      'caught-up: passed',
      'verified: passed',
      'sequences: skipped',
      'report: skipped',
    ]);
    expect(result.ok).toBe(true);
    expect(result.tables).toEqual([`${A}.SECRET`, `${A}.items`, `${B}.items`, `${B}.later`]);
    const steps = result.gates.find((g) => g.gate === 'sequences')?.details as SequenceSyncStep[];
    expect(steps.map((step) => [step.table, step.targetSequence, step.setTo]).sort()).toEqual(
      [
        [`${A}.items`, { schema: A, name: 'items_id_seq' }, '340'],
        [`${B_TARGET}.items`, { schema: B_TARGET, name: 'items_id_seq' }, '340'],
      ].sort(),
    );
    expect(cutover.code).toBe(0);
  }, 90_000);
});

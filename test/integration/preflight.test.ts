// pgferry preflight on the real stack: passes for a keyed table as the stack is set up; fails on
// a source with wal_level = replica (a throwaway cluster), on a table without a key (and only
// warns once it has REPLICA IDENTITY FULL), on an incompatible target column, on a topic whose
// retention is shorter than the migration window; warns on a superuser sink role; reads a
// registered connector's state, slot and topic prefix; and checks what pgferry copy needs (the
// slot's consistent point, SELECT for SOURCE_DB_USER, target tables empty or bookkept).
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectClient } from '../../core/connect-client.js';
import type { CheckResult, PreflightReport } from '../../migrate/preflight/preflight-check.js';
import { ensureBookkeeping } from '../../sink/bookkeeping/bookkeeping-schema.js';
import {
  deleteCopyPlan,
  insertCopyPlan,
  markCopyFailed,
} from '../../sink/bookkeeping/copy-rows.js';
import { runPgferryCli } from '../support/cli-run.js';
import { loadStackEnv } from '../support/stack-env.js';
import { applyTestConnector, removeTestConnector } from '../support/test-connector.js';
import { startThrowawayPostgres, type ThrowawayPostgres } from '../support/throwaway-postgres.js';

const stack = loadStackEnv();
const run = Date.now().toString(36);
const n = (name: string) => `pf_${name}_${run}`;
const KEYED = n('keyed');
const NOPK = n('nopk');
const DRIFT = n('drift');
const FILLED = n('filled');
const MINE = [KEYED, NOPK, DRIFT, FILLED];
/** A connector and slot nobody registers: the "before connector apply" state. */
const ABSENT_CONNECTOR = n('absent');
const ABSENT_SLOT = n('absent_slot');
const RETENTION_PREFIX = `pfr_${run}`;
const RETENTION_TOPIC = `${RETENTION_PREFIX}.public.${KEYED}`;
const CONNECTOR = n('conn');
const CONNECTOR_SLOT = n('slot');
const CONNECTOR_PREFIX = `pfc_${run}`;

const source = new pg.Client({ connectionString: stack.sourceDatabaseUrl });
const target = new pg.Client({ connectionString: stack.targetDatabaseUrl });
/** As pgferry's own role, so that bookkeeping it creates stays pgferry's. */
const targetAsPgferry = new pg.Client({
  host: stack.vars.TARGET_DB_HOST,
  port: Number(stack.vars.TARGET_DB_PORT),
  database: stack.vars.TARGET_DB_NAME,
  user: stack.vars.TARGET_DB_USER,
  password: stack.vars.TARGET_DB_PASSWORD,
});
const kafka = new Kafka({ brokers: [stack.kafkaBootstrap], logLevel: logLevel.NOTHING });
const admin = kafka.admin();
let replica: ThrowawayPostgres | undefined;

const baseEnv = {
  ...stack.vars,
  LOG_LEVEL: 'silent',
  CONNECTOR_NAME: ABSENT_CONNECTOR,
  SOURCE_SLOT_NAME: ABSENT_SLOT,
};

async function preflight(args: string[], env: Record<string, string> = {}) {
  const result = await runPgferryCli(['preflight', '--json', ...args], { ...baseEnv, ...env });
  expect(result.stderr).toBe('');
  const report = JSON.parse(result.stdout) as PreflightReport & { exitCode: number };
  const check = (id: string): CheckResult => {
    const found = report.sections.flatMap((s) => s.checks).find((c) => c.id === id);
    if (!found) throw new Error(`no check ${id} in ${result.stdout}`);
    return found;
  };
  const failures = report.sections
    .flatMap((s) => s.checks)
    .filter((c) => c.status === 'fail')
    .map((c) => `${c.id}: ${c.message} ${(c.details ?? []).join(' | ')}`);
  return { code: result.code, report, check, failures };
}

beforeAll(async () => {
  await source.connect();
  await target.connect();
  await targetAsPgferry.connect();
  await admin.connect();
  await source.query(`CREATE TABLE ${KEYED} (id integer PRIMARY KEY, note text)`);
  await source.query(`CREATE TABLE ${NOPK} (a integer, b text)`);
  await source.query(
    `CREATE TABLE ${DRIFT} (id integer PRIMARY KEY, note text, amount numeric(12,2), extra text)`,
  );
  // Made by someone else (the superuser), handed to pgferry's role, with a wrong column type.
  await target.query(
    `CREATE TABLE ${DRIFT} (id integer PRIMARY KEY, note integer, amount numeric(10,2))`,
  );
  await target.query(`ALTER TABLE ${DRIFT} OWNER TO ${stack.vars.TARGET_DB_USER}`);
});

afterAll(async () => {
  // slot.drop.on.stop drops the test connector's slot; this also drops one that never stopped.
  await removeTestConnector(stack.connectUrl, CONNECTOR, source, CONNECTOR_SLOT);
  await admin.deleteTopics({ topics: [RETENTION_TOPIC] }).catch(() => undefined);
  await replica?.stop();
  await deleteCopyPlan(targetAsPgferry, { schema: 'public', name: FILLED }).catch(() => undefined);
  for (const client of [source, target]) {
    for (const table of MINE) await client.query(`DROP TABLE IF EXISTS ${table}`);
  }
  await admin.disconnect();
  await source.end();
  await target.end();
  await targetAsPgferry.end();
});

describe.sequential('pgferry preflight', () => {
  it('passes for a keyed table on the stack; an unregistered connector is a WARN, not a FAIL', async () => {
    const result = await preflight(['--tables', KEYED, '--connector-user', 'debezium']);
    expect(result.failures).toEqual([]);
    expect(result.code).toBe(0);
    expect(result.report.ok).toBe(true);
    for (const id of [
      'source.reachable',
      'source.wal_level',
      'source.capacity',
      'source.connector_role',
      'source.publication',
      'source.keys',
      'source.slot',
      'kafka.reachable',
      'kafka.topics',
      'kafka.retention',
      'connect.registry',
      'connect.reachable',
      'target.reachable',
      'target.role',
      'target.privileges',
      'target.schema',
      'source.copy_role',
      'target.copy',
    ]) {
      expect(result.check(id).status, `${id}: ${result.check(id).message}`).toBe('pass');
    }
    // Before connector apply: pgferry copy could not start yet, which is normal (a WARN).
    expect(result.check('source.copy_slot')).toEqual({
      id: 'source.copy_slot',
      title: 'slot for pgferry copy',
      status: 'warn',
      message: `${ABSENT_SLOT} does not exist yet: register the connector first with \`pgferry connector apply --snapshot-mode no_data\` before \`pgferry copy\` (normal before the connector is applied)`,
    });
    expect(result.check('source.copy_role').message).toBe(
      `${stack.vars.SOURCE_DB_USER} (SOURCE_DB_USER) has SELECT on all 1 captured table(s); the copy's snapshot (pg_export_snapshot, SET TRANSACTION SNAPSHOT) needs no privilege`,
    );
    expect(result.check('target.copy').message).toBe(
      '1 target table(s): 0 empty, 1 not created yet (schema-sync creates them before the copy)',
    );
    expect(result.check('source.connector_role').message).toContain('role debezium');
    expect(result.check('connect.connector')).toMatchObject({
      status: 'warn',
      message: `${ABSENT_CONNECTOR} is not registered yet: run pgferry connector apply`,
    });
    expect(result.check('target.schema').details).toEqual([
      `public.${KEYED}: will be created by schema-sync or pgferry run`,
    ]);

    const text = await runPgferryCli(['preflight', '--tables', KEYED], baseEnv);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^Source PostgreSQL \(127\.0\.0\.1:\d+\/sourcedb as /);
    expect(text.stdout).toMatch(/\n {2}PASS {2}wal_level +wal_level = logical\n/);
    expect(text.stdout).toMatch(/\n {2}WARN {2}connector role +cannot check: connector /);
    // What logical replication cannot carry is judged over the whole of public, which other tests
    // share (their tables and sequences are left out here): WARNs, never FAILs, and counted.
    const gapWarnings = [
      'source.unlogged',
      'source.large_objects',
      'source.uncaptured',
      'source.sequences',
    ].filter((id) => result.check(id).status === 'warn').length;
    expect(text.stdout).toMatch(
      new RegExp(
        `\\npreflight: OK with warnings \\(\\d+ passed, ${3 + gapWarnings} warnings, 0 failed\\)\\n$`,
      ),
    );
  });

  it('FAILs on a source with wal_level = replica, naming the setting and the fix', async () => {
    replica = await startThrowawayPostgres({ wal_level: 'replica' });
    const env = {
      SOURCE_DB_HOST: '127.0.0.1',
      SOURCE_DB_PORT: String(replica.port),
      SOURCE_DB_NAME: 'postgres',
      SOURCE_DB_USER: 'postgres',
      SOURCE_DB_PASSWORD: 'unused',
    };
    const result = await preflight([], env);
    expect(result.code).toBe(3);
    expect(result.check('source.reachable').status).toBe('pass');
    const wal = result.check('source.wal_level');
    expect(wal.status).toBe('fail');
    expect(wal.message).toContain('wal_level = replica');
    expect(wal.message).toContain('ALTER SYSTEM SET wal_level = logical');
    // The other services are still checked.
    expect(result.check('kafka.reachable').status).toBe('pass');
    expect(result.check('target.reachable').status).toBe('pass');

    const text = await runPgferryCli(['preflight'], { ...baseEnv, ...env });
    expect(text.code).toBe(3);
    expect(text.stdout).toMatch(
      /\n {2}FAIL {2}wal_level +wal_level = replica, Debezium needs logical/,
    );
    expect(text.stdout).toMatch(/\npreflight: FAILED /);
    await replica.stop();
    replica = undefined;
  });

  it('FAILs on a table without a primary key or replica identity; WARNs (replicated by full-row match) once it is FULL', async () => {
    const before = await preflight(['--tables', NOPK, '--connector-user', 'debezium']);
    expect(before.code).toBe(3);
    const keys = before.check('source.keys');
    expect(keys.status).toBe('fail');
    expect(keys.message).toContain('ALTER TABLE ... REPLICA IDENTITY FULL');
    expect(keys.details).toEqual([
      `public.${NOPK}: no primary key and no replica identity: pgferry refuses it. Add a primary key, or ALTER TABLE "public"."${NOPK}" REPLICA IDENTITY FULL (applied by full-row match) or REPLICA IDENTITY USING INDEX <a unique index on NOT NULL columns>`,
    ]);
    expect(before.failures).toHaveLength(1);

    await source.query(`ALTER TABLE ${NOPK} REPLICA IDENTITY FULL`);
    const after = await preflight(['--tables', NOPK, '--connector-user', 'debezium']);
    expect(after.failures).toEqual([]);
    expect(after.code).toBe(0);
    expect(after.check('source.keys').status).toBe('warn');
    expect(after.check('source.keys').details?.[0]).toContain(
      `public.${NOPK}: no primary key, REPLICA IDENTITY FULL: replicated by full-row match`,
    );
  });

  it('FAILs on an incompatible target column, listing every difference with both types', async () => {
    const result = await preflight(['--tables', DRIFT, '--connector-user', 'debezium']);
    expect(result.code).toBe(3);
    const schema = result.check('target.schema');
    expect(schema.status).toBe('fail');
    expect(schema.message).toContain('1 table(s): 0 match, 0 will be created');
    expect(schema.message).toContain('1 incompatible difference(s)');
    expect(schema.details).toEqual([
      expect.stringMatching(
        new RegExp(
          `^public\\.${DRIFT}\\.note: target type integer, source type text: incompatible`,
        ),
      ),
      expect.stringMatching(
        new RegExp(
          `^public\\.${DRIFT}\\.amount: target type numeric\\(10,2\\), source type numeric\\(12,2\\): pgferry widens it to numeric\\(12,2\\) automatically`,
        ),
      ),
      `public.${DRIFT}.extra: missing on the target (source type text): schema-sync or pgferry run adds it`,
    ]);
    // pgferry's role owns the table: the privileges it needs are there.
    expect(result.check('target.privileges').status).toBe('pass');
    expect(result.failures).toHaveLength(1);
  });

  it('WARNs on a superuser sink role', async () => {
    const password = decodeURIComponent(new URL(stack.targetDatabaseUrl).password);
    const result = await preflight(['--tables', KEYED, '--connector-user', 'debezium'], {
      TARGET_DB_USER: 'postgres',
      TARGET_DB_PASSWORD: password,
    });
    expect(result.failures).toEqual([]);
    expect(result.code).toBe(0);
    const role = result.check('target.role');
    expect(role.status).toBe('warn');
    expect(role.message).toMatch(/^postgres has SUPERUSER.*, which pgferry does not need/);
  });

  it('FAILs when a topic keeps messages for less than the migration window', async () => {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic: RETENTION_TOPIC,
          numPartitions: 1,
          configEntries: [{ name: 'retention.ms', value: String(3_600_000) }],
        },
      ],
    });
    const env = { KAFKA_TOPIC_PATTERN: `^${RETENTION_PREFIX}\\.public\\..*` };
    const args = ['--tables', KEYED, '--connector-user', 'debezium'];
    const short = await preflight([...args, '--migration-window', '2'], env);
    expect(short.code).toBe(3);
    expect(short.check('kafka.topics')).toMatchObject({
      status: 'pass',
      message: `prefix ${RETENTION_PREFIX} (from KAFKA_TOPIC_PATTERN): all 1 topic(s) exist`,
    });
    const retention = short.check('kafka.retention');
    expect(retention.status).toBe('fail');
    expect(retention.message).toContain('less than the migration window (2 h');
    expect(retention.details).toEqual([
      expect.stringContaining(
        `${RETENTION_TOPIC}: retention.ms = 3600000 (1 h, topic config): kafka-configs.sh --alter --entity-type topics --entity-name ${RETENTION_TOPIC} --add-config retention.ms=7200000`,
      ),
    ]);
    expect(short.failures).toHaveLength(1);

    const enough = await preflight([...args, '--migration-window', '1'], env);
    expect(enough.check('kafka.retention').status).toBe('pass');
    expect(enough.code).toBe(0);
  });

  it('reads a registered connector: RUNNING, its slot active, its topic prefix, its placeholder user', async () => {
    const connect = new ConnectClient({ baseUrl: stack.connectUrl });
    await applyTestConnector(connect, {
      name: CONNECTOR,
      topicPrefix: CONNECTOR_PREFIX,
      slotName: CONNECTOR_SLOT,
      tableIncludeList: `public.${KEYED}`,
    });
    const env = {
      CONNECTOR_NAME: CONNECTOR,
      SOURCE_SLOT_NAME: CONNECTOR_SLOT,
      KAFKA_TOPIC_PATTERN: `^${CONNECTOR_PREFIX}\\.public\\..*`,
    };
    const result = await preflight(['--tables', KEYED], env);
    expect(result.failures).toEqual([]);
    expect(result.code).toBe(0);
    expect(result.check('connect.connector')).toMatchObject({
      status: 'pass',
      message: `${CONNECTOR} and its 1 task(s) are RUNNING`,
    });
    expect(result.check('source.slot').status).toBe('pass');
    expect(result.check('source.slot').message).toMatch(new RegExp(`^${CONNECTOR_SLOT} is active`));
    expect(result.check('source.copy_slot')).toMatchObject({ status: 'pass' });
    expect(result.check('source.copy_slot').message).toMatch(
      new RegExp(
        `^${CONNECTOR_SLOT} has a consistent point \\(confirmed_flush_lsn [0-9A-F]+/[0-9A-F]+\\): pgferry copy can take its snapshot$`,
      ),
    );
    expect(result.check('source.connector_role')).toMatchObject({
      status: 'warn',
      message:
        'cannot check: the user is a worker placeholder (${env:DEBEZIUM_DB_USER}); give --connector-user NAME',
    });
    expect(result.check('kafka.topics').message).toMatch(
      new RegExp(`^prefix ${CONNECTOR_PREFIX} \\(from the connector’s topic.prefix\\)`),
    );
  });

  it('pgferry copy: WARNs on a target table with rows and no copy bookkeeping; a copy to resume passes, a failed one WARNs', async () => {
    await source.query(`CREATE TABLE ${FILLED} (id integer PRIMARY KEY, note text)`);
    await target.query(`CREATE TABLE ${FILLED} (id integer PRIMARY KEY, note text)`);
    await target.query(`ALTER TABLE ${FILLED} OWNER TO ${stack.vars.TARGET_DB_USER}`);
    await target.query(`INSERT INTO ${FILLED} VALUES (1, 'loaded by someone else')`);
    const args = ['--tables', FILLED, '--connector-user', 'debezium'];
    const filled = await preflight(args);
    expect(filled.failures).toEqual([]);
    expect(filled.code).toBe(0);
    expect(filled.check('target.copy')).toMatchObject({
      status: 'warn',
      message: '1 target table(s): 0 empty; 1 need attention before pgferry copy',
      details: [
        `public.${FILLED}: has rows but no copy bookkeeping: pgferry copy would refuse it (empty it, or pgferry copy --restart); fine if you use Debezium's snapshot path`,
      ],
    });

    // A copy planned (as pgferry copy records it): resumable, nothing to warn about.
    await ensureBookkeeping(targetAsPgferry);
    await deleteCopyPlan(targetAsPgferry, { schema: 'public', name: FILLED });
    await insertCopyPlan(targetAsPgferry, {
      target: { schema: 'public', name: FILLED },
      source: { schema: 'public', name: FILLED },
      keyColumns: ['id'],
      bounds: [['100']],
    });
    const planned = await preflight(args);
    expect(planned.check('target.copy')).toMatchObject({
      status: 'pass',
      message: '1 target table(s): 0 empty, 1 with a copy to resume',
    });

    await markCopyFailed(targetAsPgferry, { schema: 'public', name: FILLED }, 'value too long');
    const failed = await preflight(args);
    expect(failed.check('target.copy')).toMatchObject({
      status: 'warn',
      details: [
        `public.${FILLED}: its copy failed at 0/2 chunks (value too long): pgferry copy resumes it once the cause is fixed`,
      ],
    });
    expect(failed.code).toBe(0);
  });

  it('pgferry copy: FAILs when SOURCE_DB_USER cannot read a captured table, naming the grant', async () => {
    const reader = stack.vars.SOURCE_DB_USER as string;
    await source.query(`REVOKE SELECT ON ${FILLED} FROM ${reader}`);
    try {
      const result = await preflight(['--tables', FILLED, '--connector-user', 'debezium']);
      expect(result.code).toBe(3);
      expect(result.check('source.copy_role')).toMatchObject({
        status: 'fail',
        message: `${reader} (SOURCE_DB_USER) cannot read 1 captured table(s), which pgferry copy and verify read as this role: grant SELECT (listed below)`,
        details: [
          `public.${FILLED}: GRANT USAGE ON SCHEMA "public" TO "${reader}"; GRANT SELECT ON "public"."${FILLED}" TO "${reader}"`,
        ],
      });
      expect(result.failures).toHaveLength(1);
    } finally {
      await source.query(`GRANT SELECT ON ${FILLED} TO ${reader}`);
    }
  });
});

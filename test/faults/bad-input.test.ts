// Fault cases 18-22, bad input at the edges: malformed settings, unreachable services, wrong
// passwords, a topic that is not Debezium at all, a table without a primary key. Each must give
// one clear line naming the cause (no stack trace, no secret), and write nothing wrongly. The
// last two go through the replication path and end with the full check.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import avro from 'avsc';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runPgferryCli } from '../support/cli-run.js';
import {
  assertNothingLostNothingDoubled,
  FaultScenario,
  sleep,
  stack,
  startWorkload,
  stopProcess,
  targetQuery,
} from '../support/fault-harness.js';
import { freePort, type PgferryProcess } from '../support/pgferry-process.js';
import { repoPath } from '../support/stack-env.js';

const scenario = new FaultScenario({ id: 'b' });
/** The no-PK table of case 22: dropped after the file, or every preflight on the stack FAILs. */
const noPkTable = `fb_nopk_${scenario.run}`;

/** Does the target have this table (in public)? */
async function targetHasTable(name: string): Promise<boolean> {
  const rows = await targetQuery<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [
    `public.${name}`,
  ]);
  return rows[0]?.t !== null;
}

async function storedOffsetRows(groupId: string, topic?: string): Promise<number> {
  const rows = await targetQuery<{ n: string }>(
    `SELECT count(*) AS n FROM pgferry.offsets WHERE group_id = $1 AND ($2::text IS NULL OR topic = $2)`,
    [groupId, topic ?? null],
  ).catch(() => [{ n: '0' }]);
  return Number(rows[0]?.n ?? 0);
}

interface ProcessRun {
  code: number | string;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `pgferry <args>` as the real child process (built dist/); kills it after `timeoutMs`. */
async function runPgferryProcess(
  args: readonly string[],
  env: Record<string, string>,
  timeoutMs = 20_000,
): Promise<ProcessRun> {
  const started = Date.now();
  const child = spawn(process.execPath, [repoPath('bin/pgferry.js'), ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString('utf8');
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString('utf8');
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code, signal] = await once(child, 'exit');
  clearTimeout(timer);
  return { code: (code ?? signal) as number | string, stdout, stderr, ms: Date.now() - started };
}

/** pgferry's JSON log lines (non-JSON lines are kept as { raw }). */
function parseLog(lines: readonly string[]): Record<string, unknown>[] {
  return lines.map((line) => {
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch {
      return { raw: line };
    }
  });
}

function metricValue(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

async function getJson(port: number, path: string) {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/**
 * preflight's FAIL lines as "FAIL | title | detail", by section (Source, Kafka, ...). The source
 * is shared with other suites (their tables are in the publication), so cases look only at the
 * sections they break.
 */
function preflightFails(stdout: string): Map<string, string[]> {
  const bySection = new Map<string, string[]>();
  let section = '';
  for (const line of stdout.split('\n')) {
    if (/^\S/.test(line)) section = line.split(' (')[0] ?? line;
    if (/^\s+FAIL\s/.test(line))
      bySection.set(section, [
        ...(bySection.get(section) ?? []),
        line.trim().replace(/\s{2,}/g, ' | '),
      ]);
  }
  return bySection;
}

/** No stack trace anywhere in `text` (a frame line or a logged `stack` field). */
function expectNoStackTrace(text: string) {
  expect(text).not.toMatch(/\n\s+at .+:\d+:\d+/);
  expect(text).not.toMatch(/"stack":/);
}

/** Reads every message of `topic` (from the beginning) with its headers. */
async function readTopic(topic: string, expected: number) {
  const consumer = scenario.kafka.consumer({ groupId: `${scenario.groupId}-reader-${Date.now()}` });
  const messages: { key: Buffer | null; value: Buffer | null; headers: Record<string, string> }[] =
    [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
        messages.push({ key: message.key, value: message.value, headers });
      },
    });
    const deadline = Date.now() + 60_000;
    while (messages.length < expected && Date.now() < deadline) await sleep(200);
    await sleep(1000); // anything beyond the expected count shows up too
  } finally {
    await consumer.disconnect();
  }
  return messages;
}

describe.sequential('bad input at the edges', () => {
  beforeAll(() => scenario.setUp());
  afterEach(() => scenario.endCase());
  afterAll(async () => {
    await scenario.source.query(`DROP TABLE IF EXISTS ${noPkTable}`).catch(() => undefined);
    await scenario.tearDown();
  });

  it('bad input: malformed config values: pgferry run exits 2 at once naming each bad setting, no secret', async ({
    task,
  }) => {
    const secret = `fb-hunter2-${scenario.run}`;
    const run = await runPgferryProcess(['run'], {
      ...scenario.env(),
      METRICS_PORT: '0',
      BATCH_SIZE: 'abc',
      KAFKA_BOOTSTRAP: 'kafka1',
      TARGET_DB_PORT: '99999',
      TARGET_DB_SSLMODE: 'sometimes',
      SCHEMA_REGISTRY_URL: 'registry:8081',
      // A password pasted with its trailing newline: rejected, and never echoed.
      TARGET_DB_PASSWORD: `${secret}\n`,
    });
    expect(run.code).toBe(2);
    expect(run.ms).toBeLessThan(5000);
    expect(run.stdout).toBe('');
    const lines = run.stderr.trimEnd().split('\n');
    expect(lines[0]).toBe('Invalid pgferry configuration (6 problems):');
    expect(lines.slice(1).sort()).toEqual(
      [
        "  - KAFKA_BOOTSTRAP: got 'kafka1'; expected a comma-separated list of host:port, e.g. localhost:9092 (bad entry: 'kafka1')",
        "  - SCHEMA_REGISTRY_URL: got 'registry:8081'; expected an http:// or https:// URL",
        "  - TARGET_DB_PORT: got '99999'; expected an integer from 1 to 65535",
        "  - TARGET_DB_PASSWORD: got '***'; expected no line breaks (a trailing newline?)",
        "  - TARGET_DB_SSLMODE: got 'sometimes'; expected one of disable, prefer, require, verify-ca, verify-full",
        "  - BATCH_SIZE: got 'abc'; expected an integer from 1 to 100000",
      ].sort(),
    );
    expect(run.stderr).not.toContain(secret);
    expectNoStackTrace(run.stderr);

    // A valid secret next to one bad value: still never printed, by `run` or by `config check`.
    const alone = await runPgferryProcess(['run'], {
      ...scenario.env(),
      METRICS_PORT: '0',
      TARGET_DB_PASSWORD: secret,
      BATCH_MAX_BYTES: '10',
    });
    expect(alone.code).toBe(2);
    expect(alone.stderr.trimEnd().split('\n')).toEqual([
      'Invalid pgferry configuration (1 problem):',
      "  - BATCH_MAX_BYTES: got '10'; expected an integer from 1024 to 1073741824",
    ]);
    const check = await runPgferryCli(['config', 'check', '--json'], {
      ...scenario.env(),
      TARGET_DB_PASSWORD: secret,
      KAFKA_BOOTSTRAP: '',
    });
    expect(check.code).toBe(0);
    expect(`${check.stdout}${check.stderr}${alone.stdout}${alone.stderr}`).not.toContain(secret);
    const settings = (
      JSON.parse(check.stdout) as { settings: { env: string; value: string; source: string }[] }
    ).settings;
    expect(settings.find((s) => s.env === 'TARGET_DB_PASSWORD')).toMatchObject({
      value: '***',
      source: 'env',
    });
    // An empty value counts as unset (documented): `config check` shows the default it falls to.
    expect(settings.find((s) => s.env === 'KAFKA_BOOTSTRAP')).toMatchObject({
      value: 'localhost:9092',
      source: 'default',
    });
    task.meta.fault = {
      case: 18,
      asserts:
        'six malformed settings make `pgferry run` exit 2 in under 5 s with one line per setting naming the value and what is expected; a password (bad or valid) is never printed; no stack trace',
      figures: { exitCode: Number(run.code), exitMs: run.ms, problems: lines.length - 1 },
    };
  });

  it('bad input: unreachable Kafka, target and registry: run retries naming the endpoint, /readyz says why, preflight names each', async ({
    task,
  }) => {
    const [kafkaPort, targetPort, registryPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const group = `${scenario.groupId}-unreachable`;
    const registryUrl = `http://127.0.0.1:${registryPort}/apis/ccompat/v7`;
    const figures: Record<string, number> = {};

    /** Starts pgferry with `env`, waits for `pattern`, returns the matching parsed line. */
    const watch = async (env: Record<string, string>, pattern: RegExp) => {
      const started = Date.now();
      const p = await scenario.startPgferry({ KAFKA_GROUP_ID: group, ...env });
      const line = await scenario.waitForLog(p, pattern, 20_000);
      return { p, entry: JSON.parse(line) as Record<string, unknown>, ms: Date.now() - started };
    };
    const stopAndCheck = async (p: PgferryProcess, name: string) => {
      const signalled = Date.now();
      expect(await stopProcess(p, 'SIGTERM')).toBe(0);
      figures[`${name}StopMs`] = Date.now() - signalled;
      // A service that is down is waited for, not a crash: the stop is prompt, no stack trace.
      expect(figures[`${name}StopMs`]).toBeLessThan(10_000);
      expectNoStackTrace(p.logs.join('\n'));
    };

    // Kafka at a closed port: named within seconds (kafkajs alone retries for minutes).
    const kafka = await watch(
      { KAFKA_BOOTSTRAP: `127.0.0.1:${kafkaPort}` },
      /not reachable yet; retrying/,
    );
    expect(kafka.entry).toMatchObject({
      level: 'warn',
      what: 'Kafka',
      err: `Kafka unreachable: 127.0.0.1:${kafkaPort} (ECONNREFUSED); check KAFKA_BOOTSTRAP`,
    });
    expect(kafka.ms).toBeLessThan(10_000);
    expect((await getJson(kafka.p.port, '/healthz')).body).toMatchObject({ state: 'starting' });
    const kafkaReady = await getJson(kafka.p.port, '/readyz');
    expect(kafkaReady.status).toBe(503);
    expect(kafkaReady.body.waitingFor).toBe(
      `Kafka: Kafka unreachable: 127.0.0.1:${kafkaPort} (ECONNREFUSED); check KAFKA_BOOTSTRAP`,
    );
    figures.kafkaNamedMs = kafka.ms;
    await stopAndCheck(kafka.p, 'kafka');

    // The target at a closed port.
    const target = await watch({ TARGET_DB_PORT: String(targetPort) }, /not reachable yet/);
    const targetCause = `target PostgreSQL 127.0.0.1:${targetPort}/${stack.vars.TARGET_DB_NAME} unreachable: connect ECONNREFUSED 127.0.0.1:${targetPort}`;
    expect(target.entry).toMatchObject({
      level: 'warn',
      what: 'target PostgreSQL',
      err: targetCause,
    });
    const targetReady = await getJson(target.p.port, '/readyz');
    expect(targetReady.status).toBe(503);
    expect(targetReady.body.waitingFor).toBe(`target PostgreSQL: ${targetCause}`);
    figures.targetNamedMs = target.ms;
    await stopAndCheck(target.p, 'target');

    // The registry at a closed port: only needed to decode, so the batches wait (retried, never
    // dead-lettered, nothing applied).
    const registry = await watch(
      { SCHEMA_REGISTRY_URL: registryUrl },
      /transient fault; retrying the batch/,
    );
    expect(registry.entry).toMatchObject({
      level: 'warn',
      err: `schema registry ${registryUrl} unreachable (fetch failed: connect ECONNREFUSED 127.0.0.1:${registryPort})`,
    });
    expect(String(registry.entry.topic)).toMatch(new RegExp(`^${scenario.prefix}\\.public\\.`));
    const metrics = await registry.p.metrics();
    expect(metricValue(metrics, 'pgferry_retries_total', 'cause="RetriableError"')).toBeGreaterThan(
      0,
    );
    expect(metrics).not.toMatch(/^pgferry_dlq_messages_total\{/m);
    figures.registryNamedMs = registry.ms;
    await stopAndCheck(registry.p, 'registry');
    // Nothing was applied for that group.
    expect(await storedOffsetRows(group)).toBe(0);

    // preflight: one FAIL line per unreachable service, naming the endpoint and the setting.
    const preflight = await runPgferryCli(['preflight', '--timeout', '5'], {
      ...scenario.env(),
      KAFKA_BOOTSTRAP: `127.0.0.1:${kafkaPort}`,
      TARGET_DB_PORT: String(targetPort),
      SCHEMA_REGISTRY_URL: registryUrl,
    });
    expect(preflight.code).toBe(3);
    const fails = preflightFails(preflight.stdout);
    fails.delete('Source PostgreSQL');
    expect(Object.fromEntries(fails)).toEqual({
      Kafka: [
        `FAIL | reachable | cannot reach the brokers: Connection error: connect ECONNREFUSED 127.0.0.1:${kafkaPort}: check KAFKA_BOOTSTRAP`,
      ],
      'Schema registry and Kafka Connect': [
        `FAIL | schema registry | cannot reach ${registryUrl}: fetch failed: connect ECONNREFUSED 127.0.0.1:${registryPort}: check SCHEMA_REGISTRY_URL`,
      ],
      'Target PostgreSQL': [
        `FAIL | reachable | cannot connect: connect ECONNREFUSED 127.0.0.1:${targetPort}: check TARGET_DB_*`,
      ],
    });
    expectNoStackTrace(`${preflight.stdout}${preflight.stderr}`);
    task.meta.fault = {
      case: 19,
      asserts:
        'Kafka, the target and the registry at closed ports: `pgferry run` logs one warn line per retry naming the endpoint and the setting (Kafka within 10 s), /readyz is 503 with the cause, SIGTERM stops it in under 10 s, nothing is applied; preflight prints one FAIL line per service',
      figures,
    };
  });

  it('bad input: wrong passwords: one line naming the target or source and the refused login, the password never printed', async ({
    task,
  }) => {
    const wrong = `fb-wrong-${scenario.run}`;
    const { TARGET_DB_HOST, TARGET_DB_PORT, TARGET_DB_NAME, TARGET_DB_USER, SOURCE_DB_USER } =
      stack.vars;
    const group = `${scenario.groupId}-wrongpw`;
    const run = await runPgferryProcess(['run', '--progress', 'off'], {
      ...scenario.env({ KAFKA_GROUP_ID: group }),
      METRICS_PORT: '0',
      TARGET_DB_PASSWORD: wrong,
    });
    // Wrong credentials are settings, not an outage: pgferry run exits 1 at once, one error line.
    expect(run.code).toBe(1);
    expect(run.ms).toBeLessThan(10_000);
    const errors = parseLog(run.stderr.trimEnd().split('\n')).filter(
      (e) => e.level === 'error' || e.level === 'fatal' || e.raw !== undefined,
    );
    expect(errors).toEqual([
      expect.objectContaining({
        msg: 'pgferry failed',
        err: `target PostgreSQL ${TARGET_DB_HOST}:${TARGET_DB_PORT}/${TARGET_DB_NAME} refused the login of ${TARGET_DB_USER}: password authentication failed for user "${TARGET_DB_USER}"; check TARGET_DB_USER and TARGET_DB_PASSWORD`,
      }),
    ]);
    expect(`${run.stdout}${run.stderr}`).not.toContain(wrong);
    expectNoStackTrace(run.stderr);
    expect(await storedOffsetRows(group)).toBe(0);

    // preflight with both passwords wrong: one FAIL line each.
    const preflight = await runPgferryCli(['preflight', '--timeout', '5'], {
      ...scenario.env(),
      TARGET_DB_PASSWORD: wrong,
      SOURCE_DB_PASSWORD: wrong,
    });
    expect(preflight.code).toBe(3);
    // With the login refused, the other checks of those sections are skipped, not failed.
    const fails = preflightFails(preflight.stdout);
    expect(Object.fromEntries(fails)).toEqual({
      'Source PostgreSQL': [
        `FAIL | reachable | cannot connect: password authentication failed for user "${SOURCE_DB_USER}": check SOURCE_DB_* and the network`,
      ],
      'Target PostgreSQL': [
        `FAIL | reachable | cannot connect: password authentication failed for user "${TARGET_DB_USER}": check TARGET_DB_*`,
      ],
    });
    expect(`${preflight.stdout}${preflight.stderr}`).not.toContain(wrong);

    // status with the source password wrong: the slot line names the refused login.
    const status = await runPgferryCli(['status'], {
      ...scenario.env(),
      SOURCE_DB_PASSWORD: wrong,
    });
    expect(status.stdout).toContain(
      `slot: source database: password authentication failed for user "${SOURCE_DB_USER}"`,
    );
    expect(`${status.stdout}${status.stderr}`).not.toContain(wrong);
    expectNoStackTrace(`${status.stdout}${status.stderr}${preflight.stdout}`);
    task.meta.fault = {
      case: 20,
      asserts:
        'a wrong target password makes `pgferry run` exit 1 in under 10 s with one error line naming the target, the user and the refused login; preflight and status name the refused source/target login; the password appears nowhere',
      figures: { exitCode: Number(run.code), exitMs: run.ms, preflightFails: fails.size },
    };
  });

  it('bad input: a topic that is not Debezium: plain JSON and plain Avro go to the DLQ with the reason, the rest is applied', async ({
    task,
  }) => {
    const topic = `${scenario.prefix}.public.fb_plain_${scenario.run}`;
    const admin = scenario.kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();
    // A plain record schema (no Debezium envelope), registered like any producer would.
    const schema = {
      type: 'record',
      name: 'Order',
      namespace: 'shop',
      fields: [
        { name: 'id', type: 'long' },
        { name: 'item', type: 'string' },
      ],
    };
    const registered = await fetch(
      `${stack.schemaRegistryUrl}/subjects/${encodeURIComponent(`${topic}-value`)}/versions`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
        body: JSON.stringify({ schema: JSON.stringify(schema) }),
      },
    );
    expect(registered.status).toBe(200);
    const { id } = (await registered.json()) as { id: number };
    const type = avro.Type.forSchema(schema as avro.Schema);
    const framed = (value: object) => {
      const header = Buffer.alloc(5);
      header.writeUInt32BE(id, 1);
      return Buffer.concat([header, type.toBuffer(value)]);
    };
    const json = [1, 2, 3].map((i) => ({
      key: Buffer.from(JSON.stringify({ id: i })),
      value: Buffer.from(JSON.stringify({ id: i, item: `item ${i}`, op: 'c' })),
    }));
    const plainAvro = [4, 5].map((i) => ({
      key: null,
      value: framed({ id: i, item: `item ${i}` }),
    }));
    const producer = scenario.kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [...json, ...plainAvro] });
    await producer.disconnect();

    const workload = startWorkload(scenario);
    const p = await scenario.startPgferry();
    const warnLine = await scenario.waitForLog(
      p,
      new RegExp(
        `"topic":"${topic.replace(/\./g, '\\.')}".*batch applied with records dead-lettered`,
      ),
    );
    await sleep(4000);
    const stats = await workload.stop();
    expect(stats.errors).toBe(0);
    scenario.expectedDlq += 5;
    const figures = await assertNothingLostNothingDoubled(scenario);

    // One warn line for the topic, naming its DLQ and the five poison records.
    const warns = parseLog(p.logs).filter(
      (e) => e.topic === topic && e.msg === 'batch applied with records dead-lettered',
    );
    expect(warns).toEqual([JSON.parse(warnLine)]);
    expect(warns[0]).toMatchObject({ level: 'warn', dlq: `${topic}.dlq`, poison: 5, rejected: 0 });
    // The DLQ holds the original bytes with the reason.
    const letters = await readTopic(`${topic}.dlq`, 5);
    expect(letters).toHaveLength(5);
    const byOffset = new Map(letters.map((l) => [l.headers['__connect.errors.offset'], l]));
    for (const [offset, original] of [...json, ...plainAvro].entries()) {
      const letter = byOffset.get(String(offset));
      expect(letter?.value?.equals(original.value)).toBe(true);
      expect(letter?.headers['__connect.errors.topic']).toBe(topic);
      expect(letter?.headers['__connect.errors.class.name']).toBe('PoisonMessageError');
      expect(letter?.headers['__connect.errors.exception.message']).toBe(
        offset < 3
          ? 'key is not in the Confluent wire format (magic byte 0 + schema id): it starts like plain JSON text'
          : 'not a Debezium change event: the value has no op field (a Debezium envelope has before, after, source, op; fields here: id, item)',
      );
      expect(letter?.headers['__connect.errors.stage']).toBe(offset < 3 ? 'decode' : 'transform');
    }
    // pgferry went on: alive, ready, past the five records; no table made from that topic.
    expect(p.child.exitCode).toBeNull();
    expect((await getJson(p.port, '/readyz')).status).toBe(200);
    const stored = await targetQuery<{ next_offset: string }>(
      'SELECT next_offset::text FROM pgferry.offsets WHERE group_id = $1 AND topic = $2',
      [scenario.groupId, topic],
    );
    expect(stored.map((r) => r.next_offset)).toEqual(['5']);
    expect(await targetHasTable(`fb_plain_${scenario.run}`)).toBe(false);
    expect(
      metricValue(
        await p.metrics(),
        'pgferry_dlq_messages_total',
        `topic="${topic}",reason="PoisonMessageError"`,
      ),
    ).toBe(5);
    await stopProcess(p, 'SIGTERM');
    task.meta.fault = {
      case: 21,
      asserts:
        'plain JSON and plain Avro (no Debezium envelope) in a matching topic: each of the 5 goes to <topic>.dlq with its bytes and a reason naming the problem, one warn line, pgferry stays ready, no target table for that topic, every other table equals its source',
      figures: { transactions: stats.transactions, deadLettered: 5, ...figures },
    };
  });

  it('bad input: a table without a primary key: that table stops with one clear line, the others go on', async ({
    task,
  }) => {
    const name = noPkTable;
    const topic = `${scenario.prefix}.public.${name}`;
    await scenario.source.query(`CREATE TABLE ${name} (id bigint NOT NULL, note text)`);
    // Inserts only: with the default replica identity the source itself refuses updates.
    await scenario.source.query(
      `INSERT INTO ${name} SELECT g, 'row ' || g FROM generate_series(1, 50) g`,
    );
    scenario.stoppedTopics.add(topic);
    const dlqBefore = await scenario.dlqCount();

    const workload = startWorkload(scenario);
    const p = await scenario.startPgferry();
    const reason = `table public.${name} has no primary key and REPLICA IDENTITY DEFAULT: pgferry applies a table without a key by full-row match, which needs the source's whole old rows. Give it a primary key, or ALTER TABLE public.${name} REPLICA IDENTITY FULL on the source (see README, "Tables without a primary key")`;
    const line = await scenario.waitForLog(p, /table stopped: fix the cause/, 90_000);
    expect(JSON.parse(line)).toMatchObject({ level: 'error', topic, reason });
    await scenario.source.query(
      `INSERT INTO ${name} SELECT g, 'late ' || g FROM generate_series(51, 60) g`,
    );
    await sleep(4000);
    const stats = await workload.stop();
    expect(stats.errors).toBe(0);
    const figures = await assertNothingLostNothingDoubled(scenario);

    // One line for the table, however many of its records came by.
    const stops = parseLog(p.logs).filter((e) => e.topic === topic && e.level === 'error');
    expect(stops).toHaveLength(1);
    const metrics = await p.metrics();
    expect(metricValue(metrics, 'pgferry_table_stopped', `table="public.${name}"`)).toBe(1);
    const ready = await getJson(p.port, '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.stoppedTables).toEqual({ [topic]: reason });
    expect(p.child.exitCode).toBeNull();
    // Nothing of it written: no target table, no stored offset, nothing dead-lettered.
    expect(await targetHasTable(name)).toBe(false);
    expect(await storedOffsetRows(scenario.groupId, topic)).toBe(0);
    expect(await scenario.dlqCount()).toBe(dlqBefore);
    await stopProcess(p, 'SIGTERM');
    // At once: while it exists, every preflight on this stack FAILs its primary-key check.
    await scenario.source.query(`DROP TABLE ${name}`);
    task.meta.fault = {
      case: 22,
      asserts:
        'a captured table without a primary key: pgferry stops it with one error line naming the table and the fix, pgferry_table_stopped = 1 and /readyz lists it; no target table, offset or DLQ message for it; the other tables equal their source',
      figures: { transactions: stats.transactions, noPkRows: 60, ...figures },
    };
  });
});

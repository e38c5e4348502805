import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConnectClient, type ConnectorConfig } from '../../core/connect-client.js';
import { applyConnector } from '../../migrate/connector/connector-apply.js';
import { ConnectorFailedError } from '../../migrate/connector/connector-wait.js';
import { runPgferryCli } from '../support/cli-run.js';
import {
  type FakeConnect,
  type FakeReply,
  makeStatus,
  type RecordedRequest,
  startFakeConnect,
} from './fake-connect.js';

const FILE_CONFIG = {
  'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
  'database.password': '${env:SOURCE_DB_PASSWORD}',
  'tasks.max': '1',
};

/** A fake Connect holding one connector's stored config; status replies are scripted. */
async function startConnect(options: {
  stored?: ConnectorConfig;
  statuses?: FakeReply[];
  putReplies?: FakeReply[];
}): Promise<FakeConnect> {
  let stored = options.stored;
  const statuses = options.statuses ?? [{ status: 200, body: makeStatus('RUNNING', ['RUNNING']) }];
  const putReplies = [...(options.putReplies ?? [])];
  let statusIndex = 0;
  return startFakeConnect((request: RecordedRequest) => {
    const match = /^\/connectors\/([^/]+)\/(config|status)$/.exec(request.path);
    if (match === null) return { status: 404, body: { error_code: 404, message: 'no route' } };
    const [, name, resource] = match;
    if (resource === 'config' && request.method === 'GET') {
      return stored === undefined
        ? { status: 404, body: { error_code: 404, message: `Connector ${name} not found` } }
        : { status: 200, body: stored };
    }
    if (resource === 'config' && request.method === 'PUT') {
      const scripted = putReplies.shift();
      if (scripted !== undefined) return scripted;
      const created = stored === undefined;
      stored = { ...(request.body as ConnectorConfig), name: decodeURIComponent(name ?? '') };
      return { status: created ? 201 : 200, body: { name, config: stored, tasks: [] } };
    }
    const reply = statuses[Math.min(statusIndex, statuses.length - 1)] ?? { status: 500 };
    statusIndex++;
    return reply;
  });
}

function countPuts(fake: FakeConnect): number {
  return fake.requests.filter((request) => request.method === 'PUT').length;
}

let fake: FakeConnect | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

describe('applyConnector', () => {
  const base = {
    name: 'pgferry-source',
    config: FILE_CONFIG,
    timeoutMs: 5_000,
    pollIntervalMs: 20,
  };

  it('creates a missing connector, sending ${env:...} values verbatim', async () => {
    fake = await startConnect({});
    const result = await applyConnector({
      ...base,
      client: new ConnectClient({ baseUrl: fake.url }),
    });
    expect(result.action).toBe('created');
    const put = fake.requests.find((request) => request.method === 'PUT');
    expect(put).toEqual({
      method: 'PUT',
      path: '/connectors/pgferry-source/config',
      body: FILE_CONFIG,
    });
    expect(result.status.connector.state).toBe('RUNNING');
  });

  it('does not write an unchanged connector', async () => {
    fake = await startConnect({ stored: { ...FILE_CONFIG, name: 'pgferry-source' } });
    const result = await applyConnector({
      ...base,
      client: new ConnectClient({ baseUrl: fake.url }),
    });
    expect(result).toMatchObject({ action: 'unchanged', changedKeys: [] });
    expect(countPuts(fake)).toBe(0);
  });

  it('updates a connector whose config differs', async () => {
    fake = await startConnect({
      stored: { ...FILE_CONFIG, name: 'pgferry-source', 'tasks.max': '2' },
    });
    const result = await applyConnector({
      ...base,
      client: new ConnectClient({ baseUrl: fake.url }),
    });
    expect(result).toMatchObject({ action: 'updated', changedKeys: ['tasks.max'] });
    expect(countPuts(fake)).toBe(1);
  });

  it('retries a PUT refused during a rebalance (409) and a 5xx', async () => {
    fake = await startConnect({
      putReplies: [
        {
          status: 409,
          body: {
            error_code: 409,
            message:
              'Cannot complete request because of a conflicting operation (e.g. worker rebalance)',
          },
        },
        { status: 500, body: { error_code: 500, message: 'Request timed out' } },
      ],
    });
    const result = await applyConnector({
      ...base,
      client: new ConnectClient({ baseUrl: fake.url }),
      retryInitialDelayMs: 10,
    });
    expect(result.action).toBe('created');
    expect(countPuts(fake)).toBe(3);
  });

  it('reports a FAILED task of an unchanged connector at once', async () => {
    fake = await startConnect({
      stored: { ...FILE_CONFIG, name: 'pgferry-source' },
      statuses: [
        { status: 200, body: makeStatus('RUNNING', ['FAILED'], 'replication slot is active') },
      ],
    });
    await expect(
      applyConnector({
        ...base,
        client: new ConnectClient({ baseUrl: fake.url }),
        staleFailureGraceMs: 60_000,
      }),
    ).rejects.toBeInstanceOf(ConnectorFailedError);
  });
});

describe('pgferry CLI', () => {
  let dir: string;
  let file: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pgferry-cli-'));
    file = join(dir, 'connector.json');
    await writeFile(file, JSON.stringify({ name: 'from-file', config: FILE_CONFIG }));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function run(argv: string[], env: Record<string, string> = {}) {
    return runPgferryCli(argv, { LOG_LEVEL: 'silent', ...env });
  }

  it('config check exits 2 and lists every problem without secrets', async () => {
    const result = await run(['config', 'check'], {
      TARGET_DB_PORT: 'x',
      KAFKA_SASL_PASSWORD: 'topsecret',
      LOG_LEVEL: 'chatty',
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Invalid pgferry configuration (3 problems)');
    expect(result.stderr).toContain('TARGET_DB_PORT');
    expect(result.stderr).toContain('LOG_LEVEL');
    expect(result.stderr).toContain('KAFKA_SASL_MECHANISM');
    expect(result.stderr + result.stdout).not.toContain('topsecret');
  });

  it('config check prints the table with secrets masked', async () => {
    const result = await run(['config', 'check'], { TARGET_DB_PASSWORD: 'topsecret' });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^TARGET_DB_PASSWORD\s+\*\*\*\s+env$/m);
    expect(result.stdout).toMatch(/^BATCH_SIZE\s+5000\s+default$/m);
    expect(result.stdout).not.toContain('topsecret');
  });

  it('connector apply registers, waits and prints JSON; --name overrides the file', async () => {
    fake = await startConnect({});
    const result = await run(
      ['connector', 'apply', '--file', file, '--json', '--name', 'cli-name'],
      {
        CONNECT_URL: fake.url,
      },
    );
    expect(result.stderr).toContain('names the connector "from-file"; applying it as "cli-name"');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      name: 'cli-name',
      action: 'created',
      connector: { state: 'RUNNING' },
      tasks: [{ id: 0, state: 'RUNNING' }],
    });
    expect(fake.requests.some((request) => request.path === '/connectors/cli-name/config')).toBe(
      true,
    );
  });

  it('connector apply exits 1 with the task trace when a task fails', async () => {
    fake = await startConnect({
      stored: { ...FILE_CONFIG, name: 'pgferry-source' },
      statuses: [
        {
          status: 200,
          body: makeStatus('RUNNING', ['FAILED'], 'io.debezium.DebeziumException: slot busy'),
        },
      ],
    });
    const result = await run([
      'connector',
      'apply',
      '--file',
      file,
      '--connect-url',
      fake.url,
      '--timeout',
      '5',
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('task 0 FAILED');
    expect(result.stderr).toContain('io.debezium.DebeziumException: slot busy');
  });

  it('connector apply exits 2 on a missing file or a bad option', async () => {
    expect((await run(['connector', 'apply', '--file', join(dir, 'missing.json')])).code).toBe(2);
    expect((await run(['connector', 'apply', '--timeout', 'soon'])).code).toBe(2);
    expect((await run(['connector', 'apply', '--connect-url', 'ftp://x'])).code).toBe(2);
    expect((await run(['connector', 'frobnicate'])).code).toBe(2);
  });

  it('connector status prints states and exits 1 unless all run', async () => {
    fake = await startConnect({
      statuses: [
        { status: 200, body: makeStatus('RUNNING', ['RUNNING']) },
        { status: 200, body: makeStatus('RUNNING', ['RUNNING', 'UNASSIGNED']) },
        { status: 404, body: { error_code: 404, message: 'not found' } },
      ],
    });
    const env = { CONNECT_URL: fake.url };
    const running = await run(['connector', 'status'], env);
    expect(running.code).toBe(0);
    expect(running.stdout).toContain(
      'connector pgferry-source: RUNNING on 127.0.0.1:8083\n  task 0: RUNNING',
    );
    const partial = await run(['connector', 'status', '--json'], env);
    expect(partial.code).toBe(1);
    expect(JSON.parse(partial.stdout)).toMatchObject({
      running: false,
      tasks: [{ state: 'RUNNING' }, { state: 'UNASSIGNED' }],
    });
    const missing = await run(['connector', 'status'], env);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain('not found');
  });
});

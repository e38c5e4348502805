import { afterEach, describe, expect, it } from 'vitest';
import { ConnectClient } from '../../core/connect-client.js';
import { ConnectRestError } from '../../core/errors.js';
import {
  ConnectorFailedError,
  ConnectorWaitTimeoutError,
  waitForConnectorRunning,
} from '../../migrate/connector/connector-wait.js';
import {
  type FakeConnect,
  type FakeReply,
  findClosedPort,
  makeStatus,
  startFakeConnect,
} from './fake-connect.js';

let fake: FakeConnect | undefined;

afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

/** Serves the given status replies in order, repeating the last one. */
async function startStatusSequence(
  replies: FakeReply[],
): Promise<{ client: ConnectClient; polls: () => number }> {
  let index = 0;
  fake = await startFakeConnect((request) => {
    if (request.path !== '/connectors/pgferry-source/status')
      return { status: 500, body: { message: 'unexpected' } };
    const reply = replies[Math.min(index, replies.length - 1)] ?? { status: 500 };
    index++;
    return reply;
  });
  return { client: new ConnectClient({ baseUrl: fake.url }), polls: () => index };
}

async function catchError(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

describe('ConnectClient', () => {
  it('returns undefined for a missing connector and the config map otherwise', async () => {
    fake = await startFakeConnect((request) =>
      request.path === '/connectors/a%2Fb/config'
        ? { status: 200, body: { name: 'a/b', 'tasks.max': '1' } }
        : { status: 404, body: { error_code: 404, message: 'Connector x not found' } },
    );
    const client = new ConnectClient({ baseUrl: `${fake.url}/` });
    expect(await client.getConnectorConfig('x')).toBeUndefined();
    expect(await client.getConnectorConfig('a/b')).toEqual({ name: 'a/b', 'tasks.max': '1' });
  });

  it('reports created on 201 and updated on 200, sending the config verbatim', async () => {
    const replies = [201, 200];
    fake = await startFakeConnect(() => ({ status: replies.shift() ?? 500, body: {} }));
    const client = new ConnectClient({ baseUrl: fake.url });
    const config = { 'database.password': '${env:SOURCE_DB_PASSWORD}' };
    expect(await client.putConnectorConfig('pgferry-source', config)).toBe('created');
    expect(await client.putConnectorConfig('pgferry-source', config)).toBe('updated');
    expect(fake.requests[0]).toEqual({
      method: 'PUT',
      path: '/connectors/pgferry-source/config',
      body: config,
    });
  });

  it('marks 5xx and 409 retriable, 4xx not, and keeps status and Connect message', async () => {
    const replies: FakeReply[] = [
      { status: 503, body: { error_code: 503, message: 'worker starting' } },
      {
        status: 409,
        body: {
          error_code: 409,
          message:
            'Cannot complete request because of a conflicting operation (e.g. worker rebalance)',
        },
      },
      { status: 400, body: { error_code: 400, message: 'Connector configuration is invalid' } },
    ];
    fake = await startFakeConnect(() => replies.shift() ?? { status: 500 });
    const client = new ConnectClient({ baseUrl: fake.url });
    const errors = [];
    for (let i = 0; i < 3; i++)
      errors.push(await catchError(client.getConnectorStatus('pgferry-source')));
    expect(errors.map((e) => (e as ConnectRestError).status)).toEqual([503, 409, 400]);
    expect(errors.map((e) => (e as ConnectRestError).retriable)).toEqual([true, true, false]);
    expect((errors[2] as Error).message).toContain('HTTP 400: Connector configuration is invalid');
  });

  it('turns connection refused into a retriable error without a status', async () => {
    const port = await findClosedPort();
    const client = new ConnectClient({ baseUrl: `http://127.0.0.1:${port}` });
    const error = await catchError(client.getConnectorConfig('pgferry-source'));
    expect(error).toBeInstanceOf(ConnectRestError);
    expect((error as ConnectRestError).status).toBeUndefined();
    expect((error as ConnectRestError).retriable).toBe(true);
    expect((error as Error).message).toContain('connection refused');
  });

  it('times out a request that gets no answer', async () => {
    fake = await startFakeConnect(() => ({ status: 200, hang: true }));
    const client = new ConnectClient({ baseUrl: fake.url, requestTimeoutMs: 200 });
    const started = Date.now();
    const error = await catchError(client.getConnectorStatus('pgferry-source'));
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(error).toBeInstanceOf(ConnectRestError);
    expect((error as ConnectRestError).retriable).toBe(true);
    expect((error as Error).message).toContain('no response before the request timeout');
  });

  it('rejects a status body of the wrong shape', async () => {
    fake = await startFakeConnect(() => ({ status: 200, body: { name: 'x', connector: {} } }));
    const error = await catchError(
      new ConnectClient({ baseUrl: fake.url }).getConnectorStatus('x'),
    );
    expect(error).toBeInstanceOf(ConnectRestError);
    expect((error as ConnectRestError).retriable).toBe(false);
  });
});

describe('waitForConnectorRunning', () => {
  const fast = { pollIntervalMs: 20 };

  it('polls until the connector and all tasks are RUNNING', async () => {
    const { client, polls } = await startStatusSequence([
      { status: 404, body: { error_code: 404, message: 'No status found' } },
      { status: 200, body: makeStatus('UNASSIGNED', []) },
      { status: 200, body: makeStatus('RUNNING', []) },
      { status: 200, body: makeStatus('RUNNING', ['RUNNING', 'UNASSIGNED']) },
      { status: 200, body: makeStatus('RUNNING', ['RUNNING', 'RUNNING']) },
    ]);
    const status = await waitForConnectorRunning(client, 'pgferry-source', {
      ...fast,
      timeoutMs: 5_000,
    });
    expect(status.tasks.map((task) => task.state)).toEqual(['RUNNING', 'RUNNING']);
    expect(polls()).toBe(5);
  });

  it('keeps polling through transient errors (5xx, 409 rebalance)', async () => {
    const { client, polls } = await startStatusSequence([
      { status: 500, body: { error_code: 500, message: 'Request timed out' } },
      { status: 409, body: { error_code: 409, message: 'rebalance in progress' } },
      { status: 200, body: makeStatus('RUNNING', ['RUNNING']) },
    ]);
    await waitForConnectorRunning(client, 'pgferry-source', { ...fast, timeoutMs: 5_000 });
    expect(polls()).toBe(3);
  });

  it('fails at once on a FAILED task, showing the first lines of its trace', async () => {
    const trace = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`).join('\n');
    const { client, polls } = await startStatusSequence([
      {
        status: 200,
        body: makeStatus(
          'RUNNING',
          ['FAILED'],
          `org.apache.kafka.connect.errors.ConnectException: boom\n${trace}`,
        ),
      },
      { status: 200, body: makeStatus('RUNNING', ['RUNNING']) },
    ]);
    const error = await catchError(
      waitForConnectorRunning(client, 'pgferry-source', { ...fast, timeoutMs: 5_000 }),
    );
    expect(error).toBeInstanceOf(ConnectorFailedError);
    const message = (error as Error).message;
    expect(message).toContain('connector pgferry-source task 0 FAILED on 127.0.0.1:8083');
    expect(message).toContain('    org.apache.kafka.connect.errors.ConnectException: boom');
    expect(message).toContain('    line 7');
    expect(message).not.toContain('line 8\n');
    expect(message).toContain('... (13 more lines)');
    expect(polls()).toBe(1);
  });

  it('fails on a FAILED connector', async () => {
    const { client } = await startStatusSequence([
      {
        status: 200,
        body: {
          ...makeStatus('FAILED', []),
          connector: { state: 'FAILED', worker_id: 'w1', trace: 'bad slot' },
        },
      },
    ]);
    const error = await catchError(
      waitForConnectorRunning(client, 'pgferry-source', { ...fast, timeoutMs: 5_000 }),
    );
    expect(error).toBeInstanceOf(ConnectorFailedError);
    expect((error as Error).message).toContain(
      'connector pgferry-source FAILED on w1\n    bad slot',
    );
  });

  it('waits out stale FAILED states within the grace period after a write', async () => {
    const { client } = await startStatusSequence([
      { status: 200, body: makeStatus('RUNNING', ['FAILED'], 'old failure') },
      { status: 200, body: makeStatus('RUNNING', ['UNASSIGNED']) },
      { status: 200, body: makeStatus('RUNNING', ['RUNNING']) },
    ]);
    const status = await waitForConnectorRunning(client, 'pgferry-source', {
      ...fast,
      timeoutMs: 5_000,
      staleFailureGraceMs: 2_000,
    });
    expect(status.tasks[0]?.state).toBe('RUNNING');
  });

  it('fails fast on a PAUSED connector, even within the grace period', async () => {
    const { client } = await startStatusSequence([
      { status: 200, body: makeStatus('PAUSED', ['PAUSED']) },
    ]);
    const error = await catchError(
      waitForConnectorRunning(client, 'pgferry-source', {
        ...fast,
        timeoutMs: 5_000,
        staleFailureGraceMs: 5_000,
      }),
    );
    expect(error).toBeInstanceOf(ConnectorFailedError);
    expect((error as Error).message).toContain('is PAUSED');
  });

  it('gives up at the timeout and says what it saw last', async () => {
    const { client } = await startStatusSequence([
      { status: 200, body: makeStatus('RUNNING', ['UNASSIGNED']) },
    ]);
    const started = Date.now();
    const error = await catchError(
      waitForConnectorRunning(client, 'pgferry-source', { ...fast, timeoutMs: 300 }),
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(error).toBeInstanceOf(ConnectorWaitTimeoutError);
    expect((error as Error).message).toContain(
      'connector RUNNING, 0/1 tasks RUNNING (task 0 UNASSIGNED)',
    );
  });

  it('does not retry a non-retriable REST error', async () => {
    const { client, polls } = await startStatusSequence([
      { status: 401, body: { message: 'unauthorized' } },
    ]);
    const error = await catchError(
      waitForConnectorRunning(client, 'pgferry-source', { ...fast, timeoutMs: 5_000 }),
    );
    expect(error).toBeInstanceOf(ConnectRestError);
    expect(polls()).toBe(1);
  });
});

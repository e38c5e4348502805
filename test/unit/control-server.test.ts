// The control endpoint's pause contract (with a scripted runner): POST /pause answers 200 once the
// batch in flight is committed, 202 while it is not (clients poll /healthz), POST /resume 200;
// everything else stays GET-only, and browser-originated POSTs are refused.
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectClient } from '../../core/connect-client.js';
import { ControlClient } from '../../core/control-client.js';
import { createLogger } from '../../core/logger.js';
import { createMetrics } from '../../core/metrics.js';
import { pauseExitCode } from '../../migrate/pause/pause-resume-command.js';
import { setPipelinePaused } from '../../migrate/pause/pipeline-pause.js';
import { startControlServer } from '../../ops/control-server.js';
import type { PauseStatus } from '../../pipeline/runner.js';
import { type FakeConnect, findClosedPort, makeStatus, startFakeConnect } from './fake-connect.js';

/** A runner whose batch in flight finishes when the test says so. */
function makeRunner() {
  let requested = false;
  let busy = false;
  let finishBatch: () => void = () => undefined;
  const runner = {
    ready: true,
    state: 'running',
    stoppedTopics: new Map<string, string>(),
    get pauseStatus(): PauseStatus {
      return { state: 'running', paused: requested && !busy, pausing: requested && busy };
    },
    startBatch() {
      busy = true;
      return new Promise<void>((resolve) => {
        finishBatch = () => {
          busy = false;
          resolve();
        };
      });
    },
    finishBatch: () => finishBatch(),
    inFlight: undefined as Promise<void> | undefined,
    async pause(): Promise<PauseStatus> {
      requested = true;
      await runner.inFlight;
      return runner.pauseStatus;
    },
    resume(): PauseStatus {
      requested = false;
      return runner.pauseStatus;
    },
  };
  return runner;
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function start(runner = makeRunner()) {
  const control = await startControlServer({
    host: '127.0.0.1',
    port: 0,
    metrics: createMetrics(),
    runner,
    log: createLogger('silent'),
  });
  closers.push(control.close);
  return { runner, url: `http://127.0.0.1:${control.port}` };
}

const post = (
  url: string,
  headers: Record<string, string> = { 'content-type': 'application/json' },
) => fetch(url, { method: 'POST', headers, body: '{}' });

describe('control server pause endpoints', () => {
  it('pauses at once when nothing is in flight, reports it on /healthz and /readyz, resumes', async () => {
    const { url } = await start();
    const paused = await post(`${url}/pause`);
    expect(paused.status).toBe(200);
    expect(await paused.json()).toEqual({ state: 'running', paused: true, pausing: false });
    expect(await (await fetch(`${url}/healthz`)).json()).toEqual({
      status: 'ok',
      state: 'running',
      paused: true,
      pausing: false,
    });
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, paused: true });
    const resumed = await post(`${url}/resume`);
    expect(resumed.status).toBe(200);
    expect(await resumed.json()).toEqual({ state: 'running', paused: false, pausing: false });
  });

  it('answers only after the batch in flight commits, or 202 when it takes longer than ?wait', async () => {
    const { runner, url } = await start();
    runner.inFlight = runner.startBatch();
    const early = await post(`${url}/pause?wait=0.2`);
    expect(early.status).toBe(202);
    expect(await early.json()).toEqual({ state: 'running', paused: false, pausing: true });

    const pending = post(`${url}/pause?wait=5`);
    let settled = false;
    void pending.then(() => {
      settled = true;
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(settled).toBe(false);
    runner.finishBatch();
    const late = await pending;
    expect(late.status).toBe(200);
    expect(await late.json()).toMatchObject({ paused: true, pausing: false });
  });

  it('keeps every other path GET-only and /pause POST-only', async () => {
    const { url } = await start();
    for (const [method, path] of [
      ['POST', '/metrics'],
      ['PUT', '/healthz'],
      ['DELETE', '/readyz'],
      ['GET', '/pause'],
      ['PUT', '/resume'],
    ] as const) {
      const response = await fetch(`${url}${path}`, { method });
      expect(response.status, `${method} ${path}`).toBe(405);
    }
    expect((await fetch(`${url}/metrics`)).status).toBe(200);
  });

  it('refuses browser requests and non-JSON posts, and a bad wait', async () => {
    const { runner, url } = await start();
    const browser = await post(`${url}/pause`, {
      'content-type': 'application/json',
      origin: 'https://evil.example',
    });
    expect(browser.status).toBe(403);
    const form = await post(`${url}/pause`, { 'content-type': 'text/plain' });
    expect(form.status).toBe(415);
    expect((await post(`${url}/pause?wait=abc`)).status).toBe(400);
    expect(runner.pauseStatus.paused).toBe(false);
  });

  it('exposes pgferry_paused in /metrics', async () => {
    const { url } = await start();
    expect(await (await fetch(`${url}/metrics`)).text()).toMatch(/^# TYPE pgferry_paused gauge$/m);
  });
});

describe('setPipelinePaused', () => {
  let connect: FakeConnect | undefined;
  afterEach(async () => {
    await connect?.close();
    connect = undefined;
  });

  /** A Connect whose connector takes the requested state after `lagPolls` status reads. */
  async function startConnect(options: { lagPolls?: number; never?: boolean } = {}) {
    let state = 'RUNNING';
    let want = 'RUNNING';
    let polls = 0;
    connect = await startFakeConnect((request) => {
      const action = /\/connectors\/c\/(pause|resume|status)$/.exec(request.path)?.[1];
      if (action === 'pause' || action === 'resume') {
        want = action === 'pause' ? 'PAUSED' : 'RUNNING';
        polls = 0;
        return { status: 202 };
      }
      if (action === 'status') {
        if (!options.never && ++polls > (options.lagPolls ?? 0)) state = want;
        return { status: 200, body: makeStatus(state, [state]) };
      }
      return { status: 404, body: { error_code: 404, message: 'Connector x not found' } };
    });
    return new ConnectClient({ baseUrl: connect.url });
  }

  it('pauses the connector and every pgferry, waiting for each to report it', async () => {
    const client = await startConnect({ lagPolls: 2 });
    const a = await start();
    const b = await start();
    const results = await setPipelinePaused({
      paused: true,
      connector: { client, name: 'c' },
      controlUrls: [a.url, b.url],
      timeoutMs: 5_000,
      pollIntervalMs: 10,
    });
    expect(results.map((r) => [r.component, r.state, r.reached])).toEqual([
      ['connector', 'PAUSED', true],
      ['pgferry', 'paused', true],
      ['pgferry', 'paused', true],
    ]);
    expect(pauseExitCode(results)).toBe(0);
    expect(connect?.requests.filter((r) => r.method === 'PUT').map((r) => r.path)).toEqual([
      '/connectors/c/pause',
    ]);
    const resumed = await setPipelinePaused({
      paused: false,
      connector: { client, name: 'c' },
      controlUrls: [a.url],
      timeoutMs: 5_000,
      pollIntervalMs: 10,
    });
    expect(resumed.map((r) => [r.state, r.reached])).toEqual([
      ['RUNNING', true],
      ['running', true],
    ]);
    expect(a.runner.pauseStatus.paused).toBe(false);
  });

  it('exits 3 when a component does not get there in time, 1 when one cannot be reached', async () => {
    const client = await startConnect({ never: true });
    const slow = await start();
    slow.runner.inFlight = slow.runner.startBatch();
    const results = await setPipelinePaused({
      paused: true,
      connector: { client, name: 'c' },
      controlUrls: [slow.url],
      timeoutMs: 1_500,
      pollIntervalMs: 50,
    });
    expect(results.map((r) => [r.state, r.reached, r.unreachable])).toEqual([
      ['RUNNING', false, false],
      ['running', false, false],
    ]);
    expect(pauseExitCode(results)).toBe(3);
    slow.runner.finishBatch();

    const closed = await findClosedPort();
    const down = await setPipelinePaused({
      paused: true,
      connector: { client, name: 'missing' },
      controlUrls: [`http://127.0.0.1:${closed}`],
      timeoutMs: 1_000,
    });
    expect(down.every((r) => r.unreachable)).toBe(true);
    expect(down[0]?.detail).toMatch(/HTTP 404/);
    expect(pauseExitCode(down)).toBe(1);
  });

  it('the control client rejects an endpoint that is not pgferry', async () => {
    const client = await startConnect();
    const other = new ControlClient({ baseUrl: `${connect?.url}` });
    await expect(other.health()).rejects.toThrow(/is this a pgferry control endpoint/);
    expect(client.baseUrl).toBe(connect?.url);
  });
});

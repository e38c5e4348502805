// Who may pause: POST /pause and /resume need CONTROL_TOKEN as a bearer token when one is set
// (missing or wrong: 401), and with none set are allowed only on an endpoint bound to loopback
// (bound elsewhere: 403, metrics still served). `pgferry pause`/`resume` send the configured token.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlClient } from '../../core/control-client.js';
import { createLogger } from '../../core/logger.js';
import { isLoopbackAddress } from '../../core/loopback-address.js';
import { createMetrics } from '../../core/metrics.js';
import { setPipelinePaused } from '../../migrate/pause/pipeline-pause.js';
import {
  choosePauseAccess,
  createPauseAuthorizer,
  readBearerToken,
} from '../../ops/control-auth.js';
import { startControlServer } from '../../ops/control-server.js';
import type { PauseStatus } from '../../pipeline/runner.js';
import { runPgferryCli } from '../support/cli-run.js';

const TOKEN = 'test-control-token-0123456789';

function makeRunner() {
  const runner = {
    ready: true,
    state: 'running',
    stoppedTopics: new Map<string, string>(),
    paused: false,
    pauses: 0,
    get pauseStatus(): PauseStatus {
      return { state: 'running', paused: runner.paused, pausing: false };
    },
    async pause(): Promise<PauseStatus> {
      runner.pauses += 1;
      runner.paused = true;
      return runner.pauseStatus;
    },
    resume(): PauseStatus {
      runner.paused = false;
      return runner.pauseStatus;
    },
  };
  return runner;
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function start(host: string, token?: string) {
  const runner = makeRunner();
  const warnings: string[] = [];
  const log = createLogger('info', {
    write: (line: string) => {
      const entry = JSON.parse(line) as { level: string; msg: string };
      if (entry.level === 'warn') warnings.push(entry.msg);
    },
  });
  const control = await startControlServer({
    host,
    port: 0,
    metrics: createMetrics(),
    runner,
    log,
    token,
  });
  closers.push(control.close);
  return { runner, control, warnings, url: `http://127.0.0.1:${control.port}` };
}

const post = (url: string, authorization?: string, extra: Record<string, string> = {}) =>
  fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(authorization === undefined ? {} : { authorization }),
      ...extra,
    },
    body: '{}',
  });

describe('isLoopbackAddress / choosePauseAccess', () => {
  it('knows loopback addresses and nothing else', () => {
    for (const address of [
      '127.0.0.1',
      '127.1.2.3',
      '::1',
      '[::1]',
      '::ffff:127.0.0.1',
      'localhost',
      'LOCALHOST',
      '0:0:0:0:0:0:0:1',
    ]) {
      expect(isLoopbackAddress(address), address).toBe(true);
    }
    for (const address of [
      '0.0.0.0',
      '::',
      '10.0.0.1',
      '192.168.1.1',
      '::ffff:10.0.0.1',
      '128.0.0.1',
      '1.127.0.0',
      'pgferry',
      'localhost.evil.example',
      '',
    ]) {
      expect(isLoopbackAddress(address), address).toBe(false);
    }
  });

  it('needs the token whenever one is set, else loopback', () => {
    expect(choosePauseAccess(TOKEN, '127.0.0.1')).toBe('token');
    expect(choosePauseAccess(TOKEN, '0.0.0.0')).toBe('token');
    expect(choosePauseAccess(undefined, '::1')).toBe('loopback');
    expect(choosePauseAccess(undefined, '0.0.0.0')).toBe('refused');
    expect(choosePauseAccess(undefined, '::')).toBe('refused');
  });

  it('reads the bearer credentials only', () => {
    expect(readBearerToken(`Bearer ${TOKEN}`)).toBe(TOKEN);
    expect(readBearerToken(`bearer  ${TOKEN} `)).toBe(TOKEN);
    expect(readBearerToken(`Basic ${TOKEN}`)).toBeUndefined();
    expect(readBearerToken(TOKEN)).toBeUndefined();
    expect(readBearerToken('Bearer')).toBeUndefined();
    expect(readBearerToken(`Bearer ${TOKEN} extra`)).toBeUndefined();
    expect(readBearerToken(undefined)).toBeUndefined();
  });

  it('accepts exactly the token, whatever the length of a wrong one', () => {
    const authorize = createPauseAuthorizer('token', TOKEN);
    expect(authorize(`Bearer ${TOKEN}`)).toBeUndefined();
    for (const wrong of [
      '',
      'Bearer x',
      `Bearer ${TOKEN}x`,
      `Bearer ${TOKEN.slice(0, -1)}`,
      `Bearer ${'y'.repeat(10_000)}`,
    ]) {
      expect(authorize(wrong)?.status, wrong.slice(0, 40)).toBe(401);
    }
    expect(createPauseAuthorizer('refused', undefined)(`Bearer ${TOKEN}`)?.status).toBe(403);
    expect(createPauseAuthorizer('loopback', undefined)(undefined)).toBeUndefined();
  });
});

describe('control server with CONTROL_TOKEN', () => {
  it('refuses a missing or wrong token with 401 and pauses with the right one', async () => {
    const { runner, url, control } = await start('127.0.0.1', TOKEN);
    expect(control.pauseAccess).toBe('token');
    const missing = await post(`${url}/pause?wait=0`);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="pgferry"');
    expect(await missing.text()).not.toContain(TOKEN);
    expect((await post(`${url}/pause?wait=0`, 'Bearer wrong-token-0123456789')).status).toBe(401);
    expect((await post(`${url}/pause?wait=0`, `Bearer ${TOKEN}x`)).status).toBe(401);
    expect((await post(`${url}/resume`, `Basic ${TOKEN}`)).status).toBe(401);
    // The token is checked first: a browser without it learns nothing more.
    expect((await post(`${url}/pause`, undefined, { origin: 'https://evil.example' })).status).toBe(
      401,
    );
    expect(runner.pauses).toBe(0);

    const paused = await post(`${url}/pause?wait=0`, `Bearer ${TOKEN}`);
    expect(paused.status).toBe(200);
    expect(runner.pauses).toBe(1);
    expect((await post(`${url}/resume`, `bearer ${TOKEN}`)).status).toBe(200);
    expect(runner.paused).toBe(false);
    // Holding the token does not lift the browser checks.
    expect(
      (await post(`${url}/pause`, `Bearer ${TOKEN}`, { origin: 'https://evil.example' })).status,
    ).toBe(403);
    // Reading needs no token.
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/metrics`)).status).toBe(200);
  });

  it('the client and setPipelinePaused send the token; without it they say what to set', async () => {
    const { runner, url } = await start('127.0.0.1', TOKEN);
    await expect(new ControlClient({ baseUrl: url }).pause(0)).rejects.toThrow(
      /HTTP 401.*set CONTROL_TOKEN \(or CONTROL_TOKEN_FILE\)/,
    );
    expect(await new ControlClient({ baseUrl: url, token: TOKEN }).pause(0)).toMatchObject({
      paused: true,
    });
    const resumed = await setPipelinePaused({
      paused: false,
      controlUrls: [url],
      controlToken: TOKEN,
      timeoutMs: 2_000,
    });
    expect(resumed.map((r) => [r.state, r.reached])).toEqual([['running', true]]);
    expect(runner.paused).toBe(false);
  });

  it('`pgferry pause --pgferry-only` sends CONTROL_TOKEN or the content of CONTROL_TOKEN_FILE', async () => {
    const { runner, url } = await start('127.0.0.1', TOKEN);
    const without = await runPgferryCli(
      ['pause', '--pgferry-only', '--control-url', url, '--timeout', '2'],
      {},
    );
    expect(without.code).toBe(1);
    expect(without.stdout).toMatch(/unreachable: .*HTTP 401/);
    expect(runner.pauses).toBe(0);

    const withToken = await runPgferryCli(
      ['pause', '--pgferry-only', '--control-url', url, '--timeout', '2'],
      { CONTROL_TOKEN: TOKEN },
    );
    expect(withToken.stdout).toBe(`pgferry ${url}: paused\n`);
    expect(withToken.code).toBe(0);

    const dir = mkdtempSync(join(tmpdir(), 'pgferry-token-'));
    try {
      const file = join(dir, 'token');
      writeFileSync(file, `  ${TOKEN}\n`);
      const fromFile = await runPgferryCli(['resume', '--pgferry-only', '--control-url', url], {
        CONTROL_TOKEN_FILE: file,
      });
      expect(fromFile.stdout).toBe(`pgferry ${url}: resumed\n`);
      expect(runner.paused).toBe(false);
      const missingFile = await runPgferryCli(['resume', '--pgferry-only', '--control-url', url], {
        CONTROL_TOKEN_FILE: join(dir, 'none'),
      });
      expect(missingFile.code).toBe(2);
      expect(missingFile.stderr).toMatch(/CONTROL_TOKEN_FILE: cannot read .*none \(ENOENT\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('control server without a token', () => {
  it('allows pause/resume when bound to loopback', async () => {
    for (const host of ['127.0.0.1', 'localhost']) {
      const { runner, url, control, warnings } = await start(host);
      expect(control.pauseAccess, host).toBe('loopback');
      expect(warnings).toEqual([]);
      // On localhost the server may have bound ::1: ask it where it listens.
      const address = control.server.address();
      const base =
        typeof address === 'object' && address?.family === 'IPv6'
          ? `http://[::1]:${control.port}`
          : url;
      expect((await post(`${base}/pause?wait=0`)).status).toBe(200);
      expect(runner.pauses).toBe(1);
    }
  });

  it('refuses pause/resume with 403 when bound elsewhere, keeps serving metrics, and warns', async () => {
    const { runner, url, control, warnings } = await start('0.0.0.0');
    expect(control.pauseAccess).toBe('refused');
    expect(warnings).toEqual([
      'POST /pause and /resume are refused (403): the control endpoint is not bound to loopback and no CONTROL_TOKEN is set',
    ]);
    const pause = await post(`${url}/pause?wait=0`, `Bearer ${TOKEN}`);
    expect(pause.status).toBe(403);
    expect(await pause.json()).toEqual({
      error:
        'pause/resume are disabled: this endpoint is not bound to loopback and no CONTROL_TOKEN is set',
    });
    expect((await post(`${url}/resume`)).status).toBe(403);
    expect(runner.pauses).toBe(0);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/metrics`)).status).toBe(200);
  });

  it('with a token, bound elsewhere, the token is the way in', async () => {
    const { runner, url, control } = await start('0.0.0.0', TOKEN);
    expect(control.pauseAccess).toBe('token');
    expect((await post(`${url}/pause?wait=0`)).status).toBe(401);
    expect((await post(`${url}/pause?wait=0`, `Bearer ${TOKEN}`)).status).toBe(200);
    expect(runner.pauses).toBe(1);
  });
});

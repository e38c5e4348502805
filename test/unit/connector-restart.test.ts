// CONNECTOR_AUTO_RESTART: the restart policy (pure) and the monitor restarting a FAILED task
// through a scripted Connect REST stand-in, with its log lines and metrics.
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../core/logger.js';
import { createMetrics } from '../../core/metrics.js';
import { startConnectorMonitor } from '../../ops/monitors/connector-monitor.js';
import {
  DEFAULT_RESTART_POLICY,
  decideRestart,
  initialRestartState,
  restartDelayMs,
} from '../../ops/monitors/connector-restart-policy.js';
import { type FakeConnect, startFakeConnect } from './fake-connect.js';

const policy = { maxAttempts: 3, firstDelayMs: 1000, maxDelayMs: 3000, stableMs: 10_000 };
const FAILED = { failed: true, running: false };
const RUNNING = { failed: false, running: true };

describe('decideRestart', () => {
  it('waits, then restarts with a doubling pause, then gives up once', () => {
    const state = initialRestartState();
    expect(decideRestart(state, FAILED, 0, policy)).toEqual({ kind: 'wait', untilMs: 1000 });
    expect(decideRestart(state, FAILED, 1000, policy)).toEqual({ kind: 'restart', attempt: 1 });
    expect(decideRestart(state, FAILED, 2500, policy)).toEqual({ kind: 'wait', untilMs: 3000 });
    expect(decideRestart(state, FAILED, 3000, policy)).toEqual({ kind: 'restart', attempt: 2 });
    // Capped at maxDelayMs (not 4000).
    expect(decideRestart(state, FAILED, 5999, policy).kind).toBe('wait');
    expect(decideRestart(state, FAILED, 6000, policy)).toEqual({ kind: 'restart', attempt: 3 });
    expect(decideRestart(state, FAILED, 60_000, policy)).toEqual({ kind: 'give-up', attempts: 3 });
    // Given up: said once, then silent while it stays FAILED.
    expect(decideRestart(state, FAILED, 70_000, policy)).toEqual({ kind: 'none' });
    expect(state.gaveUp).toBe(true);
  });

  it('counts from zero again after the task ran for stableMs, or at once after giving up', () => {
    const state = initialRestartState();
    decideRestart(state, FAILED, 0, policy);
    decideRestart(state, FAILED, 1000, policy);
    expect(state.attempts).toBe(1);
    decideRestart(state, RUNNING, 2000, policy);
    decideRestart(state, RUNNING, 11_000, policy);
    expect(state.attempts).toBe(1);
    decideRestart(state, RUNNING, 12_000, policy);
    expect(state.attempts).toBe(0);
    const exhausted = { ...initialRestartState(), attempts: 3, gaveUp: true };
    decideRestart(exhausted, RUNNING, 0, policy);
    expect(exhausted).toMatchObject({ attempts: 0, gaveUp: false });
  });

  it('gives the defaults a half-hour reach', () => {
    let total = 0;
    for (let n = 1; n <= DEFAULT_RESTART_POLICY.maxAttempts; n++)
      total += restartDelayMs(n, DEFAULT_RESTART_POLICY);
    expect(total).toBeGreaterThan(25 * 60_000);
  });
});

describe('startConnectorMonitor with auto-restart', () => {
  let fake: FakeConnect | undefined;
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  it('restarts a FAILED task through Connect, counts it, and alerts when it gives up', async () => {
    let taskState = 'FAILED';
    fake = await startFakeConnect((request) => {
      if (request.method === 'GET')
        return {
          status: 200,
          body: {
            name: 'src',
            connector: { state: 'RUNNING', worker_id: 'w' },
            tasks: [
              {
                id: 0,
                state: taskState,
                worker_id: 'w',
                trace:
                  'org.apache.kafka.connect.errors.ConnectException: Tolerance exceeded in error handler\n\tat ...',
              },
            ],
            type: 'source',
          },
        };
      return { status: 202 };
    });
    const lines: string[] = [];
    const log = createLogger('info', { write: (line: string) => void lines.push(line) });
    const metrics = createMetrics();
    let clock = 0;
    const stop = startConnectorMonitor({
      url: fake.url,
      name: 'src',
      metrics,
      log,
      intervalMs: 20,
      autoRestart: { maxAttempts: 2, firstDelayMs: 0, maxDelayMs: 0 },
      now: () => clock,
    });
    try {
      const restarts = () =>
        fake?.requests.filter((r) => r.method === 'POST').map((r) => r.path) ?? [];
      await waitUntil(() => restarts().length >= 2);
      expect(restarts()[0]).toBe('/connectors/src/restart?includeTasks=true&onlyFailed=true');
      await waitUntil(() => lines.some((l) => l.includes('still FAILED after the restarts')));
      expect(restarts()).toHaveLength(2);
      const text = await metrics.registry.metrics();
      expect(text).toContain('pgferry_connector_restarts_total{connector="src"} 2');
      expect(text).toContain('pgferry_connector_restarts_exhausted{connector="src"} 1');
      expect(
        lines.filter((l) => l.includes('restarting it (CONNECTOR_AUTO_RESTART)')),
      ).toHaveLength(2);
      expect(lines.join('\n')).toContain('Tolerance exceeded in error handler');
      // Someone restarted it by hand: running again clears the alert.
      taskState = 'RUNNING';
      clock += 1;
      await waitUntil(async () =>
        (await metrics.registry.metrics()).includes(
          'pgferry_connector_restarts_exhausted{connector="src"} 0',
        ),
      );
    } finally {
      stop();
    }
  });
});

async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

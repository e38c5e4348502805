// Fuzz of pgferry's HTTP endpoints (issue 15): the real control server (with a CONTROL_TOKEN) and
// the copy's metrics server, in-process, get at least 10,000 generated requests over raw sockets —
// random methods, malformed request lines (`GET //[ HTTP/1.1`, the request that used to stop the
// process), % escapes, overlong paths, huge headers, bad Content-Length, pipelined garbage, slow,
// half-closed and cut connections, and a burst of connections. Every request not cut on purpose
// gets an answer, none a 5xx; nothing pauses without the token; both servers serve /healthz and
// /metrics afterwards. The seed is printed; PGFERRY_FUZZ_SEED=<seed> replays a run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../core/logger.js';
import { createCopyMetrics, createMetrics } from '../../core/metrics.js';
import { startControlServer } from '../../ops/control-server.js';
import type { HttpEndpointLimits } from '../../ops/http-endpoint.js';
import { startMetricsServer } from '../../ops/metrics-server.js';
import type { PauseStatus } from '../../pipeline/runner.js';
import { createSeededRandom, type FuzzCase, generateCase, slowCases } from './http-fuzz-cases.js';
import { exchangeRaw, type RawOutcome } from './raw-http-exchange.js';

const SEED = Number(process.env.PGFERRY_FUZZ_SEED ?? 0x9f3e_2c71);
const MIN_ANSWERED_REQUESTS = 10_000;
/** Connections open at once (the server allows 256; the burst below stays under it too). */
const CONCURRENCY = 32;
const BURST = 200;
const TOKEN = 'fuzz-control-token-0123456789abcdef';

/** Short timeouts so slow clients are cut within the test's time. */
const LIMITS: Partial<HttpEndpointLimits> = {
  headersTimeoutMs: 1_000,
  requestTimeoutMs: 2_000,
  keepAliveTimeoutMs: 500,
  timeoutCheckIntervalMs: 100,
};

/** A runner that only counts: any pause or resume the fuzz causes is a failure. */
const runner = {
  ready: true,
  state: 'running',
  stoppedTopics: new Map<string, string>(),
  pauses: 0,
  resumes: 0,
  paused: false,
  get pauseStatus(): PauseStatus {
    return { state: 'running', paused: runner.paused, pausing: false };
  },
  async pause(): Promise<PauseStatus> {
    runner.pauses += 1;
    runner.paused = true;
    return runner.pauseStatus;
  },
  resume(): PauseStatus {
    runner.resumes += 1;
    runner.paused = false;
    return runner.pauseStatus;
  },
};

const logLines: { level: string; msg: string }[] = [];
const log = createLogger('info', {
  write: (line: string) => {
    logLines.push(JSON.parse(line) as { level: string; msg: string });
  },
});

let control: Awaited<ReturnType<typeof startControlServer>>;
let copyMetrics: Awaited<ReturnType<typeof startMetricsServer>>;

beforeAll(async () => {
  control = await startControlServer({
    host: '127.0.0.1',
    port: 0,
    metrics: createMetrics(),
    runner,
    log,
    token: TOKEN,
    limits: LIMITS,
  });
  copyMetrics = await startMetricsServer({
    host: '127.0.0.1',
    port: 0,
    registry: createCopyMetrics().registry,
    log,
    limits: LIMITS,
  });
});

afterAll(async () => {
  await control?.close();
  await copyMetrics?.close();
});

interface Failure {
  index: number;
  kind: string;
  target: string;
  why: string;
  sent: string;
  got: string;
}

function judge(fuzzCase: FuzzCase, outcome: RawOutcome): string | undefined {
  const statuses = outcome.responses.map((r) => r.status);
  if (outcome.leftover !== '')
    return `malformed answer bytes: ${JSON.stringify(outcome.leftover.slice(0, 120))}`;
  const serverError = statuses.find((s) => s >= 500);
  if (serverError !== undefined) return `answered ${serverError}`;
  if (outcome.end === 'timeout') return `no close within ${fuzzCase.exchange.timeoutMs} ms`;
  const { expect: wanted } = fuzzCase;
  if (wanted === 'none') return undefined;
  if ('exactly' in wanted && statuses.length !== wanted.exactly) {
    return `expected ${wanted.exactly} answers, got ${statuses.length}`;
  }
  if ('atLeast' in wanted && statuses.length < wanted.atLeast) {
    return `expected at least ${wanted.atLeast} answers, got ${statuses.length}`;
  }
  return undefined;
}

async function runCases(
  cases: readonly FuzzCase[],
  concurrency: number,
  failures: Failure[],
  statuses: Map<number, number>,
) {
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const fuzzCase = cases[next++] as FuzzCase;
      const port = fuzzCase.target === 'control' ? control.port : copyMetrics.port;
      const outcome = await exchangeRaw(port, fuzzCase.exchange);
      for (const { status } of outcome.responses)
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      const why = judge(fuzzCase, outcome);
      if (why !== undefined) {
        failures.push({
          index: fuzzCase.index,
          kind: fuzzCase.kind,
          target: fuzzCase.target,
          why,
          sent: JSON.stringify(
            Buffer.concat(fuzzCase.exchange.pieces).toString('latin1').slice(0, 300),
          ),
          got: `${outcome.responses.map((r) => r.status).join(',')} end=${outcome.end}${outcome.error ? ` ${outcome.error}` : ''}`,
        });
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

describe('HTTP endpoints under fuzzing', () => {
  it(`answers ${MIN_ANSWERED_REQUESTS}+ generated requests, never 5xx, never pauses without the token`, async () => {
    console.log(`http endpoint fuzz: seed ${SEED} (replay: PGFERRY_FUZZ_SEED=${SEED})`);
    const random = createSeededRandom(SEED);
    const cases: FuzzCase[] = [];
    let requests = 0;
    while (requests < MIN_ANSWERED_REQUESTS) {
      const fuzzCase = generateCase(random, cases.length, TOKEN);
      cases.push(fuzzCase);
      requests += fuzzCase.requests;
    }
    const slow = slowCases(cases.length);
    const burst: FuzzCase[] = Array.from({ length: BURST }, (_, i) => ({
      index: cases.length + slow.length + i,
      target: i % 2 === 0 ? 'control' : 'metrics',
      kind: 'burst',
      requests: 1,
      expect: { exactly: 1 },
      exchange: {
        pieces: [Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')],
        finish: 'half-close',
        timeoutMs: 10_000,
      },
    }));

    const failures: Failure[] = [];
    const statuses = new Map<number, number>();
    const started = Date.now();
    await Promise.all([
      runCases(slow, slow.length, failures, statuses),
      runCases(cases, CONCURRENCY, failures, statuses),
    ]);
    await runCases(burst, BURST, failures, statuses);
    const answered = [...cases, ...slow, ...burst].reduce((sum, c) => sum + c.requests, 0);
    const cut = cases.filter((c) => c.expect === 'none').length;
    console.log(
      `http endpoint fuzz: seed ${SEED}: ${cases.length + slow.length + burst.length} connections, ${answered} requests answered, ${cut} cut on purpose, ${Date.now() - started} ms; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}`,
    );

    expect(failures.slice(0, 20), `seed ${SEED}: ${failures.length} failing connections`).toEqual(
      [],
    );
    expect(answered).toBeGreaterThanOrEqual(MIN_ANSWERED_REQUESTS);
    expect({ pauses: runner.pauses, resumes: runner.resumes, paused: runner.paused }).toEqual({
      pauses: 0,
      resumes: 0,
      paused: false,
    });
    // No request made a route throw (each would be an error line and a 500).
    expect(logLines.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);

    for (const port of [control.port, copyMetrics.port]) {
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(200);
      const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toMatch(/^# TYPE pgferry_/m);
    }
    // And the token still works after all that.
    const paused = await fetch(`http://127.0.0.1:${control.port}/pause?wait=0`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: '{}',
    });
    expect(paused.status).toBe(200);
    expect(runner.pauses).toBe(1);
  }, 90_000);
});

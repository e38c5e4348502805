// HTTP endpoint of a running pgferry: /metrics (Prometheus), /healthz (process alive, paused or
// not), /readyz (running, in the consumer group, no table stopped; a pause is intended, so still
// ready), and the operator's POST /pause and POST /resume. Binds to loopback unless told otherwise.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PgferryMetrics } from '../core/metrics.js';
import type { PauseStatus } from '../pipeline/runner.js';

export interface ReadinessSource {
  readonly ready: boolean;
  readonly state: string;
  readonly stoppedTopics: ReadonlyMap<string, string>;
  /** While starting: the service it is retrying and why (an unreachable Kafka, a target down). */
  readonly waitingFor?: string | undefined;
}

/** What POST /pause and /resume drive (the runner). */
export interface PauseTarget {
  readonly pauseStatus: PauseStatus;
  pause(): Promise<PauseStatus>;
  resume(): PauseStatus;
}

/** How long POST /pause waits for the batch in flight before answering 202 (pausing). */
export const DEFAULT_PAUSE_WAIT_SECONDS = 30;
const MAX_PAUSE_WAIT_SECONDS = 300;

export async function startControlServer(options: {
  host: string;
  port: number;
  metrics: PgferryMetrics;
  runner: ReadinessSource & PauseTarget;
}): Promise<{ server: Server; port: number; close: () => Promise<void> }> {
  const { metrics, runner } = options;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://pgferry');
    const path = url.pathname;
    if (path === '/pause' || path === '/resume') {
      if (req.method !== 'POST') {
        res.writeHead(405, { allow: 'POST' }).end();
        return;
      }
      const refusal = refuseBrowserRequest(req);
      if (refusal !== undefined) {
        sendJson(res, refusal.status, { error: refusal.message });
        return;
      }
      // Drain the (ignored) body so the connection can be reused.
      req.resume();
      if (path === '/resume') {
        sendJson(res, 200, runner.resume());
        return;
      }
      const waitSeconds = parseWaitSeconds(url.searchParams.get('wait'));
      if (waitSeconds === undefined) {
        sendJson(res, 400, { error: `wait: expected seconds from 0 to ${MAX_PAUSE_WAIT_SECONDS}` });
        return;
      }
      answerPause(runner, waitSeconds * 1000).then(
        ({ status, body }) => sendJson(res, status, body),
        (error: Error) => sendJson(res, 500, { error: error.message }),
      );
      return;
    }
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    if (path === '/metrics') {
      metrics.registry
        .metrics()
        .then((body) =>
          res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body),
        )
        .catch((error: Error) => res.writeHead(500).end(error.message));
      return;
    }
    if (path === '/healthz') {
      const { paused, pausing } = runner.pauseStatus;
      sendJson(res, 200, { status: 'ok', state: runner.state, paused, pausing });
      return;
    }
    if (path === '/readyz') {
      const stopped = Object.fromEntries(runner.stoppedTopics);
      const ready = runner.ready && runner.stoppedTopics.size === 0;
      sendJson(res, ready ? 200 : 503, {
        ready,
        state: runner.state,
        paused: runner.pauseStatus.paused,
        stoppedTables: stopped,
        ...(runner.waitingFor === undefined ? {} : { waitingFor: runner.waitingFor }),
      });
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Scrapers keep connections alive; they must not hold up shutdown.
        server.closeAllConnections();
      }),
  };
}

/** 200 once paused; 202 while the batch in flight is still being committed (poll /healthz). */
async function answerPause(
  runner: PauseTarget,
  waitMs: number,
): Promise<{ status: number; body: PauseStatus }> {
  let timer: NodeJS.Timeout | undefined;
  const waited = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, waitMs);
  });
  try {
    await Promise.race([runner.pause(), waited]);
  } finally {
    clearTimeout(timer);
  }
  const body = runner.pauseStatus;
  return { status: body.paused ? 200 : 202, body };
}

function parseWaitSeconds(raw: string | null): number | undefined {
  if (raw === null) return DEFAULT_PAUSE_WAIT_SECONDS;
  const seconds = Number(raw);
  if (!/^\d*\.?\d+$/.test(raw) || seconds > MAX_PAUSE_WAIT_SECONDS) return undefined;
  return seconds;
}

/**
 * A web page the operator visits could POST to a loopback port (a "simple" request needs no CORS
 * preflight) or reach it through DNS rebinding. Browsers always send Origin on a POST and cannot
 * send a JSON content type without a preflight we never answer; pgferry's CLI and curl do neither.
 */
function refuseBrowserRequest(
  req: IncomingMessage,
): { status: number; message: string } | undefined {
  if (req.headers.origin !== undefined) {
    return { status: 403, message: 'requests from browsers (with an Origin header) are refused' };
  }
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') {
    return { status: 415, message: 'send content-type: application/json' };
  }
  return undefined;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

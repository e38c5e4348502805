// HTTP endpoint of a running pgferry: /metrics (Prometheus), /healthz (process alive, paused or
// not), /readyz (running, in the consumer group, no table stopped; a pause is intended, so still
// ready), and the operator's POST /pause and POST /resume (CONTROL_TOKEN, or loopback only: see
// control-auth.ts). Binds to loopback unless told otherwise; http-endpoint.ts bounds the rest.
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { Logger } from '../core/logger.js';
import type { PgferryMetrics } from '../core/metrics.js';
import type { PauseStatus } from '../pipeline/runner.js';
import { choosePauseAccess, createPauseAuthorizer, type PauseAccess } from './control-auth.js';
import {
  answerJson,
  type EndpointAnswer,
  type EndpointRequest,
  type HttpEndpointLimits,
  startHttpEndpoint,
} from './http-endpoint.js';

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

export interface ControlServer {
  readonly server: Server;
  readonly port: number;
  /** How POST /pause and /resume are authorized on this endpoint. */
  readonly pauseAccess: PauseAccess;
  close(): Promise<void>;
}

export async function startControlServer(options: {
  host: string;
  port: number;
  metrics: PgferryMetrics;
  runner: ReadinessSource & PauseTarget;
  log: Logger;
  /** CONTROL_TOKEN: required as a bearer token on POST /pause and /resume when set. */
  token?: string | undefined;
  limits?: Partial<HttpEndpointLimits> | undefined;
}): Promise<ControlServer> {
  const { metrics, runner, token } = options;
  // Decided once the address is bound (`localhost` may resolve either way); until then refuse.
  let authorize = createPauseAuthorizer('refused', undefined);
  const route = async (request: EndpointRequest): Promise<EndpointAnswer> => {
    const { method, path } = request;
    if (path === '/pause' || path === '/resume') {
      if (method !== 'POST') return { status: 405, headers: { allow: 'POST' } };
      const refusal =
        authorize(request.headers.authorization) ?? refuseBrowserRequest(request.headers);
      if (refusal !== undefined) {
        return answerJson(refusal.status, { error: refusal.message }, refusal.headers);
      }
      if (path === '/resume') return answerJson(200, runner.resume());
      const waitSeconds = parseWaitSeconds(request.query.get('wait'));
      if (waitSeconds === undefined) {
        return answerJson(400, {
          error: `wait: expected seconds from 0 to ${MAX_PAUSE_WAIT_SECONDS}`,
        });
      }
      const { status, body } = await answerPause(runner, waitSeconds * 1000, options.log);
      return answerJson(status, body);
    }
    if (method !== 'GET') return { status: 405, headers: { allow: 'GET' } };
    if (path === '/metrics') {
      const body = await metrics.registry.metrics();
      return { status: 200, headers: { 'content-type': metrics.registry.contentType }, body };
    }
    if (path === '/healthz') {
      const { paused, pausing } = runner.pauseStatus;
      return answerJson(200, { status: 'ok', state: runner.state, paused, pausing });
    }
    if (path === '/readyz') {
      const stopped = Object.fromEntries(runner.stoppedTopics);
      const ready = runner.ready && runner.stoppedTopics.size === 0;
      return answerJson(ready ? 200 : 503, {
        ready,
        state: runner.state,
        paused: runner.pauseStatus.paused,
        stoppedTables: stopped,
        ...(runner.waitingFor === undefined ? {} : { waitingFor: runner.waitingFor }),
      });
    }
    return { status: 404 };
  };
  const endpoint = await startHttpEndpoint({
    name: 'control',
    host: options.host,
    port: options.port,
    log: options.log,
    route,
    limits: options.limits,
  });
  const pauseAccess = choosePauseAccess(token, endpoint.address);
  authorize = createPauseAuthorizer(pauseAccess, token);
  if (pauseAccess === 'refused') {
    options.log.warn(
      { host: options.host, address: endpoint.address, port: endpoint.port },
      'POST /pause and /resume are refused (403): the control endpoint is not bound to loopback and no CONTROL_TOKEN is set',
    );
  }
  return {
    server: endpoint.server,
    port: endpoint.port,
    pauseAccess,
    close: endpoint.close,
  };
}

/** 200 once paused; 202 while the batch in flight is still being committed (poll /healthz). */
async function answerPause(
  runner: PauseTarget,
  waitMs: number,
  log: Logger,
): Promise<{ status: number; body: PauseStatus }> {
  let timer: NodeJS.Timeout | undefined;
  const waited = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, waitMs);
  });
  const pausing = runner.pause();
  // Once the wait has answered 202, a later failure has no request to fail: log it, so it can
  // never surface as an unhandled rejection.
  pausing.catch((error: unknown) =>
    log.warn({ err: error instanceof Error ? error.message : String(error) }, 'pause failed'),
  );
  try {
    await Promise.race([pausing, waited]);
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
  headers: IncomingHttpHeaders,
): { status: number; message: string; headers?: undefined } | undefined {
  if (headers.origin !== undefined) {
    return { status: 403, message: 'requests from browsers (with an Origin header) are refused' };
  }
  const type = (headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') {
    return { status: 415, message: 'send content-type: application/json' };
  }
  return undefined;
}

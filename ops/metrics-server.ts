// A /metrics (and /healthz) endpoint for a short-lived command such as `pgferry copy`, which has
// no runner to pause or to ask for readiness. Anything else is 404; only GET is served. The
// listener (http-endpoint.ts) bounds what a client may send and answers every request.
import { pino } from 'pino';
import type { Registry } from 'prom-client';
import { createLogger, type Logger } from '../core/logger.js';
import {
  answerJson,
  type EndpointAnswer,
  type EndpointRequest,
  type HttpEndpointLimits,
  startHttpEndpoint,
} from './http-endpoint.js';

export async function startMetricsServer(options: {
  host: string;
  port: number;
  registry: Registry;
  /** Where a failed request is logged; unset: JSON lines on stderr (stdout is a command's output). */
  log?: Logger | undefined;
  limits?: Partial<HttpEndpointLimits> | undefined;
}): Promise<{ port: number; close: () => Promise<void> }> {
  const { registry } = options;
  const route = async (request: EndpointRequest): Promise<EndpointAnswer> => {
    if (request.method !== 'GET') return { status: 405, headers: { allow: 'GET' } };
    if (request.path === '/metrics') {
      const body = await registry.metrics();
      return { status: 200, headers: { 'content-type': registry.contentType }, body };
    }
    if (request.path === '/healthz') return answerJson(200, { status: 'ok' });
    return { status: 404 };
  };
  const endpoint = await startHttpEndpoint({
    name: 'metrics',
    host: options.host,
    port: options.port,
    log: options.log ?? createLogger('info', pino.destination(2)),
    route,
    limits: options.limits,
  });
  return { port: endpoint.port, close: endpoint.close };
}

// An in-process HTTP service (standing in for the schema registry or Kafka Connect) that fails in
// one chosen way and records the Authorization header of every request, so tests see both what
// pgferry sent and what it made of a bad answer. 'unreachable' is a port nothing listens on.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export const FAILURE_MODES = [
  'unauthorized',
  'server-error',
  'garbage',
  'echo',
  'unreachable',
] as const;
export type FailureMode = (typeof FAILURE_MODES)[number];

export interface MisbehavingService {
  /** Base URL, e.g. http://127.0.0.1:41234 (no credentials). */
  url: string;
  port: number;
  /** The Authorization header of each request, in order (undefined when none was sent). */
  authorizations: (string | undefined)[];
  close(): Promise<void>;
}

/** Starts the service; 'unreachable' reserves a port and closes it again. */
export async function startMisbehavingService(mode: FailureMode): Promise<MisbehavingService> {
  const authorizations: (string | undefined)[] = [];
  const server: Server = createServer((req, res) => {
    authorizations.push(req.headers.authorization);
    req.resume();
    req.on('end', () => answer(mode, req.method ?? 'GET', req.url ?? '/', req.headers, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  if (mode === 'unreachable') await close();
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    authorizations,
    close: mode === 'unreachable' ? async () => undefined : close,
  };
}

function answer(
  mode: FailureMode,
  method: string,
  path: string,
  headers: Record<string, unknown>,
  res: import('node:http').ServerResponse,
): void {
  switch (mode) {
    case 'unauthorized':
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic' });
      res.end('{"error_code":40101,"message":"Unauthorized"}');
      return;
    case 'server-error':
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('java.lang.NullPointerException\n\tat somewhere(Unknown Source)');
      return;
    case 'garbage':
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('<html>\u0000\u00ff not json {{{');
      return;
    default:
      // A broken or hostile proxy: it repeats the request, credentials included, in its answer.
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ error_code: 502, message: `bad gateway for ${method} ${path}`, headers }),
      );
  }
}

// The listener under pgferry's HTTP endpoints (the control server, the copy's metrics server).
// Whatever a client sends — a malformed request line, an odd path, huge headers, a body it never
// finishes, a flood — it gets a 4xx or 5xx at worst: a route's exception answers 500 and is
// logged, and nothing a request does can throw out of here and stop the process.
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from '../core/logger.js';

/** Bounds on what one client may hold of the endpoint. */
export interface HttpEndpointLimits {
  /** Request line plus headers; pgferry's clients and Prometheus send a few hundred bytes. */
  maxHeaderBytes: number;
  /** Until the headers are complete: a client that trickles them (slowloris) gets 408. */
  headersTimeoutMs: number;
  /** Until the whole request (headers and body) is in; the answer may take longer (a pause). */
  requestTimeoutMs: number;
  /** An idle kept-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** How often the two timeouts above are enforced (Node's own default is every 30 s). */
  timeoutCheckIntervalMs: number;
  /** Open connections at once; beyond it new ones are closed unanswered (bounds sockets). */
  maxConnections: number;
  /** A declared body beyond this is refused with 413: no endpoint reads more than `{}`. */
  maxBodyBytes: number;
}

export const DEFAULT_HTTP_ENDPOINT_LIMITS: HttpEndpointLimits = {
  maxHeaderBytes: 8 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  timeoutCheckIntervalMs: 1_000,
  maxConnections: 256,
  maxBodyBytes: 16 * 1024,
};

/** A request whose target parsed: what a route decides on. */
export interface EndpointRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
}

/** What a route answers; the endpoint writes it with its length, once. */
export interface EndpointAnswer {
  status: number;
  headers?: Readonly<Record<string, string>>;
  body?: string;
}

export type EndpointRoute = (request: EndpointRequest) => EndpointAnswer | Promise<EndpointAnswer>;

export interface HttpEndpoint {
  readonly server: Server;
  readonly port: number;
  /** The address actually bound (what `localhost` resolved to, `0.0.0.0`, `::`, ...). */
  readonly address: string;
  close(): Promise<void>;
}

export function answerJson(
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): EndpointAnswer {
  return {
    status,
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  };
}

/**
 * The path and query of an origin-form target (`/path?query`). Anything else — `*`, an absolute
 * URL, a target URL parsing rejects — is undefined (400). Parsed against a fixed base so a target
 * such as `//[` is a path, not a host (`new URL('//[', base)` throws: the crash this replaces).
 */
export function readRequestTarget(
  rawTarget: string | undefined,
): { path: string; query: URLSearchParams } | undefined {
  if (rawTarget === undefined || !rawTarget.startsWith('/')) return undefined;
  const text = `http://endpoint${rawTarget}`;
  if (!URL.canParse(text)) return undefined;
  const url = new URL(text);
  return { path: url.pathname, query: url.searchParams };
}

/** Starts the endpoint; `route` answers every request whose target parsed. */
export async function startHttpEndpoint(options: {
  /** Names the endpoint in log lines. */
  name: string;
  host: string;
  port: number;
  log: Logger;
  route: EndpointRoute;
  limits?: Partial<HttpEndpointLimits> | undefined;
}): Promise<HttpEndpoint> {
  const { name, log, route } = options;
  const limits = { ...DEFAULT_HTTP_ENDPOINT_LIMITS, ...options.limits };
  const responses = new ResponseTracker();
  const server = createServer(
    {
      maxHeaderSize: limits.maxHeaderBytes,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: limits.timeoutCheckIntervalMs,
    },
    (req, res) => {
      responses.open(req.socket, res);
      // serveRequest answers every failure itself; should even that throw, drop the connection.
      serveRequest(req, res, { name, log, route, maxBodyBytes: limits.maxBodyBytes }).catch(() =>
        res.destroy(),
      );
    },
  );
  server.maxConnections = limits.maxConnections;
  // A request the parser rejects (bad request line, header overflow, timeout) has no response
  // object: answer on the socket, after the answers still owed to earlier pipelined requests.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    const status = statusOfClientError(error.code);
    if (status === undefined || !socket.writable) {
      socket.destroy();
      return;
    }
    responses.whenIdle(socket, () => answerOnSocket(socket, status));
  });
  // CONNECT hands the socket over; unanswered, Node would drop it silently. Node no longer
  // watches the socket's errors then, so this does (a reset would otherwise stop the process).
  server.on('connect', (_req: IncomingMessage, socket: Socket) => {
    socket.on('error', () => socket.destroy());
    responses.whenIdle(socket, () => answerOnSocket(socket, 405));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // After listening, an error (accept failing with EMFILE in a flood) is logged, not thrown:
  // an unhandled 'error' event would stop the process.
  server.on('error', (error: NodeJS.ErrnoException) => {
    log.warn({ endpoint: name, code: error.code, err: error.message }, 'http endpoint error');
  });
  const bound = server.address() as AddressInfo;
  return {
    server,
    port: bound.port,
    address: bound.address,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Scrapers keep connections alive; they must not hold up shutdown.
        server.closeAllConnections();
      }),
  };
}

async function serveRequest(
  req: IncomingMessage,
  res: ServerResponse,
  context: { name: string; log: Logger; route: EndpointRoute; maxBodyBytes: number },
): Promise<void> {
  // A write after the client went away must not become an unhandled 'error' event.
  res.on('error', () => res.destroy());
  let answer: EndpointAnswer;
  try {
    answer = await answerRequest(req, context.route, context.maxBodyBytes);
  } catch (error) {
    context.log.error(
      { endpoint: context.name, ...describeRequest(req), err: describeError(error) },
      'http endpoint: request failed; answered 500',
    );
    answer = answerJson(500, { error: 'internal error' });
  }
  if (res.headersSent || res.destroyed) return;
  try {
    const body = answer.body ?? '';
    res.writeHead(answer.status, {
      ...answer.headers,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  } catch (error) {
    // Only a route's malformed header gets here; the client gets a closed connection.
    context.log.error(
      { endpoint: context.name, ...describeRequest(req), err: describeError(error) },
      'http endpoint: answer could not be written',
    );
    res.destroy();
  }
}

async function answerRequest(
  req: IncomingMessage,
  route: EndpointRoute,
  maxBodyBytes: number,
): Promise<EndpointAnswer> {
  const target = readRequestTarget(req.url);
  if (target === undefined) {
    return answerJson(400, { error: 'expected a request target of the form /path?query' });
  }
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBodyBytes) {
    // Node would read and discard that body to keep the connection: close it instead.
    return answerJson(
      413,
      { error: `request body over ${maxBodyBytes} bytes` },
      { connection: 'close' },
    );
  }
  return route({
    method: req.method ?? '',
    path: target.path,
    query: target.query,
    headers: req.headers,
  });
}

/** Parser errors are the client's (400), except an overlong header block and a timeout. */
function statusOfClientError(code: string | undefined): number | undefined {
  if (code === 'HPE_HEADER_OVERFLOW') return 431;
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 408;
  if (code?.startsWith('HPE_')) return 400;
  // ECONNRESET, EPIPE, ...: the client is gone, nobody to answer.
  return undefined;
}

const REASONS: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
};

/** Sockets already given their final raw answer: the parser reports an error once per read. */
const answeredSockets = new WeakSet<Socket>();

/** How long a closing socket still reads (and drops) what the client sends; see answerOnSocket. */
const LINGER_MS = 2_000;

/**
 * A bodiless answer written straight to the socket, which then closes. It lingers a moment
 * before the hard close: closing with unread input makes the kernel send a reset, which can
 * destroy the answer before the client has read it.
 */
function answerOnSocket(socket: Socket, status: number): void {
  if (answeredSockets.has(socket)) return;
  answeredSockets.add(socket);
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const head = [
    `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}`,
    'connection: close',
    'content-length: 0',
    ...(status === 405 ? ['allow: GET, POST'] : []),
  ];
  socket.end(`${head.join('\r\n')}\r\n\r\n`);
  socket.resume();
  const linger = setTimeout(() => socket.destroy(), LINGER_MS).unref();
  socket.once('close', () => clearTimeout(linger));
}

/**
 * Responses not yet finished per connection. Pipelined requests are answered in order, so the
 * parser's answer to a broken request must wait until the earlier ones are written.
 */
class ResponseTracker {
  private readonly pending = new WeakMap<Socket, { open: number; idle: (() => void)[] }>();

  open(socket: Socket, res: ServerResponse): void {
    const state = this.stateOf(socket);
    state.open += 1;
    res.once('close', () => {
      state.open -= 1;
      if (state.open === 0) for (const run of state.idle.splice(0)) run();
    });
  }

  whenIdle(socket: Socket, run: () => void): void {
    const state = this.stateOf(socket);
    if (state.open === 0) run();
    else state.idle.push(run);
  }

  private stateOf(socket: Socket) {
    let state = this.pending.get(socket);
    if (state === undefined) {
      state = { open: 0, idle: [] };
      this.pending.set(socket, state);
    }
    return state;
  }
}

/** Method and target for a log line: the client chose them, so bounded; never the headers. */
function describeRequest(req: IncomingMessage): { method: string; target: string } {
  return { method: (req.method ?? '').slice(0, 16), target: (req.url ?? '').slice(0, 200) };
}

function describeError(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

// Client of a running pgferry's control endpoint (ops/control-server.ts): its health with the
// pause state, and POST /pause and /resume (with CONTROL_TOKEN as a bearer token when one is set).
// Failures become ControlEndpointError (retriable when no answer came), like the Connect client's.
import { z } from 'zod';
import { PgferryError } from './errors.js';
import { redactUrlsInText } from './redact-url.js';
import { createSecretMask, type SecretMask } from './secret-mask.js';
import { formatBasicAuthorization, splitUrlCredentials } from './url-credentials.js';

const pauseStatusSchema = z.object({
  state: z.string(),
  paused: z.boolean(),
  pausing: z.boolean().optional(),
});

export type ControlPauseStatus = z.infer<typeof pauseStatusSchema>;

/** The control endpoint could not be reached or answered something unexpected. */
export class ControlEndpointError extends PgferryError {
  readonly url: string;

  constructor(message: string, options: { url: string; retriable: boolean; cause?: unknown }) {
    super(message, { retriable: options.retriable, cause: options.cause });
    this.url = options.url;
  }
}

export class ControlClient {
  /** The base URL without credentials: safe to show. */
  readonly baseUrl: string;
  private readonly requestTimeoutMs: number;
  private readonly token: string | undefined;
  /** Basic auth from a `user:password@` in the URL (a proxy in front); the bearer token wins. */
  private readonly basicAuthorization: string | undefined;
  /** A proxy's error page may echo the request's headers: never our credentials. */
  private readonly hideCredentials: SecretMask;

  /** `token`: CONTROL_TOKEN, sent on POST /pause and /resume only (GET /healthz needs none). */
  constructor(options: { baseUrl: string; requestTimeoutMs?: number; token?: string | undefined }) {
    const { url, auth } = splitUrlCredentials(options.baseUrl);
    this.baseUrl = url.replace(/\/+$/, '');
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.token = options.token;
    this.basicAuthorization = auth ? formatBasicAuthorization(auth) : undefined;
    this.hideCredentials = createSecretMask([
      ...(options.token === undefined ? [] : [options.token]),
      ...(auth ? [auth.password, `${auth.username}:${auth.password}`] : []),
    ]);
  }

  /** GET /healthz: the runner state and whether it is paused. */
  health(signal?: AbortSignal): Promise<ControlPauseStatus> {
    return this.request('GET', '/healthz', 0, signal);
  }

  /**
   * POST /pause, waiting up to `waitSeconds` server-side for the batch in flight to commit.
   * `paused` false with `pausing` true (HTTP 202) = still committing: poll health().
   */
  pause(waitSeconds: number, signal?: AbortSignal): Promise<ControlPauseStatus> {
    const wait = Math.max(0, Math.min(300, Math.floor(waitSeconds)));
    return this.request('POST', `/pause?wait=${wait}`, wait * 1000, signal);
  }

  /** POST /resume. */
  resume(signal?: AbortSignal): Promise<ControlPauseStatus> {
    return this.request('POST', '/resume', 0, signal);
  }

  private async request(
    method: 'GET' | 'POST',
    path: string,
    extraTimeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<ControlPauseStatus> {
    const url = `${this.baseUrl}${path}`;
    const timeout = AbortSignal.timeout(this.requestTimeoutMs + extraTimeoutMs);
    let response: Response;
    let body: string;
    try {
      response = await fetch(url, {
        method,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        headers: {
          accept: 'application/json',
          'content-type': 'application/json',
          ...this.authorizationHeader(method),
        },
        ...(method === 'POST' ? { body: '{}' } : {}),
      });
      body = await response.text();
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      const why = timeout.aborted ? 'no answer before the request timeout' : describeCause(error);
      throw new ControlEndpointError(`${method} ${url} failed: ${why}`, {
        url,
        retriable: true,
        cause: error,
      });
    }
    const parsed = response.ok ? pauseStatusSchema.safeParse(parseJson(body)) : undefined;
    if (parsed === undefined || !parsed.success) {
      const detail =
        this.hideCredentials(body).replace(/\s+/g, ' ').trim().slice(0, 300) || '(empty body)';
      const hint =
        response.status === 401 || response.status === 403
          ? 'set CONTROL_TOKEN (or CONTROL_TOKEN_FILE) to the token of that pgferry'
          : 'is this a pgferry control endpoint?';
      throw new ControlEndpointError(
        `${method} ${url} failed: HTTP ${response.status}: ${detail} (${hint})`,
        { url, retriable: response.status >= 500 },
      );
    }
    return parsed.data;
  }

  private authorizationHeader(method: 'GET' | 'POST'): { authorization?: string } {
    if (method === 'POST' && this.token !== undefined) {
      return { authorization: `Bearer ${this.token}` };
    }
    return this.basicAuthorization === undefined ? {} : { authorization: this.basicAuthorization };
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // Not JSON: the schema check reports it as an unexpected answer.
    return undefined;
  }
}

function describeCause(error: unknown): string {
  const cause = error instanceof Error ? error.cause : undefined;
  const code = cause instanceof Error && 'code' in cause ? cause.code : undefined;
  if (code === 'ECONNREFUSED') return 'connection refused (is `pgferry run` running there?)';
  const message = error instanceof Error ? error.message : String(error);
  // fetch repeats the URL it refused; the base URL has no credentials, this is the second lock.
  return redactUrlsInText(cause instanceof Error ? `${message}: ${cause.message}` : message);
}

// Minimal Kafka Connect REST client: the few calls `pgferry connector` needs, each with a
// timeout, and failures turned into ConnectRestError so callers can decide to retry by type.
// Basic-auth credentials travel in a header, never in the URL it requests or shows.
import type { Dispatcher } from 'undici';
import { z } from 'zod';
import { ConnectRestError } from './errors.js';
import { createFetchDispatcher, type HttpTlsFiles } from './http-tls.js';
import { redactUrlsInText } from './redact-url.js';
import { createSecretMask, type SecretMask } from './secret-mask.js';
import { findTlsFailure } from './tls-failure.js';
import {
  type BasicAuth,
  formatBasicAuthorization,
  splitUrlCredentials,
} from './url-credentials.js';

/** Connect's connector config: a flat string map (the worker resolves `${env:...}` itself). */
export type ConnectorConfig = Record<string, string>;

const stateSchema = z.object({
  state: z.string(),
  worker_id: z.string().optional(),
  trace: z.string().optional(),
});

const statusSchema = z.object({
  name: z.string(),
  connector: stateSchema,
  tasks: z.array(stateSchema.extend({ id: z.number().int() })),
  type: z.string().optional(),
});

export type ConnectorStatus = z.infer<typeof statusSchema>;
export type ConnectorTaskStatus = ConnectorStatus['tasks'][number];

const configSchema = z.record(z.string());

const workerInfoSchema = z.object({
  version: z.string(),
  commit: z.string().optional(),
  kafka_cluster_id: z.string().optional(),
});

export type ConnectWorkerInfo = z.infer<typeof workerInfoSchema>;

export interface ConnectClientOptions {
  /**
   * Base URL of the Connect REST API, e.g. http://localhost:8083. A `user:password@` in it is
   * taken out and sent as basic auth, and wins over `auth` (it is the more specific of the two,
   * e.g. a `--connect-url` given for one command).
   */
  baseUrl: string;
  /** Basic-auth credentials (CONNECT_USERNAME/CONNECT_PASSWORD). */
  auth?: BasicAuth | undefined;
  /** Per-request timeout; Connect can block a request while it waits for a rebalance. */
  requestTimeoutMs?: number;
  /** CA (CONNECT_CA_FILE) to verify an https:// Connect; unset = the system CAs. */
  tls?: HttpTlsFiles | undefined;
}

interface ConnectResponse {
  status: number;
  body: string;
}

export class ConnectClient {
  /** The base URL without credentials: safe to show. */
  readonly baseUrl: string;
  private readonly requestTimeoutMs: number;
  private readonly headers: Record<string, string>;
  private readonly hideCredentials: SecretMask;
  private readonly dispatcher: Dispatcher | undefined;

  constructor(options: ConnectClientOptions) {
    const { url, auth } = splitUrlCredentials(options.baseUrl);
    this.baseUrl = url.replace(/\/+$/, '');
    this.requestTimeoutMs = options.requestTimeoutMs ?? 15_000;
    this.dispatcher = createFetchDispatcher(options.tls);
    this.headers = { accept: 'application/json', 'content-type': 'application/json' };
    const credentials = auth ?? options.auth;
    if (credentials) this.headers.authorization = formatBasicAuthorization(credentials);
    this.hideCredentials = createSecretMask(
      credentials ? [credentials.password, `${credentials.username}:${credentials.password}`] : [],
    );
  }

  /** The worker's version and Kafka cluster (GET /): the cheapest "is Connect up?". */
  async getWorkerInfo(signal?: AbortSignal): Promise<ConnectWorkerInfo> {
    const response = await this.request('GET', '/', { signal });
    return this.parseBody('GET', '/', response, workerInfoSchema);
  }

  /** The connector's stored config, or undefined when no such connector exists. */
  async getConnectorConfig(
    name: string,
    signal?: AbortSignal,
  ): Promise<ConnectorConfig | undefined> {
    const response = await this.request('GET', `/connectors/${encodeURIComponent(name)}/config`, {
      signal,
      allowNotFound: true,
    });
    if (response.status === 404) return undefined;
    return this.parseBody('GET', `/connectors/${name}/config`, response, configSchema);
  }

  /** Creates or replaces the connector's config (Connect's PUT is an upsert). */
  async putConnectorConfig(
    name: string,
    config: ConnectorConfig,
    signal?: AbortSignal,
  ): Promise<'created' | 'updated'> {
    const response = await this.request('PUT', `/connectors/${encodeURIComponent(name)}/config`, {
      signal,
      body: config,
    });
    return response.status === 201 ? 'created' : 'updated';
  }

  /** Connector and task states, or undefined when Connect does not know the connector (yet). */
  async getConnectorStatus(
    name: string,
    signal?: AbortSignal,
  ): Promise<ConnectorStatus | undefined> {
    const response = await this.request('GET', `/connectors/${encodeURIComponent(name)}/status`, {
      signal,
      allowNotFound: true,
    });
    if (response.status === 404) return undefined;
    return this.parseBody('GET', `/connectors/${name}/status`, response, statusSchema);
  }

  /** Asks Connect to pause the connector and its tasks (202: it happens asynchronously). */
  async pauseConnector(name: string, signal?: AbortSignal): Promise<void> {
    await this.request('PUT', `/connectors/${encodeURIComponent(name)}/pause`, { signal });
  }

  /** Asks Connect to resume a paused connector and its tasks (202: asynchronously). */
  async resumeConnector(name: string, signal?: AbortSignal): Promise<void> {
    await this.request('PUT', `/connectors/${encodeURIComponent(name)}/resume`, { signal });
  }

  /**
   * Stops the connector (Kafka 3.5+): tasks shut down, their replication connection closes, the
   * config and offsets stay. Used when the forward connector must not see reverse writes.
   */
  async stopConnector(name: string, signal?: AbortSignal): Promise<void> {
    await this.request('PUT', `/connectors/${encodeURIComponent(name)}/stop`, { signal });
  }

  /**
   * Deletes the source offsets Connect keeps for a STOPPED connector (Kafka 3.6+), so that the
   * connector, re-created under the same name, starts from scratch (Debezium: a new snapshot).
   */
  async deleteConnectorOffsets(name: string, signal?: AbortSignal): Promise<void> {
    await this.request('DELETE', `/connectors/${encodeURIComponent(name)}/offsets`, { signal });
  }

  /**
   * Restarts the connector and its FAILED tasks (Kafka 3.0+: `includeTasks&onlyFailed`); the
   * tasks resume from the committed source offsets. Connect answers 202 (asynchronously).
   */
  async restartFailedTasks(name: string, signal?: AbortSignal): Promise<void> {
    await this.request(
      'POST',
      `/connectors/${encodeURIComponent(name)}/restart?includeTasks=true&onlyFailed=true`,
      { signal },
    );
  }

  /** Removes the connector (its config and tasks); true if it existed. */
  async deleteConnector(name: string, signal?: AbortSignal): Promise<boolean> {
    const response = await this.request('DELETE', `/connectors/${encodeURIComponent(name)}`, {
      signal,
      allowNotFound: true,
    });
    return response.status !== 404;
  }

  private async request(
    method: string,
    path: string,
    options: { signal?: AbortSignal | undefined; body?: unknown; allowNotFound?: boolean },
  ): Promise<ConnectResponse> {
    const url = `${this.baseUrl}${path}`;
    const timeout = AbortSignal.timeout(this.requestTimeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    let response: Response;
    let body: string;
    try {
      response = await fetch(url, {
        method,
        signal,
        headers: this.headers,
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
        // undici's own Dispatcher type and the one Node's fetch declares differ only in name.
        ...(this.dispatcher ? ({ dispatcher: this.dispatcher } as RequestInit) : {}),
      });
      body = await response.text();
    } catch (error) {
      // The caller cancelled: surface that as is, it is not a Connect failure to retry.
      if (options.signal?.aborted) throw options.signal.reason;
      throw new ConnectRestError(
        `${method} ${url} failed: ${describeFetchFailure(error, timeout)}`,
        {
          method,
          url,
          cause: error,
        },
      );
    }
    if (response.ok || (options.allowNotFound && response.status === 404)) {
      return { status: response.status, body };
    }
    // A proxy's error page may echo the request's headers: never our credentials.
    const shownBody = this.hideCredentials(body);
    throw new ConnectRestError(
      `${method} ${url} failed: HTTP ${response.status}: ${summarizeConnectBody(shownBody)}`,
      { method, url, status: response.status, body: shownBody },
    );
  }

  private parseBody<T>(
    method: string,
    path: string,
    response: ConnectResponse,
    schema: z.ZodType<T>,
  ): T {
    const url = `${this.baseUrl}${path}`;
    let json: unknown;
    try {
      json = JSON.parse(response.body);
    } catch (error) {
      throw new ConnectRestError(`${method} ${url}: response is not JSON`, {
        method,
        url,
        status: response.status,
        body: this.hideCredentials(response.body),
        cause: error,
      });
    }
    const result = schema.safeParse(json);
    if (!result.success) {
      throw new ConnectRestError(
        `${method} ${url}: unexpected response shape: ${result.error.message}`,
        {
          method,
          url,
          status: response.status,
          body: this.hideCredentials(response.body),
        },
      );
    }
    return result.data;
  }
}

function describeFetchFailure(error: unknown, timeout: AbortSignal): string {
  if (timeout.aborted) return 'no response before the request timeout';
  // undici reports "fetch failed" and hides the socket error in `cause`.
  const cause = error instanceof Error ? error.cause : undefined;
  const code = cause instanceof Error && 'code' in cause ? cause.code : undefined;
  if (code === 'ECONNREFUSED') return 'connection refused (is Kafka Connect running?)';
  const tls = findTlsFailure(error);
  if (tls !== undefined) {
    const fix =
      tls.fix === 'ca' ? 'check CONNECT_CA_FILE' : 'check CONNECT_URL and CONNECT_CA_FILE';
    return `TLS failed: ${tls.reason}; ${fix}`;
  }
  const message = error instanceof Error ? error.message : String(error);
  // fetch repeats the URL it refused; the base URL has no credentials, this is the second lock.
  return redactUrlsInText(cause instanceof Error ? `${message}: ${cause.message}` : message);
}

/** Connect errors look like {"error_code":409,"message":"..."}; show the message, bounded. */
function summarizeConnectBody(body: string): string {
  let text = body;
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    if (typeof parsed.message === 'string') text = parsed.message;
  } catch {
    // Not JSON (a proxy's HTML page, say): show the raw text instead.
  }
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > 500 ? `${oneLine.slice(0, 497)}...` : oneLine || '(empty body)';
}

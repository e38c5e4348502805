// Fetches writer schemas by id from a Confluent-compatible registry (Apicurio's /apis/ccompat/v7)
// and caches them for the life of the process (an id never changes its schema). Keeps the raw
// JSON, which carries Debezium's connect.* attributes that avsc's parsed types drop.
import avro from 'avsc';
import { exactLongParseOptions } from '../../core/avro-long-type.js';
import { PoisonMessageError, RetriableError } from '../../core/errors.js';
import { createFetchDispatcher, type HttpTlsFiles } from '../../core/http-tls.js';
import { redactUrl } from '../../core/redact-url.js';
import { findTlsFailure } from '../../core/tls-failure.js';
import { formatBasicAuthorization, splitUrlCredentials } from '../../core/url-credentials.js';
import type { AvroJson } from './avro-json.js';

export interface ResolvedSchema {
  id: number;
  json: AvroJson;
  type: avro.Type;
}

export interface SchemaLookup {
  getSchema(id: number): Promise<ResolvedSchema>;
  /** The schema if already fetched (no await on the hot path), else undefined. */
  resolved?(id: number): ResolvedSchema | undefined;
}

/** The id is not in the registry: the message can never be decoded, so it is poison. */
export class UnknownSchemaError extends PoisonMessageError {}

export function parseAvroSchema(id: number, json: AvroJson): ResolvedSchema {
  const type = avro.Type.forSchema(json as avro.Schema, exactLongParseOptions());
  return { id, json, type };
}

export interface RegistrySchemaLookupOptions {
  url: string;
  auth?: { username: string; password: string };
  requestTimeoutMs?: number;
  /** SCHEMA_REGISTRY_CA_FILE / _CERT_FILE / _KEY_FILE for an https:// registry. */
  tls?: HttpTlsFiles | undefined;
}

export class RegistrySchemaLookup implements SchemaLookup {
  private readonly cache = new Map<number, Promise<ResolvedSchema>>();
  private readonly fetched = new Map<number, ResolvedSchema>();
  private readonly baseUrl: string;
  /** The URL as messages show it: without any user:password@ it may carry. */
  private readonly shownUrl: string;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  /** fetch's `dispatcher` when a CA or client certificate is set (spread into each request). */
  private readonly tlsInit: RequestInit;

  constructor(options: RegistrySchemaLookupOptions) {
    // fetch refuses a URL with credentials (and its error repeats them): they go in a header.
    const { url, auth } = splitUrlCredentials(options.url);
    this.baseUrl = url.replace(/\/+$/, '');
    this.shownUrl = redactUrl(this.baseUrl);
    this.timeoutMs = options.requestTimeoutMs ?? 10_000;
    const dispatcher = createFetchDispatcher(options.tls);
    // undici's own Dispatcher type and the one Node's fetch declares differ only in name.
    this.tlsInit = dispatcher ? ({ dispatcher } as RequestInit) : {};
    this.headers = { accept: 'application/vnd.schemaregistry.v1+json, application/json' };
    const credentials = auth ?? options.auth;
    if (credentials) this.headers.authorization = formatBasicAuthorization(credentials);
  }

  getSchema(id: number): Promise<ResolvedSchema> {
    let pending = this.cache.get(id);
    if (!pending) {
      pending = this.fetchSchema(id);
      this.cache.set(id, pending);
      // A failed lookup must not stay cached: the registry may come back.
      pending.then(
        (schema) => this.fetched.set(id, schema),
        () => this.cache.delete(id),
      );
    }
    return pending;
  }

  resolved(id: number): ResolvedSchema | undefined {
    return this.fetched.get(id);
  }

  /** SchemaSubjects: the subjects of schema `id` (`GET /schemas/ids/{id}/subjects`). */
  async subjectsOf(id: number): Promise<readonly string[] | undefined> {
    const answer = await this.askRegistry(
      `/schemas/ids/${id}/subjects`,
      `the subjects of schema id ${id}`,
    );
    if (answer.status === 200) {
      const subjects = answer.json;
      return Array.isArray(subjects)
        ? subjects.filter((s): s is string => typeof s === 'string')
        : undefined;
    }
    // 40403: no such schema (decoding would have failed first); anything else: it cannot say.
    return answer.errorCode === 40403 ? [] : undefined;
  }

  /** SchemaSubjects: does `subject` exist (`GET /subjects/{subject}/versions`)? */
  async hasSubject(subject: string): Promise<boolean | undefined> {
    const answer = await this.askRegistry(
      `/subjects/${encodeURIComponent(subject)}/versions`,
      `subject ${subject}`,
    );
    if (answer.status === 200) return true;
    return answer.errorCode === 40401 ? false : undefined;
  }

  /**
   * One GET: the status with the body's JSON and error code. Unreachable, 5xx or 429 is retriable
   * (the registry may come back); any other answer is for the caller to read (an older or restricted
   * registry may not offer these lookups: the caller then cannot tell, which is not an outage).
   */
  private async askRegistry(
    path: string,
    what: string,
  ): Promise<{ status: number; json: unknown; errorCode: number | undefined }> {
    let response: Response;
    let body: string;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        headers: this.headers,
        signal: AbortSignal.timeout(this.timeoutMs),
        ...this.tlsInit,
      });
      body = await response.text();
    } catch (error) {
      throw new RetriableError(
        `schema registry ${this.shownUrl} unreachable asking for ${what} (${describe(error)})`,
        { cause: error },
      );
    }
    if (response.status >= 500 || response.status === 429) {
      throw new RetriableError(`schema registry answered ${response.status} for ${what}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      json = undefined;
    }
    const code = (json as { error_code?: unknown } | undefined)?.error_code;
    return {
      status: response.status,
      json,
      errorCode: typeof code === 'number' ? code : undefined,
    };
  }

  private async fetchSchema(id: number): Promise<ResolvedSchema> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}/schemas/ids/${id}`, {
        headers: this.headers,
        signal: AbortSignal.timeout(this.timeoutMs),
        ...this.tlsInit,
      });
    } catch (error) {
      throw new RetriableError(
        `schema registry ${this.shownUrl} unreachable (${describe(error)})`,
        {
          cause: error,
        },
      );
    }
    let body: string;
    try {
      body = await response.text();
    } catch (error) {
      // The connection dropped or timed out mid-body: the registry, not the message, failed.
      throw new RetriableError(
        `schema registry ${this.shownUrl} broke off its answer for schema id ${id} (${describe(error)})`,
        { cause: error },
      );
    }
    // Only the registry's own "schema not found" (error_code 40403) makes a message poison: a 404
    // from a wrong URL or a proxy must not dead-letter every record.
    if (response.status === 404 && /"error_code"\s*:\s*40403/.test(body)) {
      throw new UnknownSchemaError(`schema id ${id} is not in the registry`);
    }
    if (!response.ok) {
      // 5xx, auth proxies, rate limits: the registry may recover; never a reason to drop data.
      throw new RetriableError(`schema registry answered ${response.status} for schema id ${id}`);
    }
    let json: AvroJson;
    try {
      json = JSON.parse((JSON.parse(body) as { schema: string }).schema) as AvroJson;
    } catch (error) {
      throw new RetriableError(`schema registry sent an unreadable body for schema id ${id}`, {
        cause: error,
      });
    }
    try {
      return parseAvroSchema(id, json);
    } catch (error) {
      throw new PoisonMessageError(
        `schema id ${id} is not a valid Avro schema: ${describe(error)}`,
        { cause: error },
      );
    }
  }
}

function describe(error: unknown): string {
  const tls = findTlsFailure(error);
  if (tls !== undefined) {
    const fix =
      tls.fix === 'client-certificate'
        ? 'check SCHEMA_REGISTRY_CERT_FILE/KEY_FILE'
        : 'check SCHEMA_REGISTRY_CA_FILE and SCHEMA_REGISTRY_URL';
    return `TLS failed: ${tls.reason}; ${fix}`;
  }
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    return cause instanceof Error ? `${error.message}: ${cause.message}` : error.message;
  }
  return String(error);
}

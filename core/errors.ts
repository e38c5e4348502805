// Typed errors for pgferry. The class carries the retry decision so callers branch on type,
// never on message text (kafkajs' `KafkaJSError({ retriable })` pattern).

export interface PgferryErrorOptions {
  retriable: boolean;
  cause?: unknown;
}

/** Base class: every error pgferry raises on purpose says whether retrying can help. */
export class PgferryError extends Error {
  readonly retriable: boolean;

  constructor(message: string, options: PgferryErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retriable = options.retriable;
  }
}

/** A transient fault (broker, registry or target unavailable): back off and retry, never DLQ. */
export class RetriableError extends PgferryError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { retriable: true, cause: options.cause });
  }
}

/** One record cannot be processed however often we try: it goes to the dead-letter topic. */
export class PoisonMessageError extends PgferryError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { retriable: false, cause: options.cause });
  }
}

/**
 * The table's initial copy (`pgferry copy`) is not done: its stream waits, retried with backoff,
 * because a chunk copied later could otherwise overwrite a change the stream already applied.
 */
export class CopyPendingError extends PgferryError {
  readonly table: string;

  constructor(table: string, message: string) {
    super(message, { retriable: true });
    this.table = table;
  }
}

/** A schema change the target cannot follow safely: stop that table rather than lose data. */
export class SchemaIncompatibleError extends PgferryError {
  readonly table: string | undefined;

  constructor(message: string, options: { table?: string; cause?: unknown } = {}) {
    super(message, { retriable: false, cause: options.cause });
    this.table = options.table;
  }
}

/** The target cannot take this table's changes until an operator acts; other tables continue. */
export class TableStoppedError extends PgferryError {
  constructor(
    readonly table: string,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, { retriable: false, cause: options.cause });
  }
}

export interface ConfigProblem {
  /** Environment variable (or CLI option) the problem is about. */
  setting: string;
  /** What is wrong and what is expected; already masks secret values. */
  message: string;
}

/** Settings are invalid; lists every problem at once so one run shows the whole fix. */
export class ConfigError extends PgferryError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    const lines = problems.map((p) => `  - ${p.setting}: ${p.message}`);
    super([`Invalid pgferry configuration (${count}):`, ...lines].join('\n'), {
      retriable: false,
    });
    this.problems = problems;
  }
}

export interface ConnectRestErrorDetails {
  method: string;
  url: string;
  /** HTTP status; undefined when no response arrived (refused, reset, timed out). */
  status?: number;
  /** Response body as text, for Connect's `{"error_code","message"}` payloads. */
  body?: string;
  cause?: unknown;
}

/**
 * A Kafka Connect REST call failed. Retriable when no response arrived, on 5xx, and on 409:
 * Connect answers 409 while a worker rebalance or a concurrent config write is in progress,
 * and pgferry never POSTs a new connector, so a 409 cannot mean "already exists" here.
 */
export class ConnectRestError extends PgferryError {
  readonly method: string;
  readonly url: string;
  readonly status: number | undefined;
  readonly body: string | undefined;

  constructor(message: string, details: ConnectRestErrorDetails) {
    super(message, { retriable: isRetriableConnectStatus(details.status), cause: details.cause });
    this.method = details.method;
    this.url = details.url;
    this.status = details.status;
    this.body = details.body;
  }
}

function isRetriableConnectStatus(status: number | undefined): boolean {
  return status === undefined || status >= 500 || status === 409;
}

/**
 * A TLS connection was refused by one side: the server's certificate does not verify against the
 * CA or does not name the host, the server wants a client certificate, or it speaks no TLS. Wrong
 * settings, not an outage: retrying the same ones does not help, so the command stops and says so.
 */
export class TlsConnectionError extends PgferryError {
  /** The server as the message names it, e.g. `PostgreSQL db.example:5432/app`. */
  readonly server: string;

  constructor(server: string, message: string, options: { cause?: unknown } = {}) {
    super(message, { retriable: false, cause: options.cause });
    this.server = server;
  }
}

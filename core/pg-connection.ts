// node-postgres connection settings from pgferry's PostgresSettings, with libpq's sslmode meaning:
// disable, prefer (TLS if the server offers it), require (TLS; the CA checked too when a root
// certificate is given, as libpq does), verify-ca (TLS, CA checked), verify-full (TLS, CA and host
// name checked). A client certificate (sslCert/sslKey) goes with every TLS mode.
import { readFileSync } from 'node:fs';
import pg from 'pg';
import type { PostgresSettings } from './config.js';
import { TlsConnectionError } from './errors.js';
import { findTlsFailure } from './tls-failure.js';

function sslOption(settings: PostgresSettings): pg.ClientConfig['ssl'] {
  if (settings.sslMode === 'disable') return false;
  const ca = settings.sslRootCert ? readFileSync(settings.sslRootCert, 'utf8') : undefined;
  const client =
    settings.sslCert && settings.sslKey
      ? { cert: readFileSync(settings.sslCert, 'utf8'), key: readFileSync(settings.sslKey, 'utf8') }
      : {};
  switch (settings.sslMode) {
    case 'prefer':
      return { rejectUnauthorized: false, ...client };
    case 'require':
      // libpq: "if a root CA file exists, the behavior of sslmode=require will be the same as
      // that of verify-ca" — a CA someone configured is never ignored.
      return ca === undefined
        ? { rejectUnauthorized: false, ...client }
        : { rejectUnauthorized: true, ca, checkServerIdentity: () => undefined, ...client };
    case 'verify-ca':
      return {
        rejectUnauthorized: true,
        ...(ca ? { ca } : {}),
        checkServerIdentity: () => undefined,
        ...client,
      };
    case 'verify-full':
      return { rejectUnauthorized: true, ...(ca ? { ca } : {}), ...client };
  }
}

export function pgClientConfig(
  settings: PostgresSettings,
  applicationName: string,
): pg.ClientConfig {
  return {
    host: settings.host,
    port: settings.port,
    database: settings.database,
    user: settings.user,
    ...(settings.password === undefined ? {} : { password: settings.password }),
    ssl: sslOption(settings),
    application_name: applicationName,
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
    // Notice a dead peer in seconds, not the OS default of two hours.
    keepAliveInitialDelayMillis: 10_000,
    // A lock held by someone else (an operator's ALTER, a long report) becomes a retriable 55P03
    // instead of an unbounded wait that would also hold up shutdown.
    options: '-c lock_timeout=30s -c standard_conforming_strings=on',
  };
}

/** `PostgreSQL host:port/db`: how errors name the server (never with user or password). */
export function describePgServer(settings: PostgresSettings): string {
  return `PostgreSQL ${settings.host}:${settings.port}/${settings.database}`;
}

/**
 * Connects; `prefer` falls back to plain TCP when the server has no TLS (as libpq does). A TLS
 * failure (CA, host name, client certificate, no TLS on the server) is a TlsConnectionError
 * naming the server and the cause in one line; other failures are node-postgres' own.
 */
export async function connectPg(
  settings: PostgresSettings,
  applicationName: string,
): Promise<pg.Client> {
  const client = new pg.Client(pgClientConfig(settings, applicationName));
  ignoreIdleErrors(client);
  try {
    await client.connect();
    return client;
  } catch (error) {
    await client.end().catch(() => undefined);
    if (settings.sslMode === 'prefer' && isServerWithoutTls(error)) {
      const plain = new pg.Client({ ...pgClientConfig(settings, applicationName), ssl: false });
      ignoreIdleErrors(plain);
      await plain.connect();
      return plain;
    }
    throw toTlsConnectionError(settings, error) ?? error;
  }
}

/** node-postgres gives this refusal no code: its message is the one thing to go by. */
function isServerWithoutTls(error: unknown): boolean {
  return /does not support SSL/i.test((error as Error)?.message ?? '');
}

const FIXES = {
  ca: 'check SSLROOTCERT (the CA that signed the server certificate)',
  'host-name': 'the server certificate does not name this host: connect by a name it lists',
  'client-certificate': 'check SSLCERT/SSLKEY (a client certificate the server accepts)',
  protocol: 'check SSLMODE and the server TLS setup',
} as const;

function toTlsConnectionError(
  settings: PostgresSettings,
  error: unknown,
): TlsConnectionError | undefined {
  const server = describePgServer(settings);
  const prefix = `${server}: TLS (sslmode=${settings.sslMode})`;
  if (isServerWithoutTls(error)) {
    return new TlsConnectionError(
      server,
      `${prefix} refused: the server does not offer TLS; enable ssl on the server or lower SSLMODE`,
      { cause: error },
    );
  }
  const failure = findTlsFailure(error);
  if (failure === undefined) return undefined;
  return new TlsConnectionError(
    server,
    `${prefix} failed: ${failure.reason}; ${FIXES[failure.fix]}`,
    {
      cause: error,
    },
  );
}

/**
 * A connection that dies while idle (server restart, failover, idle_session_timeout) emits
 * 'error'; with no listener that kills the process. The next query on it fails instead, and the
 * caller's retry or reconnect handles that, as for any other lost connection.
 */
export function ignoreIdleErrors(client: pg.Client): void {
  client.on('error', () => undefined);
}

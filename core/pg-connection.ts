// node-postgres connection settings from pgferry's PostgresSettings, with libpq's sslmode meaning:
// disable, prefer (TLS if the server offers it), require (TLS, no verification), verify-ca (TLS,
// CA checked), verify-full (TLS, CA and host name checked).
import { readFileSync } from 'node:fs';
import pg from 'pg';
import type { PostgresSettings } from './config.js';

function sslOption(settings: PostgresSettings): pg.ClientConfig['ssl'] {
  const ca = settings.sslRootCert ? readFileSync(settings.sslRootCert, 'utf8') : undefined;
  switch (settings.sslMode) {
    case 'disable':
      return false;
    case 'prefer':
    case 'require':
      return { rejectUnauthorized: false };
    case 'verify-ca':
      return {
        rejectUnauthorized: true,
        ...(ca ? { ca } : {}),
        checkServerIdentity: () => undefined,
      };
    case 'verify-full':
      return { rejectUnauthorized: true, ...(ca ? { ca } : {}) };
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

/** Connects; `prefer` falls back to plain TCP when the server has no TLS (as libpq does). */
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
    if (settings.sslMode === 'prefer' && /does not support SSL/i.test((error as Error).message)) {
      const plain = new pg.Client({ ...pgClientConfig(settings, applicationName), ssl: false });
      ignoreIdleErrors(plain);
      await plain.connect();
      return plain;
    }
    throw error;
  }
}

/**
 * A connection that dies while idle (server restart, failover, idle_session_timeout) emits
 * 'error'; with no listener that kills the process. The next query on it fails instead, and the
 * caller's retry or reconnect handles that, as for any other lost connection.
 */
export function ignoreIdleErrors(client: pg.Client): void {
  client.on('error', () => undefined);
}

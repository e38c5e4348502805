// The kafkajs client from pgferry's settings: brokers, TLS (CA, client cert), SASL; and a quick
// TCP probe of the bootstrap brokers, so an unreachable Kafka is named at once at start.
import { readFileSync } from 'node:fs';
import { connect, isIP } from 'node:net';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import { Kafka, type KafkaConfig, logLevel, type SASLOptions } from 'kafkajs';
import type { KafkaSettings } from './config.js';
import { RetriableError, TlsConnectionError } from './errors.js';
import type { Logger } from './logger.js';
import { findTlsFailure, type TlsFailure } from './tls-failure.js';

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** Retry and timeouts a one-shot reader (a CLI command) shortens to fail fast. */
export type KafkaTimeouts = Pick<KafkaConfig, 'retry' | 'connectionTimeout' | 'requestTimeout'>;

export function createKafka(settings: KafkaSettings, log: Logger, timeouts?: KafkaTimeouts): Kafka {
  const config: KafkaConfig = {
    clientId: settings.clientId,
    brokers: settings.brokers,
    logLevel: logLevel.WARN,
    // kafkajs logs through pino so every line is structured JSON like ours.
    logCreator: () => (entry) => {
      const level = LEVELS[entry.level] ?? 'info';
      // A refused connection is an event, not a bug: its stack trace only at debug level.
      const { message, stack, ...rest } = entry.log;
      const trace = stack !== undefined && log.isLevelEnabled('debug') ? { stack } : {};
      log[level]({ kafkajs: entry.namespace, ...rest, ...trace }, message);
    },
    retry: { retries: 8, initialRetryTime: 300, maxRetryTime: 30_000 },
    ...timeouts,
  };
  if (settings.ssl.enabled) {
    config.ssl = {
      rejectUnauthorized: true,
      ...(settings.ssl.caFile ? { ca: [readFileSync(settings.ssl.caFile, 'utf8')] } : {}),
      ...(settings.ssl.certFile ? { cert: readFileSync(settings.ssl.certFile, 'utf8') } : {}),
      ...(settings.ssl.keyFile ? { key: readFileSync(settings.ssl.keyFile, 'utf8') } : {}),
    };
  }
  if (settings.sasl) {
    config.sasl = {
      mechanism: settings.sasl.mechanism,
      username: settings.sasl.username,
      password: settings.sasl.password,
    } as SASLOptions;
  }
  return new Kafka(config);
}

/**
 * Resolves once one bootstrap broker accepts a connection (with KAFKA_SSL: completes a verified
 * TLS handshake); otherwise a RetriableError naming every broker and why it failed, or — when a
 * broker answered but its certificate did not verify — a TlsConnectionError: a setting to fix,
 * not an outage to wait out. kafkajs' own connect retries for minutes before it gives up, logging
 * only "Connection error" at each attempt; this probe fails in at most `timeoutMs`.
 */
export async function probeBrokers(
  brokers: readonly string[],
  timeoutMs = 5000,
  ssl?: KafkaSettings['ssl'],
): Promise<void> {
  const tls = ssl?.enabled ? readTlsOptions(ssl) : undefined;
  const failures = await Promise.all(brokers.map((broker) => probeBroker(broker, timeoutMs, tls)));
  if (failures.some((f) => f === undefined)) return;
  const index = failures.findIndex((f) => f?.tls !== undefined);
  const tlsFailure = failures[index]?.tls;
  if (tlsFailure !== undefined) {
    const fix = TLS_FIX[tlsFailure.fix === 'protocol' ? 'ca' : tlsFailure.fix];
    throw new TlsConnectionError(
      `Kafka ${brokers[index]}`,
      `Kafka ${brokers[index]}: TLS failed: ${tlsFailure.reason}; ${fix}`,
    );
  }
  throw new RetriableError(
    `Kafka unreachable: ${brokers.map((b, i) => `${b} (${failures[i]?.reason})`).join(', ')}; check KAFKA_BOOTSTRAP`,
  );
}

const TLS_FIX = {
  ca: 'check KAFKA_SSL_CA_FILE (the CA that signed the broker certificate)',
  'host-name': 'the broker certificate does not name this host: check KAFKA_BOOTSTRAP',
  'client-certificate': 'check KAFKA_SSL_CERT_FILE/KAFKA_SSL_KEY_FILE',
} as const;

function readTlsOptions(ssl: KafkaSettings['ssl']): ConnectionOptions {
  return {
    rejectUnauthorized: true,
    ...(ssl.caFile ? { ca: readFileSync(ssl.caFile, 'utf8') } : {}),
    ...(ssl.certFile ? { cert: readFileSync(ssl.certFile, 'utf8') } : {}),
    ...(ssl.keyFile ? { key: readFileSync(ssl.keyFile, 'utf8') } : {}),
  };
}

interface ProbeFailure {
  reason: string;
  tls?: TlsFailure;
}

/** undefined when `broker` (host:port, [v6]:port) accepts a connection, else why not. */
function probeBroker(
  broker: string,
  timeoutMs: number,
  tls: ConnectionOptions | undefined,
): Promise<ProbeFailure | undefined> {
  const colon = broker.lastIndexOf(':');
  const host = broker.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number(broker.slice(colon + 1));
  return new Promise((resolve) => {
    const socket = tls
      ? tlsConnect({
          ...tls,
          host,
          port,
          timeout: timeoutMs,
          ...(isIP(host) ? {} : { servername: host }),
        })
      : connect({ host, port, timeout: timeoutMs });
    const done = (failure: ProbeFailure | undefined) => {
      socket.destroy();
      resolve(failure);
    };
    socket.once(tls ? 'secureConnect' : 'connect', () => done(undefined));
    socket.once('timeout', () => done({ reason: `no answer in ${timeoutMs} ms` }));
    socket.once('error', (error: NodeJS.ErrnoException) => {
      const failure = findTlsFailure(error);
      done({ reason: error.code ?? error.message, ...(failure ? { tls: failure } : {}) });
    });
  });
}

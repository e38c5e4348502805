// The kafkajs client from pgferry's settings: brokers, TLS (CA, client cert), SASL; and a quick
// TCP probe of the bootstrap brokers, so an unreachable Kafka is named at once at start.
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { Kafka, type KafkaConfig, logLevel, type SASLOptions } from 'kafkajs';
import type { KafkaSettings } from './config.js';
import { RetriableError } from './errors.js';
import type { Logger } from './logger.js';

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
 * Resolves once one bootstrap broker accepts a TCP connection; otherwise a RetriableError naming
 * every broker and why it failed. kafkajs' own connect retries for minutes before it gives up,
 * logging at each attempt; this probe fails in at most `timeoutMs`.
 */
export async function probeBrokers(brokers: readonly string[], timeoutMs = 5000): Promise<void> {
  const failures = await Promise.all(brokers.map((broker) => probeBroker(broker, timeoutMs)));
  if (failures.some((f) => f === undefined)) return;
  throw new RetriableError(
    `Kafka unreachable: ${brokers.map((b, i) => `${b} (${failures[i]})`).join(', ')}; check KAFKA_BOOTSTRAP`,
  );
}

/** undefined when `broker` (host:port, [v6]:port) accepts a connection, else the reason. */
function probeBroker(broker: string, timeoutMs: number): Promise<string | undefined> {
  const colon = broker.lastIndexOf(':');
  const host = broker.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number(broker.slice(colon + 1));
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    const done = (reason: string | undefined) => {
      socket.destroy();
      resolve(reason);
    };
    socket.once('connect', () => done(undefined));
    socket.once('timeout', () => done(`no answer in ${timeoutMs} ms`));
    socket.once('error', (error: NodeJS.ErrnoException) => done(error.code ?? error.message));
  });
}

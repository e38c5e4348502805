// The kafkajs client from pgferry's settings: brokers, TLS (CA, client cert), SASL.
import { readFileSync } from 'node:fs';
import { Kafka, type KafkaConfig, logLevel, type SASLOptions } from 'kafkajs';
import type { KafkaSettings } from './config.js';
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
      const { message, ...rest } = entry.log;
      log[level]({ kafkajs: entry.namespace, ...rest }, message);
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

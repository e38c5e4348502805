// Structured JSON logging (pino): one line per event, with secrets censored by path so a
// config or error object logged whole never leaks a password, and no URL with its credentials.
import { type DestinationStream, type Logger, pino } from 'pino';
import { redactUrlsInText } from './redact-url.js';

export type { Logger } from 'pino';

const SECRET_FIELDS = [
  'password',
  'secret',
  'sasl',
  'saslPassword',
  'authorization',
  'auth',
  'token',
];

// pino's redaction needs explicit paths (a `*` spans one level), so cover a few levels deep.
const REDACT_PATHS = SECRET_FIELDS.flatMap((field) => [
  field,
  `*.${field}`,
  `*.*.${field}`,
  `*.*.*.${field}`,
]);

/**
 * Creates the process logger. Writes JSON lines to `destination` (stdout by default; the CLI
 * passes stderr so command output on stdout stays machine-readable).
 */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'pgferry' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '***' },
    // A message or error text may quote a URL given to a library: never its user:password@.
    hooks: { streamWrite: redactUrlsInText },
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}

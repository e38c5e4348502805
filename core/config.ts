// pgferry's settings: one zod schema where every setting has its env var, type, default,
// description and secret flag. Read once at start (`loadConfig`); nothing else reads the env.
import { z } from 'zod';
import { ConfigError, type ConfigProblem } from './errors.js';
import { type FaultInjection, parseFaultInjection } from './fault-points.js';
import { LOG_LEVELS, type LogLevel } from './logger.js';

export const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

export const SSL_MODES = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

export interface KafkaSettings {
  brokers: string[];
  clientId: string;
  groupId: string;
  topicPattern: RegExp;
  ssl: { enabled: boolean; caFile?: string; certFile?: string; keyFile?: string };
  /** Present only when KAFKA_SASL_MECHANISM is set (then username and password are too). */
  sasl?: { mechanism: SaslMechanism; username: string; password: string };
}

export interface PostgresSettings {
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string;
  sslMode: SslMode;
  sslRootCert?: string;
}

export interface PgferryConfig {
  kafka: KafkaSettings;
  schemaRegistry: { url: string; auth?: { username: string; password: string } };
  target: PostgresSettings;
  /** Present only when SOURCE_DB_* is configured; needed by status/verify, not by the pipeline. */
  source?: PostgresSettings;
  connect: { url: string; connectorName: string; connectorConfigFile: string };
  /** The source's Debezium publication and slot (what status, verify and cutover look at). */
  replication: { publication: string; slotName: string };
  /** Reverse replication (target -> source) for the rollback plan; see migrate/reverse-config.ts. */
  reverse: {
    connectorName: string;
    connectorConfigFile: string;
    publication: string;
    slotName: string;
    groupId: string;
    topicPattern: RegExp;
    /** The source role the reverse pgferry writes with; needed by `rollback` and `run --reverse`. */
    sourceWriter?: { user: string; password?: string };
  };
  batch: { maxRows: number; maxBytes: number };
  consumer: { pollTimeoutSeconds: number; topicRefreshSeconds: number };
  /** Unset topic = `<source topic>.dlq`. */
  dlq: { topic?: string };
  mapping: { targetSchema?: string };
  retry: { maxDelaySeconds: number };
  metrics: { host: string; port: number };
  /** `pgferry run`'s summary log line when no live view is shown (see ops/progress/progress-mode.ts). */
  progress: { logSeconds: number };
  log: { level: LogLevel };
  /** Testing only (test/faults): where `pgferry run` holds or slows down; see fault-points.ts. */
  faultInjection?: FaultInjection;
}

/** One row of the settings table, for `pgferry config check` and the docs. */
export interface ConfigSettingDescription {
  /** Dotted path of the value in `PgferryConfig`. */
  key: string;
  env: string;
  description: string;
  /** Default as it would be written in the env; undefined = unset unless given. */
  default: string | undefined;
  secret: boolean;
}

export const REDACTED = '***';

// --- value types: each parses the raw env string and says what it expects when it cannot ---

/** A schema that parses one raw env string into a typed value. */
type EnvSchema<T> = z.ZodType<T, z.ZodTypeDef, string>;

function parseText(expected = 'a non-empty value'): EnvSchema<string> {
  return z.string().trim().min(1, `expected ${expected}`);
}

function parseSecret(): EnvSchema<string> {
  // Secrets are taken verbatim (surrounding spaces may be part of a password), except line
  // breaks: almost always a trailing newline copied from a secret file, and a baffling auth error.
  return z
    .string()
    .min(1, 'expected a non-empty value')
    .refine((value) => !/[\r\n]/.test(value), 'expected no line breaks (a trailing newline?)');
}

function parseInteger(min: number, max: number): EnvSchema<number> {
  const expected = `expected an integer from ${min} to ${max}`;
  return z
    .string()
    .trim()
    .transform((raw, ctx) => {
      const value = Number(raw);
      if (!/^[+-]?\d+$/.test(raw) || value < min || value > max) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: expected });
        return z.NEVER;
      }
      return value;
    });
}

function parseSeconds(maxSeconds: number): EnvSchema<number> {
  const expected = `expected a number of seconds greater than 0 and at most ${maxSeconds}`;
  return z
    .string()
    .trim()
    .transform((raw, ctx) => {
      const value = Number(raw);
      if (!/^\d*\.?\d+$/.test(raw) || !(value > 0) || value > maxSeconds) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: expected });
        return z.NEVER;
      }
      return value;
    });
}

const TRUE_WORDS = ['true', '1', 'yes', 'on'];
const FALSE_WORDS = ['false', '0', 'no', 'off'];

function readBoolean(raw: string): boolean | undefined {
  const word = raw.trim().toLowerCase();
  if (TRUE_WORDS.includes(word)) return true;
  if (FALSE_WORDS.includes(word)) return false;
  return undefined;
}

function parseBoolean(): EnvSchema<boolean> {
  return z.string().transform((raw, ctx) => {
    const value = readBoolean(raw);
    if (value === undefined) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: `expected a boolean (${TRUE_WORDS.join('/')} or ${FALSE_WORDS.join('/')})`,
      });
      return z.NEVER;
    }
    return value;
  });
}

function parseFaultInjectionSetting(): EnvSchema<FaultInjection> {
  return z.string().transform((raw, ctx) => {
    const result = parseFaultInjection(raw);
    if (typeof result === 'string') {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: result });
      return z.NEVER;
    }
    return result;
  });
}

function parseChoice<T extends string>(choices: readonly [T, ...T[]]): EnvSchema<T> {
  return z
    .string()
    .trim()
    .transform((raw, ctx) => {
      const value = raw.toLowerCase();
      const match = choices.find((choice) => choice === value);
      if (match === undefined) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          message: `expected one of ${choices.join(', ')}`,
        });
        return z.NEVER;
      }
      return match;
    });
}

function parseHttpUrl(): EnvSchema<string> {
  return z
    .string()
    .trim()
    .transform((raw, ctx) => {
      const url = URL.canParse(raw) ? new URL(raw) : undefined;
      if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          message: 'expected an http:// or https:// URL',
        });
        return z.NEVER;
      }
      // Callers append paths like `/connectors/x`; a trailing slash would double it.
      return url.href.replace(/\/+$/, '');
    });
}

const BROKER_PATTERN = /^(\[[0-9a-fA-F:.]+\]|[^\s:,[\]]+):(\d{1,5})$/;

function parseBrokerList(): EnvSchema<string[]> {
  return z.string().transform((raw, ctx) => {
    const brokers = raw
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== '');
    const bad = brokers.filter((entry) => {
      const port = Number(BROKER_PATTERN.exec(entry)?.[2] ?? 0);
      return port < 1 || port > 65535;
    });
    if (brokers.length === 0 || bad.length > 0) {
      const detail = bad.length > 0 ? ` (bad entry: ${bad.map((b) => `'${b}'`).join(', ')})` : '';
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: `expected a comma-separated list of host:port, e.g. localhost:9092${detail}`,
      });
      return z.NEVER;
    }
    return brokers;
  });
}

function parseRegExp(): EnvSchema<RegExp> {
  return z.string().transform((raw, ctx) => {
    try {
      return new RegExp(raw);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: `expected a JavaScript regular expression (${reason})`,
      });
      return z.NEVER;
    }
  });
}

function parseTopicName(): EnvSchema<string> {
  // Kafka's own rule for legal topic names.
  return z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9._-]{1,249}$/, 'expected a Kafka topic name (letters, digits, . _ -)');
}

// --- the settings table ---

interface SettingMeta {
  key: string;
  description: string;
  secret?: boolean;
}

interface Setting<S extends z.ZodTypeAny> {
  key: string;
  description: string;
  secret: boolean;
  default: string | undefined;
  schema: S;
}

function defineSetting<S extends EnvSchema<unknown>>(
  meta: SettingMeta & { default: string },
  schema: S,
): Setting<z.ZodDefault<S>>;
function defineSetting<S extends EnvSchema<unknown>>(
  meta: SettingMeta & { default?: undefined },
  schema: S,
): Setting<z.ZodOptional<S>>;
function defineSetting<S extends EnvSchema<unknown>>(
  meta: SettingMeta & { default?: string },
  schema: S,
): Setting<z.ZodTypeAny> {
  return {
    key: meta.key,
    description: meta.description,
    secret: meta.secret ?? false,
    default: meta.default,
    // The default is the env-string form, so it goes through the same parsing as a set value.
    schema: meta.default === undefined ? schema.optional() : schema.default(meta.default),
  };
}

function defineReverseSettings() {
  const note = 'Used by the rollback plan (reverse replication target -> source).';
  return {
    ROLLBACK_DB_USER: defineSetting(
      {
        key: 'reverse.sourceWriter.user',
        description: `Source role the reverse pgferry writes with (INSERT/UPDATE/DELETE on the migrated tables, CREATE on the database for its bookkeeping schema, UPDATE on their sequences). ${note}`,
      },
      parseText('a user name'),
    ),
    ROLLBACK_DB_PASSWORD: defineSetting(
      {
        key: 'reverse.sourceWriter.password',
        description: `Password of ROLLBACK_DB_USER. ${note}`,
        secret: true,
      },
      parseSecret(),
    ),
    REVERSE_CONNECTOR_NAME: defineSetting(
      {
        key: 'reverse.connectorName',
        description: `Debezium connector reading the target. ${note}`,
        default: 'pgferry-reverse',
      },
      parseText('a connector name'),
    ),
    REVERSE_CONNECTOR_CONFIG_FILE: defineSetting(
      {
        key: 'reverse.connectorConfigFile',
        description: `Connector JSON for the reverse connector. ${note}`,
        default: 'connect-config/debezium-reverse.json',
      },
      parseText('a file path'),
    ),
    REVERSE_PUBLICATION: defineSetting(
      {
        key: 'reverse.publication',
        description: `Publication that \`rollback prepare\` creates on the target for the migrated tables. ${note}`,
        default: 'pgferry_reverse_publication',
      },
      parseText('a publication name'),
    ),
    REVERSE_SLOT_NAME: defineSetting(
      {
        key: 'reverse.slotName',
        description: `Replication slot of the reverse connector on the target. ${note}`,
        default: 'pgferry_reverse_slot',
      },
      parseText('a slot name'),
    ),
    REVERSE_KAFKA_GROUP_ID: defineSetting(
      {
        key: 'reverse.groupId',
        description: `Consumer group of the reverse pgferry (default: KAFKA_GROUP_ID + "-reverse"). ${note}`,
      },
      parseText('a consumer group id'),
    ),
    REVERSE_KAFKA_TOPIC_PATTERN: defineSetting(
      {
        key: 'reverse.topicPattern',
        description: `Topics of the reverse connector (its topic.prefix). ${note}`,
        default: '^rev\\.public\\..*',
      },
      parseRegExp(),
    ),
  };
}

function defineSourceDbSettings() {
  const groupNote = 'Part of the optional SOURCE_DB_* group used by status/verify.';
  return {
    SOURCE_DB_HOST: defineSetting(
      { key: 'source.host', description: `Source PostgreSQL host. ${groupNote}` },
      parseText('a host name'),
    ),
    SOURCE_DB_PORT: defineSetting(
      { key: 'source.port', description: `Source PostgreSQL port. ${groupNote}`, default: '5432' },
      parseInteger(1, 65535),
    ),
    SOURCE_DB_NAME: defineSetting(
      { key: 'source.database', description: `Source database name. ${groupNote}` },
      parseText('a database name'),
    ),
    SOURCE_DB_USER: defineSetting(
      { key: 'source.user', description: `Source database user. ${groupNote}` },
      parseText('a user name'),
    ),
    SOURCE_DB_PASSWORD: defineSetting(
      {
        key: 'source.password',
        description: `Source database password. ${groupNote}`,
        secret: true,
      },
      parseSecret(),
    ),
    SOURCE_DB_SSLMODE: defineSetting(
      {
        key: 'source.sslMode',
        description: `libpq-style sslmode for the source connection. ${groupNote}`,
        default: 'prefer',
      },
      parseChoice(SSL_MODES),
    ),
    SOURCE_DB_SSLROOTCERT: defineSetting(
      {
        key: 'source.sslRootCert',
        description: `CA bundle (PEM file) to verify the source server. ${groupNote}`,
      },
      parseText('a file path'),
    ),
  };
}

const SETTINGS = {
  KAFKA_BOOTSTRAP: defineSetting(
    {
      key: 'kafka.brokers',
      description: 'Kafka bootstrap brokers, comma-separated host:port.',
      default: 'localhost:9092',
    },
    parseBrokerList(),
  ),
  KAFKA_GROUP_ID: defineSetting(
    {
      key: 'kafka.groupId',
      description: 'Consumer group; every pgferry process in one group shares the partitions.',
      default: 'cdc-consumer-group',
    },
    parseText('a consumer group id'),
  ),
  KAFKA_TOPIC_PATTERN: defineSetting(
    {
      key: 'kafka.topicPattern',
      description: 'JavaScript RegExp selecting the CDC topics to consume.',
      default: '^cdc\\.public\\..*',
    },
    parseRegExp(),
  ),
  KAFKA_CLIENT_ID: defineSetting(
    {
      key: 'kafka.clientId',
      description: 'Kafka client.id (shows up in broker logs and quotas).',
      default: 'pgferry',
    },
    parseText('a client id'),
  ),
  KAFKA_SSL: defineSetting(
    { key: 'kafka.ssl.enabled', description: 'Connect to Kafka over TLS.', default: 'false' },
    parseBoolean(),
  ),
  KAFKA_SSL_CA_FILE: defineSetting(
    {
      key: 'kafka.ssl.caFile',
      description: 'CA bundle (PEM file) to verify the brokers; needs KAFKA_SSL=true.',
    },
    parseText('a file path'),
  ),
  KAFKA_SSL_CERT_FILE: defineSetting(
    {
      key: 'kafka.ssl.certFile',
      description: 'Client certificate (PEM file) for mutual TLS; needs KAFKA_SSL_KEY_FILE.',
    },
    parseText('a file path'),
  ),
  KAFKA_SSL_KEY_FILE: defineSetting(
    {
      key: 'kafka.ssl.keyFile',
      description: 'Client private key (PEM file) for mutual TLS; needs KAFKA_SSL_CERT_FILE.',
    },
    parseText('a file path'),
  ),
  KAFKA_SASL_MECHANISM: defineSetting(
    {
      key: 'kafka.sasl.mechanism',
      description: `SASL mechanism (${SASL_MECHANISMS.join(', ')}); unset = no SASL.`,
    },
    parseChoice(SASL_MECHANISMS),
  ),
  KAFKA_SASL_USERNAME: defineSetting(
    { key: 'kafka.sasl.username', description: 'SASL user; required with KAFKA_SASL_MECHANISM.' },
    parseText('a user name'),
  ),
  KAFKA_SASL_PASSWORD: defineSetting(
    {
      key: 'kafka.sasl.password',
      description: 'SASL password; required with KAFKA_SASL_MECHANISM.',
      secret: true,
    },
    parseSecret(),
  ),
  SCHEMA_REGISTRY_URL: defineSetting(
    {
      key: 'schemaRegistry.url',
      description:
        'Confluent-compatible schema registry URL (Apicurio: its /apis/ccompat/v7 path).',
      default: 'http://localhost:8081',
    },
    parseHttpUrl(),
  ),
  SCHEMA_REGISTRY_USERNAME: defineSetting(
    {
      key: 'schemaRegistry.auth.username',
      description: 'Registry basic-auth user; set together with SCHEMA_REGISTRY_PASSWORD.',
    },
    parseText('a user name'),
  ),
  SCHEMA_REGISTRY_PASSWORD: defineSetting(
    {
      key: 'schemaRegistry.auth.password',
      description: 'Registry basic-auth password; set together with SCHEMA_REGISTRY_USERNAME.',
      secret: true,
    },
    parseSecret(),
  ),
  TARGET_DB_HOST: defineSetting(
    { key: 'target.host', description: 'Target PostgreSQL host.', default: 'localhost' },
    parseText('a host name'),
  ),
  TARGET_DB_PORT: defineSetting(
    { key: 'target.port', description: 'Target PostgreSQL port.', default: '5433' },
    parseInteger(1, 65535),
  ),
  TARGET_DB_NAME: defineSetting(
    { key: 'target.database', description: 'Target database name.', default: 'targetdb' },
    parseText('a database name'),
  ),
  TARGET_DB_USER: defineSetting(
    { key: 'target.user', description: 'Target database user.', default: 'migration' },
    parseText('a user name'),
  ),
  TARGET_DB_PASSWORD: defineSetting(
    {
      key: 'target.password',
      description: 'Target database password (the default is the local stack one).',
      default: 'migration_secret',
      secret: true,
    },
    parseSecret(),
  ),
  TARGET_DB_SSLMODE: defineSetting(
    {
      key: 'target.sslMode',
      description: `libpq-style sslmode for the target connection (${SSL_MODES.join(', ')}).`,
      default: 'prefer',
    },
    parseChoice(SSL_MODES),
  ),
  TARGET_DB_SSLROOTCERT: defineSetting(
    { key: 'target.sslRootCert', description: 'CA bundle (PEM file) to verify the target server.' },
    parseText('a file path'),
  ),
  ...defineSourceDbSettings(),
  CONNECT_URL: defineSetting(
    {
      key: 'connect.url',
      description: 'Kafka Connect REST URL.',
      default: 'http://localhost:8083',
    },
    parseHttpUrl(),
  ),
  CONNECTOR_NAME: defineSetting(
    {
      key: 'connect.connectorName',
      description: 'Debezium source connector name; overrides the name in the connector file.',
      default: 'pgferry-source',
    },
    parseText('a connector name'),
  ),
  CONNECTOR_CONFIG_FILE: defineSetting(
    {
      key: 'connect.connectorConfigFile',
      description: 'Connector JSON ({"name","config"}) used by `pgferry connector apply`.',
      default: 'connect-config/debezium-source.json',
    },
    parseText('a file path'),
  ),
  SOURCE_PUBLICATION: defineSetting(
    {
      key: 'replication.publication',
      description:
        'The source publication Debezium reads; its tables are what schema-sync, verify and cutover work on.',
      default: 'pgferry_publication',
    },
    parseText('a publication name'),
  ),
  SOURCE_SLOT_NAME: defineSetting(
    {
      key: 'replication.slotName',
      description: 'The source replication slot Debezium reads (status and cutover check its lag).',
      default: 'pgferry_slot',
    },
    parseText('a slot name'),
  ),
  BATCH_SIZE: defineSetting(
    {
      key: 'batch.maxRows',
      description:
        'Max rows applied per target transaction. Default 1000, not the brief’s 100: fewer, larger COPY+merge round trips.',
      default: '1000',
    },
    parseInteger(1, 100_000),
  ),
  BATCH_MAX_BYTES: defineSetting(
    {
      key: 'batch.maxBytes',
      description: 'Max encoded bytes buffered per batch (bounds memory); default 16 MiB.',
      default: String(16 * 1024 * 1024),
    },
    parseInteger(1024, 1024 * 1024 * 1024),
  ),
  CONSUMER_POLL_TIMEOUT: defineSetting(
    {
      key: 'consumer.pollTimeoutSeconds',
      description: 'Seconds to wait for more records before flushing a partial batch.',
      default: '1.0',
    },
    parseSeconds(300),
  ),
  DLQ_TOPIC: defineSetting(
    {
      key: 'dlq.topic',
      description:
        'Dead-letter topic for poison messages and rows the target rejects. Unset: `<topic>.dlq` per source topic.',
    },
    parseTopicName(),
  ),
  TARGET_SCHEMA: defineSetting(
    {
      key: 'mapping.targetSchema',
      description:
        'Target schema for every replicated table. Unset: the source schema (cdc.<schema>.<table> -> <schema>.<table>).',
    },
    parseText('a schema name'),
  ),
  TOPIC_REFRESH_SECONDS: defineSetting(
    {
      key: 'consumer.topicRefreshSeconds',
      description: 'How often to look for new topics matching KAFKA_TOPIC_PATTERN (new tables).',
      default: '10',
    },
    parseSeconds(3600),
  ),
  RETRY_MAX_DELAY_SECONDS: defineSetting(
    {
      key: 'retry.maxDelaySeconds',
      description:
        'Cap of the exponential backoff when the target, registry or broker is unavailable.',
      default: '30',
    },
    parseSeconds(3600),
  ),
  METRICS_HOST: defineSetting(
    {
      key: 'metrics.host',
      description: 'Address the /metrics endpoint binds to (loopback unless scraped remotely).',
      default: '127.0.0.1',
    },
    parseText('a host or address'),
  ),
  METRICS_PORT: defineSetting(
    {
      key: 'metrics.port',
      description: 'Port of the /metrics endpoint; 0 picks a free port.',
      default: '9464',
    },
    parseInteger(0, 65535),
  ),
  PROGRESS_LOG_SECONDS: defineSetting(
    {
      key: 'progress.logSeconds',
      description:
        '`pgferry run` without a terminal (or with --progress log): one summary log line (throughput, changes by op, batches, errors, lag) every N seconds; 0 = none.',
      default: '30',
    },
    parseInteger(0, 86_400),
  ),
  ...defineReverseSettings(),
  PGFERRY_FAULT_INJECTION: defineSetting(
    {
      key: 'faultInjection',
      description:
        'Testing only (the fault suite): `<point>[:hold|:delay=<ms>][@<n>]` makes `pgferry run` hold or wait at staging-copy, merge or after-target-commit. Refused when NODE_ENV=production.',
    },
    parseFaultInjectionSetting(),
  ),
  LOG_LEVEL: defineSetting(
    { key: 'log.level', description: `Log level (${LOG_LEVELS.join(', ')}).`, default: 'info' },
    parseChoice(LOG_LEVELS),
  ),
};

type SettingsTable = typeof SETTINGS;
export type SettingEnvName = keyof SettingsTable;
type SettingsShape = { [E in SettingEnvName]: SettingsTable[E]['schema'] };

const SETTING_ENV_NAMES = Object.keys(SETTINGS) as SettingEnvName[];

/** The one schema of pgferry's settings, keyed by env var name, input = raw env strings. */
export const settingsSchema = z.object(
  Object.fromEntries(SETTING_ENV_NAMES.map((env) => [env, SETTINGS[env].schema])) as SettingsShape,
);

type ParsedSettings = z.output<typeof settingsSchema>;
type RawSettings = Partial<Record<SettingEnvName, string>>;

// --- loading ---

/**
 * Validates the settings found in `env` and returns the typed config. Unknown variables are
 * ignored, empty values count as unset, and every invalid setting is reported in one ConfigError.
 */
export function loadConfig(env: Record<string, string | undefined>): PgferryConfig {
  const raw = readRawSettings(env);
  const problems: ConfigProblem[] = [];
  const parsed: Partial<Record<SettingEnvName, unknown>> = {};
  // Each setting is parsed on its own so one bad value never hides another.
  for (const name of SETTING_ENV_NAMES) {
    const result = SETTINGS[name].schema.safeParse(raw[name]);
    if (result.success) {
      parsed[name] = result.data;
    } else {
      const expected = result.error.issues.map((issue) => issue.message).join('; ');
      problems.push({
        setting: name,
        message: `got ${formatRawValue(name, raw[name])}; ${expected}`,
      });
    }
  }
  problems.push(...findCrossSettingProblems(raw, parsed));
  if (raw.PGFERRY_FAULT_INJECTION !== undefined && env.NODE_ENV === 'production') {
    problems.push({
      setting: 'PGFERRY_FAULT_INJECTION',
      message: 'refused with NODE_ENV=production: fault injection is for the test suite only',
    });
  }
  if (problems.length > 0) {
    throw new ConfigError(problems);
  }
  return buildConfig(settingsSchema.parse(raw));
}

function readRawSettings(env: Record<string, string | undefined>): RawSettings {
  const raw: RawSettings = {};
  for (const name of SETTING_ENV_NAMES) {
    const value = env[name];
    if (value !== undefined && value.trim() !== '') {
      raw[name] = value;
    }
  }
  return raw;
}

function formatRawValue(name: SettingEnvName, value: string | undefined): string {
  if (value === undefined) return '(unset)';
  if (SETTINGS[name].secret) return `'${REDACTED}'`;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we hide.
  const printable = value.replace(/[\u0000-\u001f\u007f]/g, '?');
  return printable.length > 120 ? `'${printable.slice(0, 117)}...'` : `'${printable}'`;
}

function findCrossSettingProblems(
  raw: RawSettings,
  parsed: Partial<Record<SettingEnvName, unknown>>,
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const isSet = (name: SettingEnvName) => raw[name] !== undefined;
  const requireWith = (names: SettingEnvName[], because: string) => {
    for (const name of names.filter((n) => !isSet(n))) {
      problems.push({ setting: name, message: `not set; required ${because}` });
    }
  };

  if (isSet('KAFKA_SASL_MECHANISM')) {
    requireWith(['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD'], 'when KAFKA_SASL_MECHANISM is set');
  } else if (isSet('KAFKA_SASL_USERNAME') || isSet('KAFKA_SASL_PASSWORD')) {
    problems.push({
      setting: 'KAFKA_SASL_MECHANISM',
      message: `not set, but SASL credentials are; expected one of ${SASL_MECHANISMS.join(', ')}`,
    });
  }

  // TLS files with TLS off would be silently ignored: a security setting nobody applies.
  if (parsed.KAFKA_SSL === false) {
    const files: SettingEnvName[] = [
      'KAFKA_SSL_CA_FILE',
      'KAFKA_SSL_CERT_FILE',
      'KAFKA_SSL_KEY_FILE',
    ];
    for (const name of files.filter(isSet)) {
      problems.push({ setting: name, message: 'set, but KAFKA_SSL is false; set KAFKA_SSL=true' });
    }
  }
  if (isSet('KAFKA_SSL_CERT_FILE') !== isSet('KAFKA_SSL_KEY_FILE')) {
    requireWith(
      ['KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE'],
      'for mutual TLS (cert and key go together)',
    );
  }

  if (isSet('SCHEMA_REGISTRY_USERNAME') !== isSet('SCHEMA_REGISTRY_PASSWORD')) {
    requireWith(
      ['SCHEMA_REGISTRY_USERNAME', 'SCHEMA_REGISTRY_PASSWORD'],
      'for registry basic auth (user and password go together)',
    );
  }

  if (isSet('ROLLBACK_DB_PASSWORD') && !isSet('ROLLBACK_DB_USER')) {
    requireWith(['ROLLBACK_DB_USER'], 'when ROLLBACK_DB_PASSWORD is set');
  }

  const sourceMarkers: SettingEnvName[] = [
    'SOURCE_DB_HOST',
    'SOURCE_DB_NAME',
    'SOURCE_DB_USER',
    'SOURCE_DB_PASSWORD',
  ];
  if (sourceMarkers.some(isSet)) {
    requireWith(
      ['SOURCE_DB_HOST', 'SOURCE_DB_NAME', 'SOURCE_DB_USER'],
      'when any SOURCE_DB_* setting is set',
    );
  }
  return problems;
}

function buildConfig(s: ParsedSettings): PgferryConfig {
  const kafka: KafkaSettings = {
    brokers: s.KAFKA_BOOTSTRAP,
    clientId: s.KAFKA_CLIENT_ID,
    groupId: s.KAFKA_GROUP_ID,
    topicPattern: s.KAFKA_TOPIC_PATTERN,
    ssl: {
      enabled: s.KAFKA_SSL,
      ...optional('caFile', s.KAFKA_SSL_CA_FILE),
      ...optional('certFile', s.KAFKA_SSL_CERT_FILE),
      ...optional('keyFile', s.KAFKA_SSL_KEY_FILE),
    },
  };
  if (s.KAFKA_SASL_MECHANISM !== undefined) {
    kafka.sasl = {
      mechanism: s.KAFKA_SASL_MECHANISM,
      username: expectSet(s.KAFKA_SASL_USERNAME, 'KAFKA_SASL_USERNAME'),
      password: expectSet(s.KAFKA_SASL_PASSWORD, 'KAFKA_SASL_PASSWORD'),
    };
  }

  const config: PgferryConfig = {
    kafka,
    schemaRegistry: { url: s.SCHEMA_REGISTRY_URL },
    target: {
      host: s.TARGET_DB_HOST,
      port: s.TARGET_DB_PORT,
      database: s.TARGET_DB_NAME,
      user: s.TARGET_DB_USER,
      password: s.TARGET_DB_PASSWORD,
      sslMode: s.TARGET_DB_SSLMODE,
      ...optional('sslRootCert', s.TARGET_DB_SSLROOTCERT),
    },
    connect: {
      url: s.CONNECT_URL,
      connectorName: s.CONNECTOR_NAME,
      connectorConfigFile: s.CONNECTOR_CONFIG_FILE,
    },
    replication: { publication: s.SOURCE_PUBLICATION, slotName: s.SOURCE_SLOT_NAME },
    reverse: {
      connectorName: s.REVERSE_CONNECTOR_NAME,
      connectorConfigFile: s.REVERSE_CONNECTOR_CONFIG_FILE,
      publication: s.REVERSE_PUBLICATION,
      slotName: s.REVERSE_SLOT_NAME,
      groupId: s.REVERSE_KAFKA_GROUP_ID ?? `${s.KAFKA_GROUP_ID}-reverse`,
      topicPattern: s.REVERSE_KAFKA_TOPIC_PATTERN,
      ...(s.ROLLBACK_DB_USER === undefined
        ? {}
        : {
            sourceWriter: {
              user: s.ROLLBACK_DB_USER,
              ...optional('password', s.ROLLBACK_DB_PASSWORD),
            },
          }),
    },
    batch: { maxRows: s.BATCH_SIZE, maxBytes: s.BATCH_MAX_BYTES },
    consumer: {
      pollTimeoutSeconds: s.CONSUMER_POLL_TIMEOUT,
      topicRefreshSeconds: s.TOPIC_REFRESH_SECONDS,
    },
    dlq: { ...optional('topic', s.DLQ_TOPIC) },
    mapping: { ...optional('targetSchema', s.TARGET_SCHEMA) },
    retry: { maxDelaySeconds: s.RETRY_MAX_DELAY_SECONDS },
    metrics: { host: s.METRICS_HOST, port: s.METRICS_PORT },
    progress: { logSeconds: s.PROGRESS_LOG_SECONDS },
    log: { level: s.LOG_LEVEL },
    ...optional('faultInjection', s.PGFERRY_FAULT_INJECTION),
  };
  if (s.SCHEMA_REGISTRY_USERNAME !== undefined) {
    config.schemaRegistry.auth = {
      username: s.SCHEMA_REGISTRY_USERNAME,
      password: expectSet(s.SCHEMA_REGISTRY_PASSWORD, 'SCHEMA_REGISTRY_PASSWORD'),
    };
  }
  if (s.SOURCE_DB_HOST !== undefined) {
    config.source = {
      host: s.SOURCE_DB_HOST,
      port: s.SOURCE_DB_PORT,
      database: expectSet(s.SOURCE_DB_NAME, 'SOURCE_DB_NAME'),
      user: expectSet(s.SOURCE_DB_USER, 'SOURCE_DB_USER'),
      sslMode: s.SOURCE_DB_SSLMODE,
      ...optional('password', s.SOURCE_DB_PASSWORD),
      ...optional('sslRootCert', s.SOURCE_DB_SSLROOTCERT),
    };
  }
  return config;
}

/** Values that cross-setting rules already required; the throw only guards a broken rule. */
function expectSet<T>(value: T | undefined, name: SettingEnvName): T {
  if (value === undefined) {
    throw new ConfigError([{ setting: name, message: 'not set; required by another setting' }]);
  }
  return value;
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

// --- describing and redacting ---

/** The settings table: key, env var, description, default and secret flag of every setting. */
export function describeConfig(): ConfigSettingDescription[] {
  return SETTING_ENV_NAMES.map((env) => {
    const setting = SETTINGS[env];
    return {
      key: setting.key,
      env,
      description: setting.description,
      default: setting.default,
      secret: setting.secret,
    };
  });
}

/** A copy of `config` with every secret that is set replaced by "***", safe to print or log. */
export function redactConfig(config: PgferryConfig): PgferryConfig {
  const copy = structuredClone(config);
  for (const { key, secret } of describeConfig()) {
    if (secret && readConfigValue(copy, key) !== undefined) {
      writeConfigValue(copy, key, REDACTED);
    }
  }
  return copy;
}

/** Reads the value at a dotted `key` from the settings table; undefined when not set. */
export function readConfigValue(config: PgferryConfig, key: string): unknown {
  let node: unknown = config;
  for (const part of key.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

function writeConfigValue(config: PgferryConfig, key: string, value: unknown): void {
  const parts = key.split('.');
  const last = parts.pop();
  let node = config as unknown as Record<string, unknown>;
  for (const part of parts) {
    node = node[part] as Record<string, unknown>;
  }
  if (last !== undefined) node[last] = value;
}

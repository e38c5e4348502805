// The settings table: every setting of pgferry once, keyed by env var name, with where its value
// goes in the typed config (`key`). PgferryConfig and loadConfig are both derived from it.
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { LOG_LEVELS } from '../logger.js';
import { defineReverseSettings, defineSourceDbSettings } from './migration-settings.js';
import { SASL_MECHANISMS, SSL_MODES } from './setting-choices.js';
import { defineSetting } from './setting-definition.js';
import {
  parseBoolean,
  parseBrokerList,
  parseChoice,
  parseControlToken,
  parseFaultInjectionSetting,
  parseHttpUrl,
  parseInteger,
  parseRegExp,
  parseSeconds,
  parseSecret,
  parseText,
  parseTopicName,
} from './setting-parsers.js';
import { defineTableRoutingSettings } from './table-routing-settings.js';

/**
 * APPLY_CONCURRENCY's default: one partition per core, at least 2 (one commits while another
 * copies even on one core), at most 8 target connections.
 */
function defaultApplyConcurrency(): number {
  return Math.min(8, Math.max(2, availableParallelism()));
}

/**
 * Every setting, in the order `pgferry config check` lists them. A setting's `key` alone decides
 * where its value lands in PgferryConfig; `presence` decides whether it is always there.
 */
export const SETTINGS = {
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
      description:
        'JavaScript RegExp selecting the CDC topics to consume. Unset: the topics of SOURCE_SCHEMAS under KAFKA_TOPIC_PREFIX (default ^cdc\\.public\\..*; two schemas: ^cdc\\.(?:a|b)\\..*).',
      presence: 'derived',
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
      presence: 'group-marker',
    },
    parseChoice(SASL_MECHANISMS),
  ),
  KAFKA_SASL_USERNAME: defineSetting(
    {
      key: 'kafka.sasl.username',
      description: 'SASL user; required with KAFKA_SASL_MECHANISM.',
      presence: 'group-member',
    },
    parseText('a user name'),
  ),
  KAFKA_SASL_PASSWORD: defineSetting(
    {
      key: 'kafka.sasl.password',
      description: 'SASL password; required with KAFKA_SASL_MECHANISM.',
      presence: 'group-member',
      secret: true,
    },
    parseSecret(),
  ),
  KAFKA_SASL_ALLOW_PLAINTEXT: defineSetting(
    {
      key: 'kafka.saslAllowPlaintext',
      description:
        'Allow SASL (PLAIN or SCRAM) without KAFKA_SSL to brokers that are not loopback. Off: refused at start, because PLAIN sends the password in clear and neither protects the data or the session.',
      default: 'false',
    },
    parseBoolean(),
  ),
  SCHEMA_REGISTRY_URL: defineSetting(
    {
      key: 'schemaRegistry.url',
      description:
        'Confluent-compatible schema registry URL (Apicurio: its /apis/ccompat/v7 path). A `user:password@` in it is taken out and sent as basic auth, like SCHEMA_REGISTRY_USERNAME/PASSWORD (not together with them).',
      default: 'http://localhost:8081',
    },
    parseHttpUrl(),
  ),
  SCHEMA_REGISTRY_USERNAME: defineSetting(
    {
      key: 'schemaRegistry.auth.username',
      description: 'Registry basic-auth user; set together with SCHEMA_REGISTRY_PASSWORD.',
      presence: 'group-marker',
    },
    parseText('a user name'),
  ),
  SCHEMA_REGISTRY_PASSWORD: defineSetting(
    {
      key: 'schemaRegistry.auth.password',
      description: 'Registry basic-auth password; set together with SCHEMA_REGISTRY_USERNAME.',
      presence: 'group-member',
      secret: true,
    },
    parseSecret(),
  ),
  SCHEMA_REGISTRY_CA_FILE: defineSetting(
    {
      key: 'schemaRegistry.tls.caFile',
      description:
        'CA bundle (PEM file) to verify an https:// SCHEMA_REGISTRY_URL (unset: the system CAs).',
    },
    parseText('a file path'),
  ),
  SCHEMA_REGISTRY_CERT_FILE: defineSetting(
    {
      key: 'schemaRegistry.tls.certFile',
      description:
        'Client certificate (PEM file) for a registry that wants mutual TLS; set together with SCHEMA_REGISTRY_KEY_FILE.',
    },
    parseText('a file path'),
  ),
  SCHEMA_REGISTRY_KEY_FILE: defineSetting(
    {
      key: 'schemaRegistry.tls.keyFile',
      description: 'Private key (PEM file) of SCHEMA_REGISTRY_CERT_FILE; set together with it.',
    },
    parseText('a file path'),
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
      description:
        'Target database password. Required unless TARGET_DB_HOST is loopback or a socket directory, where unset = the local stack’s sample password (migration_secret).',
      presence: 'derived',
      secret: true,
    },
    parseSecret(),
  ),
  TARGET_DB_SSLMODE: defineSetting(
    {
      key: 'target.sslMode',
      description: `libpq-style sslmode for the target connection (${SSL_MODES.join(', ')}). Unset: verify-full when TARGET_DB_HOST is not loopback or a socket directory (never a silent fall back to plaintext over a network), prefer on this machine.`,
      presence: 'derived',
    },
    parseChoice(SSL_MODES),
  ),
  TARGET_DB_SSLROOTCERT: defineSetting(
    {
      key: 'target.sslRootCert',
      description:
        'CA bundle (PEM file) to verify the target server (unset: the system CAs). With sslmode=require it also verifies the CA, as libpq does.',
    },
    parseText('a file path'),
  ),
  TARGET_DB_SSLCERT: defineSetting(
    {
      key: 'target.sslCert',
      description:
        'Client certificate (PEM file) for the target, for `cert` authentication or clientcert=verify-full; set together with TARGET_DB_SSLKEY.',
    },
    parseText('a file path'),
  ),
  TARGET_DB_SSLKEY: defineSetting(
    {
      key: 'target.sslKey',
      description:
        'Private key (PEM file, unencrypted) of TARGET_DB_SSLCERT; set together with it.',
    },
    parseText('a file path'),
  ),
  ...defineSourceDbSettings(),
  CONNECT_URL: defineSetting(
    {
      key: 'connect.url',
      description:
        'Kafka Connect REST URL. A `user:password@` in it is taken out and sent as basic auth, like CONNECT_USERNAME/PASSWORD (not together with them).',
      default: 'http://localhost:8083',
    },
    parseHttpUrl(),
  ),
  CONNECT_USERNAME: defineSetting(
    {
      key: 'connect.auth.username',
      description: 'Kafka Connect REST basic-auth user; set together with CONNECT_PASSWORD.',
      presence: 'group-marker',
    },
    parseText('a user name'),
  ),
  CONNECT_PASSWORD: defineSetting(
    {
      key: 'connect.auth.password',
      description: 'Kafka Connect REST basic-auth password; set together with CONNECT_USERNAME.',
      presence: 'group-member',
      secret: true,
    },
    parseSecret(),
  ),
  CONNECT_CA_FILE: defineSetting(
    {
      key: 'connect.tls.caFile',
      description:
        'CA bundle (PEM file) to verify an https:// CONNECT_URL (unset: the system CAs).',
    },
    parseText('a file path'),
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
  CONNECTOR_AUTO_RESTART: defineSetting(
    {
      key: 'connect.autoRestart',
      description:
        "pgferry run restarts the connector's FAILED tasks (a registry or broker outage fails them for good), with a growing pause between attempts.",
      default: 'true',
    },
    parseBoolean(),
  ),
  CONNECTOR_AUTO_RESTART_MAX: defineSetting(
    {
      key: 'connect.autoRestartMax',
      description:
        'Restart attempts (10 s, 20 s, 40 s ... up to 5 min apart) before pgferry gives up and alerts; counted again once the task has run for 10 minutes.',
      default: '10',
    },
    parseInteger(1, 1000),
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
        'Max rows applied per target transaction. Default 5000, not the brief’s 100: fewer, larger COPY+merge round trips (bench: 1000 -> 5000 took the target’s CPU per change from ~26 to ~15-19 µs); BATCH_MAX_BYTES still bounds the memory.',
      default: '5000',
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
  APPLY_CONCURRENCY: defineSetting(
    {
      key: 'batch.applyConcurrency',
      description:
        'Partitions applied at once, each on its own target connection (a pool of this many sessions); the offsets row per partition and the position guard keep it exact. Default: the number of cores, at least 2 (the commit of one partition overlaps the COPY of another).',
      default: String(defaultApplyConcurrency()),
    },
    parseInteger(1, 64),
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
        'Target schema for every replicated table, with one source schema (several: SCHEMA_MAP). Unset: the source schema (cdc.<schema>.<table> -> <schema>.<table>).',
    },
    parseText('a schema name'),
  ),
  ...defineTableRoutingSettings(),
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
  COPY_METRICS_PORT: defineSetting(
    {
      key: 'metrics.copyPort',
      description:
        'Port of the /metrics endpoint of `pgferry copy` while it runs (its own, so a `pgferry run` can serve METRICS_PORT at the same time); 0 picks a free port.',
      default: '9465',
    },
    parseInteger(0, 65535),
  ),
  CONTROL_TOKEN: defineSetting(
    {
      key: 'control.token',
      description:
        'Bearer token that POST /pause and /resume on METRICS_PORT require (`Authorization: Bearer <token>`), and that `pgferry pause`/`resume` send. Unset: pause/resume are allowed only while the endpoint is bound to loopback (refused with 403 otherwise).',
      secret: true,
    },
    parseControlToken(),
  ),
  CONTROL_TOKEN_FILE: defineSetting(
    {
      key: 'control.tokenFile',
      description:
        'A file whose content (surrounding whitespace trimmed) is the CONTROL_TOKEN, e.g. a mounted secret; read when `pgferry run`, `pause` or `resume` starts. Not together with CONTROL_TOKEN.',
    },
    parseText('a file path'),
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
        'Testing only (the fault suite): `<point>[:hold|:delay=<ms>][@<n>|@*]` makes `pgferry run` hold or wait at staging-copy, merge or after-target-commit, and `pgferry copy` before a chunk (copy-chunk). Refused when NODE_ENV=production.',
    },
    parseFaultInjectionSetting(),
  ),
  LOG_LEVEL: defineSetting(
    { key: 'log.level', description: `Log level (${LOG_LEVELS.join(', ')}).`, default: 'info' },
    parseChoice(LOG_LEVELS),
  ),
};

export type SettingsTable = typeof SETTINGS;
export type SettingEnvName = keyof SettingsTable;
type SettingsShape = { [E in SettingEnvName]: SettingsTable[E]['schema'] };

export const SETTING_ENV_NAMES = Object.keys(SETTINGS) as SettingEnvName[];

/** The one schema of pgferry's settings, keyed by env var name, input = raw env strings. */
export const settingsSchema = z.object(
  Object.fromEntries(SETTING_ENV_NAMES.map((env) => [env, SETTINGS[env].schema])) as SettingsShape,
);

export type ParsedSettings = z.output<typeof settingsSchema>;
export type RawSettings = Partial<Record<SettingEnvName, string>>;

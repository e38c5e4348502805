import { availableParallelism } from 'node:os';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  describeConfig,
  loadConfig,
  type PgferryConfig,
  type PostgresSettings,
  readConfigValue,
  redactConfig,
  type SaslMechanism,
  type SettingEnvName,
  settingsSchema,
} from '../../core/config.js';
import { ConfigError } from '../../core/errors.js';
import type { FaultInjection } from '../../core/fault-points.js';

function loadConfigError(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected loadConfig to throw a ConfigError');
}

const FULL_ENV = {
  KAFKA_BOOTSTRAP: 'k1:9092, k2:9093',
  KAFKA_GROUP_ID: 'g',
  KAFKA_TOPIC_PATTERN: '^cdc\\.app\\..*',
  KAFKA_CLIENT_ID: 'c',
  KAFKA_SSL: 'true',
  KAFKA_SSL_CA_FILE: '/ca.pem',
  KAFKA_SSL_CERT_FILE: '/cert.pem',
  KAFKA_SSL_KEY_FILE: '/key.pem',
  KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
  KAFKA_SASL_USERNAME: 'kuser',
  KAFKA_SASL_PASSWORD: 'kafka-pass-1',
  SCHEMA_REGISTRY_URL: 'https://registry.example:8443/apis/ccompat/v7/',
  SCHEMA_REGISTRY_USERNAME: 'ruser',
  SCHEMA_REGISTRY_PASSWORD: 'registry-pass-2',
  SCHEMA_REGISTRY_CA_FILE: '/registry-ca.pem',
  SCHEMA_REGISTRY_CERT_FILE: '/registry-client.pem',
  SCHEMA_REGISTRY_KEY_FILE: '/registry-client.key',
  TARGET_DB_HOST: 'target',
  TARGET_DB_PORT: '6543',
  TARGET_DB_NAME: 'tdb',
  TARGET_DB_USER: 'tuser',
  TARGET_DB_PASSWORD: 'target-pass-3',
  TARGET_DB_SSLMODE: 'verify-full',
  TARGET_DB_SSLROOTCERT: '/target-ca.pem',
  SOURCE_DB_HOST: 'source',
  SOURCE_DB_PORT: '6432',
  SOURCE_DB_NAME: 'sdb',
  SOURCE_DB_USER: 'suser',
  SOURCE_DB_PASSWORD: 'source-pass-4',
  SOURCE_DB_SSLMODE: 'require',
  SOURCE_DB_SSLROOTCERT: '/source-ca.pem',
  SOURCE_DB_SSLCERT: '/source-client.pem',
  SOURCE_DB_SSLKEY: '/source-client.key',
  TARGET_DB_SSLCERT: '/target-client.pem',
  TARGET_DB_SSLKEY: '/target-client.key',
  ROLLBACK_DB_USER: 'rollback',
  ROLLBACK_DB_PASSWORD: 'rollback-pass-5',
  REVERSE_KAFKA_GROUP_ID: 'g-rev',
  CONNECT_URL: 'https://connect:8083',
  CONNECT_CA_FILE: '/connect-ca.pem',
  CONNECT_USERNAME: 'cuser',
  CONNECT_PASSWORD: 'connect-pass-7',
  CONNECTOR_NAME: 'my-source',
  CONNECTOR_CONFIG_FILE: 'x.json',
  BATCH_SIZE: '500',
  BATCH_MAX_BYTES: '2048',
  APPLY_CONCURRENCY: '3',
  CONSUMER_POLL_TIMEOUT: '0.25',
  DLQ_TOPIC: 'my.dlq',
  TARGET_SCHEMA: 'migrated',
  KAFKA_TOPIC_PREFIX: 'cdc',
  TABLES_INCLUDE: 'app.*',
  TABLES_EXCLUDE: 'app.tmp_*',
  METRICS_HOST: '0.0.0.0',
  METRICS_PORT: '9999',
  CONTROL_TOKEN: 'control-token-6-0123456789',
  LOG_LEVEL: 'debug',
  PGFERRY_FAULT_INJECTION: 'merge:delay=250@2',
};

/** FULL_ENV plus the settings it leaves at their defaults: every setting of the table is set. */
const EVERY_SETTING_ENV: Record<SettingEnvName, string> = {
  ...FULL_ENV,
  SOURCE_PUBLICATION: 'pub',
  SOURCE_SLOT_NAME: 'slot',
  TOPIC_REFRESH_SECONDS: '5',
  RETRY_MAX_DELAY_SECONDS: '12',
  PROGRESS_LOG_SECONDS: '7',
  COPY_METRICS_PORT: '9998',
  CONNECTOR_AUTO_RESTART: 'false',
  CONNECTOR_AUTO_RESTART_MAX: '3',
  REVERSE_CONNECTOR_NAME: 'rev-connector',
  REVERSE_CONNECTOR_CONFIG_FILE: 'rev.json',
  REVERSE_PUBLICATION: 'rev_pub',
  REVERSE_SLOT_NAME: 'rev_slot',
  REVERSE_KAFKA_TOPIC_PATTERN: '^rev\\.app\\..*',
  CONTROL_TOKEN_FILE: '/run/secrets/control-token',
  KAFKA_SASL_ALLOW_PLAINTEXT: 'true',
  SOURCE_SCHEMAS: 'app',
  SCHEMA_MAP: 'app:migrated',
};

/** Settings that exclude each other (setting both is a ConfigError). */
const EXCLUSIVE_PAIRS: readonly (readonly [SettingEnvName, SettingEnvName])[] = [
  ['CONTROL_TOKEN', 'CONTROL_TOKEN_FILE'],
  ['TARGET_SCHEMA', 'SCHEMA_MAP'],
];

/** EVERY_SETTING_ENV without the first, then without the second, of each exclusive pair. */
function everySettingVariants(): Partial<Record<SettingEnvName, string>>[] {
  return [0, 1].map((dropped) => {
    const env: Partial<Record<SettingEnvName, string>> = { ...EVERY_SETTING_ENV };
    for (const pair of EXCLUSIVE_PAIRS) delete env[pair[dropped] as SettingEnvName];
    return env;
  });
}

/** The dotted paths of `config`'s values, taking each settings-table key as one value. */
function valuePaths(node: unknown, keys: ReadonlySet<string>, prefix = ''): string[] {
  return Object.entries(node as Record<string, unknown>).flatMap(([name, value]) => {
    const path = `${prefix}${name}`;
    if (keys.has(path)) return [path];
    if (
      value !== null &&
      typeof value === 'object' &&
      Object.getPrototypeOf(value) === Object.prototype
    ) {
      return valuePaths(value, keys, `${path}.`);
    }
    return [`${path} (in no setting)`];
  });
}

const SECRET_VALUES = [
  'kafka-pass-1',
  'registry-pass-2',
  'target-pass-3',
  'source-pass-4',
  'rollback-pass-5',
  'control-token-6-0123456789',
  'connect-pass-7',
];

describe('loadConfig defaults', () => {
  it('gives every documented default when the env is empty', () => {
    const config = loadConfig({});
    expect(config.kafka.brokers).toEqual(['localhost:9092']);
    expect(config.kafka.groupId).toBe('cdc-consumer-group');
    expect(config.kafka.clientId).toBe('pgferry');
    expect(config.kafka.topicPattern.test('cdc.public.orders')).toBe(true);
    expect(config.kafka.topicPattern.test('cdc.audit.orders')).toBe(false);
    expect(config.kafka.ssl).toEqual({ enabled: false });
    expect(config.kafka.sasl).toBeUndefined();
    expect(config.schemaRegistry).toEqual({ url: 'http://localhost:8081', tls: {} });
    expect(config.target).toEqual({
      host: 'localhost',
      port: 5433,
      database: 'targetdb',
      user: 'migration',
      password: 'migration_secret',
      sslMode: 'prefer',
    });
    expect(config.source).toBeUndefined();
    expect(config.connect).toEqual({
      url: 'http://localhost:8083',
      connectorName: 'pgferry-source',
      autoRestart: true,
      autoRestartMax: 10,
      connectorConfigFile: 'connect-config/debezium-source.json',
      tls: {},
    });
    expect(config.batch).toEqual({
      maxRows: 5000,
      maxBytes: 16 * 1024 * 1024,
      applyConcurrency: Math.min(8, Math.max(2, availableParallelism())),
    });
    expect(config.consumer.pollTimeoutSeconds).toBe(1);
    expect(config.dlq.topic).toBeUndefined();
    expect(config.metrics).toEqual({ host: '127.0.0.1', port: 9464, copyPort: 9465 });
    expect(config.log.level).toBe('info');
  });

  it('treats empty and blank values as unset and ignores unknown variables', () => {
    const config = loadConfig({
      KAFKA_GROUP_ID: '',
      TARGET_DB_PORT: '   ',
      PATH: '/bin',
      KAFKA_FOO: 'x',
    });
    expect(config.kafka.groupId).toBe('cdc-consumer-group');
    expect(config.target.port).toBe(5433);
  });

  it('parses every setting when all are given', () => {
    const config = loadConfig(FULL_ENV);
    expect(config.kafka.brokers).toEqual(['k1:9092', 'k2:9093']);
    expect(config.kafka.ssl).toEqual({
      enabled: true,
      caFile: '/ca.pem',
      certFile: '/cert.pem',
      keyFile: '/key.pem',
    });
    expect(config.kafka.sasl).toEqual({
      mechanism: 'scram-sha-512',
      username: 'kuser',
      password: 'kafka-pass-1',
    });
    expect(config.schemaRegistry).toEqual({
      url: 'https://registry.example:8443/apis/ccompat/v7',
      auth: { username: 'ruser', password: 'registry-pass-2' },
      tls: {
        caFile: '/registry-ca.pem',
        certFile: '/registry-client.pem',
        keyFile: '/registry-client.key',
      },
    });
    expect(config.connect.auth).toEqual({ username: 'cuser', password: 'connect-pass-7' });
    expect(config.target.sslMode).toBe('verify-full');
    expect(config.source).toEqual({
      host: 'source',
      port: 6432,
      database: 'sdb',
      user: 'suser',
      password: 'source-pass-4',
      sslMode: 'require',
      sslRootCert: '/source-ca.pem',
      sslCert: '/source-client.pem',
      sslKey: '/source-client.key',
    });
    expect(config.consumer.pollTimeoutSeconds).toBe(0.25);
    expect(config.batch).toEqual({ maxRows: 500, maxBytes: 2048, applyConcurrency: 3 });
    expect(config.log.level).toBe('debug');
  });
});

describe('describeConfig', () => {
  it('lists one row per schema setting, each with an env name, description and key', () => {
    const rows = describeConfig();
    expect(rows.map((row) => row.env).sort()).toEqual(Object.keys(settingsSchema.shape).sort());
    for (const row of rows) {
      expect(row.description.length).toBeGreaterThan(10);
    }
    expect(rows.find((row) => row.env === 'BATCH_SIZE')?.default).toBe('5000');
    expect(rows.filter((row) => row.secret).map((row) => row.env)).toEqual([
      'KAFKA_SASL_PASSWORD',
      'SCHEMA_REGISTRY_PASSWORD',
      'TARGET_DB_PASSWORD',
      'SOURCE_DB_PASSWORD',
      'CONNECT_PASSWORD',
      'CONTROL_TOKEN',
      'ROLLBACK_DB_PASSWORD',
    ]);
  });

  it('names keys that exist in the loaded config', () => {
    const configs = [
      FULL_ENV,
      { ...FULL_ENV, CONTROL_TOKEN: '', CONTROL_TOKEN_FILE: '/t' },
      { ...FULL_ENV, TARGET_SCHEMA: '', SOURCE_SCHEMAS: 'app', SCHEMA_MAP: 'app:migrated' },
    ].map((env) => loadConfig(env));
    for (const row of describeConfig()) {
      const values = configs.map((config) => readConfigValue(config, row.key));
      expect(
        values.find((value) => value !== undefined),
        row.key,
      ).toBeDefined();
    }
  });
});

describe('the typed config, derived from the settings table', () => {
  it('puts each setting at its key, as its own schema parses it (readConfigValue reads it back)', () => {
    const rows = describeConfig();
    expect(Object.keys(EVERY_SETTING_ENV).sort()).toEqual(rows.map((row) => row.env).sort());
    expect(new Set(rows.map((row) => row.key)).size).toBe(rows.length);
    for (const variant of everySettingVariants()) {
      const config = loadConfig(variant);
      for (const row of rows) {
        const env = row.env as SettingEnvName;
        const raw = variant[env];
        if (raw === undefined) continue;
        const parsed = settingsSchema.shape[env].parse(raw);
        expect(readConfigValue(config, row.key), `${row.env} at ${row.key}`).toEqual(parsed);
      }
    }
  });

  it('holds exactly the settings of the table: none missing, nothing else', () => {
    const keys = new Set(describeConfig().map((row) => row.key));
    const paths = new Set(
      everySettingVariants().flatMap((variant) => valuePaths(loadConfig(variant), keys)),
    );
    expect([...paths].sort()).toEqual([...keys].sort());
  });

  it('has every defaulted setting and the derived reverse group id when nothing is set', () => {
    const config = loadConfig({});
    for (const row of describeConfig()) {
      // SOURCE_DB_* is an optional group: with SOURCE_DB_HOST unset there is no `source` at all.
      if (row.default === undefined || row.key.startsWith('source.')) continue;
      expect(readConfigValue(config, row.key), row.key).toBeDefined();
    }
    expect(config.reverse.groupId).toBe('cdc-consumer-group-reverse');
    expect(loadConfig({ KAFKA_GROUP_ID: ' g ' }).reverse.groupId).toBe('g-reverse');
    expect(config.dlq).toEqual({});
    expect(Object.keys(config.mapping)).toEqual([]);
    expect('faultInjection' in config).toBe(false);
    expect('sasl' in config.kafka).toBe(false);
  });

  it('types optional groups, defaults and derived values as the table declares (tsc checks)', () => {
    const config = loadConfig(FULL_ENV);
    expectTypeOf(config.kafka.groupId).toEqualTypeOf<string>();
    expectTypeOf(config.kafka.brokers).toEqualTypeOf<string[]>();
    expectTypeOf(config.kafka.sasl).toEqualTypeOf<
      { mechanism: SaslMechanism; username: string; password: string } | undefined
    >();
    expectTypeOf(config.source).toEqualTypeOf<PostgresSettings | undefined>();
    expectTypeOf(config.target).toEqualTypeOf<PostgresSettings>();
    expectTypeOf(config.reverse.groupId).toEqualTypeOf<string>();
    expectTypeOf(config.reverse.sourceWriter).toEqualTypeOf<
      { user: string; password?: string } | undefined
    >();
    expectTypeOf(config.dlq).toEqualTypeOf<{ topic?: string }>();
    expectTypeOf(config.faultInjection).toEqualTypeOf<FaultInjection | undefined>();
    expectTypeOf<keyof PgferryConfig>().toEqualTypeOf<
      | 'kafka'
      | 'schemaRegistry'
      | 'target'
      | 'source'
      | 'connect'
      | 'replication'
      | 'reverse'
      | 'batch'
      | 'consumer'
      | 'dlq'
      | 'mapping'
      | 'retry'
      | 'metrics'
      | 'control'
      | 'progress'
      | 'log'
      | 'faultInjection'
    >();
  });
});

describe('loadConfig validation', () => {
  it('reports every invalid setting in one error', () => {
    const error = loadConfigError({
      KAFKA_BOOTSTRAP: 'localhost',
      KAFKA_TOPIC_PATTERN: '^cdc\\.(',
      KAFKA_SSL: 'maybe',
      TARGET_DB_PORT: '70000',
      TARGET_DB_SSLMODE: 'strict',
      BATCH_SIZE: '0',
      APPLY_CONCURRENCY: '0',
      CONSUMER_POLL_TIMEOUT: '-1',
      CONNECT_URL: 'ftp://connect',
      DLQ_TOPIC: 'bad topic',
      LOG_LEVEL: 'loud',
    });
    expect(error.problems.map((problem) => problem.setting)).toEqual([
      'KAFKA_BOOTSTRAP',
      'KAFKA_TOPIC_PATTERN',
      'KAFKA_SSL',
      'TARGET_DB_PORT',
      'TARGET_DB_SSLMODE',
      'CONNECT_URL',
      'BATCH_SIZE',
      'APPLY_CONCURRENCY',
      'CONSUMER_POLL_TIMEOUT',
      'DLQ_TOPIC',
      'LOG_LEVEL',
    ]);
    expect(error.retriable).toBe(false);
    expect(error.message).toMatch(/^Invalid pgferry configuration \(11 problems\):\n/);
    expect(error.message).toContain(
      "  - TARGET_DB_PORT: got '70000'; expected an integer from 1 to 65535",
    );
    expect(error.message).toContain(
      "  - TARGET_DB_SSLMODE: got 'strict'; expected one of disable, prefer, require, verify-ca, verify-full",
    );
    expect(error.message).toContain(
      "  - BATCH_SIZE: got '0'; expected an integer from 1 to 100000",
    );
  });

  it('reports field errors together with cross-setting errors', () => {
    const error = loadConfigError({ TARGET_DB_PORT: 'x', KAFKA_SASL_MECHANISM: 'plain' });
    expect(error.problems.map((problem) => problem.setting)).toEqual([
      'TARGET_DB_PORT',
      'KAFKA_SASL_USERNAME',
      'KAFKA_SASL_PASSWORD',
    ]);
  });

  it('requires KAFKA_TOPIC_PATTERN to compile as a RegExp', () => {
    const error = loadConfigError({ KAFKA_TOPIC_PATTERN: '[unclosed' });
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]?.message).toMatch(/expected a JavaScript regular expression \(.+\)/);
    expect(
      loadConfig({ KAFKA_TOPIC_PATTERN: '^cdc\\.(public|app)\\..*$' }).kafka.topicPattern.source,
    ).toBe('^cdc\\.(public|app)\\..*$');
  });

  it('accepts each sslmode in any case and rejects others', () => {
    for (const mode of ['disable', 'prefer', 'require', 'verify-ca', 'verify-full']) {
      expect(loadConfig({ TARGET_DB_SSLMODE: mode.toUpperCase() }).target.sslMode).toBe(mode);
    }
    expect(loadConfigError({ TARGET_DB_SSLMODE: 'allow' }).problems[0]?.setting).toBe(
      'TARGET_DB_SSLMODE',
    );
  });

  it('requires SASL username and password with a mechanism, and a mechanism with credentials', () => {
    expect(
      loadConfigError({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u' }).problems,
    ).toEqual([
      {
        setting: 'KAFKA_SASL_PASSWORD',
        message: 'not set; required when KAFKA_SASL_MECHANISM is set',
      },
    ]);
    const missingMechanism = loadConfigError({
      KAFKA_SASL_USERNAME: 'u',
      KAFKA_SASL_PASSWORD: 'p',
    });
    expect(missingMechanism.problems.map((problem) => problem.setting)).toEqual([
      'KAFKA_SASL_MECHANISM',
    ]);
    expect(
      loadConfigError({ KAFKA_SASL_MECHANISM: 'gssapi' }).problems.map((p) => p.setting),
    ).toEqual(['KAFKA_SASL_MECHANISM', 'KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD']);
  });

  it('rejects TLS files while KAFKA_SSL is off, and a cert without its key', () => {
    const error = loadConfigError({ KAFKA_SSL_CA_FILE: '/ca.pem', KAFKA_SSL_CERT_FILE: '/c.pem' });
    expect(error.problems.map((problem) => problem.setting)).toEqual([
      'KAFKA_SSL_CA_FILE',
      'KAFKA_SSL_CERT_FILE',
      'KAFKA_SSL_KEY_FILE',
    ]);
    expect(loadConfig({ KAFKA_SSL: 'yes', KAFKA_SSL_CA_FILE: '/ca.pem' }).kafka.ssl).toEqual({
      enabled: true,
      caFile: '/ca.pem',
    });
  });

  it('treats SOURCE_DB_* as an all-or-nothing group', () => {
    expect(loadConfigError({ SOURCE_DB_HOST: 'src' }).problems.map((p) => p.setting)).toEqual([
      'SOURCE_DB_NAME',
      'SOURCE_DB_USER',
      'SOURCE_DB_PASSWORD',
    ]);
    expect(
      loadConfig({ SOURCE_DB_HOST: 'localhost', SOURCE_DB_NAME: 'd', SOURCE_DB_USER: 'u' }).source,
    ).toEqual({
      host: 'localhost',
      port: 5432,
      database: 'd',
      user: 'u',
      sslMode: 'prefer',
    });
  });

  it('validates broker lists entry by entry', () => {
    expect(loadConfig({ KAFKA_BOOTSTRAP: 'a:1,[::1]:9092,' }).kafka.brokers).toEqual([
      'a:1',
      '[::1]:9092',
    ]);
    const error = loadConfigError({ KAFKA_BOOTSTRAP: 'a:9092,b:0,c' });
    expect(error.problems[0]?.message).toContain("bad entry: 'b:0', 'c'");
  });
});

describe('secrets', () => {
  it('never shows secret values in a ConfigError', () => {
    const error = loadConfigError({
      ...FULL_ENV,
      KAFKA_SASL_MECHANISM: undefined,
      SCHEMA_REGISTRY_USERNAME: undefined,
      SOURCE_DB_HOST: undefined,
      SOURCE_DB_NAME: undefined,
      TARGET_DB_PORT: 'not-a-port',
    });
    expect(error.problems.map((problem) => problem.setting)).toEqual([
      'TARGET_DB_PORT',
      'KAFKA_SASL_MECHANISM',
      'SCHEMA_REGISTRY_USERNAME',
      'SOURCE_DB_HOST',
      'SOURCE_DB_NAME',
    ]);
    for (const secret of SECRET_VALUES) {
      expect(error.message).not.toContain(secret);
    }
  });

  it('masks a rejected secret value in the error message', () => {
    const error = loadConfigError({
      TARGET_DB_PASSWORD: 'target-pass-3\n',
      TARGET_DB_PORT: 'p0rt',
    });
    expect(error.problems).toEqual([
      { setting: 'TARGET_DB_PORT', message: "got 'p0rt'; expected an integer from 1 to 65535" },
      {
        setting: 'TARGET_DB_PASSWORD',
        message: "got '***'; expected no line breaks (a trailing newline?)",
      },
    ]);
    expect(error.message).not.toContain('target-pass-3');
  });

  it('redactConfig replaces every set secret with *** and leaves the input alone', () => {
    const config = loadConfig(FULL_ENV);
    const redacted = redactConfig(config);
    expect(redacted.kafka.sasl?.password).toBe('***');
    expect(redacted.schemaRegistry.auth?.password).toBe('***');
    expect(redacted.target.password).toBe('***');
    expect(redacted.source?.password).toBe('***');
    expect(redacted.control.token).toBe('***');
    expect(redacted.connect.auth?.password).toBe('***');
    expect(redacted.reverse.sourceWriter?.password).toBe('***');
    expect(redacted.kafka.sasl?.username).toBe('kuser');
    expect(redacted.kafka.topicPattern).toBeInstanceOf(RegExp);
    const text = JSON.stringify(redacted);
    for (const secret of SECRET_VALUES) {
      expect(text).not.toContain(secret);
    }
    expect(config.target.password).toBe('target-pass-3');
  });

  it('redactConfig does not invent secrets that are unset', () => {
    const redacted = redactConfig(loadConfig({}));
    expect(redacted.kafka.sasl).toBeUndefined();
    expect(redacted.source).toBeUndefined();
    expect(redacted.target.password).toBe('***');
  });
});

describe('credentials in URL settings', () => {
  it('takes user:password@ out of the registry and Connect URLs into their basic-auth settings', () => {
    const config = loadConfig({
      SCHEMA_REGISTRY_URL:
        'https://reg%40user:p%40ss%2Fw0rd@registry.example:8443/apis/ccompat/v7/',
      CONNECT_URL: 'http://admin:c0nnect%20pass@connect:8083',
    });
    expect(config.schemaRegistry).toEqual({
      url: 'https://registry.example:8443/apis/ccompat/v7',
      auth: { username: 'reg@user', password: 'p@ss/w0rd' },
      tls: {},
    });
    expect(config.connect.url).toBe('http://connect:8083');
    expect(config.connect.auth).toEqual({ username: 'admin', password: 'c0nnect pass' });
    expect(JSON.stringify(redactConfig(config))).not.toMatch(/p@ss|p%40ss|c0nnect/);
  });

  it('refuses credentials given both in the URL and as settings, without echoing either', () => {
    const error = loadConfigError({
      SCHEMA_REGISTRY_URL: 'http://u:url-pass-8@registry:8081',
      SCHEMA_REGISTRY_USERNAME: 'u',
      SCHEMA_REGISTRY_PASSWORD: 'registry-pass-2',
      CONNECT_URL: 'http://u:url-pass-9@connect:8083',
      CONNECT_PASSWORD: 'connect-pass-7',
    });
    expect(error.problems.map((p) => p.setting)).toEqual([
      'SCHEMA_REGISTRY_URL',
      'CONNECT_URL',
      'CONNECT_USERNAME',
    ]);
    expect(error.problems[0]?.message).toMatch(/give the credentials one way only/);
    expect(error.message).not.toMatch(/url-pass|registry-pass|connect-pass/);
  });

  it('refuses a URL with only a user name or only a password', () => {
    const error = loadConfigError({
      SCHEMA_REGISTRY_URL: 'http://someone@registry:8081',
      CONNECT_URL: 'http://:lonely-pass@connect:8083',
    });
    expect(error.problems).toEqual([
      {
        setting: 'SCHEMA_REGISTRY_URL',
        message: expect.stringMatching(/a user name but no password/),
      },
      { setting: 'CONNECT_URL', message: expect.stringMatching(/a password but no user name/) },
    ]);
    expect(error.message).not.toContain('lonely-pass');
  });

  it('never echoes the userinfo of a URL it cannot parse', () => {
    const error = loadConfigError({
      SCHEMA_REGISTRY_URL: 'http://u:bad/pass-1@registry:8081',
      CONNECT_URL: 'ftp://u:bad-pass-2@connect:2121',
    });
    expect(error.problems.map((p) => p.setting)).toEqual(['SCHEMA_REGISTRY_URL', 'CONNECT_URL']);
    expect(error.message).not.toMatch(/bad|pass/);
    expect(error.message).toContain("got 'ftp://connect:2121'");
  });
});

describe('database passwords outside the local stack', () => {
  it('keeps the sample target password on loopback hosts and socket directories only', () => {
    for (const host of [
      'localhost',
      '127.0.0.1',
      '127.1.2.3',
      '::1',
      '[::1]',
      '/var/run/postgresql',
    ]) {
      expect(loadConfig({ TARGET_DB_HOST: host }).target.password, host).toBe('migration_secret');
    }
    expect(describeConfig().find((row) => row.env === 'TARGET_DB_PASSWORD')?.default).toBe(
      undefined,
    );
  });

  it('requires TARGET_DB_PASSWORD for any other host, naming the variable', () => {
    for (const host of ['db.example.com', '10.0.0.5', 'target-db', 'localhost.example']) {
      const error = loadConfigError({ TARGET_DB_HOST: host });
      expect(error.problems).toEqual([
        { setting: 'TARGET_DB_PASSWORD', message: expect.stringMatching(/^not set; required/) },
      ]);
      expect(error.message).toContain(`TARGET_DB_HOST (${host})`);
    }
    expect(loadConfig({ TARGET_DB_HOST: 'db', TARGET_DB_PASSWORD: 'p' }).target.password).toBe('p');
  });

  it('requires SOURCE_DB_PASSWORD, and ROLLBACK_DB_PASSWORD with ROLLBACK_DB_USER, off loopback', () => {
    const source = { SOURCE_DB_HOST: 'source.example', SOURCE_DB_NAME: 'd', SOURCE_DB_USER: 'u' };
    const error = loadConfigError({ ...source, ROLLBACK_DB_USER: 'w' });
    expect(error.problems.map((p) => p.setting)).toEqual([
      'SOURCE_DB_PASSWORD',
      'ROLLBACK_DB_PASSWORD',
    ]);
    expect(() =>
      loadConfig({
        ...source,
        SOURCE_DB_PASSWORD: 's',
        ROLLBACK_DB_USER: 'w',
        ROLLBACK_DB_PASSWORD: 'r',
      }),
    ).not.toThrow();
    const local = loadConfig({ ...source, SOURCE_DB_HOST: '127.0.0.1', ROLLBACK_DB_USER: 'w' });
    expect(local.source?.password).toBeUndefined();
    expect(local.reverse.sourceWriter?.password).toBeUndefined();
  });
});

describe('PGFERRY_FAULT_INJECTION (testing only)', () => {
  it('parses a point, an action and the hit that triggers', () => {
    expect(
      loadConfig({ ...FULL_ENV, PGFERRY_FAULT_INJECTION: 'staging-copy' }).faultInjection,
    ).toEqual({
      point: 'staging-copy',
      action: { kind: 'hold' },
      hit: 1,
    });
    expect(loadConfig(FULL_ENV).faultInjection).toEqual({
      point: 'merge',
      action: { kind: 'delay', ms: 250 },
      hit: 2,
    });
  });

  it('names an unknown point or a malformed value', () => {
    expect(() => loadConfig({ ...FULL_ENV, PGFERRY_FAULT_INJECTION: 'everywhere' })).toThrow(
      /PGFERRY_FAULT_INJECTION.*unknown point; expected one of staging-copy, merge, after-target-commit, copy-chunk/,
    );
    expect(() => loadConfig({ ...FULL_ENV, PGFERRY_FAULT_INJECTION: 'merge:explode' })).toThrow(
      /PGFERRY_FAULT_INJECTION.*expected <point>\[:hold\|:delay=<ms>\]\[@<n>\|@\*\]/,
    );
    expect(() => loadConfig({ ...FULL_ENV, PGFERRY_FAULT_INJECTION: 'merge@0' })).toThrow(
      /starts at 1/,
    );
    expect(() => loadConfig({ ...FULL_ENV, NODE_ENV: 'production' })).toThrow(
      /PGFERRY_FAULT_INJECTION.*refused with NODE_ENV=production/,
    );
  });
});

// Loading: reads the settings from the env once at start, validates each on its own and across
// settings, and reports every problem in one ConfigError.
import { ConfigError, type ConfigProblem } from '../errors.js';
import { redactUrl, redactUrlsInText } from '../redact-url.js';
import { buildConfig } from './build-config.js';
import { REDACTED } from './config-description.js';
import { findMissingDatabasePasswords } from './database-passwords.js';
import { findDatabaseTlsProblems } from './database-tls-settings.js';
import { findHttpTlsProblems } from './http-tls-settings.js';
import { findKafkaPlaintextSaslProblems } from './kafka-sasl-transport.js';
import type { PgferryConfig } from './pgferry-config.js';
import { findSchemaMappingProblems, type SchemaMappingValues } from './schema-mapping-settings.js';
import { SASL_MECHANISMS } from './setting-choices.js';
import {
  type RawSettings,
  SETTING_ENV_NAMES,
  SETTINGS,
  type SettingEnvName,
  settingsSchema,
} from './settings-table.js';
import { moveUrlCredentials, URL_CREDENTIAL_SETTINGS } from './url-credentials-settings.js';

/**
 * Validates the settings found in `env` and returns the typed config. Unknown variables are
 * ignored, empty values count as unset, and every invalid setting is reported in one ConfigError.
 */
export function loadConfig(env: Record<string, string | undefined>): PgferryConfig {
  const { raw, problems } = moveUrlCredentials(readRawSettings(env));
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
  problems.push(...findMissingDatabasePasswords(raw));
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

const URL_SETTINGS = new Set<SettingEnvName>(URL_CREDENTIAL_SETTINGS.map((names) => names.url));

function formatRawValue(name: SettingEnvName, value: string | undefined): string {
  if (value === undefined) return '(unset)';
  if (SETTINGS[name].secret) return `'${REDACTED}'`;
  // A URL too malformed to split may still hold a password: show it without any userinfo.
  const shown = URL_SETTINGS.has(name) ? redactUrl(value) : redactUrlsInText(value);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we hide.
  const printable = shown.replace(/[\u0000-\u001f\u007f]/g, '?');
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

  problems.push(...findKafkaPlaintextSaslProblems(raw, parsed));

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

  problems.push(...findSchemaMappingProblems(parsed as SchemaMappingValues));

  problems.push(...findDatabaseTlsProblems(raw));
  problems.push(...findHttpTlsProblems(raw, parsed));

  if (isSet('SCHEMA_REGISTRY_USERNAME') !== isSet('SCHEMA_REGISTRY_PASSWORD')) {
    requireWith(
      ['SCHEMA_REGISTRY_USERNAME', 'SCHEMA_REGISTRY_PASSWORD'],
      'for registry basic auth (user and password go together)',
    );
  }
  if (isSet('CONNECT_USERNAME') !== isSet('CONNECT_PASSWORD')) {
    requireWith(
      ['CONNECT_USERNAME', 'CONNECT_PASSWORD'],
      'for Kafka Connect basic auth (user and password go together)',
    );
  }

  // Two sources for one secret: which one wins would be a guess, and a stale one a surprise.
  if (isSet('CONTROL_TOKEN') && isSet('CONTROL_TOKEN_FILE')) {
    problems.push({
      setting: 'CONTROL_TOKEN_FILE',
      message: 'set together with CONTROL_TOKEN; set only one of them',
    });
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

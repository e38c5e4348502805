// Builds the typed config from parsed settings without a second mapping: each value is written at
// its setting's `key`. Beyond that only two table-driven rules: optional groups and derived values.
import { ConfigError } from '../errors.js';
import { ensureConfigObject, parentPath, writeConfigValue } from './config-path.js';
import { deriveTargetPassword } from './database-passwords.js';
import { deriveSslMode } from './database-ssl-mode.js';
import type { PgferryConfig, SettingValue } from './pgferry-config.js';
import { deriveTopicPattern } from './schema-mapping-settings.js';
import {
  type ParsedSettings,
  SETTING_ENV_NAMES,
  SETTINGS,
  type SettingEnvName,
  type SettingsTable,
} from './settings-table.js';

type DerivedEnvName = {
  [E in SettingEnvName]: SettingsTable[E]['presence'] extends 'derived' ? E : never;
}[SettingEnvName];

/**
 * Values computed from other settings when their own setting is unset: not an env-string default,
 * so `config check` lists no default for them. Every 'derived' setting needs its entry here.
 */
const DERIVED_VALUES: { [E in DerivedEnvName]: (config: PgferryConfig) => SettingValue<E> } = {
  KAFKA_TOPIC_PATTERN: (config) =>
    deriveTopicPattern(config.mapping.topicPrefix, config.mapping.sourceSchemas),
  // The reverse connector's topic.prefix is the reverse file's (rev); the schemas keep their names.
  REVERSE_KAFKA_TOPIC_PATTERN: (config) => deriveTopicPattern('rev', config.mapping.sourceSchemas),
  REVERSE_KAFKA_GROUP_ID: (config) => `${config.kafka.groupId}-reverse`,
  TARGET_DB_PASSWORD: (config) => deriveTargetPassword(config.target.host),
  TARGET_DB_SSLMODE: (config) => deriveSslMode(config.target.host),
  // Only reached when the SOURCE_DB_* group is set (a closed group's settings are skipped).
  SOURCE_DB_SSLMODE: (config) => deriveSslMode(config.source?.host ?? ''),
};

/** Optional objects of the config (e.g. 'kafka.sasl', 'source') and the setting that opens each. */
const GROUP_MARKERS = findGroupMarkers();

/** Builds the config from settings that passed load-config.ts's checks (group members are set). */
export function buildConfig(parsed: ParsedSettings): PgferryConfig {
  const values: Partial<Record<SettingEnvName, unknown>> = parsed;
  const config = {};
  const unsetDerived: DerivedEnvName[] = [];
  for (const env of SETTING_ENV_NAMES) {
    const { key, presence } = SETTINGS[env];
    const groupClosed = enclosingGroups(key).some((group) => values[marker(group)] === undefined);
    if (groupClosed) continue;
    // The objects on the way exist even when the value is unset: `dlq: {}`, not no `dlq`.
    ensureConfigObject(config, parentPath(key));
    if (values[env] !== undefined) {
      writeConfigValue(config, key, values[env]);
    } else if (presence === 'derived') {
      unsetDerived.push(env as DerivedEnvName);
    } else if (presence === 'group-member') {
      // Only a cross-setting rule that forgot this member gets here.
      throw new ConfigError([{ setting: env, message: 'not set; required by another setting' }]);
    }
  }
  const typed = config as PgferryConfig;
  for (const env of unsetDerived) {
    writeConfigValue(typed, SETTINGS[env].key, DERIVED_VALUES[env](typed));
  }
  return typed;
}

function findGroupMarkers(): Map<string, SettingEnvName> {
  const markers = new Map<string, SettingEnvName>();
  for (const env of SETTING_ENV_NAMES) {
    const { key, presence } = SETTINGS[env];
    if (presence !== 'group-marker') continue;
    const group = parentPath(key);
    if (group === undefined) throw new Error(`settings table: ${env} marks no group (${key})`);
    markers.set(group, env);
  }
  // A member outside any group would be required everywhere: a slip in the table, caught here.
  for (const env of SETTING_ENV_NAMES) {
    const { key, presence } = SETTINGS[env];
    if (presence === 'group-member' && !ancestorPaths(key).some((path) => markers.has(path))) {
      throw new Error(`settings table: ${env} is a group-member outside any group (${key})`);
    }
  }
  return markers;
}

/** The optional groups a key lies in, outermost first ('source.host' -> ['source']). */
function enclosingGroups(key: string): string[] {
  return ancestorPaths(key).filter((path) => GROUP_MARKERS.has(path));
}

/** 'a.b.c' -> ['a', 'a.b']. */
function ancestorPaths(key: string): string[] {
  const parts = key.split('.');
  return parts.slice(1).map((_, i) => parts.slice(0, i + 1).join('.'));
}

function marker(group: string): SettingEnvName {
  return GROUP_MARKERS.get(group) as SettingEnvName;
}

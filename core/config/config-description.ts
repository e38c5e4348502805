// The settings table as rows for `pgferry config check` and the docs, and a copy of a config with
// its secrets hidden.
import { readConfigValue, writeConfigValue } from './config-path.js';
import type { PgferryConfig } from './pgferry-config.js';
import { SETTING_ENV_NAMES, SETTINGS } from './settings-table.js';

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

// `pgferry config check`: validates the settings and lists each one's effective value
// (secrets shown as ***) and where it came from.
import {
  describeConfig,
  findUrlCredentialSources,
  loadConfig,
  readConfigValue,
  redactConfig,
  type SettingEnvName,
} from '../core/config.js';

export interface ConfigValueRow {
  env: string;
  key: string;
  /** Effective value as text; secrets are "***"; empty when unset. */
  value: string;
  /** 'url': taken out of a URL setting's `user:password@` (e.g. SCHEMA_REGISTRY_URL). */
  source: 'env' | 'url' | 'default' | 'unset';
  secret: boolean;
  description: string;
}

/** Throws ConfigError listing every problem; otherwise returns one row per setting. */
export function checkConfig(env: Record<string, string | undefined>): ConfigValueRow[] {
  const redacted = redactConfig(loadConfig(env));
  const fromUrl = findUrlCredentialSources(env);
  return describeConfig().map((setting) => {
    const value = readConfigValue(redacted, setting.key);
    const fromEnv = (env[setting.env] ?? '').trim() !== '';
    return {
      env: setting.env,
      key: setting.key,
      value: formatConfigValue(value),
      source: findValueSource(fromEnv, fromUrl.has(setting.env as SettingEnvName), value),
      secret: setting.secret,
      description: setting.description,
    };
  });
}

function findValueSource(
  fromEnv: boolean,
  fromUrl: boolean,
  value: unknown,
): ConfigValueRow['source'] {
  if (fromEnv) return 'env';
  if (fromUrl) return 'url';
  return value === undefined ? 'unset' : 'default';
}

export function formatConfigTable(rows: readonly ConfigValueRow[]): string {
  const envWidth = Math.max(3, ...rows.map((row) => row.env.length));
  const valueWidth = Math.min(50, Math.max(5, ...rows.map((row) => row.value.length)));
  const line = (env: string, value: string, source: string) =>
    `${env.padEnd(envWidth)}  ${value.padEnd(valueWidth)}  ${source}`.trimEnd();
  return [
    line('ENV', 'VALUE', 'SOURCE'),
    ...rows.map((row) => line(row.env, row.value, row.source)),
  ].join('\n');
}

function formatConfigValue(value: unknown): string {
  if (value === undefined) return '';
  if (Array.isArray(value)) return value.join(',');
  if (value instanceof RegExp) return value.source;
  // SCHEMA_MAP: source:target pairs, as they are written.
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value)
      .map(([key, item]) => `${key}:${String(item)}`)
      .join(',');
  }
  return String(value);
}

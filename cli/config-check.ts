// `pgferry config check`: validates the settings and lists each one's effective value
// (secrets shown as ***) and where it came from.
import { describeConfig, loadConfig, readConfigValue, redactConfig } from '../core/config.js';

export interface ConfigValueRow {
  env: string;
  key: string;
  /** Effective value as text; secrets are "***"; empty when unset. */
  value: string;
  source: 'env' | 'default' | 'unset';
  secret: boolean;
  description: string;
}

/** Throws ConfigError listing every problem; otherwise returns one row per setting. */
export function checkConfig(env: Record<string, string | undefined>): ConfigValueRow[] {
  const redacted = redactConfig(loadConfig(env));
  return describeConfig().map((setting) => {
    const value = readConfigValue(redacted, setting.key);
    const fromEnv = (env[setting.env] ?? '').trim() !== '';
    return {
      env: setting.env,
      key: setting.key,
      value: formatConfigValue(value),
      source: fromEnv ? 'env' : value === undefined ? 'unset' : 'default',
      secret: setting.secret,
      description: setting.description,
    };
  });
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
  return String(value);
}

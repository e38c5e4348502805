// Cross-setting rules of the registry's and Connect's TLS files: certificate and key go together,
// and TLS files for an http:// URL would be silently ignored — refused instead.
import type { ConfigProblem } from '../errors.js';
import type { RawSettings, SettingEnvName } from './settings-table.js';

const SERVICES = [
  {
    url: 'SCHEMA_REGISTRY_URL',
    files: ['SCHEMA_REGISTRY_CA_FILE', 'SCHEMA_REGISTRY_CERT_FILE', 'SCHEMA_REGISTRY_KEY_FILE'],
    pair: ['SCHEMA_REGISTRY_CERT_FILE', 'SCHEMA_REGISTRY_KEY_FILE'],
  },
  { url: 'CONNECT_URL', files: ['CONNECT_CA_FILE'], pair: undefined },
] as const satisfies readonly {
  url: SettingEnvName;
  files: readonly SettingEnvName[];
  pair: readonly [SettingEnvName, SettingEnvName] | undefined;
}[];

export function findHttpTlsProblems(
  raw: RawSettings,
  parsed: Partial<Record<SettingEnvName, unknown>>,
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const service of SERVICES) {
    if (
      service.pair &&
      (raw[service.pair[0]] === undefined) !== (raw[service.pair[1]] === undefined)
    ) {
      const [cert, key] = service.pair;
      problems.push({
        setting: raw[cert] === undefined ? cert : key,
        message: `not set; required for a client certificate (${cert} and ${key} go together)`,
      });
    }
    const url = parsed[service.url];
    if (typeof url !== 'string' || !url.startsWith('http:')) continue;
    for (const name of service.files.filter((n) => raw[n] !== undefined)) {
      problems.push({
        setting: name,
        message: `set, but ${service.url} is http://, not https://; use an https:// URL`,
      });
    }
  }
  return problems;
}

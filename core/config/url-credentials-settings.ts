// Credentials written into a URL setting (`https://user:password@registry`) become that service's
// basic-auth settings at load, before anything parses them: from then on the URL carries none, so
// no message, log line or report can repeat them, and fetch (which refuses such URLs) works.
import type { ConfigProblem } from '../errors.js';
import { splitUrlCredentials } from '../url-credentials.js';
import type { RawSettings, SettingEnvName } from './settings-table.js';

interface UrlCredentialSettings {
  url: SettingEnvName;
  username: SettingEnvName;
  password: SettingEnvName;
}

/** The URL settings that may carry credentials, and the settings those credentials stand for. */
export const URL_CREDENTIAL_SETTINGS: readonly UrlCredentialSettings[] = [
  {
    url: 'SCHEMA_REGISTRY_URL',
    username: 'SCHEMA_REGISTRY_USERNAME',
    password: 'SCHEMA_REGISTRY_PASSWORD',
  },
  { url: 'CONNECT_URL', username: 'CONNECT_USERNAME', password: 'CONNECT_PASSWORD' },
];

export interface MovedUrlCredentials {
  /** The raw settings with every URL's credentials moved into its username/password settings. */
  raw: RawSettings;
  /** Settings whose value came out of a URL, with that URL setting (for `config check`). */
  fromUrl: ReadonlyMap<SettingEnvName, SettingEnvName>;
  problems: ConfigProblem[];
}

/**
 * Moves `user:password@` out of each URL setting into its username and password settings. Both in
 * the URL and in the settings is a problem, not a precedence rule: two sources for one secret
 * leave one of them stale, and which one wins would be a guess (as for CONTROL_TOKEN_FILE).
 */
export function moveUrlCredentials(raw: RawSettings): MovedUrlCredentials {
  const moved: RawSettings = { ...raw };
  const fromUrl = new Map<SettingEnvName, SettingEnvName>();
  const problems: ConfigProblem[] = [];
  for (const names of URL_CREDENTIAL_SETTINGS) {
    const value = raw[names.url];
    if (value === undefined) continue;
    const { url, auth } = splitUrlCredentials(value.trim());
    if (auth === undefined) continue;
    // Whatever else is wrong, the URL kept for messages and parsing no longer has them.
    moved[names.url] = url;
    const explicit = [names.username, names.password].filter((n) => raw[n] !== undefined);
    if (explicit.length > 0) {
      problems.push({
        setting: names.url,
        message: `carries user:password@ and ${explicit.join(' and ')} ${explicit.length > 1 ? 'are' : 'is'} set too; give the credentials one way only`,
      });
    } else if (auth.username === '' || auth.password === '') {
      problems.push({
        setting: names.url,
        message: `carries ${auth.username === '' ? 'a password but no user name' : 'a user name but no password'}; write user:password@, or set ${names.username} and ${names.password} instead`,
      });
    } else {
      moved[names.username] = auth.username;
      moved[names.password] = auth.password;
      fromUrl.set(names.username, names.url);
      fromUrl.set(names.password, names.url);
    }
  }
  return { raw: moved, fromUrl, problems };
}

/** The settings `loadConfig` takes out of a URL in `env`, each with its URL setting. */
export function findUrlCredentialSources(
  env: Record<string, string | undefined>,
): ReadonlyMap<SettingEnvName, SettingEnvName> {
  const raw: RawSettings = {};
  for (const names of URL_CREDENTIAL_SETTINGS) {
    for (const name of [names.url, names.username, names.password]) {
      const value = env[name];
      // As loadConfig reads the env: a blank value is unset.
      if (value !== undefined && value.trim() !== '') raw[name] = value;
    }
  }
  return moveUrlCredentials(raw).fromUrl;
}

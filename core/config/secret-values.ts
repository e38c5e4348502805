// The secret values an env holds, for the output mask (core/secret-mask.ts): every setting the
// table flags secret, the passwords written into URL settings, and the `user:password` pairs that
// travel base64-encoded in Authorization headers. Read from the raw env, so the mask exists even
// when the config is invalid and its error is what gets printed.
import { splitUrlCredentials } from '../url-credentials.js';
import { SETTING_ENV_NAMES, SETTINGS } from './settings-table.js';
import { URL_CREDENTIAL_SETTINGS } from './url-credentials-settings.js';

/** Every secret value `env` sets (unordered, possibly with repeats). */
export function findSecretValues(env: Record<string, string | undefined>): string[] {
  const read = (name: string) => {
    const value = env[name];
    return value === undefined || value.trim() === '' ? undefined : value;
  };
  const secrets: string[] = [];
  for (const name of SETTING_ENV_NAMES) {
    const value = read(name);
    if (SETTINGS[name].secret && value !== undefined) secrets.push(value, value.trim());
  }
  for (const names of URL_CREDENTIAL_SETTINGS) {
    const url = read(names.url)?.trim();
    const fromUrl = url === undefined ? undefined : splitUrlCredentials(url).auth;
    // The password as the user wrote it in the URL (its own percent-encoding), and decoded.
    if (fromUrl?.password) secrets.push(new URL(url as string).password, fromUrl.password);
    const username = fromUrl?.username || read(names.username);
    const password = fromUrl?.password || read(names.password);
    if (password !== undefined) secrets.push(`${username ?? ''}:${password}`);
  }
  return secrets.filter((secret) => secret !== '');
}

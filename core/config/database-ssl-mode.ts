// The sslmode a database connection gets when none is set. libpq's `prefer` falls back to
// plaintext without a word when the server offers no TLS: harmless on this machine, a silent
// downgrade (password and rows in clear) over a network. So off this machine the default is
// `verify-full`; a deployment that really wants less says so with *_DB_SSLMODE.
import { isLocalDatabaseHost } from './database-passwords.js';
import type { SslMode } from './setting-choices.js';

/** The sslmode for `host` when TARGET_DB_SSLMODE / SOURCE_DB_SSLMODE is unset. */
export function deriveSslMode(host: string): SslMode {
  return isLocalDatabaseHost(host) ? 'prefer' : 'verify-full';
}

// When a database password may be left unset. On this machine (loopback, a socket directory) the
// local stack's sample password may stand in for the target's; anywhere else an unset password is
// a config error naming the variable, never a sample value sent to a real server.
import type { ConfigProblem } from '../errors.js';
import { isLoopbackAddress } from '../loopback-address.js';
import type { RawSettings, SettingEnvName } from './settings-table.js';

/** The local stack's target password (stack/, docker-compose use their own, set explicitly). */
export const LOCAL_STACK_TARGET_PASSWORD = 'migration_secret';

/** TARGET_DB_HOST's default, repeated here because the rule runs on raw settings. */
const DEFAULT_TARGET_HOST = 'localhost';

/** Loopback, or a Unix socket directory (node-postgres takes a path as the host). */
export function isLocalDatabaseHost(host: string): boolean {
  const trimmed = host.trim();
  return trimmed.startsWith('/') || isLoopbackAddress(trimmed);
}

/** The target password to use when TARGET_DB_PASSWORD is unset (its 'derived' value). */
export function deriveTargetPassword(host: string): string {
  // findMissingDatabasePasswords refuses a remote host first; this is the second lock.
  if (!isLocalDatabaseHost(host)) {
    throw new Error(`TARGET_DB_PASSWORD unset for the non-local host ${host}`);
  }
  return LOCAL_STACK_TARGET_PASSWORD;
}

/** A problem for each password that is unset while its host is not on this machine. */
export function findMissingDatabasePasswords(raw: RawSettings): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const requirePassword = (
    password: SettingEnvName,
    hostSetting: SettingEnvName,
    host: string | undefined,
    condition = '',
  ) => {
    if (raw[password] !== undefined || host === undefined || isLocalDatabaseHost(host)) return;
    problems.push({
      setting: password,
      message: `not set; required${condition} because ${hostSetting} (${host}) is not a loopback host or socket directory (no sample password is used outside the local stack)`,
    });
  };
  requirePassword(
    'TARGET_DB_PASSWORD',
    'TARGET_DB_HOST',
    raw.TARGET_DB_HOST ?? DEFAULT_TARGET_HOST,
  );
  requirePassword('SOURCE_DB_PASSWORD', 'SOURCE_DB_HOST', raw.SOURCE_DB_HOST);
  if (raw.ROLLBACK_DB_USER !== undefined) {
    requirePassword(
      'ROLLBACK_DB_PASSWORD',
      'SOURCE_DB_HOST',
      raw.SOURCE_DB_HOST,
      ' with ROLLBACK_DB_USER',
    );
  }
  return problems;
}

// Cross-setting rules of the database TLS settings: a client certificate needs its key (and the
// key its certificate), and TLS files with sslmode=disable would be silently ignored — a security
// setting nobody applies, so it is refused instead.
import type { ConfigProblem } from '../errors.js';
import type { RawSettings, SettingEnvName } from './settings-table.js';

const DATABASES = ['TARGET', 'SOURCE'] as const;

export function findDatabaseTlsProblems(raw: RawSettings): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const db of DATABASES) {
    const cert = `${db}_DB_SSLCERT` as const satisfies SettingEnvName;
    const key = `${db}_DB_SSLKEY` as const satisfies SettingEnvName;
    const files = [`${db}_DB_SSLROOTCERT` as const, cert, key] satisfies SettingEnvName[];
    if ((raw[cert] === undefined) !== (raw[key] === undefined)) {
      const missing = raw[cert] === undefined ? cert : key;
      problems.push({
        setting: missing,
        message: `not set; required for a client certificate (${cert} and ${key} go together)`,
      });
    }
    if (raw[`${db}_DB_SSLMODE`]?.trim().toLowerCase() === 'disable') {
      for (const name of files.filter((n) => raw[n] !== undefined)) {
        problems.push({
          setting: name,
          message: `set, but ${db}_DB_SSLMODE is disable; set a TLS sslmode (verify-full)`,
        });
      }
    }
  }
  return problems;
}

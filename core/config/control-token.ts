// The control endpoint's credential as the process uses it: CONTROL_TOKEN, or the content of
// CONTROL_TOKEN_FILE. The file is read where the token is needed (`pgferry run`, `pause`,
// `resume`), like the TLS files, so loading the config stays free of I/O for every other command.
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import type { PgferryConfig } from './pgferry-config.js';
import { parseControlToken } from './setting-parsers.js';

/**
 * The token POST /pause and /resume require, or undefined when none is configured. A file that
 * cannot be read, or whose trimmed content is not a valid token, is a ConfigError; the message
 * names the file and the rule, never the content.
 */
export function readControlToken(control: PgferryConfig['control']): string | undefined {
  if (control.token !== undefined || control.tokenFile === undefined) return control.token;
  const file = control.tokenFile;
  let content: string;
  try {
    content = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ConfigError([
      { setting: 'CONTROL_TOKEN_FILE', message: `cannot read ${file} (${code})` },
    ]);
  }
  const parsed = parseControlToken().safeParse(content.trim());
  if (!parsed.success) {
    const expected = parsed.error.issues.map((issue) => issue.message).join('; ');
    throw new ConfigError([
      { setting: 'CONTROL_TOKEN_FILE', message: `content of ${file}: ${expected}` },
    ]);
  }
  return parsed.data;
}

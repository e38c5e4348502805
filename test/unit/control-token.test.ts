// CONTROL_TOKEN as a setting: a secret (masked by `config check`, its text and JSON, and in
// every ConfigError), long enough and header-safe; or CONTROL_TOKEN_FILE, whose trimmed content
// is the token, read where it is used; never both.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, readControlToken, redactConfig } from '../../core/config.js';
import { ConfigError } from '../../core/errors.js';
import { runPgferryCli } from '../support/cli-run.js';

const TOKEN = 'distinctive-control-token-4f1c9e';
const dir = mkdtempSync(join(tmpdir(), 'pgferry-control-token-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configErrorOf(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('CONTROL_TOKEN', () => {
  it('is unset by default and read as given', () => {
    expect(loadConfig({}).control).toEqual({});
    expect(readControlToken(loadConfig({}).control)).toBeUndefined();
    expect(readControlToken(loadConfig({ CONTROL_TOKEN: TOKEN }).control)).toBe(TOKEN);
  });

  it('refuses a short, spaced or multi-line token without echoing it', () => {
    for (const bad of ['short-token', 'a token with spaces in it', `${TOKEN}\n`, `${TOKEN}é`]) {
      const error = configErrorOf(() => loadConfig({ CONTROL_TOKEN: bad }));
      expect(error.problems.map((p) => p.setting)).toEqual(['CONTROL_TOKEN']);
      expect(error.message).toMatch(/got '\*\*\*'; expected at least 16 visible ASCII characters/);
      expect(error.message).not.toContain(bad.trim());
    }
  });

  it('is masked by redactConfig and `pgferry config check` (table and --json)', async () => {
    const env = { CONTROL_TOKEN: TOKEN };
    expect(redactConfig(loadConfig(env)).control.token).toBe('***');
    for (const args of [
      ['config', 'check'],
      ['config', 'check', '--json'],
    ]) {
      const run = await runPgferryCli(args, env);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('CONTROL_TOKEN');
      expect(run.stdout).not.toContain(TOKEN);
    }
    const json = JSON.parse((await runPgferryCli(['config', 'check', '--json'], env)).stdout) as {
      settings: { env: string; value: string; secret: boolean }[];
    };
    expect(json.settings.find((s) => s.env === 'CONTROL_TOKEN')).toMatchObject({
      value: '***',
      secret: true,
    });
  });
});

describe('CONTROL_TOKEN_FILE', () => {
  it('gives the trimmed content of the file', () => {
    const file = join(dir, 'token');
    writeFileSync(file, `\n  ${TOKEN}  \r\n`);
    const config = loadConfig({ CONTROL_TOKEN_FILE: file });
    expect(config.control).toEqual({ tokenFile: file });
    expect(readControlToken(config.control)).toBe(TOKEN);
  });

  it('names the file and the rule, never the content, when it is unreadable or invalid', () => {
    const missing = configErrorOf(() =>
      readControlToken(loadConfig({ CONTROL_TOKEN_FILE: join(dir, 'absent') }).control),
    );
    expect(missing.message).toMatch(/CONTROL_TOKEN_FILE: cannot read .*absent \(ENOENT\)/);
    const weak = join(dir, 'weak');
    writeFileSync(weak, 'tooshort-secret\n');
    const invalid = configErrorOf(() =>
      readControlToken(loadConfig({ CONTROL_TOKEN_FILE: weak }).control),
    );
    expect(invalid.message).toMatch(/CONTROL_TOKEN_FILE: content of .*weak: expected at least 16/);
    expect(invalid.message).not.toContain('tooshort-secret');
    const empty = join(dir, 'empty');
    writeFileSync(empty, ' \n');
    expect(() => readControlToken(loadConfig({ CONTROL_TOKEN_FILE: empty }).control)).toThrow(
      ConfigError,
    );
  });

  it('is refused together with CONTROL_TOKEN', () => {
    const error = configErrorOf(() =>
      loadConfig({ CONTROL_TOKEN: TOKEN, CONTROL_TOKEN_FILE: '/t' }),
    );
    expect(error.problems).toEqual([
      {
        setting: 'CONTROL_TOKEN_FILE',
        message: 'set together with CONTROL_TOKEN; set only one of them',
      },
    ]);
    expect(error.message).not.toContain(TOKEN);
  });
});

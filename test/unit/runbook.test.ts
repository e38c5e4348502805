// The runbook's commands must stay runnable as written: every `npx pgferry ...` line in its shell
// blocks names a real command and only options that command has (checked against its --help).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runPgferryCli } from '../support/cli-run.js';
import { repoPath } from '../support/stack-env.js';

const runbook = readFileSync(repoPath('docs/runbook.md'), 'utf8');
const shellBlocks = [...runbook.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
const invocations = shellBlocks
  .flatMap((block) => block.split('\n'))
  .flatMap((line) => {
    // Shell comments explain; only the command part runs.
    const match = line.replace(/\s#.*$/, '').match(/npx pgferry ((?:[^#|&;]|&&)*)/);
    return match?.[1] ? [match[1].split('&&')[0]?.trim() ?? ''] : [];
  });

describe('docs/runbook.md', () => {
  it('walks through every migration command', () => {
    const commands = new Set(invocations.map((i) => i.split(/\s+/)[0]));
    for (const name of [
      'schema-sync',
      'connector',
      'copy',
      'run',
      'status',
      'verify',
      'pause',
      'resume',
      'cutover',
      'rollback',
    ]) {
      expect(commands, name).toContain(name);
    }
  });

  it.each(invocations)('npx pgferry %s: the command and its options exist', async (invocation) => {
    const words = invocation.split(/\s+/).filter(Boolean);
    const path = words.filter(
      (w, i) => !w.startsWith('-') && words.slice(0, i).every((p) => !p.startsWith('-')),
    );
    const options = words.filter((w) => w.startsWith('--'));
    const help = await runPgferryCli([...path, '--help'], {});
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toMatch(new RegExp(`^Usage: pgferry ${path.join(' ')} `));
    for (const option of options) expect(help.stdout, option).toContain(option);
  });
});

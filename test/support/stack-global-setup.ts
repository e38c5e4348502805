// Integration tests need the local stack: fail fast, naming what is down, instead of timing out.
import { execFileSync } from 'node:child_process';
import { repoPath } from './stack-env.js';

export default function assertStackUp(): void {
  try {
    execFileSync('bash', [repoPath('stack/stack.sh'), 'status'], {
      encoding: 'utf8',
      stdio: 'pipe',
    });
  } catch (error) {
    const out = (error as { stdout?: string }).stdout ?? '';
    throw new Error(
      `the local stack is not (fully) up — start it with \`npm run stack:up\`:\n${out}`,
    );
  }
}

// Runs the real `pgferry run` as a child process (built dist/), for end-to-end and fault tests.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { repoPath } from './stack-env.js';

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface PgferryProcess {
  child: ChildProcess;
  port: number;
  logs: string[];
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
  metrics(): Promise<string>;
}

/**
 * Starts `pgferry run` with `env`. Its metrics port is a free one unless `fixedPort` is given (e.g. the
 * port the stack's Prometheus scrapes, PGFERRY_METRICS_PORT); `runArgs` go after `run` (e.g. --reverse).
 */
export async function startPgferry(
  env: Record<string, string>,
  fixedPort?: number,
  runArgs: readonly string[] = [],
): Promise<PgferryProcess> {
  const port = fixedPort ?? (await freePort());
  const child = spawn(process.execPath, [repoPath('bin/pgferry.js'), 'run', ...runArgs], {
    env: {
      PATH: process.env.PATH ?? '',
      ...env,
      METRICS_PORT: String(port),
      METRICS_HOST: '127.0.0.1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  // Also on disk, for the post-mortem of a failed run.
  mkdirSync(repoPath('.stack/logs'), { recursive: true });
  const file = createWriteStream(repoPath(`.stack/logs/pgferry-test-${Date.now()}-${port}.log`));
  const collect = (chunk: Buffer) => {
    file.write(chunk);
    logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = once(child, 'exit').then(([code, signal]) => (code ?? signal) as number | string);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (child.exitCode !== null)
      throw new Error(`pgferry exited early:\n${logs.slice(-20).join('\n')}`);
    if (Date.now() > deadline)
      throw new Error(`pgferry did not come up:\n${logs.slice(-20).join('\n')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    child,
    port,
    logs,
    exited,
    metrics: () => fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text()),
  };
}

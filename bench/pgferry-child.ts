// The built `pgferry run` as a child process of the benchmark (its own consumer group, topic
// pattern and target database), its log in .stack/logs, CPU and memory sampled from /proc.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { freePort } from '../test/support/pgferry-process.js';
import { repoPath } from '../test/support/stack-env.js';
import type { BenchSettings } from './bench-settings.js';
import { signalChild, trackChild } from './child-processes.js';

export interface PgferryChild {
  child: ChildProcess;
  logFile: string;
  /** Seconds from spawn until /healthz answered. */
  startupSeconds: number;
  /** Saves the child's /metrics beside its log (`<log>.metrics`); best effort. */
  saveMetrics(): Promise<void>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startPgferryChild(
  settings: BenchSettings,
  options: {
    name: string;
    database: string;
    groupId: string;
    topicPattern: string;
    /** bin/pgferry.js to run (default: this checkout's). */
    bin?: string;
    /** CONNECTOR_NAME (default: the topic phases' connector, `<run id>-source`). */
    connectorName?: string;
    /** More pgferry settings (e.g. APPLY_CONCURRENCY). */
    env?: Record<string, string>;
  },
): Promise<PgferryChild> {
  const port = await freePort();
  // No SOURCE_DB_*: the slot monitor would watch a slot the bench connector drops on its own.
  const env: Record<string, string> = { PATH: process.env.PATH ?? '' };
  for (const [k, v] of Object.entries(settings.stack.vars))
    if (!k.startsWith('SOURCE_DB_')) env[k] = v;
  Object.assign(env, {
    TARGET_DB_NAME: options.database,
    KAFKA_GROUP_ID: options.groupId,
    KAFKA_TOPIC_PATTERN: options.topicPattern,
    CONNECTOR_NAME: options.connectorName ?? `${settings.runId}-source`,
    BATCH_SIZE: String(settings.batchSize),
    TOPIC_REFRESH_SECONDS: '2',
    METRICS_PORT: String(port),
    METRICS_HOST: '127.0.0.1',
    LOG_LEVEL: process.env.BENCH_PGFERRY_LOG_LEVEL ?? 'warn',
    PROGRESS_LOG_SECONDS: '3600',
    KAFKAJS_NO_PARTITIONER_WARNING: '1',
    NODE_OPTIONS: settings.pgferryNodeOptions,
    ...options.env,
  });
  mkdirSync(repoPath('.stack/logs'), { recursive: true });
  const logFile = repoPath(`.stack/logs/bench-${options.name}-${settings.runId}.log`);
  const file = createWriteStream(logFile);
  const started = performance.now();
  const child = trackChild(
    spawn(
      process.execPath,
      [...settings.pgferryNodeArgs, options.bin ?? repoPath('bin/pgferry.js'), 'run'],
      {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
        // Its own process group: stopped as one (signalChild), never by a terminal's Ctrl-C alone.
        detached: true,
      },
    ),
    { group: true },
  );
  child.stdout?.pipe(file);
  child.stderr?.pipe(file);
  const exited = once(child, 'exit');
  const stop = async () => {
    signalChild(child, 'SIGTERM');
    await Promise.race([exited, sleep(15_000)]);
    signalChild(child, 'SIGKILL');
  };
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (child.exitCode !== null) throw new Error(`pgferry exited early; see ${logFile}`);
    if (performance.now() - started > 60_000) {
      await stop();
      throw new Error(`pgferry did not come up; see ${logFile}`);
    }
    await sleep(100);
  }
  const saveMetrics = async () => {
    const text = await fetch(`http://127.0.0.1:${port}/metrics`).then(
      (r) => r.text(),
      () => undefined,
    );
    if (text !== undefined) writeFileSync(`${logFile}.metrics`, text);
  };
  return {
    child,
    logFile,
    startupSeconds: (performance.now() - started) / 1000,
    saveMetrics,
    stop,
  };
}

// What the figures were measured on: cores, memory, and the versions of everything in the path.
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, release, totalmem } from 'node:os';
import pg from 'pg';
import { repoPath, type StackEnv } from '../test/support/stack-env.js';

export interface MachineInfo {
  cores: number;
  cpuModel: string;
  memoryBytes: number;
  kernel: string;
  node: string;
  java: string;
  postgres: { source: string; target: string };
  kafka: string;
  debeziumSource: string;
  pgferry: string;
  /** 1-minute load average when the run started (the stack and other sessions share the cores). */
  loadAverageAtStart: number;
  /** The commit measured, and files of pgferry's code that differ from it (the build has them). */
  code: { commit: string; uncommitted: string[] };
}

async function serverVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (
      (await client.query<{ server_version: string }>('SHOW server_version')).rows[0]
        ?.server_version ?? '?'
    );
  } finally {
    await client.end();
  }
}

function readCodeVersion(): MachineInfo['code'] {
  const git = (args: string[]) =>
    execFileSync('git', args, { cwd: repoPath('.'), encoding: 'utf8' }).trim();
  try {
    const uncommitted = git(['status', '--porcelain', '--', 'pipeline', 'sink', 'cli', 'bin'])
      .split('\n')
      .filter(Boolean)
      .map((line) => line.slice(3));
    return { commit: git(['rev-parse', 'HEAD']), uncommitted };
  } catch {
    return { commit: 'unknown', uncommitted: [] };
  }
}

export async function readMachineInfo(
  stack: StackEnv,
  pgferryVersion: string,
): Promise<MachineInfo> {
  const java = execFileSync('bash', ['-c', 'java -version 2>&1 | head -n 1'], {
    encoding: 'utf8',
  }).trim();
  const plugins = (await fetch(`${stack.connectUrl}/connector-plugins`)
    .then((r) => r.json())
    .catch(() => [])) as { class: string; version: string }[];
  const worker = (await fetch(`${stack.connectUrl}/`)
    .then((r) => r.json())
    .catch(() => ({}))) as { version?: string };
  return {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model ?? '?',
    memoryBytes: totalmem(),
    kernel: release(),
    node: process.version,
    java: java || '?',
    postgres: {
      source: await serverVersion(stack.sourceDatabaseUrl),
      target: await serverVersion(stack.targetDatabaseUrl),
    },
    kafka: worker.version ?? '?',
    debeziumSource: plugins.find((p) => p.class.endsWith('PostgresConnector'))?.version ?? '?',
    pgferry: pgferryVersion,
    loadAverageAtStart: Math.round((loadavg()[0] ?? 0) * 100) / 100,
    code: readCodeVersion(),
  };
}

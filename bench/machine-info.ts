// What the figures were measured on: cores, memory, and the versions of everything in the path.
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, release, totalmem } from 'node:os';
import pg from 'pg';
import type { StackEnv } from '../test/support/stack-env.js';

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
  };
}

// The copy phase's competitors, each a child process group of the bench, timed from spawn to
// exit, with its CPU (the children's, read from this process's cutime/cstime: exact, as nothing
// else exits meanwhile): the built `pgferry copy`, the single-stream psql pipe, and pg_dump -Fd -j
// followed by pg_restore -j with the server's own binaries.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CopyReport } from '../migrate/copy/copy-command.js';
import { repoPath, type StackEnv } from '../test/support/stack-env.js';
import { signalChild, trackChild } from './child-processes.js';
import { COPY_SCHEMA, type CopyTable, qualified } from './copy-dataset.js';
import { type ProcessStats, readExitedChildrenCpuSeconds, sampleProcess } from './process-stats.js';

export interface CommandRun {
  /** Epoch milliseconds at the spawn. */
  startedAt: number;
  seconds: number;
  /** User + system CPU seconds of the process group's processes. */
  cpuSeconds: number;
  stdout: string;
  logFile: string;
}

/** Connection settings of one side, for libpq's environment (no password on a command line). */
export interface PgSide {
  host: string;
  port: string;
  user: string;
  password: string;
  database: string;
}

export function sourceSide(stack: StackEnv): PgSide {
  const v = stack.vars;
  return {
    host: v.SOURCE_DB_HOST ?? '127.0.0.1',
    port: v.SOURCE_DB_PORT ?? '5432',
    user: v.SOURCE_DB_USER ?? '',
    password: v.SOURCE_DB_PASSWORD ?? '',
    database: v.SOURCE_DB_NAME ?? '',
  };
}

export function targetSide(stack: StackEnv, database: string): PgSide {
  const v = stack.vars;
  return {
    host: v.TARGET_DB_HOST ?? '127.0.0.1',
    port: v.TARGET_DB_PORT ?? '5432',
    user: v.TARGET_DB_USER ?? '',
    password: v.TARGET_DB_PASSWORD ?? '',
    database,
  };
}

/** The client binaries of the server's major version (Debian: /usr/lib/postgresql/<major>/bin). */
export function pgBinDir(serverVersion: string): string {
  const major = /^(\d+)/.exec(serverVersion)?.[1] ?? '';
  const dir = `/usr/lib/postgresql/${major}/bin`;
  if (!existsSync(join(dir, 'pg_dump')))
    throw new Error(`no pg_dump for PostgreSQL ${serverVersion} in ${dir}`);
  return dir;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs a command as the leader of a process group of its own (stopped as a group on timeout or
 * Ctrl-C); stdout is kept if asked, stderr (and stdout otherwise) goes to the log file.
 */
export async function runCommand(options: {
  name: string;
  runId: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  keepStdout?: boolean;
  timeoutMs: number;
  /** Called with the pid once spawned (memory sampling). */
  onSpawn?: (pid: number) => void;
}): Promise<CommandRun> {
  mkdirSync(repoPath('.stack/logs'), { recursive: true });
  const logFile = repoPath(`.stack/logs/bench-${options.name}-${options.runId}.log`);
  const log = createWriteStream(logFile);
  const cpuBefore = readExitedChildrenCpuSeconds();
  const startedAt = Date.now();
  const started = performance.now();
  const child = trackChild(
    spawn(options.command, options.args, {
      env: { PATH: process.env.PATH ?? '', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    }),
    { group: true },
  );
  if (child.pid !== undefined) options.onSpawn?.(child.pid);
  const chunks: Buffer[] = [];
  if (options.keepStdout) child.stdout?.on('data', (c: Buffer) => chunks.push(c));
  else child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  // 'close': the process exited and its output streams are drained (stdout of --json).
  const closed = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    signalChild(child, 'SIGTERM');
    void sleep(10_000).then(() => signalChild(child, 'SIGKILL'));
  }, options.timeoutMs);
  const [code, signal] = await closed;
  clearTimeout(timer);
  const seconds = (performance.now() - started) / 1000;
  const cpuSeconds = readExitedChildrenCpuSeconds() - cpuBefore;
  await new Promise<void>((resolve) => log.end(resolve));
  const stdout = Buffer.concat(chunks).toString('utf8');
  if (timedOut) throw new Error(`${options.name} did not finish in time; see ${logFile}`);
  if (code !== 0) throw new Error(`${options.name} exited with ${code ?? signal}; see ${logFile}`);
  return { startedAt, seconds, cpuSeconds, stdout, logFile };
}

export interface PgferryCopyRun extends CommandRun {
  report: CopyReport;
  peakRssBytes: number | undefined;
  /** Seconds from the spawn to its "copy planned" log line (Node start, checks, chunk plans). */
  plannedAfterSeconds: number | undefined;
}

/** When the "copy planned" line was logged (pino JSON lines on stderr, in the log file). */
function plannedAt(logFile: string): number | undefined {
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    if (!line.includes('"copy planned"')) continue;
    try {
      return Date.parse((JSON.parse(line) as { time: string }).time);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * The built `pgferry copy` into the run's target database (emptied, without pgferry's bookkeeping:
 * a first copy, no --restart), from the slot given.
 */
export async function runPgferryCopy(options: {
  stack: StackEnv;
  runId: string;
  name: string;
  database: string;
  slot: string;
  tables: readonly CopyTable[];
  jobs: number;
  chunkRows: number | undefined;
  nodeOptions: string;
  timeoutMs: number;
}): Promise<PgferryCopyRun> {
  let sampler: ReturnType<typeof sampleProcess> | undefined;
  let stats: ProcessStats | undefined;
  const env: Record<string, string> = {
    ...options.stack.vars,
    TARGET_DB_NAME: options.database,
    SOURCE_SLOT_NAME: options.slot,
    COPY_METRICS_PORT: '0',
    // info: its "copy planned" line tells how long the start and the planning took.
    LOG_LEVEL: 'info',
  };
  if (options.nodeOptions !== '') env.NODE_OPTIONS = options.nodeOptions;
  const run = await runCommand({
    name: options.name,
    runId: options.runId,
    command: process.execPath,
    args: [
      repoPath('bin/pgferry.js'),
      'copy',
      '--tables',
      options.tables.map(qualified).join(','),
      '--jobs',
      String(options.jobs),
      ...(options.chunkRows === undefined ? [] : ['--chunk-rows', String(options.chunkRows)]),
      '--json',
      '--progress',
      'off',
    ],
    env,
    keepStdout: true,
    timeoutMs: options.timeoutMs,
    onSpawn: (pid) => {
      sampler = sampleProcess(pid, 200);
    },
  }).finally(() => {
    stats = sampler?.stop();
  });
  const report = JSON.parse(run.stdout) as CopyReport;
  if (!report.ok) throw new Error(`pgferry copy reported a failure; see ${run.logFile}`);
  const planned = plannedAt(run.logFile);
  return {
    ...run,
    report,
    peakRssBytes: stats?.peakRssBytes,
    plannedAfterSeconds: planned === undefined ? undefined : (planned - run.startedAt) / 1000,
  };
}

const libpqEnv = (side: PgSide, prefix: string): Record<string, string> => ({
  [`${prefix}HOST`]: side.host,
  [`${prefix}PORT`]: side.port,
  [`${prefix}USER`]: side.user,
  [`${prefix}PASSWORD`]: side.password,
  [`${prefix}DATABASE`]: side.database,
});

/**
 * The single-stream floor: per table, one after the other, psql's binary \copy of a SELECT to
 * stdout piped into psql's binary \copy from stdin.
 */
export async function runPsqlPipe(options: {
  runId: string;
  binDir: string;
  source: PgSide;
  target: PgSide;
  tables: readonly CopyTable[];
  timeoutMs: number;
}): Promise<CommandRun & { tableSeconds: Map<string, number> }> {
  const psql = join(options.binDir, 'psql');
  const side = (prefix: string) =>
    `PGHOST="$${prefix}HOST" PGPORT="$${prefix}PORT" PGUSER="$${prefix}USER" PGPASSWORD="$${prefix}PASSWORD" PGDATABASE="$${prefix}DATABASE"`;
  // Each table's pipe timed by bash ($EPOCHREALTIME), printed on stdout: "<table> <from> <to>".
  const lines = options.tables.flatMap((t) => [
    'from=$EPOCHREALTIME',
    `${side('S_')} "$PSQL" -X -q -v ON_ERROR_STOP=1 -c '\\copy (SELECT * FROM ${qualified(t)}) to stdout (format binary)' | ` +
      `${side('T_')} "$PSQL" -X -q -v ON_ERROR_STOP=1 -c '\\copy ${qualified(t)} from stdin (format binary)' >&2`,
    `echo "${t.name} $from $EPOCHREALTIME"`,
  ]);
  const run = await runCommand({
    name: 'copy-psql-pipe',
    runId: options.runId,
    command: 'bash',
    args: ['-c', ['set -euo pipefail', ...lines].join('\n')],
    env: {
      PSQL: psql,
      ...libpqEnv(options.source, 'S_'),
      ...libpqEnv(options.target, 'T_'),
    },
    keepStdout: true,
    timeoutMs: options.timeoutMs,
  });
  const tableSeconds = new Map(
    run.stdout
      .split('\n')
      .filter((line) => line.includes(' '))
      .map((line) => {
        const [name, from, to] = line.split(' ');
        return [name ?? '', Number(to) - Number(from)] as const;
      }),
  );
  return { ...run, tableSeconds };
}

export interface DumpRestoreRun {
  dump: CommandRun;
  restore: CommandRun;
  dumpBytes: number;
}

/** pg_dump -Fd -j N --data-only of the schema into a temporary directory, then pg_restore -j N. */
export async function runDumpRestore(options: {
  runId: string;
  binDir: string;
  source: PgSide;
  target: PgSide;
  jobs: number;
  compress: number;
  timeoutMs: number;
}): Promise<DumpRestoreRun> {
  const dir = join(tmpdir(), `pgferry-bench-${options.runId}-dump`);
  rmSync(dir, { recursive: true, force: true });
  const env = (side: PgSide) => ({
    PGHOST: side.host,
    PGPORT: side.port,
    PGUSER: side.user,
    PGPASSWORD: side.password,
    PGDATABASE: side.database,
  });
  try {
    const dump = await runCommand({
      name: 'copy-pg-dump',
      runId: options.runId,
      command: join(options.binDir, 'pg_dump'),
      args: [
        '--format=directory',
        `--jobs=${options.jobs}`,
        '--data-only',
        `--compress=${options.compress}`,
        `--schema=${COPY_SCHEMA}`,
        `--file=${dir}`,
      ],
      env: env(options.source),
      timeoutMs: options.timeoutMs,
    });
    const du = await runCommand({
      name: 'copy-du',
      runId: options.runId,
      command: 'du',
      args: ['-sb', dir],
      env: {},
      keepStdout: true,
      timeoutMs: 60_000,
    });
    const restore = await runCommand({
      name: 'copy-pg-restore',
      runId: options.runId,
      command: join(options.binDir, 'pg_restore'),
      args: [
        `--jobs=${options.jobs}`,
        '--data-only',
        '--exit-on-error',
        `--dbname=${options.target.database}`,
        dir,
      ],
      env: env(options.target),
      timeoutMs: options.timeoutMs,
    });
    return { dump, restore, dumpBytes: Number(du.stdout.split(/\s/)[0] ?? 0) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

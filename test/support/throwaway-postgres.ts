// A PostgreSQL cluster of a test's own, for settings the shared stack must not have (e.g.
// wal_level = replica): Debian's server binaries, initdb into a temp dir, a free port, trust auth
// on 127.0.0.1. As root the cluster belongs to the `postgres` OS user (initdb refuses root), as in
// stack/lib/postgres.sh.
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './pgferry-process.js';

const run = promisify(execFile);

export interface ThrowawayPostgres {
  port: number;
  /** Superuser `postgres`, any password (trust). */
  url: string;
  stop(): Promise<void>;
}

function findServerBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  const version = versions[0];
  if (version === undefined) throw new Error(`no PostgreSQL server binaries under ${root}`);
  return join(root, version, 'bin');
}

const isRoot = (): boolean => process.getuid?.() === 0;

async function asPostgresUser(command: string, args: string[]): Promise<void> {
  if (isRoot()) await run('runuser', ['-u', 'postgres', '--', command, ...args]);
  else await run(command, args);
}

/** Starts a cluster with `settings` appended to postgresql.conf (e.g. { wal_level: 'replica' }). */
export async function startThrowawayPostgres(
  settings: Record<string, string>,
): Promise<ThrowawayPostgres> {
  const bin = findServerBin();
  const dir = mkdtempSync(join(tmpdir(), 'pgferry-pg-'));
  const data = join(dir, 'data');
  const port = await freePort();
  const stop = async () => {
    await asPostgresUser(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(
      () => undefined,
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    if (isRoot()) {
      const { stdout } = await run('id', ['-u', 'postgres']);
      const { stdout: gid } = await run('id', ['-g', 'postgres']);
      chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
    }
    await asPostgresUser(join(bin, 'initdb'), [
      '-D',
      data,
      '-U',
      'postgres',
      '--auth-local=trust',
      '--auth-host=trust',
      '--encoding=UTF8',
      '--locale=C.UTF-8',
    ]);
    const conf = {
      listen_addresses: "'127.0.0.1'",
      port: String(port),
      unix_socket_directories: `'${dir}'`,
      fsync: 'off',
      ...settings,
    };
    await appendFile(
      join(data, 'postgresql.conf'),
      `\n${Object.entries(conf)
        .map(([k, v]) => `${k} = ${v}`)
        .join('\n')}\n`,
    );
    const log = join(dir, 'server.log');
    writeFileSync(log, '');
    if (isRoot()) {
      const { stdout } = await run('id', ['-u', 'postgres']);
      chownSync(log, Number(stdout.trim()), -1);
    }
    await asPostgresUser(join(bin, 'pg_ctl'), ['-D', data, '-l', log, '-w', '-t', '60', 'start']);
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, url: `postgresql://postgres@127.0.0.1:${port}/postgres`, stop };
}

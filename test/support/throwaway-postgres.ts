// A PostgreSQL cluster of a test's own, for settings the shared stack must not have (e.g.
// wal_level = replica): Debian's server binaries, initdb into a temp dir, a free port, trust auth
// on 127.0.0.1. As root the cluster belongs to the `postgres` OS user (initdb refuses root), as in
// stack/lib/postgres.sh.
import { execFile } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
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

export interface ThrowawayPostgresFiles {
  /** Files copied into the data directory before start (name -> source path), mode 0600. */
  dataFiles?: Record<string, string>;
  /** pg_hba.conf lines that replace initdb's (e.g. `hostssl all all 127.0.0.1/32 cert`). */
  hba?: string[];
}

/** Starts a cluster with `settings` appended to postgresql.conf (e.g. { wal_level: 'replica' }). */
export async function startThrowawayPostgres(
  settings: Record<string, string>,
  files: ThrowawayPostgresFiles = {},
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
    await placeDataFiles(data, files);
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

/** Copies TLS files into the data dir (the server refuses a key others can read) and the hba. */
async function placeDataFiles(data: string, files: ThrowawayPostgresFiles): Promise<void> {
  const owner = isRoot()
    ? {
        uid: Number((await run('id', ['-u', 'postgres'])).stdout.trim()),
        gid: Number((await run('id', ['-g', 'postgres'])).stdout.trim()),
      }
    : undefined;
  const place = (name: string, write: (path: string) => void) => {
    const path = join(data, name);
    write(path);
    chmodSync(path, 0o600);
    if (owner) chownSync(path, owner.uid, owner.gid);
  };
  for (const [name, source] of Object.entries(files.dataFiles ?? {})) {
    place(name, (path) => copyFileSync(source, path));
  }
  if (files.hba) {
    const hba = files.hba;
    place('pg_hba.conf', (path) => writeFileSync(path, `${hba.join('\n')}\n`));
  }
}

// No secret ever leaves the process (issue 15, item 4). Every secret setting holds a distinctive
// value, and the registry and Connect URLs carry user:password@ of their own; then `config check`,
// `status`, `verify`, `preflight` (text and --json) and a few seconds of `pgferry run` meet
// services that are down (PostgreSQL and Kafka on a refusing port) or answer badly (the registry
// and Connect answering 401, 500, garbage, an echo of the request, or nothing at all; PostgreSQL
// refusing the password, or echoing it in its error). Nothing
// written (stdout, stderr, log lines, JSON) may contain a secret: as is, URL-encoded, JSON-escaped,
// or base64 (alone, or as the `user:password` of a basic-auth header).
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPgferryCli } from '../support/cli-run.js';
import {
  FAILURE_MODES,
  type FailureMode,
  type MisbehavingService,
  startMisbehavingService,
} from './misbehaving-http-service.js';
import { startRefusingPostgres } from './refusing-postgres.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** One distinctive value per secret setting (special characters: their encodings differ). */
const SETTING_SECRETS = {
  TARGET_DB_PASSWORD: 'tgt-Secret-7c1e!~(x)',
  SOURCE_DB_PASSWORD: 'src-Secret-44a9#"q"',
  ROLLBACK_DB_PASSWORD: 'rbk-Secret-0f3d$',
  KAFKA_SASL_PASSWORD: 'kfk-Secret-91b2%',
  SCHEMA_REGISTRY_PASSWORD: 'reg-Secret-5e0a&',
  CONNECT_PASSWORD: 'con-Secret-c3d7*',
  CONTROL_TOKEN: 'ctl-Secret-6b8f-0123456789abcdef',
} as const;

/** Passwords written into the registry and Connect URLs (user:password@). */
const URL_SECRETS = { registry: 'regurl P@ss/w:rd-19ae', connect: 'conurl P@ss/w:rd-77d1' };

/** A password given only on the command line (--connect-url): no mask knows it, only redaction. */
const CLI_SECRET = 'cli-Secret-2a4c';

const USERS = { registry: 'reg-user', connect: 'con-user', cli: 'cli-user' };

interface Secret {
  name: string;
  value: string;
  /** Its basic-auth user, when it travels in an Authorization header. */
  user?: string;
}

const SECRETS: Secret[] = [
  ...Object.entries(SETTING_SECRETS).map(([name, value]) => ({ name, value })),
  {
    name: 'SCHEMA_REGISTRY_PASSWORD (basic)',
    value: SETTING_SECRETS.SCHEMA_REGISTRY_PASSWORD,
    user: USERS.registry,
  },
  {
    name: 'CONNECT_PASSWORD (basic)',
    value: SETTING_SECRETS.CONNECT_PASSWORD,
    user: USERS.connect,
  },
  { name: 'password in SCHEMA_REGISTRY_URL', value: URL_SECRETS.registry, user: USERS.registry },
  { name: 'password in CONNECT_URL', value: URL_SECRETS.connect, user: USERS.connect },
  { name: 'password in --connect-url', value: CLI_SECRET, user: USERS.cli },
];

/** Every byte sequence that would give a secret away. */
function spellings(secret: Secret): string[] {
  const userinfo = new URL('http://h');
  userinfo.password = secret.value;
  const base64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
  return [
    secret.value,
    encodeURIComponent(secret.value),
    userinfo.password,
    JSON.stringify(secret.value).slice(1, -1),
    JSON.stringify(JSON.stringify(secret.value).slice(1, -1)).slice(1, -1),
    base64(secret.value).replace(/=+$/, ''),
    ...(secret.user === undefined
      ? []
      : [base64(`${secret.user}:${secret.value}`).replace(/=+$/, '')]),
  ];
}

/** "<secret> as <form> in <where>: ...context..." for each secret found in `text`. */
function findLeaks(where: string, text: string): string[] {
  const leaks: string[] = [];
  for (const secret of SECRETS) {
    for (const form of spellings(secret)) {
      const at = text.indexOf(form);
      if (at >= 0) {
        const context = text.slice(Math.max(0, at - 80), at + form.length + 40);
        leaks.push(`${secret.name} as ${JSON.stringify(form)} in ${where}: ...${context}...`);
      }
    }
  }
  return leaks;
}

function withUserinfo(url: string, user: string, password: string): string {
  const parsed = new URL(url);
  parsed.username = user;
  parsed.password = password;
  return parsed.href.replace(/\/$/, '');
}

/** PostgreSQL and Kafka refuse (port 1); every secret setting is set. */
const DOWN_SERVICES = {
  TARGET_DB_HOST: '127.0.0.1',
  TARGET_DB_PORT: '1',
  TARGET_DB_PASSWORD: SETTING_SECRETS.TARGET_DB_PASSWORD,
  SOURCE_DB_HOST: '127.0.0.1',
  SOURCE_DB_PORT: '1',
  SOURCE_DB_NAME: 'sourcedb',
  SOURCE_DB_USER: 'reader',
  SOURCE_DB_PASSWORD: SETTING_SECRETS.SOURCE_DB_PASSWORD,
  ROLLBACK_DB_USER: 'rollback',
  ROLLBACK_DB_PASSWORD: SETTING_SECRETS.ROLLBACK_DB_PASSWORD,
  KAFKA_BOOTSTRAP: '127.0.0.1:1',
  KAFKA_SASL_MECHANISM: 'plain',
  KAFKA_SASL_USERNAME: 'kafka-user',
  KAFKA_SASL_PASSWORD: SETTING_SECRETS.KAFKA_SASL_PASSWORD,
  CONTROL_TOKEN: SETTING_SECRETS.CONTROL_TOKEN,
  METRICS_PORT: '0',
  RETRY_MAX_DELAY_SECONDS: '1',
  // The most talkative level: every line is one more chance to leak.
  LOG_LEVEL: 'debug',
};

type Placement = 'settings' | 'url';

/** Registry and Connect credentials as their settings, or inside their URLs. */
function envFor(
  placement: Placement,
  registry: MisbehavingService,
  connect: MisbehavingService,
): Record<string, string> {
  if (placement === 'settings') {
    return {
      ...DOWN_SERVICES,
      SCHEMA_REGISTRY_URL: `${registry.url}/apis/ccompat/v7`,
      SCHEMA_REGISTRY_USERNAME: USERS.registry,
      SCHEMA_REGISTRY_PASSWORD: SETTING_SECRETS.SCHEMA_REGISTRY_PASSWORD,
      CONNECT_URL: connect.url,
      CONNECT_USERNAME: USERS.connect,
      CONNECT_PASSWORD: SETTING_SECRETS.CONNECT_PASSWORD,
    };
  }
  return {
    ...DOWN_SERVICES,
    SCHEMA_REGISTRY_URL: withUserinfo(
      `${registry.url}/apis/ccompat/v7`,
      USERS.registry,
      URL_SECRETS.registry,
    ),
    CONNECT_URL: withUserinfo(connect.url, USERS.connect, URL_SECRETS.connect),
  };
}

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;

const services = new Map<
  FailureMode,
  { registry: MisbehavingService; connect: MisbehavingService }
>();

beforeAll(async () => {
  for (const mode of FAILURE_MODES) {
    services.set(mode, {
      registry: await startMisbehavingService(mode),
      connect: await startMisbehavingService(mode),
    });
  }
});

afterAll(async () => {
  for (const { registry, connect } of services.values()) {
    await registry.close();
    await connect.close();
  }
});

function servicesFor(mode: FailureMode) {
  const found = services.get(mode);
  if (found === undefined) throw new Error(`no services for ${mode}`);
  return found;
}

async function runAndCollect(argv: string[], env: Record<string, string>) {
  const run = await runPgferryCli(argv, env);
  const where = `pgferry ${argv.join(' ')}`;
  return {
    run,
    leaks: [
      ...findLeaks(`${where} stdout`, run.stdout),
      ...findLeaks(`${where} stderr`, run.stderr),
      ...findLeaks(`${where} log`, run.log),
    ],
  };
}

describe('the leak detector', () => {
  it('finds a secret in each form it checks', () => {
    const secret = SECRETS.find((s) => s.name === 'password in CONNECT_URL') as Secret;
    for (const form of spellings(secret)) {
      expect(findLeaks('sample', `x ${form} y`), form).not.toEqual([]);
    }
  });
});

describe('config check', () => {
  for (const placement of ['settings', 'url'] as const) {
    it(`prints no secret, as text or JSON (credentials in the ${placement})`, async () => {
      const { registry, connect } = servicesFor('unauthorized');
      const env = envFor(placement, registry, connect);
      for (const argv of [
        ['config', 'check'],
        ['config', 'check', '--json'],
      ]) {
        const { run, leaks } = await runAndCollect(argv, env);
        expect(run.code, run.stderr).toBe(0);
        expect(leaks).toEqual([]);
        // The URLs are shown, without their credentials.
        expect(run.stdout).toContain(`${connect.url}`);
      }
      const json = JSON.parse((await runPgferryCli(['config', 'check', '--json'], env)).stdout) as {
        settings: { env: string; value: string; source: string }[];
      };
      const row = (name: string) => json.settings.find((s) => s.env === name);
      expect(row('CONNECT_PASSWORD')).toMatchObject({
        value: '***',
        source: placement === 'url' ? 'url' : 'env',
      });
      expect(row('SCHEMA_REGISTRY_URL')?.value).toBe(`${registry.url}/apis/ccompat/v7`);
    });
  }

  it('prints no secret when the settings are invalid (credentials in the URL and as settings)', async () => {
    const { registry, connect } = servicesFor('unauthorized');
    const env = {
      ...envFor('settings', registry, connect),
      SCHEMA_REGISTRY_URL: withUserinfo(registry.url, USERS.registry, URL_SECRETS.registry),
      CONNECT_URL: `ftp://${USERS.connect}:${encodeURIComponent(URL_SECRETS.connect)}@connect:2121`,
      TARGET_DB_PORT: 'not-a-port',
      KAFKA_SASL_MECHANISM: 'nonsense',
    };
    for (const argv of [['config', 'check'], ['config', 'check', '--json'], ['status'], ['run']]) {
      const { run, leaks } = await runAndCollect(argv, env);
      expect(run.code, argv.join(' ')).toBe(2);
      expect(run.stderr).toMatch(/SCHEMA_REGISTRY_URL: carries user:password@/);
      expect(leaks).toEqual([]);
    }
  });
});

describe.each(FAILURE_MODES)('registry and Connect %s', (mode) => {
  for (const placement of ['settings', 'url'] as const) {
    it(`status, verify, preflight, pause and resume print no secret (credentials in the ${placement})`, async () => {
      const { registry, connect } = servicesFor(mode);
      const env = envFor(placement, registry, connect);
      const before = {
        registry: registry.authorizations.length,
        connect: connect.authorizations.length,
      };
      const commands = [
        ['status'],
        ['status', '--json'],
        ['verify'],
        ['verify', '--json'],
        ['preflight', '--timeout', '5'],
        ['preflight', '--json', '--timeout', '5'],
        // The service stands in for a broken control endpoint too: CONTROL_TOKEN is sent to it.
        ['pause', '--timeout', '2', '--control-url', connect.url],
        ['resume', '--json', '--timeout', '2', '--control-url', registry.url],
      ];
      for (const argv of commands) {
        const { run, leaks } = await runAndCollect(argv, env);
        expect(run.code, `${argv.join(' ')}: ${run.stderr}`).not.toBe(0);
        expect(leaks).toEqual([]);
      }
      if (mode === 'unreachable') return;
      // The credentials travelled as a basic-auth header (never in the URL, which fetch refuses).
      const expected = {
        registry: basic(
          USERS.registry,
          placement === 'url' ? URL_SECRETS.registry : SETTING_SECRETS.SCHEMA_REGISTRY_PASSWORD,
        ),
        connect: basic(
          USERS.connect,
          placement === 'url' ? URL_SECRETS.connect : SETTING_SECRETS.CONNECT_PASSWORD,
        ),
      };
      const sent = {
        registry: registry.authorizations.slice(before.registry),
        connect: connect.authorizations.slice(before.connect),
      };
      // Each service also stood in for a control endpoint: POST /pause, /resume carry the token.
      const token = `Bearer ${SETTING_SECRETS.CONTROL_TOKEN}`;
      expect(new Set(sent.registry)).toEqual(new Set([expected.registry, token]));
      expect(new Set(sent.connect)).toEqual(new Set([expected.connect, token]));
    });
  }

  it('--connect-url and --control-url with user:password@ print no password (redaction alone)', async () => {
    const { connect } = servicesFor(mode);
    const env = envFor('settings', servicesFor(mode).registry, connect);
    const url = withUserinfo(connect.url, USERS.cli, CLI_SECRET);
    for (const argv of [
      ['connector', 'status', '--connect-url', url],
      ['connector', 'status', '--json', '--connect-url', url],
      ['pause', '--pgferry-only', '--json', '--timeout', '2', '--control-url', url],
      ['status', '--json', '--control-url', url],
    ]) {
      const { run, leaks } = await runAndCollect(argv, env);
      expect(run.code).not.toBe(0);
      expect(leaks).toEqual([]);
    }
    if (mode !== 'unreachable') {
      expect(connect.authorizations).toContain(basic(USERS.cli, CLI_SECRET));
      // POST /pause carries the bearer token instead.
      expect(connect.authorizations).toContain(`Bearer ${SETTING_SECRETS.CONTROL_TOKEN}`);
    }
  });
});

describe.each(['reject', 'echo'] as const)('PostgreSQL that refuses the password (%s)', (mode) => {
  it('status, verify, preflight and copy print no database password', async () => {
    const postgres = await startRefusingPostgres(mode);
    try {
      const { registry, connect } = servicesFor('unauthorized');
      const env = {
        ...envFor('settings', registry, connect),
        TARGET_DB_PORT: String(postgres.port),
        SOURCE_DB_PORT: String(postgres.port),
      };
      for (const argv of [
        ['status', '--json'],
        ['verify'],
        ['preflight', '--json', '--timeout', '5'],
        ['copy', '--json'],
      ]) {
        const { run, leaks } = await runAndCollect(argv, env);
        expect(run.code, `${argv.join(' ')}: ${run.stderr}`).not.toBe(0);
        expect(leaks).toEqual([]);
        // It did reach the authentication failure, not a refused connection.
        expect(`${run.stdout}${run.stderr}${run.log}`).toMatch(/password authentication failed/);
      }
      // The passwords did travel: to the server, and nowhere else.
      expect(new Set(postgres.passwords)).toEqual(
        new Set([SETTING_SECRETS.SOURCE_DB_PASSWORD, SETTING_SECRETS.TARGET_DB_PASSWORD]),
      );
    } finally {
      await postgres.close();
    }
  });
});

describe('pgferry run against services that are down', () => {
  /** Starts `pgferry run` (from source, through tsx) as its own process group. */
  function startRun(env: Record<string, string>): { child: ChildProcess; output: () => string } {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'cli/main.ts', 'run', '--progress', 'log'],
      {
        cwd: REPO,
        env: { PATH: process.env.PATH ?? '', ...env, PROGRESS_LOG_SECONDS: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      },
    );
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    return { child, output: () => output };
  }

  /** Lets it retry for a while, then stops its process group (SIGTERM, SIGKILL if it lingers). */
  async function stopAfter(child: ChildProcess, output: () => string, ready: RegExp[], ms: number) {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline && !ready.every((pattern) => pattern.test(output()))) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const exited = once(child, 'exit');
    if (child.exitCode === null && child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
    const killer = setTimeout(() => {
      if (child.exitCode === null && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }, 10_000);
    await exited;
    clearTimeout(killer);
  }

  it('logs its retries and the connector state without a secret', async () => {
    const runs = [
      { placement: 'settings' as const, mode: 'echo' as const },
      { placement: 'url' as const, mode: 'server-error' as const },
    ].map(({ placement, mode }) => {
      const { registry, connect } = servicesFor(mode);
      return { mode, connect, ...startRun(envFor(placement, registry, connect)) };
    });
    await Promise.all(
      runs.map(({ child, output }) =>
        stopAfter(child, output, [/not reachable yet; retrying/, /source connector state/], 20_000),
      ),
    );
    for (const { mode, connect, output } of runs) {
      const text = output();
      // It did meet the failures: the target retried, the connector monitor asked Connect.
      expect(text, mode).toMatch(/target PostgreSQL/);
      expect(text, mode).toMatch(/source connector state/);
      expect(connect.authorizations.length, mode).toBeGreaterThan(0);
      expect(findLeaks(`pgferry run (${mode})`, text)).toEqual([]);
    }
  }, 60_000);
});

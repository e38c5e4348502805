// Transport security against real PostgreSQL servers of the test's own: two throwaway clusters
// with ssl=on (certificates made with openssl at test start), one with a certificate for
// localhost/127.0.0.1 and `cert` authentication for one role, one with a certificate for another
// name. pgferry verifies the CA and the host name (sslmode=verify-full), names the server and the
// cause in one line when either is wrong, and logs in with a client certificate.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type PostgresSettings } from '../../core/config.js';
import { PgferryError, TlsConnectionError } from '../../core/errors.js';
import { createLogger } from '../../core/logger.js';
import { connectPg } from '../../core/pg-connection.js';
import type { PreflightReport } from '../../migrate/preflight/preflight-check.js';
import { TargetConnection } from '../../sink/target-connection.js';
import { runPgferryCli } from '../support/cli-run.js';
import { loadStackEnv } from '../support/stack-env.js';
import { makeTestCertificates, type TestCertificates } from '../support/test-certificates.js';
import { startThrowawayPostgres, type ThrowawayPostgres } from '../support/throwaway-postgres.js';

const CERT_USER = 'pgferry_cert_user';

let certs: TestCertificates;
let server: ThrowawayPostgres;
let otherNameServer: ThrowawayPostgres;

async function startTlsCluster(pair: { cert: string; key: string }): Promise<ThrowawayPostgres> {
  return startThrowawayPostgres(
    {
      ssl: 'on',
      ssl_cert_file: "'server.crt'",
      ssl_key_file: "'server.key'",
      ssl_ca_file: "'root.crt'",
    },
    {
      dataFiles: { 'server.crt': pair.cert, 'server.key': pair.key, 'root.crt': certs.caFile },
      hba: [
        'local all all trust',
        // The certificate's CN must be the role: PostgreSQL checks it (`cert` authentication).
        `hostssl all ${CERT_USER} 127.0.0.1/32 cert`,
        'hostssl all all 127.0.0.1/32 trust',
        // Nothing in clear: a client that falls back to plaintext is refused, not served.
        'hostnossl all all 127.0.0.1/32 reject',
      ],
    },
  );
}

/** The target settings pgferry would load from these env values (TARGET_DB_*). */
function targetSettings(port: number, env: Record<string, string>): PostgresSettings {
  return loadConfig({
    TARGET_DB_HOST: 'localhost',
    TARGET_DB_PORT: String(port),
    TARGET_DB_NAME: 'postgres',
    TARGET_DB_USER: 'postgres',
    TARGET_DB_PASSWORD: 'unused-trust-auth',
    ...env,
  }).target;
}

async function readSsl(settings: PostgresSettings): Promise<{ ssl: boolean; version: string }> {
  const client = await connectPg(settings, 'pgferry-tls-test');
  try {
    const result = await client.query<{ ssl: boolean; version: string }>(
      'SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
    );
    return result.rows[0] as { ssl: boolean; version: string };
  } finally {
    await client.end();
  }
}

async function connectError(settings: PostgresSettings): Promise<Error> {
  const error = await connectPg(settings, 'pgferry-tls-test').then(
    async (client) => {
      await client.end();
      return new Error('connected, but should have been refused');
    },
    (e: Error) => e,
  );
  return error;
}

beforeAll(async () => {
  certs = await makeTestCertificates();
  [server, otherNameServer] = await Promise.all([
    startTlsCluster(certs.server),
    startTlsCluster(certs.otherNameServer),
  ]);
  const admin = await connectPg(
    targetSettings(server.port, {
      TARGET_DB_SSLMODE: 'verify-full',
      TARGET_DB_SSLROOTCERT: certs.caFile,
    }),
    'pgferry-tls-test',
  );
  await admin.query(`CREATE ROLE ${CERT_USER} LOGIN`);
  await admin.end();
});

afterAll(async () => {
  await Promise.all([server?.stop(), otherNameServer?.stop()]);
  certs?.remove();
});

describe('PostgreSQL over TLS', () => {
  it('connects with sslmode=verify-full and the CA, by name and by address', async () => {
    for (const host of ['localhost', '127.0.0.1']) {
      const settings = targetSettings(server.port, {
        TARGET_DB_HOST: host,
        TARGET_DB_SSLMODE: 'verify-full',
        TARGET_DB_SSLROOTCERT: certs.caFile,
      });
      const ssl = await readSsl(settings);
      expect(ssl.ssl).toBe(true);
      expect(ssl.version).toMatch(/^TLSv1\.[23]$/);
    }
  });

  it('fails with a wrong CA in one line naming the server and the cause', async () => {
    const error = await connectError(
      targetSettings(server.port, {
        TARGET_DB_SSLMODE: 'verify-full',
        TARGET_DB_SSLROOTCERT: certs.wrongCaFile,
      }),
    );
    expect(error).toBeInstanceOf(TlsConnectionError);
    expect(error.message).not.toContain('\n');
    expect(error.message).toMatch(
      new RegExp(
        `^PostgreSQL localhost:${server.port}/postgres: TLS \\(sslmode=verify-full\\) failed: .*\\((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\\); check SSLROOTCERT`,
      ),
    );
    expect((error as TlsConnectionError).retriable).toBe(false);
  });

  it('fails under verify-full when the certificate names another host, and names it', async () => {
    const settings = (mode: string) =>
      targetSettings(otherNameServer.port, {
        TARGET_DB_HOST: '127.0.0.1',
        TARGET_DB_SSLMODE: mode,
        TARGET_DB_SSLROOTCERT: certs.caFile,
      });
    const error = await connectError(settings('verify-full'));
    expect(error).toBeInstanceOf(TlsConnectionError);
    expect(error.message).not.toContain('\n');
    expect(error.message).toMatch(
      new RegExp(
        `^PostgreSQL 127\\.0\\.0\\.1:${otherNameServer.port}/postgres: TLS \\(sslmode=verify-full\\) failed: .*127\\.0\\.0\\.1.*\\(ERR_TLS_CERT_ALTNAME_INVALID\\); the server certificate does not name this host`,
      ),
    );
    // The CA is right: verify-ca (no host name check) connects, so the name alone failed.
    expect((await readSsl(settings('verify-ca'))).ssl).toBe(true);
  });

  it('logs in with a client certificate; without one the refusal names the server and says why', async () => {
    const client = await certs.issueClient(CERT_USER);
    const base = {
      TARGET_DB_USER: CERT_USER,
      TARGET_DB_SSLMODE: 'verify-full',
      TARGET_DB_SSLROOTCERT: certs.caFile,
    };
    const settings = targetSettings(server.port, {
      ...base,
      TARGET_DB_SSLCERT: client.cert,
      TARGET_DB_SSLKEY: client.key,
    });
    const session = await connectPg(settings, 'pgferry-tls-test');
    const who = await session.query<{ user: string; ssl: boolean; client_dn: string }>(
      'SELECT current_user AS user, ssl, client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
    );
    await session.end();
    expect(who.rows[0]).toEqual({ user: CERT_USER, ssl: true, client_dn: `/CN=${CERT_USER}` });

    // Without one, the sink's first login stops with the server's reason and the settings to fix.
    const sink = new TargetConnection(
      targetSettings(server.port, base),
      createLogger('silent'),
      () => {},
    );
    const refused = await sink.connect('pgferry-tls-test').then(
      () => new Error('connected without a client certificate'),
      (e: Error) => e,
    );
    expect(refused).toBeInstanceOf(PgferryError);
    expect((refused as PgferryError).retriable).toBe(false);
    expect(refused.message).toBe(
      `target PostgreSQL localhost:${server.port}/postgres refused the login of ${CERT_USER}: connection requires a valid client certificate; check TARGET_DB_USER and TARGET_DB_PASSWORD (or TARGET_DB_SSLCERT/TARGET_DB_SSLKEY if it wants a client certificate)`,
    );
  });

  it('refuses TLS modes against a server without TLS instead of falling back', async () => {
    const stack = loadStackEnv();
    const plain = new URL(stack.targetDatabaseUrl);
    const settings = loadConfig({
      TARGET_DB_HOST: plain.hostname,
      TARGET_DB_PORT: plain.port,
      TARGET_DB_NAME: plain.pathname.slice(1),
      TARGET_DB_USER: decodeURIComponent(plain.username),
      TARGET_DB_PASSWORD: decodeURIComponent(plain.password),
      TARGET_DB_SSLMODE: 'verify-full',
    }).target;
    const error = await connectError(settings);
    expect(error).toBeInstanceOf(TlsConnectionError);
    expect(error.message).toBe(
      `PostgreSQL ${plain.hostname}:${plain.port}/${plain.pathname.slice(1)}: TLS (sslmode=verify-full) refused: the server does not offer TLS; enable ssl on the server or lower SSLMODE`,
    );
  });

  it('pgferry preflight reports each connection: encrypted and verified, or not', async () => {
    const stack = loadStackEnv();
    const result = await runPgferryCli(['preflight', '--json', '--timeout', '10'], {
      ...stack.vars,
      TARGET_DB_HOST: 'localhost',
      TARGET_DB_PORT: String(server.port),
      TARGET_DB_NAME: 'postgres',
      TARGET_DB_USER: 'postgres',
      TARGET_DB_SSLMODE: 'verify-full',
      TARGET_DB_SSLROOTCERT: certs.caFile,
    });
    const report = JSON.parse(result.stdout) as PreflightReport;
    const check = (id: string) =>
      report.sections.flatMap((section) => section.checks).find((c) => c.id === id);
    expect(check('target.transport')).toMatchObject({
      status: 'pass',
      message: expect.stringMatching(
        /^encrypted \(TLSv1\.[23]\), server verified: CA and host name \(sslmode=verify-full\)$/,
      ),
    });
    // The stack's source has no TLS and is on this machine (SOURCE_DB_SSLMODE=disable there).
    expect(check('source.transport')).toEqual(
      expect.objectContaining({
        status: 'pass',
        message: 'not encrypted (sslmode=disable); the host is on this machine',
      }),
    );
    for (const id of ['kafka.transport', 'connect.registry_transport', 'connect.transport']) {
      expect(check(id)?.status, id).toBe('pass');
      expect(check(id)?.message, id).toMatch(/^not encrypted.*on this machine$/);
    }
  });
});

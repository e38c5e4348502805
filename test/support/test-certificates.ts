// Certificates for the TLS tests, made with openssl into a temp dir at test start: a CA, a second
// CA that signed nothing the servers use (the "wrong CA"), server certificates for
// localhost/127.0.0.1 and for another name, and client certificates signed by the CA.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface CertificatePair {
  cert: string;
  key: string;
}

export interface TestCertificates {
  dir: string;
  /** PEM file of the CA that signed every certificate below. */
  caFile: string;
  /** PEM file of a CA that signed none of them. */
  wrongCaFile: string;
  /** CN=localhost, SAN DNS:localhost, IP:127.0.0.1. */
  server: CertificatePair;
  /** CN and SAN other.example only: a host name mismatch when reached as 127.0.0.1. */
  otherNameServer: CertificatePair;
  /** A client certificate whose CN is `user`. */
  issueClient(user: string): Promise<CertificatePair>;
  remove(): void;
}

async function openssl(args: string[]): Promise<void> {
  await run('openssl', args);
}

async function makeCa(dir: string, name: string): Promise<CertificatePair> {
  const pair = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
  await openssl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
    '-keyout',
    pair.key,
    '-out',
    pair.cert,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return pair;
}

async function issue(
  dir: string,
  ca: CertificatePair,
  name: string,
  subject: string,
  extensions: string,
): Promise<CertificatePair> {
  const pair = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, extensions);
  await openssl([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    subject,
    '-keyout',
    pair.key,
    '-out',
    csr,
  ]);
  await openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-days',
    '2',
    '-out',
    pair.cert,
    '-extfile',
    ext,
  ]);
  return pair;
}

export async function makeTestCertificates(): Promise<TestCertificates> {
  const dir = mkdtempSync(join(tmpdir(), 'pgferry-certs-'));
  const ca = await makeCa(dir, 'test-ca');
  const wrongCa = await makeCa(dir, 'wrong-ca');
  const serverExt = (names: string) =>
    `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${names}\n`;
  const server = await issue(
    dir,
    ca,
    'server',
    '/CN=localhost',
    serverExt('DNS:localhost,IP:127.0.0.1'),
  );
  const otherNameServer = await issue(
    dir,
    ca,
    'other-server',
    '/CN=other.example',
    serverExt('DNS:other.example'),
  );
  return {
    dir,
    caFile: ca.cert,
    wrongCaFile: wrongCa.cert,
    server,
    otherNameServer,
    issueClient: (user) =>
      issue(
        dir,
        ca,
        `client-${user}`,
        `/CN=${user}`,
        'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n',
      ),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

// The HTTP clients verify TLS servers against the configured CA and present a client certificate
// when set: an in-process node:https server with the test CA (certificates made with openssl at
// test start) stands in for Kafka Connect and the schema registry.
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectClient } from '../../core/connect-client.js';
import { ConnectRestError, RetriableError } from '../../core/errors.js';
import { createSchemaRegistryClient } from '../../core/schema-registry-client.js';
import { RegistrySchemaLookup } from '../../pipeline/codec/schema-lookup.js';
import { makeTestCertificates, type TestCertificates } from '../support/test-certificates.js';

let certs: TestCertificates;
let server: Server;
let mutualServer: Server;
let url: string;
let mutualUrl: string;

/** Answers like Connect's GET / and the registry's subject versions. */
function answer(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('content-type', 'application/json');
  res.end(
    JSON.stringify(
      req.url === '/'
        ? { version: '4.0.0' }
        : req.url?.endsWith('/versions/latest')
          ? { id: 7, version: 1, subject: 's', schema: '"string"' }
          : [1],
    ),
  );
}

async function listen(s: Server): Promise<string> {
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return `https://localhost:${(s.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  certs = await makeTestCertificates();
  const tls = { cert: readFileSync(certs.server.cert), key: readFileSync(certs.server.key) };
  server = createServer(tls, answer);
  // Mutual TLS: only clients with a certificate the test CA signed get an answer.
  mutualServer = createServer(
    { ...tls, ca: readFileSync(certs.caFile), requestCert: true, rejectUnauthorized: true },
    answer,
  );
  url = await listen(server);
  mutualUrl = await listen(mutualServer);
});

afterAll(async () => {
  for (const s of [server, mutualServer]) {
    s?.closeAllConnections();
    await new Promise((resolve) => s?.close(resolve));
  }
  certs?.remove();
});

describe('Kafka Connect REST over TLS (CONNECT_CA_FILE)', () => {
  it('verifies the server against the configured CA', async () => {
    const client = new ConnectClient({ baseUrl: url, tls: { caFile: certs.caFile } });
    expect(await client.getWorkerInfo()).toEqual({ version: '4.0.0' });
  });

  it('refuses a server the CA did not sign, in one line naming the URL and the cause', async () => {
    const client = new ConnectClient({
      baseUrl: url,
      auth: { username: 'admin', password: 'connect-secret-pw' },
      tls: { caFile: certs.wrongCaFile },
    });
    const error = await client.getWorkerInfo().then(
      () => new Error('verified a server the CA did not sign'),
      (e: Error) => e,
    );
    expect(error).toBeInstanceOf(ConnectRestError);
    expect(error.message).toMatch(
      new RegExp(
        `^GET ${url}/ failed: TLS failed: .*\\((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN)\\); check CONNECT_CA_FILE$`,
      ),
    );
    expect(error.message).not.toContain('connect-secret-pw');
  });

  it('refuses an unknown CA by default (the system CAs), never trusting blindly', async () => {
    const client = new ConnectClient({ baseUrl: url });
    await expect(client.getWorkerInfo()).rejects.toThrow(/TLS failed: .*check CONNECT_CA_FILE/);
  });
});

describe('schema registry over TLS (SCHEMA_REGISTRY_CA_FILE/_CERT_FILE/_KEY_FILE)', () => {
  it('verifies the registry and presents the client certificate for mutual TLS', async () => {
    const client = await certs.issueClient('pgferry');
    const lookup = new RegistrySchemaLookup({
      url: mutualUrl,
      tls: { caFile: certs.caFile, certFile: client.cert, keyFile: client.key },
    });
    expect(await lookup.hasSubject('cdc.public.t-value')).toBe(true);
  });

  it('gives the Confluent registry client the same CA and client certificate', async () => {
    const client = await certs.issueClient('pgferry-registry');
    const registry = createSchemaRegistryClient({
      url: mutualUrl,
      tls: { caFile: certs.caFile, certFile: client.cert, keyFile: client.key },
    });
    expect(await registry.getLatestSchemaId('s')).toBe(7);
    const wrongCa = createSchemaRegistryClient({ url, tls: { caFile: certs.wrongCaFile } });
    await expect(wrongCa.getLatestSchemaId('s')).rejects.toThrow();
  });

  it('fails clearly with a wrong CA, and without the client certificate', async () => {
    const wrongCa = new RegistrySchemaLookup({ url, tls: { caFile: certs.wrongCaFile } });
    const error = await wrongCa.hasSubject('s').then(
      () => new Error('verified a server the CA did not sign'),
      (e: Error) => e,
    );
    expect(error).toBeInstanceOf(RetriableError);
    expect(error.message).toMatch(
      /^schema registry https:\/\/localhost:\d+ unreachable asking for subject s \(TLS failed: .*\((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN)\); check SCHEMA_REGISTRY_CA_FILE and SCHEMA_REGISTRY_URL\)$/,
    );

    const noCertificate = new RegistrySchemaLookup({
      url: mutualUrl,
      tls: { caFile: certs.caFile },
    });
    const refused = await noCertificate.hasSubject('s').then(
      () => new Error('answered without a client certificate'),
      (e: Error) => e,
    );
    // TLS 1.3 rejects a missing client certificate after the handshake: the client sees the
    // server close the connection, reported (retried) as the registry being unreachable.
    expect(refused).toBeInstanceOf(RetriableError);
    expect(refused.message).toMatch(/^schema registry https:\/\/localhost:\d+ unreachable/);
  });
});

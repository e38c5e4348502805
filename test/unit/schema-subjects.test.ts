// RegistrySchemaLookup as SchemaSubjects, against a local HTTP server playing the registry: which
// subjects a schema id has, whether a subject exists, what "cannot say" is and what is an outage.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RetriableError } from '../../core/errors.js';
import { RegistrySchemaLookup } from '../../pipeline/codec/schema-lookup.js';

const answers: Record<string, [number, string]> = {
  '/schemas/ids/50/subjects': [200, '["cdc.public.orders-value"]'],
  '/schemas/ids/51/subjects': [404, '{"error_code":40403,"message":"Schema 51 not found."}'],
  '/schemas/ids/52/subjects': [404, 'Not Found'],
  '/schemas/ids/53/subjects': [503, 'down'],
  '/schemas/ids/54/subjects': [429, 'slow down'],
  '/schemas/ids/55/subjects': [403, '{"error_code":40301}'],
  '/subjects/cdc.public.orders-key/versions': [200, '[1,2]'],
  '/subjects/cdc.public.nopk-key/versions': [
    404,
    '{"error_code":40401,"message":"Subject not found."}',
  ],
};

let registry: RegistrySchemaLookup;
const server = createServer((request: IncomingMessage, response: ServerResponse) => {
  const [status, body] = answers[request.url ?? ''] ?? [404, ''];
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(body);
});

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  registry = new RegistrySchemaLookup({ url: `http://127.0.0.1:${port}` });
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('RegistrySchemaLookup as SchemaSubjects', () => {
  it('lists the subjects of a schema id', async () => {
    expect(await registry.subjectsOf(50)).toEqual(['cdc.public.orders-value']);
    expect(await registry.subjectsOf(51)).toEqual([]);
  });

  it('tells whether a subject exists', async () => {
    expect(await registry.hasSubject('cdc.public.orders-key')).toBe(true);
    expect(await registry.hasSubject('cdc.public.nopk-key')).toBe(false);
  });

  it('cannot say when the registry does not offer the lookup or refuses it', async () => {
    expect(await registry.subjectsOf(52)).toBeUndefined();
    expect(await registry.subjectsOf(55)).toBeUndefined();
    expect(await registry.hasSubject('no-such-route')).toBeUndefined();
  });

  it('retries a registry that is down or busy: never a verdict on the message', async () => {
    await expect(registry.subjectsOf(53)).rejects.toBeInstanceOf(RetriableError);
    await expect(registry.subjectsOf(54)).rejects.toBeInstanceOf(RetriableError);
  });
});

// Credentials in URLs, part by part: taken out of the URL and sent as basic auth by every client
// that fetches (Connect, the control endpoint, the registry lookup and client), never shown by
// messages, errors, log lines or dead-letter headers; and the secret mask under all output.
import { describe, expect, it } from 'vitest';
import { findSecretValues } from '../../core/config.js';
import { ConnectClient } from '../../core/connect-client.js';
import { ControlClient } from '../../core/control-client.js';
import { ConnectRestError } from '../../core/errors.js';
import { createLogger } from '../../core/logger.js';
import { redactUrl, redactUrlsInText } from '../../core/redact-url.js';
import { createSchemaRegistryClient } from '../../core/schema-registry-client.js';
import { createSecretMask } from '../../core/secret-mask.js';
import { formatBasicAuthorization, splitUrlCredentials } from '../../core/url-credentials.js';
import { RegistrySchemaLookup } from '../../pipeline/codec/schema-lookup.js';
import { deadLetterHeaders } from '../../sink/dlq-producer.js';
import { type FailureMode, startMisbehavingService } from './misbehaving-http-service.js';

const PASSWORD = 'pa ss@w/rd:x';
const withCredentials = (url: string) => {
  const parsed = new URL(url);
  parsed.username = 'someone';
  parsed.password = PASSWORD;
  return parsed.href.replace(/\/$/, '');
};
const EXPECTED_HEADER = `Basic ${Buffer.from(`someone:${PASSWORD}`).toString('base64')}`;
const ENCODED = encodeURIComponent(PASSWORD);

/** Nothing in `text` gives the password away (as is, percent-encoded, or in the header). */
function expectNoPassword(text: string): void {
  expect(text).not.toContain(PASSWORD);
  expect(text).not.toContain('pa%20ss');
  expect(text).not.toContain(ENCODED);
  expect(text).not.toContain(EXPECTED_HEADER.slice(6));
}

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a failure');
}

const BAD_ANSWERS: FailureMode[] = [
  'unauthorized',
  'server-error',
  'garbage',
  'echo',
  'unreachable',
];

describe('redactUrl', () => {
  it('drops user and password and keeps the rest of the URL as given', () => {
    expect(redactUrl('https://u:s3cret@registry:8081/apis/ccompat/v7')).toBe(
      'https://registry:8081/apis/ccompat/v7',
    );
    expect(redactUrl('http://u:p@h')).toBe('http://h');
    expect(redactUrl('http://u:p@h/')).toBe('http://h/');
    expect(redactUrl('http://u@h:1/x?y=1')).toBe('http://h:1/x?y=1');
    expect(redactUrl('http://127.0.0.1:58081')).toBe('http://127.0.0.1:58081');
    expect(redactUrl(withCredentials('http://h:1'))).toBe('http://h:1');
  });

  it('drops everything before the last @ of a value that is no URL with a host', () => {
    expect(redactUrl('http://u:pa/ss@host:1/x')).toBe('http://host:1/x');
    expect(redactUrl('user:pass@registry:8081')).toBe('registry:8081');
    expect(redactUrl('http://u:p@ss@h x')).toBe('http://h x');
    expect(redactUrl('not a url')).toBe('not a url');
  });
});

describe('redactUrlsInText', () => {
  it('takes the userinfo out of every URL in a message', () => {
    const text =
      'Request cannot be constructed from a URL that includes credentials: http://u:p%40ss@h:1/x, then https://a:b@c/';
    expect(redactUrlsInText(text)).toBe(
      'Request cannot be constructed from a URL that includes credentials: http://h:1/x, then https://c/',
    );
    expect(redactUrlsInText('{"url":"http://u:p@h","mail":"a@b"}')).toBe(
      '{"url":"http://h","mail":"a@b"}',
    );
    expect(redactUrlsInText('GET http://h:1/ failed: user@example.com')).toBe(
      'GET http://h:1/ failed: user@example.com',
    );
  });
});

describe('splitUrlCredentials and formatBasicAuthorization', () => {
  it('returns the URL without credentials and the credentials percent-decoded', () => {
    expect(splitUrlCredentials(withCredentials('https://h:8443/apis/'))).toEqual({
      url: 'https://h:8443/apis',
      auth: { username: 'someone', password: PASSWORD },
    });
    expect(splitUrlCredentials('http://h:1')).toEqual({ url: 'http://h:1', auth: undefined });
    expect(splitUrlCredentials('garbage')).toEqual({ url: 'garbage', auth: undefined });
    expect(formatBasicAuthorization({ username: 'someone', password: PASSWORD })).toBe(
      EXPECTED_HEADER,
    );
  });
});

describe('createSecretMask', () => {
  it('masks a secret as is, URL-encoded, JSON-escaped and base64, and leaves short values alone', () => {
    const secret = 'p"w d/1@x';
    const mask = createSecretMask([secret, 'abc']);
    const forms = [
      secret,
      encodeURIComponent(secret),
      JSON.stringify(secret).slice(1, -1),
      Buffer.from(secret).toString('base64'),
    ];
    for (const form of forms) expect(mask(`<${form}>`), form).toBe('<***>');
    expect(mask('abc abcd')).toBe('abc abcd');
    expect(createSecretMask([])('as is')).toBe('as is');
  });

  it('masks whatever findSecretValues finds: secret settings, URL passwords, basic-auth pairs', () => {
    const env = {
      TARGET_DB_PASSWORD: 'target-pass',
      CONNECT_URL: withCredentials('http://connect:8083'),
      SCHEMA_REGISTRY_USERNAME: 'reg',
      SCHEMA_REGISTRY_PASSWORD: 'registry-pass',
      KAFKA_GROUP_ID: 'not-a-secret',
    };
    const mask = createSecretMask(findSecretValues(env));
    const header = (user: string, password: string) =>
      Buffer.from(`${user}:${password}`).toString('base64');
    const text = [
      'target-pass',
      PASSWORD,
      ENCODED,
      header('reg', 'registry-pass'),
      header('someone', PASSWORD),
      'not-a-secret',
    ].join(' | ');
    expect(mask(text)).toBe('*** | *** | *** | *** | *** | not-a-secret');
  });
});

describe('the logger', () => {
  it('writes no URL credentials, whatever a message or an error quotes', () => {
    const lines: string[] = [];
    const log = createLogger('info', { write: (line: string) => lines.push(line) });
    const url = withCredentials('http://registry:8081/x');
    log.warn({ err: new TypeError(`fetch refused ${url}`), url }, `lookup of ${url} failed`);
    expect(lines).toHaveLength(1);
    expectNoPassword(lines[0] ?? '');
    expect(lines[0]).toContain('http://registry:8081/x');
  });
});

describe.each(BAD_ANSWERS)('clients given a URL with credentials, service %s', (mode) => {
  it('ConnectClient sends them as basic auth and shows neither them nor the header', async () => {
    const service = await startMisbehavingService(mode);
    try {
      const client = new ConnectClient({
        baseUrl: withCredentials(service.url),
        auth: { username: 'other', password: 'ignored-pass' },
        requestTimeoutMs: 2000,
      });
      expect(client.baseUrl).toBe(service.url);
      const error = await failureOf(client.getConnectorStatus('c'));
      expect(error).toBeInstanceOf(ConnectRestError);
      const rest = error as ConnectRestError;
      expectNoPassword(`${rest.message} ${rest.url} ${rest.body ?? ''} ${String(rest.cause)}`);
      expect(rest.url).toBe(`${service.url}/connectors/c/status`);
      if (mode !== 'unreachable') expect(service.authorizations).toEqual([EXPECTED_HEADER]);
    } finally {
      await service.close();
    }
  });

  it('ControlClient sends them as basic auth on GET, the bearer token on POST', async () => {
    const service = await startMisbehavingService(mode);
    try {
      const client = new ControlClient({
        baseUrl: withCredentials(service.url),
        token: 'control-token-0123456789',
        requestTimeoutMs: 2000,
      });
      expect(client.baseUrl).toBe(service.url);
      for (const call of [() => client.health(), () => client.resume()]) {
        const error = await failureOf(call());
        expectNoPassword(error.message);
        expect(error.message).not.toContain('control-token-0123456789');
      }
      if (mode !== 'unreachable') {
        expect(service.authorizations).toEqual([
          EXPECTED_HEADER,
          'Bearer control-token-0123456789',
        ]);
      }
    } finally {
      await service.close();
    }
  });

  it('the registry lookup of `pgferry run` sends them as basic auth and never shows them', async () => {
    const service = await startMisbehavingService(mode);
    try {
      const lookup = new RegistrySchemaLookup({
        url: withCredentials(service.url),
        requestTimeoutMs: 2000,
      });
      const error = await failureOf(lookup.getSchema(7));
      expectNoPassword(`${error.message} ${String(error.cause)}`);
      if (mode !== 'unreachable') expect(service.authorizations).toEqual([EXPECTED_HEADER]);
    } finally {
      await service.close();
    }
  });

  it('the schema registry client sends them as basic auth and never shows them', async () => {
    const service = await startMisbehavingService(mode);
    try {
      const registry = createSchemaRegistryClient({ url: withCredentials(service.url) });
      const error = await failureOf(registry.getSchema(7));
      expectNoPassword(`${error.message} ${JSON.stringify(error)}`);
      if (mode !== 'unreachable') expect(service.authorizations[0]).toBe(EXPECTED_HEADER);
    } finally {
      await service.close();
    }
  });
});

describe('dead-letter headers', () => {
  it('show URLs in the error message and stack without their credentials', () => {
    const error = new Error(`lookup via ${withCredentials('http://registry:8081')} failed`);
    const headers = deadLetterHeaders(
      {
        record: {
          topic: 'cdc.public.t',
          partition: 0,
          offset: '5',
          key: null,
          value: null,
          headers: {},
          timestamp: '0',
        },
        stage: 'decode',
        error,
      },
      'group',
    );
    expectNoPassword(Object.values(headers).join('\n'));
    expect(headers['__connect.errors.exception.message']).toBe(
      'lookup via http://registry:8081 failed',
    );
  });
});

// Bad input at the edges, the pure parts: records that are not Debezium change events name what
// they are, a refused login is told apart from an outage, and the broker probe names each broker.
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { PoisonMessageError, RetriableError } from '../../core/errors.js';
import { probeBrokers } from '../../core/kafka-client.js';
import { isAuthenticationFailure } from '../../core/pg-errors.js';
import { createDecodeProcessor } from '../../pipeline/processors/decode-processor.js';
import { Topology } from '../../pipeline/processors/topology.js';
import {
  encodeConfluent,
  InMemorySchemaLookup,
  TopologyTestDriver,
} from '../../pipeline/processors/topology-test-driver.js';
import { createTransformProcessor } from '../../pipeline/processors/transform-processor.js';
import type { KafkaRecord } from '../../pipeline/source/kafka-record.js';

const record = (key: Buffer | null, value: Buffer | null): KafkaRecord => ({
  topic: 'cdc.public.orders',
  partition: 0,
  offset: '7',
  key,
  value,
  headers: {},
  timestamp: '0',
});

describe('a topic that is not Debezium', () => {
  const lookup = new InMemorySchemaLookup();
  const plain = lookup.register(41, {
    type: 'record',
    name: 'Order',
    fields: [
      { name: 'id', type: 'long' },
      { name: 'item', type: 'string' },
    ],
  });
  const driver = new TopologyTestDriver(
    Topology.from<KafkaRecord>()
      .through(createDecodeProcessor(lookup))
      .through(createTransformProcessor()),
  );

  it('says a plain JSON record looks like JSON', async () => {
    const { outputs, failures } = await driver.pipe([
      record(Buffer.from('{"id":1}'), Buffer.from('{"id":1,"item":"x"}')),
    ]);
    expect(outputs).toEqual([]);
    expect(failures.map((f) => [f.processor, f.error.constructor, f.error.message])).toEqual([
      [
        'decode',
        PoisonMessageError,
        'key is not in the Confluent wire format (magic byte 0 + schema id): it starts like plain JSON text',
      ],
    ]);
  });

  it('keeps the plain message for bytes that are not JSON either', async () => {
    const { failures } = await driver.pipe([record(null, Buffer.from('hello'))]);
    expect(failures[0]?.error.message).toBe(
      'value is not in the Confluent wire format (magic byte 0 + schema id)',
    );
  });

  it('says a plain Avro record is not a Debezium change event, with its fields', async () => {
    const { outputs, failures } = await driver.pipe([
      record(null, encodeConfluent(plain, { id: 1n, item: 'x' })),
    ]);
    expect(outputs).toEqual([]);
    expect(failures.map((f) => [f.processor, f.error.constructor, f.error.message])).toEqual([
      [
        'transform',
        PoisonMessageError,
        'not a Debezium change event: the value has no op field (a Debezium envelope has before, after, source, op; fields here: id, item)',
      ],
    ]);
  });
});

describe('isAuthenticationFailure', () => {
  const pgError = (code: string) => Object.assign(new Error('x'), { code });

  it.each(['28P01', '28000'])('SQLSTATE %s is a refused login', (code) => {
    expect(isAuthenticationFailure(pgError(code))).toBe(true);
  });

  it.each(['08006', '57P03', 'ECONNREFUSED', ''])('%s is not', (code) => {
    expect(isAuthenticationFailure(pgError(code))).toBe(false);
  });
});

describe('probeBrokers', () => {
  it('resolves when one broker accepts a connection', async () => {
    const server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      await expect(probeBrokers(['127.0.0.1:1', `127.0.0.1:${port}`])).resolves.toBeUndefined();
    } finally {
      server.close();
    }
  });

  it('names every broker and why when none answers (retriable)', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const probe = probeBrokers([`127.0.0.1:${port}`, `[::1]:${port}`], 2000);
    await expect(probe).rejects.toBeInstanceOf(RetriableError);
    await expect(probe).rejects.toThrow(
      new RegExp(
        `^Kafka unreachable: 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\), \\[::1\\]:${port} \\((ECONNREFUSED|EADDRNOTAVAIL|EAFNOSUPPORT|ENETUNREACH)\\); check KAFKA_BOOTSTRAP$`,
      ),
    );
  });
});

describe('registry URL in messages', () => {
  it('never shows the credentials a URL carries', async () => {
    const { redactUrl: withoutCredentials } = await import('../../core/redact-url.js');
    expect(withoutCredentials('https://user:s3cret@registry:8081/apis/ccompat/v7')).toBe(
      'https://registry:8081/apis/ccompat/v7',
    );
    expect(withoutCredentials('http://127.0.0.1:58081')).toBe('http://127.0.0.1:58081');
    expect(withoutCredentials('http://u:p@h')).not.toContain('p@');
  });
});

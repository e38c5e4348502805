// The hostile messages of issue 15 (item 3), one by one through decode → transform: each is
// dead-lettered with its reason, quickly and without allocating what it claims, where before it
// ran pgferry out of memory or stopped the topic. A registry that breaks off an answer is still a
// transient fault, never a dead letter.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { PoisonMessageError, RetriableError } from '../../core/errors.js';
import type { AvroJson, AvroJsonObject } from '../../pipeline/codec/avro-json.js';
import { createColumnCodec } from '../../pipeline/codec/column-codec.js';
import { MessageBoundsError } from '../../pipeline/codec/message-bounds-error.js';
import { RegistrySchemaLookup } from '../../pipeline/codec/schema-lookup.js';
import { TEXT_ALLOWANCE, TextBudget } from '../../pipeline/codec/text-budget.js';
import { createDecodeProcessor } from '../../pipeline/processors/decode-processor.js';
import { poisonUntypedErrors } from '../../pipeline/processors/poison-untyped-errors.js';
import type { ProcessorContext } from '../../pipeline/processors/processor.js';
import { Topology } from '../../pipeline/processors/topology.js';
import {
  encodeConfluent,
  TopologyTestDriver,
} from '../../pipeline/processors/topology-test-driver.js';
import { createTransformProcessor } from '../../pipeline/processors/transform-processor.js';
import type { KafkaRecord } from '../../pipeline/source/kafka-record.js';
import { encodeVarint } from '../support/avro-varint.js';
import {
  fixtureRecords,
  fixtureSchemaLookup,
  loadMessages,
  loadSchema,
} from '../support/debezium-fixtures.js';

// Variable-scale numerics arrive as VariableScaleDecimal only in decimal.handling.mode=precise.
const VARNUM = 'cdc.fixture_precise.varnum';
const lookup = fixtureSchemaLookup(VARNUM);
const { schemaIds } = loadMessages(VARNUM);
const [insert1] = fixtureRecords(VARNUM) as [KafkaRecord];

function createDriver() {
  return new TopologyTestDriver(
    Topology.from<KafkaRecord>()
      .through(createDecodeProcessor(lookup))
      .through(createTransformProcessor()),
  );
}

/** insert 1 of fixture_precise.varnum with `amount` (a VariableScaleDecimal) given another scale. */
async function withAmountScale(scale: number): Promise<KafkaRecord> {
  const schema = await lookup.getSchema(schemaIds.value as number);
  const value = schema.type.fromBuffer((insert1.value as Buffer).subarray(5)) as {
    after: { amount: { scale: number } };
  };
  value.after.amount.scale = scale;
  return { ...insert1, value: encodeConfluent(schema, value) };
}

describe('hostile messages are dead-lettered, not allocated', () => {
  it('a VariableScaleDecimal scale of 4e8 (a string of 4e8 zeros)', async () => {
    const started = performance.now();
    const { outputs, failures } = await createDriver().pipe([await withAmountScale(400_000_000)]);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(outputs).toEqual([]);
    expect(failures.map((f) => [f.processor, f.error.constructor, f.error.message])).toEqual([
      [
        'transform',
        MessageBoundsError,
        "decimal scale 400000000 is beyond PostgreSQL's numeric (16383 digits after the point, 131072 before)",
      ],
    ]);
  });

  it('keeps a scale numeric can hold: 16383 digits after the point', async () => {
    const { outputs, failures } = await createDriver().pipe([await withAmountScale(16_383)]);
    expect(failures).toEqual([]);
    expect(outputs[0]?.after?.amount).toMatch(/^-0\.0{16354}12345678901234567890123456789$/);
  });

  it('an array block count of 2^31 in a 5-byte body', async () => {
    const registered = fixtureSchemaLookup();
    const schema = registered.register(7, {
      type: 'record',
      name: 'Tags',
      fields: [{ name: 'tags', type: { type: 'array', items: 'int' } }],
    });
    const value = Buffer.concat([Buffer.from([0, 0, 0, 0, schema.id]), encodeVarint(2 ** 31)]);
    expect(value).toHaveLength(10);
    const driver = new TopologyTestDriver(
      Topology.from<KafkaRecord>().through(createDecodeProcessor(registered)),
    );
    const started = performance.now();
    const { failures } = await driver.pipe([{ ...insert1, key: null, value }]);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(failures.map((f) => [f.processor, f.error.constructor, f.error.message])).toEqual([
      [
        'decode',
        PoisonMessageError,
        'value does not decode with its schema id 7: array block of 2147483648 items, only 0 bytes left (at byte 0 of 5)',
      ],
    ]);
    expect(failures[0]?.error.cause).toBeInstanceOf(MessageBoundsError);
  });

  it('a string length beyond the bytes left', async () => {
    // The last field of the row (label, a string) claims 2^40 bytes.
    const schema = await lookup.getSchema(schemaIds.value as number);
    const decoded = schema.type.fromBuffer((insert1.value as Buffer).subarray(5)) as {
      source: { db: string };
    };
    decoded.source.db = 'x';
    const bytes = encodeConfluent(schema, decoded);
    const at = bytes.indexOf(Buffer.from([0x02, 0x78])); // length 1, "x"
    const value = Buffer.concat([
      bytes.subarray(0, at),
      encodeVarint(2 ** 40),
      bytes.subarray(at + 1),
    ]);
    const { failures } = await createDriver().pipe([{ ...insert1, value }]);
    expect(failures[0]?.error).toBeInstanceOf(PoisonMessageError);
    expect(failures[0]?.error.message).toMatch(/string length 1099511627776, only \d+ bytes left/);
  });

  it('an array of numerics that would expand beyond the text budget', () => {
    const decimal: AvroJsonObject = {
      type: 'record',
      name: 'VariableScaleDecimal',
      namespace: 'io.debezium.data',
      fields: [
        { name: 'scale', type: 'int' },
        { name: 'value', type: 'bytes' },
      ],
      'connect.name': 'io.debezium.data.VariableScaleDecimal',
    };
    const codec = createColumnCodec({ type: 'array', items: decimal }, new Map());
    // 1e-16383 is 3 bytes on the wire and 16385 characters of text: 100 of them from ~300 bytes.
    const tiny = { scale: 16_383, value: Buffer.from([1]) };
    const values = Array.from({ length: 100 }, () => tiny);
    expect(() => codec.toPg(values, new TextBudget(300))).toThrow(MessageBoundsError);
    expect(() => codec.toPg(values, new TextBudget(300))).toThrow(
      `a message of 300 bytes converts to more than ${TEXT_ALLOWANCE + 16 * 300} characters of PostgreSQL text`,
    );
    // Three of them fit the allowance any message has.
    expect(codec.toPg(values.slice(0, 3), new TextBudget(30))).toHaveLength(3 * 16_388 + 1);
  });
});

/** The type of a record's field, as the union `[null, T]` Debezium gives nullable columns. */
function fieldType(record: AvroJsonObject, name: string): AvroJson[] {
  const field = record.fields?.find((f) => f.name === name);
  if (!field || !Array.isArray(field.type)) throw new Error(`no nullable field ${name}`);
  return field.type;
}

describe('untyped errors from the codecs', () => {
  it('dead-letter the record with the reason, instead of stopping the topic', async () => {
    // The same bytes under a schema whose decimal scale is no integer: the codec throws a
    // RangeError, which used to escape the topology and stop the table.
    const json = structuredClone(loadSchema(VARNUM, 'value')) as AvroJsonObject;
    const row = fieldType(json, 'before')[1] as AvroJsonObject;
    const decimal = fieldType(row, 'fixed')[1] as AvroJsonObject;
    decimal.scale = 1.5;
    (decimal['connect.parameters'] as Record<string, string>).scale = '1.5';
    lookup.register(900, json);
    const value = Buffer.from(insert1.value as Buffer);
    value.writeUInt32BE(900, 1);

    const { outputs, failures } = await createDriver().pipe([{ ...insert1, value }]);
    expect(outputs).toEqual([]);
    expect(failures.map((f) => [f.processor, f.error.constructor, f.error.message])).toEqual([
      [
        'transform',
        PoisonMessageError,
        'the change event does not convert: RangeError: decimal scale must be an integer, got 1.5',
      ],
    ]);
    expect(failures[0]?.error.cause).toBeInstanceOf(RangeError);
  });
});

describe('poisonUntypedErrors', () => {
  const ctx = {} as ProcessorContext;
  const failing = (error: unknown, async: boolean) =>
    poisonUntypedErrors<number, number>('step failed', {
      name: 'step',
      process: () => {
        if (async) return Promise.reject(error);
        throw error;
      },
    });

  it('reports untyped errors as poison naming the cause, thrown or rejected', async () => {
    for (const async of [false, true]) {
      const run = async () => failing(new TypeError('x is undefined'), async).process(1, ctx);
      await expect(run()).rejects.toBeInstanceOf(PoisonMessageError);
      await expect(run()).rejects.toThrow('step failed: TypeError: x is undefined');
    }
    await expect(async () => failing('a string', false).process(1, ctx)).rejects.toThrow(
      'step failed: a string',
    );
  });

  it('keeps typed errors as they are: a retriable one is still retried', async () => {
    const outage = new RetriableError('registry down');
    for (const async of [false, true]) {
      await expect(async () => failing(outage, async).process(1, ctx)).rejects.toBe(outage);
    }
  });

  it("passes results through and keeps the processor's name and hooks", () => {
    const flush = () => [9];
    const wrapped = poisonUntypedErrors<number, number>('x', {
      name: 'double',
      process: (n) => [n * 2],
      flush,
    });
    expect(wrapped.name).toBe('double');
    expect(wrapped.flush).toBe(flush);
    expect(wrapped.process(4, ctx)).toEqual([8]);
  });
});

describe('a registry that breaks off its answer', () => {
  it('is a transient fault (retried), not a reason to dead-letter the record', async () => {
    const server = createServer((_request, response) => {
      response.writeHead(200, { 'content-length': '1000', 'content-type': 'application/json' });
      response.write('{"schema":"');
      setTimeout(() => response.destroy(), 20);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const registry = new RegistrySchemaLookup({ url: `http://127.0.0.1:${port}` });
      const driver = new TopologyTestDriver(
        Topology.from<KafkaRecord>().through(createDecodeProcessor(registry)),
      );
      const attempt = driver.pipe([insert1]);
      await expect(attempt).rejects.toBeInstanceOf(RetriableError);
      await expect(attempt).rejects.toThrow(/broke off its answer for schema id \d+/);
    } finally {
      server.close();
    }
  });
});

// The compiled decoder's parts: exact longs from the wire (numbers up to 2^53, BigInt beyond), the
// codecs that take a long as a number giving the same text as for the BigInt, what a value schema
// compiles to or falls back from, and refusals identical to the bounds check's, byte for byte.
import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { exactLongParseOptions } from '../../core/avro-long-type.js';
import { checkAvroBounds } from '../../pipeline/codec/avro-bounds-check.js';
import { type AvroJson, collectNamedTypes } from '../../pipeline/codec/avro-json.js';
import { WireReader } from '../../pipeline/codec/avro-wire-reader.js';
import { createColumnCodec } from '../../pipeline/codec/column-codec.js';
import {
  compiledEnvelopeDecoderOf,
  readSequence,
} from '../../pipeline/codec/compiled-envelope-decoder.js';
import { MessageBoundsError } from '../../pipeline/codec/message-bounds-error.js';
import { parseAvroSchema } from '../../pipeline/codec/schema-lookup.js';
import {
  fixtureRecords,
  listFixtureTopics,
  loadMessages,
  loadSchema,
} from '../support/debezium-fixtures.js';
import { createSeededRandom } from '../support/seeded-random.js';
import { EDGE_LONGS } from './random-debezium-event.js';

const longType = avro.Type.forSchema('long', exactLongParseOptions());
const HEADER = 5;

const EDGES = EDGE_LONGS;

function randomLongs(count: number): bigint[] {
  const rnd = createSeededRandom(0x17_0001);
  return Array.from({ length: count }, () => {
    const bits = (BigInt(rnd.int(2 ** 32)) << 32n) | BigInt(rnd.int(2 ** 32));
    return BigInt.asIntN(64, bits >> BigInt(rnd.int(64)));
  });
}

describe('longs from the wire', () => {
  it('reads every long exactly: a number when safe, a BigInt beyond 2^53', {
    timeout: 60_000,
  }, () => {
    for (const value of [...EDGES, ...randomLongs(20_000)]) {
      const read = new WireReader(longType.toBuffer(value)).readLong();
      const safe = value >= -(2n ** 53n) + 1n && value <= 2n ** 53n - 1n;
      expect(typeof read, `${value}`).toBe(safe ? 'number' : 'bigint');
      expect(BigInt(read), `${value}`).toBe(value);
    }
  });

  it('reads overlong encodings as avsc does', () => {
    // 5 as a 10-byte varint (continuation bytes of zero bits), which the bounds check lets by.
    const overlong = Buffer.from([0x8a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]);
    const reader = new WireReader(overlong);
    expect(reader.readLong()).toBe(5);
    expect(reader.pos).toBe(10);
    expect(longType.fromBuffer(overlong)).toBe(5n);
  });
});

describe('codecs that take a long as a number', () => {
  const semantic = (name: string, type: string): AvroJson => ({
    type,
    'connect.version': 1,
    'connect.name': name,
  });
  const columns: [string, AvroJson][] = [
    ['bigint', 'long'],
    ['Time', semantic('io.debezium.time.Time', 'long')],
    ['MicroTime', semantic('io.debezium.time.MicroTime', 'long')],
    ['NanoTime', semantic('io.debezium.time.NanoTime', 'long')],
    ['Timestamp', semantic('io.debezium.time.Timestamp', 'long')],
    ['Connect Timestamp', semantic('org.apache.kafka.connect.data.Timestamp', 'long')],
    ['MicroTimestamp', semantic('io.debezium.time.MicroTimestamp', 'long')],
    ['NanoTimestamp', semantic('io.debezium.time.NanoTimestamp', 'long')],
    ['MicroDuration', semantic('io.debezium.time.MicroDuration', 'long')],
    ['bigint[]', { type: 'array', items: ['null', 'long'] }],
  ];
  const values = [
    ...EDGES,
    ...randomLongs(5_000),
    // Around days, seconds and the largest milliseconds that stay safe in microseconds.
    86_400_000_000n,
    -86_400_000_000n,
    -86_400_000_001n,
    -1_000_000n,
    -999_999n,
    -60_000_000n,
    9_007_199_254_740n,
    9_007_199_254_741n,
    -9_007_199_254_740n,
    -9_007_199_254_741n,
    -1000n,
    -999n,
    -1001n,
  ].filter((v) => v >= -(2n ** 53n) + 1n && v <= 2n ** 53n - 1n);

  it.each(columns)('%s gives the same text for the number as for the BigInt', (_name, type) => {
    const codec = createColumnCodec(['null', type], collectNamedTypes(type));
    expect(codec.longsAsNumbers).toBe(true);
    const array = typeof type === 'object' && !Array.isArray(type) && type.type === 'array';
    for (const value of values) {
      const asBigInt = array ? [value, null, value] : value;
      const asNumber = array ? [Number(value), null, Number(value)] : Number(value);
      expect(codec.toPg(asNumber), `${value}`).toBe(codec.toPg(asBigInt));
    }
  });

  it('is not claimed by codecs whose text differs for a number (Date on a long)', () => {
    const date = semantic('io.debezium.time.Date', 'long');
    expect(createColumnCodec(date, collectNamedTypes(date)).longsAsNumbers).toBe(false);
    expect(createColumnCodec('string', new Map()).longsAsNumbers).toBe(false);
  });
});

describe('which value schemas compile', () => {
  const typeOf = (json: AvroJson) => parseAvroSchema(1, json).type;
  const real = loadSchema('cdc.public.fixture_types', 'value') as {
    fields: { name: string; type: AvroJson }[];
  };
  /** fixture_types' envelope with one field's type replaced (or the field removed). */
  const changed = (name: string, type?: AvroJson, inSource = false) => {
    const copy = structuredClone(real);
    const source = copy.fields.find((f) => f.name === 'source') as { type: AvroJson };
    const fields = inSource ? (source.type as { fields: typeof copy.fields }).fields : copy.fields;
    const at = fields.findIndex((f) => f.name === name);
    if (type === undefined) fields.splice(at, 1);
    else fields[at] = { name, type }; // without its default, which may not fit the new type
    return typeOf(copy as AvroJson);
  };

  it('compiles every captured envelope', () => {
    for (const topic of listFixtureTopics()) {
      expect(compiledEnvelopeDecoderOf(typeOf(loadSchema(topic, 'value'))), topic).toBeDefined();
    }
  });

  it('leaves to avsc what is not a Debezium envelope as Debezium writes it', () => {
    const notCompiled = [
      typeOf({ type: 'record', name: 'Other', fields: [{ name: 'id', type: 'long' }] }),
      typeOf('string'),
      changed('op'),
      changed('op', ['null', 'string']),
      changed('source', [
        'null',
        (real.fields.find((f) => f.name === 'source') as { type: AvroJson }).type,
      ]),
      changed('after', 'Value'),
      changed('lsn', ['null', 'string'], true),
      changed('table', 'long', true),
      changed('sequence', ['null', 'long'], true),
      changed('txId', ['null', 'string', 'long'], true),
    ];
    for (const [i, type] of notCompiled.entries()) {
      expect(compiledEnvelopeDecoderOf(type), `case ${i}`).toBeUndefined();
    }
    // A source without the optional fields still compiles: they read as absent.
    const withoutSequence = changed('sequence', undefined, true);
    expect(compiledEnvelopeDecoderOf(withoutSequence)).toBeDefined();
  });
});

describe('reading an event', () => {
  it('reads op and source, and says where the rows and source.sequence are', async () => {
    const [insert] = fixtureRecords('cdc.public.fixture_composite');
    const value = insert?.value as Buffer;
    const schema = parseAvroSchema(
      value.readUInt32BE(1),
      loadSchema('cdc.public.fixture_composite', 'value'),
    );
    const decoder = compiledEnvelopeDecoderOf(schema.type);
    const reading = decoder?.read(value, HEADER, null, HEADER);
    const envelope = schema.type.fromBuffer(value.subarray(HEADER)) as {
      op: string;
      before: unknown;
      source: Record<string, unknown>;
    };
    expect(reading?.op).toBe(envelope.op);
    expect(reading?.source.schema).toBe(envelope.source.schema);
    expect(reading?.source.table).toBe(envelope.source.table);
    expect(BigInt(reading?.source.lsn as number)).toBe(envelope.source.lsn);
    expect(BigInt(reading?.source.ts_ms as number)).toBe(envelope.source.ts_ms);
    expect(BigInt(reading?.source.txId as number)).toBe(envelope.source.txId);
    expect(reading && readSequence(reading)).toBe(envelope.source.sequence);
    expect(reading?.beforeAt).toBe(-1);
    expect(reading?.afterAt).toBeGreaterThan(HEADER);
  });

  it('refuses every truncation and extension of every fixture as the bounds check does', () => {
    let refusals = 0;
    for (const topic of listFixtureTopics()) {
      const { schemaIds } = loadMessages(topic);
      const type = parseAvroSchema(schemaIds.value as number, loadSchema(topic, 'value')).type;
      const decoder = compiledEnvelopeDecoderOf(type);
      for (const record of fixtureRecords(topic)) {
        const value = record.value;
        if (!value) continue;
        const variants = [
          ...Array.from({ length: value.length - HEADER }, (_, n) => value.subarray(0, HEADER + n)),
          Buffer.concat([value, Buffer.from([0])]),
        ];
        for (const bytes of variants) {
          const expected = messageOf(() => checkAvroBounds(type, bytes, HEADER));
          expect(messageOf(() => decoder?.read(bytes, HEADER, null, HEADER))).toBe(expected);
          refusals++;
        }
      }
    }
    expect(refusals).toBeGreaterThan(5_000);
  }, 60_000);
});

function messageOf(run: () => unknown): string {
  try {
    run();
    return 'ok';
  } catch (error) {
    expect(error).toBeInstanceOf(MessageBoundsError);
    return (error as Error).message;
  }
}

// readColumnDefault: the source's constant column default, from the shapes Debezium + the Apicurio
// Avro converter write (field `default`, type `connect.default`, non-null branch first).
import { describe, expect, it } from 'vitest';
import type { AvroJson } from '../../pipeline/codec/avro-json.js';
import { createColumnCodec } from '../../pipeline/codec/column-codec.js';
import { readColumnDefault } from '../../pipeline/codec/column-default.js';
import { readEnvelopeSchema } from '../../pipeline/codec/envelope-schema.js';

const named = new Map();
const params = (type: string, length = '10', scale = '0') => ({
  '__debezium.source.column.type': type,
  '__debezium.source.column.length': length,
  '__debezium.source.column.scale': scale,
});

function read(field: { type: AvroJson; default?: unknown }): string | undefined {
  return readColumnDefault(field, createColumnCodec(field.type, named), named);
}

describe('readColumnDefault', () => {
  it('reads a NOT NULL text default (captured from Debezium 3 on ADD COLUMN ... DEFAULT)', () => {
    expect(
      read({
        type: {
          type: 'string',
          'connect.parameters': params('TEXT', '2147483647'),
          'connect.default': 'backfilled',
        },
        default: 'backfilled',
      }),
    ).toBe('backfilled');
  });

  it('reads an integer default, also from connect.default alone', () => {
    expect(
      read({
        type: { type: 'int', 'connect.parameters': params('INT4'), 'connect.default': 0 },
        default: 0,
      }),
    ).toBe('0');
    expect(read({ type: { type: 'long', 'connect.default': 42 } })).toBe('42');
  });

  it('reads the default of a nullable column whose non-null branch comes first', () => {
    expect(
      read({ type: [{ type: 'string', 'connect.default': "it's" }, 'null'], default: "it's" }),
    ).toBe("it's");
    expect(
      read({ type: [{ type: 'boolean', 'connect.default': true }, 'null'], default: true }),
    ).toBe('t');
  });

  it('decodes a decimal default from the specification encoding of bytes', () => {
    // 150 unscaled at scale 2 = 1.50; bytes 0x00 0x96 as a string of code points.
    expect(
      read({
        type: {
          type: 'bytes',
          logicalType: 'decimal',
          scale: 2,
          precision: 10,
          'connect.parameters': params('NUMERIC', '10', '2'),
        },
        default: '\u0000\u0096',
      }),
    ).toBe('1.50');
  });

  it('has no default for null defaults, rounded integers, mismatched JSON or bytes without a field default', () => {
    expect(read({ type: ['null', 'string'], default: null })).toBeUndefined();
    expect(read({ type: 'string' })).toBeUndefined();
    expect(read({ type: 'long', default: 2 ** 60 })).toBeUndefined();
    expect(read({ type: 'int', default: 'zero' })).toBeUndefined();
    expect(read({ type: { type: 'bytes', 'connect.default': 'AJY=' } })).toBeUndefined();
    expect(read({ type: { type: 'array', items: 'int' }, default: [] })).toBeUndefined();
  });

  it("takes Debezium's stand-ins for function defaults (epoch, zero uuid) as no default", () => {
    // Captured from Debezium 3: `at timestamptz NOT NULL DEFAULT now()`.
    const zoned = {
      type: 'string',
      'connect.name': 'io.debezium.time.ZonedTimestamp',
      'connect.parameters': params('TIMESTAMPTZ', '35', '6'),
      'connect.default': '1970-01-01T00:00:00.000000Z',
    };
    expect(read({ type: zoned, default: '1970-01-01T00:00:00.000000Z' })).toBeUndefined();
    expect(
      read({
        type: { ...zoned, 'connect.default': '2024-05-06T07:08:09Z' },
        default: '2024-05-06T07:08:09Z',
      }),
    ).toBe('2024-05-06T07:08:09Z');
    const uuid = { type: 'string', 'connect.name': 'io.debezium.data.Uuid' };
    expect(read({ type: uuid, default: '00000000-0000-0000-0000-000000000000' })).toBeUndefined();
  });

  it('reaches the table schema the sink builds the target from', () => {
    const value: AvroJson = {
      type: 'record',
      name: 'Envelope',
      fields: [
        {
          name: 'before',
          type: [
            'null',
            {
              type: 'record',
              name: 'Value',
              fields: [
                { name: 'id', type: { type: 'int', 'connect.default': 0 }, default: 0 },
                {
                  name: 'extra',
                  type: { type: 'string', 'connect.default': 'backfilled' },
                  default: 'backfilled',
                },
              ],
            },
          ],
        },
        { name: 'after', type: ['null', 'Value'] },
      ],
    } as unknown as AvroJson;
    const key = {
      type: 'record',
      name: 'Key',
      fields: [{ name: 'id', type: 'int' }],
    } as unknown as AvroJson;
    const schema = readEnvelopeSchema({ key: 1, value: 2 }, key, value);
    expect(schema.table.columns).toEqual([
      { name: 'id', pgType: 'integer', nullable: false },
      { name: 'extra', pgType: 'text', nullable: false, defaultValue: 'backfilled' },
    ]);
  });
});

// checkAvroBounds: an Avro body whose lengths, counts, indexes or nesting claim more than its bytes
// hold is refused before avsc allocates for it; every valid body passes, whatever its shape.
import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { exactLongParseOptions } from '../../core/avro-long-type.js';
import { checkAvroBounds, MAX_NESTING } from '../../pipeline/codec/avro-bounds-check.js';
import { MessageBoundsError } from '../../pipeline/codec/message-bounds-error.js';
import { encodeVarint as v } from '../support/avro-varint.js';
import {
  fixtureRecords,
  fixtureSchemaLookup,
  listFixtureTopics,
} from '../support/debezium-fixtures.js';

const typeOf = (schema: avro.Schema): avro.Type =>
  avro.Type.forSchema(schema, exactLongParseOptions());
const bytes = (...parts: (Buffer | number[])[]): Buffer =>
  Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p))));

/** The refusal's message, or 'ok' when the body passes. */
function verdict(type: avro.Type, body: Buffer): string {
  try {
    checkAvroBounds(type, body);
    return 'ok';
  } catch (error) {
    expect(error).toBeInstanceOf(MessageBoundsError);
    return (error as Error).message;
  }
}

const ints = typeOf({ type: 'array', items: 'int' });
const nulls = typeOf({ type: 'array', items: 'null' });
const strings = typeOf({ type: 'array', items: 'string' });
const nullMap = typeOf({ type: 'map', values: 'null' });
const emptyRecords = typeOf({
  type: 'array',
  items: { type: 'record', name: 'Empty', fields: [] },
});

describe('block counts', () => {
  it('refuses an array of 2^31 ints in a 6-byte body (avsc would allocate new Array(2^31))', () => {
    expect(verdict(ints, bytes(v(2 ** 31), [0]))).toBe(
      'array block of 2147483648 items, only 1 bytes left (at byte 0 of 6)',
    );
  });

  it('refuses counts an item of the type could not fit: 3 strings need at least 3 bytes', () => {
    expect(verdict(strings, bytes(v(3), [0, 0, 0], [0]))).toBe('ok');
    expect(verdict(strings, bytes(v(4), [0, 0, 0]))).toMatch(/block of 4 items, only 3 bytes left/);
  });

  it('refuses 1e9 nulls in 5 bytes: items that take no bytes count one per byte of the message', () => {
    expect(verdict(nulls, bytes(v(1e9), [0]))).toMatch(
      /block of 1000000000 items: more items than the message has bytes/,
    );
    expect(verdict(nullMap, bytes(v(1e9), [0]))).toMatch(/map block of 1000000000 items/);
    expect(verdict(emptyRecords, bytes(v(1e9), [0]))).toMatch(/more items than the message/);
    // As many as the body has bytes is fine: 2 nulls in the 2 bytes [count, end].
    expect(verdict(nulls, bytes(v(2), [0]))).toBe('ok');
    expect(verdict(nulls, bytes(v(3), [0]))).toMatch(/more items than the message/);
  });

  it('counts items across blocks and nested arrays, so they cannot add up', () => {
    const nested = typeOf({ type: 'array', items: { type: 'array', items: 'null' } });
    // 2 inner arrays of 2 nulls: 6 items in a 6-byte body; one null more is one too many.
    const two = bytes(v(2), [0]);
    expect(verdict(nested, bytes(v(2), two, two, [0]))).toBe('ok');
    expect(verdict(nested, bytes(v(2), two, v(3), [0], [0]))).toMatch(
      /more items than the message has bytes/,
    );
    // Blocks of one array: 3 nulls in 3 bytes, then 4.
    expect(verdict(nulls, bytes(v(2), v(1), [0]))).toBe('ok');
    expect(verdict(nulls, bytes(v(2), v(2), [0]))).toMatch(/more items than the message/);
  });

  it('reads negative counts with their byte size, which must fit and match the items', () => {
    // -2 items in 2 bytes: [1, 2].
    expect(verdict(ints, bytes(v(-2), v(2), v(1), v(2), [0]))).toBe('ok');
    expect(ints.fromBuffer(bytes(v(-2), v(2), v(1), v(2), [0]))).toEqual([1, 2]);
    expect(verdict(ints, bytes(v(-2), v(3), v(1), v(2), [0]))).toMatch(
      /array block size does not match its items/,
    );
    expect(verdict(ints, bytes(v(-2), v(2 ** 40), v(1), v(2), [0]))).toMatch(
      /array block length 1099511627776, only 3 bytes left/,
    );
    expect(verdict(ints, bytes(v(-(2n ** 63n)), v(1), [0]))).toMatch(
      /block of 9223372036854776000/,
    );
  });
});

describe('lengths', () => {
  const str = typeOf('string');
  const byt = typeOf('bytes');

  it('refuses a string or bytes longer than the bytes left, or negative', () => {
    expect(verdict(str, bytes(v(3), Buffer.from('abc')))).toBe('ok');
    expect(verdict(str, bytes(v(4), Buffer.from('abc')))).toBe(
      'string length 4, only 3 bytes left (at byte 0 of 4)',
    );
    expect(verdict(byt, bytes(v(2 ** 53), [1]))).toMatch(/bytes length 9007199254740992/);
    expect(verdict(byt, bytes(v(-1)))).toMatch(/bytes length -1/);
  });

  it('refuses map keys that run past the end', () => {
    const map = typeOf({ type: 'map', values: 'int' });
    expect(verdict(map, bytes(v(1), v(1), Buffer.from('k'), v(5), [0]))).toBe('ok');
    expect(verdict(map, bytes(v(1), v(9), Buffer.from('k'), v(5), [0]))).toMatch(
      /map key length 9/,
    );
  });
});

describe('varints, indexes, booleans, nesting, ends', () => {
  it('refuses varints longer than their type allows, and ints outside int32', () => {
    const int = typeOf('int');
    const long = typeOf('long');
    expect(verdict(int, bytes([0xfe, 0xff, 0xff, 0xff, 0x0f]))).toBe('ok'); // 2^31 - 1
    expect(verdict(int, bytes([0xfe, 0xff, 0xff, 0xff, 0x1f]))).toMatch(/not a valid int varint/);
    expect(verdict(int, bytes([0x80, 0x80, 0x80, 0x80, 0x80, 0x00]))).toMatch(/not a valid int/);
    expect(verdict(long, v(2n ** 63n - 1n))).toBe('ok');
    expect(verdict(long, bytes(Buffer.alloc(10, 0xff), [0x01]))).toMatch(/not a valid long varint/);
    expect(verdict(long, bytes(Buffer.alloc(9, 0xff), [0x02]))).toMatch(/not a valid long varint/);
    expect(verdict(long, bytes([0x80, 0x80]))).toMatch(/long runs past the end/);
  });

  it('refuses union and enum indexes that name no branch or symbol', () => {
    const union = typeOf(['null', 'int']);
    const enumType = typeOf({ type: 'enum', name: 'Mood', symbols: ['sad', 'ok'] });
    expect(verdict(union, bytes(v(1), v(7)))).toBe('ok');
    expect(verdict(union, bytes(v(2), v(7)))).toMatch(/union index 2 is not one of 2/);
    expect(verdict(union, bytes(v(-1)))).toMatch(/union index -1/);
    expect(verdict(enumType, v(1))).toBe('ok');
    expect(verdict(enumType, v(2))).toMatch(/enum Mood index 2 is not one of 2/);
  });

  it('refuses booleans other than 0 and 1, and fixed or float values past the end', () => {
    expect(verdict(typeOf('boolean'), Buffer.from([1]))).toBe('ok');
    expect(verdict(typeOf('boolean'), Buffer.from([2]))).toMatch(/neither 0 nor 1/);
    expect(verdict(typeOf('double'), Buffer.alloc(7))).toMatch(/double of 8 bytes, only 7 left/);
    expect(verdict(typeOf({ type: 'fixed', name: 'F', size: 16 }), Buffer.alloc(15))).toMatch(
      /fixed F of 16 bytes, only 15 left/,
    );
  });

  it('refuses a recursive value nested deeper than MAX_NESTING', () => {
    const list = typeOf({
      type: 'record',
      name: 'Node',
      fields: [{ name: 'next', type: ['null', 'Node'] }],
    });
    const chain = (depth: number) => bytes(Buffer.alloc(depth - 1, 0x02), [0x00]);
    expect(verdict(list, chain(MAX_NESTING))).toBe('ok');
    expect(verdict(list, chain(MAX_NESTING + 1))).toMatch(/nested deeper than 64 levels/);
    // A record that always contains itself never ends: refused, not a stack overflow.
    const endless = typeOf({
      type: 'record',
      name: 'Loop',
      fields: [{ name: 'self', type: 'Loop' }],
    });
    expect(verdict(endless, Buffer.alloc(0))).toMatch(/nested deeper/);
  });

  it('refuses truncated bodies and trailing data', () => {
    const record = typeOf({
      type: 'record',
      name: 'R',
      fields: [
        { name: 'a', type: 'long' },
        { name: 'b', type: 'string' },
      ],
    });
    const body = record.toBuffer({ a: 5n, b: 'xyz' });
    expect(verdict(record, body)).toBe('ok');
    expect(verdict(record, body.subarray(0, 3))).toMatch(/string length 3, only 1 bytes left/);
    expect(verdict(record, bytes(body, [0]))).toMatch(/1 bytes of trailing data/);
  });
});

describe('valid bodies', () => {
  it('passes every captured Debezium key and value', async () => {
    const topics = listFixtureTopics();
    const lookup = fixtureSchemaLookup(...topics);
    let checked = 0;
    for (const topic of topics) {
      for (const record of fixtureRecords(topic)) {
        for (const part of [record.key, record.value]) {
          if (!part) continue;
          const { type } = await lookup.getSchema(part.readUInt32BE(1));
          expect(verdict(type, part.subarray(5))).toBe('ok');
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(30);
  });

  it('passes values of every Avro type as avsc writes them', () => {
    const everything = typeOf({
      type: 'record',
      name: 'All',
      fields: [
        { name: 'n', type: 'null' },
        { name: 'b', type: 'boolean' },
        { name: 'i', type: 'int' },
        { name: 'l', type: 'long' },
        { name: 'f', type: 'float' },
        { name: 'd', type: 'double' },
        { name: 's', type: 'string' },
        { name: 'y', type: 'bytes' },
        { name: 'x', type: { type: 'fixed', name: 'Six', size: 6 } },
        { name: 'e', type: { type: 'enum', name: 'E', symbols: ['A', 'B', 'C'] } },
        { name: 'a', type: { type: 'array', items: ['null', 'string'] } },
        { name: 'm', type: { type: 'map', values: { type: 'array', items: 'long' } } },
        { name: 'u', type: ['null', 'E', 'Six', 'double'] },
        { name: 'dec', type: { type: 'bytes', logicalType: 'decimal', precision: 9, scale: 2 } },
      ],
    });
    const value = {
      n: null,
      b: true,
      i: -2_147_483_648,
      l: -(2n ** 63n),
      f: 1.5,
      d: Number.NaN,
      s: 'ünïcode',
      y: Buffer.from([0, 255]),
      x: Buffer.alloc(6, 7),
      e: 'C',
      a: ['x', null, ''],
      m: { k: [1n, 2n ** 62n], '': [] },
      u: 'B',
      dec: Buffer.from([0x04, 0xd2]),
    };
    expect(verdict(everything, everything.toBuffer(value))).toBe('ok');
    expect(verdict(everything, everything.toBuffer({ ...value, a: [], m: {}, u: 2.5 }))).toBe('ok');
  });
});

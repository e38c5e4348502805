// The fast Kafka record decoder (core/kafka-record-decoder.ts) against kafkajs' own, on records
// kafkajs' own encoder wrote: random offsets, timestamps, deltas, keys, values and headers, the
// edges of exact numbers, truncated and malformed records. Every case must give the same record
// (or the same error) as kafkajs, and the common case must take the fast path.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  fastDecodedRecords,
  fastRecordDecoder,
  type KafkajsDecoder,
  kafkajsRecordDecoder,
  type RecordBatchContext,
} from '../../core/kafka-record-decoder.js';

const require = createRequire(import.meta.url);
const kafkajsRoot = dirname(require.resolve('kafkajs/package.json'));
type DecoderClass = new (buffer: Buffer) => KafkajsDecoder & { readVarIntBytes(): Buffer };
const Decoder = require(join(kafkajsRoot, 'src/protocol/decoder.js')) as DecoderClass;
const encodeRecord = require(join(kafkajsRoot, 'src/protocol/recordBatch/record/v0/index.js')) as (
  r: object,
) => { buffer: Buffer };
const original = kafkajsRecordDecoder();
const fast = fastRecordDecoder(original);

/** The record's bytes as kafkajs' record-batch decoder hands them over (length prefix read). */
function recordBody(record: object): Buffer {
  return new Decoder(encodeRecord(record).buffer).readVarIntBytes();
}

function outcome(decode: typeof fast, body: Buffer, ctx: RecordBatchContext | undefined) {
  const decoder = new Decoder(Buffer.from(body));
  try {
    return { ok: decode(decoder, ctx) };
  } catch (error) {
    return { error: `${(error as Error).name}: ${(error as Error).message}` };
  }
}

/** The fast decoder with a stand-in for kafkajs': shows whether a record takes the fast path. */
const DELEGATED = new Error('delegated to kafkajs');
const probe = fastRecordDecoder(() => {
  throw DELEGATED;
});

/**
 * Decodes with the fast path and, when it takes a record, with kafkajs' decoder too: both must
 * agree. A record the fast path leaves is kafkajs' result by construction (and kafkajs may spin
 * for minutes on a corrupted header count, so it is not run on those). True when taken.
 */
function sameAsKafkajs(body: Buffer, ctx: RecordBatchContext | undefined): boolean {
  const mine = outcome(probe, body, ctx);
  if ('error' in mine && mine.error === `${DELEGATED.name}: ${DELEGATED.message}`) return false;
  expect(mine).toEqual(outcome(original, body, ctx));
  return true;
}

/** A seeded generator (mulberry32): the same cases on every run. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(rnd: () => number, items: readonly T[]): T =>
  items[Math.floor(rnd() * items.length)] as T;

const bytes = (rnd: () => number, max: number): Buffer =>
  Buffer.from(Array.from({ length: Math.floor(rnd() * max) }, () => Math.floor(rnd() * 256)));

const BASE_OFFSETS = [
  '0',
  '1',
  '4095',
  '2147483647',
  '1099511627776',
  '9007199254740000',
  '9007199254740991',
  '9007199254740993',
  '9223372036854775807',
];
const BASE_TIMESTAMPS = ['-1', '0', '1733443200000', '9007199254740900', '9223372036854775000'];
const OFFSET_DELTAS = [
  0, 1, 63, 64, 8191, 8192, 1048575, 1048576, 134217727, 134217728, 2147483647,
];
const TIMESTAMP_DELTAS = [
  0,
  1,
  -1,
  63,
  -64,
  300000,
  -300000,
  2 ** 40,
  -(2 ** 40),
  2 ** 48 - 1,
  -(2 ** 48),
  2 ** 52,
];

describe('fast Kafka record decoder', () => {
  it('gives the record kafkajs gives, on 5,000 random records', () => {
    const rnd = random(17);
    let fastOnes = 0;
    for (let i = 0; i < 5000; i++) {
      const headers: Record<string, string | string[]> = {};
      if (rnd() < 0.2) {
        headers.a = 'x';
        if (rnd() < 0.5) headers.b = ['1', '2'];
      }
      const offsetDelta = pick(rnd, OFFSET_DELTAS);
      const timestampDelta = pick(rnd, TIMESTAMP_DELTAS);
      const body = recordBody({
        offsetDelta,
        timestampDelta,
        key: rnd() < 0.1 ? null : bytes(rnd, 40),
        value: rnd() < 0.1 ? null : bytes(rnd, 600),
        headers,
      });
      const ctx: RecordBatchContext = {
        firstOffset: pick(rnd, BASE_OFFSETS),
        firstTimestamp: pick(rnd, BASE_TIMESTAMPS),
        maxTimestamp: pick(rnd, ['0', '1733443299999']),
        timestampType: rnd() < 0.1 ? 1 : 0,
        magicByte: 2,
        ...(rnd() < 0.5 ? { isControlBatch: rnd() < 0.2 } : {}),
      };
      const tookFast = sameAsKafkajs(body, ctx);
      if (tookFast) fastOnes++;
      // Without headers or log-append time, only inexact numbers leave the fast path.
      const exact = (n: bigint) => n >= -(2n ** 53n) + 1n && n <= 2n ** 53n - 1n;
      const offset = BigInt(ctx.firstOffset) + BigInt(offsetDelta);
      const timestamp = BigInt(ctx.firstTimestamp) + BigInt(timestampDelta);
      const plain = Object.keys(headers).length === 0 && ctx.timestampType === 0;
      const fits =
        exact(BigInt(ctx.firstOffset)) &&
        exact(offset) &&
        exact(BigInt(ctx.firstTimestamp)) &&
        exact(timestamp) &&
        offsetDelta < 2 ** 27 &&
        (timestampDelta >= 0 ? 2 * timestampDelta : -2 * timestampDelta - 1) < 2 ** 49;
      expect(tookFast).toBe(plain && fits);
    }
    expect(fastOnes).toBeGreaterThan(1000); // the edges are many: about a quarter fit
  });

  it('agrees on truncated and corrupted records (the same record or the same error)', () => {
    const rnd = random(29);
    let fastOnes = 0;
    for (let i = 0; i < 3000; i++) {
      const body = recordBody({
        offsetDelta: pick(rnd, OFFSET_DELTAS),
        timestampDelta: pick(rnd, TIMESTAMP_DELTAS),
        key: bytes(rnd, 20),
        value: bytes(rnd, 200),
        headers: rnd() < 0.3 ? { h: 'v' } : {},
      });
      const broken = Buffer.from(body);
      if (rnd() < 0.5) {
        const cut = broken.subarray(0, Math.floor(rnd() * broken.length));
        if (sameAsKafkajs(cut, { firstOffset: '10', firstTimestamp: '1733443200000' })) fastOnes++;
      } else {
        for (let n = 0; n < 3; n++)
          broken[Math.floor(rnd() * broken.length)] = Math.floor(rnd() * 256);
        if (sameAsKafkajs(broken, { firstOffset: '10', firstTimestamp: '1733443200000' }))
          fastOnes++;
      }
    }
    // Some damaged records still read as records (a changed byte inside a value or a key).
    expect(fastOnes).toBeGreaterThan(100);
  });

  it('takes the fast path for a plain record, and gives exact strings', () => {
    const before = fastDecodedRecords();
    const body = recordBody({
      offsetDelta: 7,
      timestampDelta: 12,
      key: Buffer.from('k'),
      value: Buffer.from('v'),
    });
    const record = fast(new Decoder(body), {
      firstOffset: '9007199254740000',
      firstTimestamp: '1733443200000',
      maxTimestamp: '0',
      timestampType: 0,
      magicByte: 2,
    }) as Record<string, unknown>;
    expect(fastDecodedRecords()).toBe(before + 1);
    expect(record.offset).toBe('9007199254740007');
    expect(record.timestamp).toBe('1733443200012');
    expect(record.key).toEqual(Buffer.from('k'));
    expect(record.headers).toEqual({});
    expect(record.isControlRecord).toBe(false);
  });

  it('leaves past 2^53, headers and log-append time to kafkajs', () => {
    const before = fastDecodedRecords();
    const plain = recordBody({ offsetDelta: 3, timestampDelta: 0, key: null, value: null });
    const ctx = {
      firstOffset: '9007199254740990',
      firstTimestamp: '0',
      maxTimestamp: '5',
      magicByte: 2,
    };
    expect((fast(new Decoder(plain), ctx) as { offset: string }).offset).toBe('9007199254740993');
    const withHeader = recordBody({ offsetDelta: 0, key: null, value: null, headers: { h: 'v' } });
    fast(new Decoder(withHeader), { ...ctx, firstOffset: '1' });
    fast(new Decoder(plain), { ...ctx, firstOffset: '1', timestampType: 1 });
    expect(fastDecodedRecords()).toBe(before);
  });

  it('is what kafkajs uses once installed before its first fetch (a fresh process)', () => {
    // A record batch of kafkajs' own encoding, decoded by kafkajs' record-batch decoder.
    const script = `
      const { installFastRecordDecoder, fastDecodedRecords } = await import('./core/kafka-record-decoder.ts');
      const { createRequire } = await import('node:module');
      const require = createRequire(process.cwd() + '/');
      const state = installFastRecordDecoder();
      const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js');
      const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js');
      const Decoder = require('kafkajs/src/protocol/decoder.js');
      const decodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder.js');
      const records = [0, 1, 2].map((i) => Record({ offsetDelta: i, timestampDelta: i, key: Buffer.from('k' + i), value: Buffer.from('v') }));
      const encoded = await RecordBatch({ firstOffset: '41', firstTimestamp: 1733443200000, maxTimestamp: 1733443200002, lastOffsetDelta: 2, records });
      const batch = await decodeBatch(new Decoder(encoded.buffer));
      console.log(JSON.stringify({ state, again: installFastRecordDecoder(), fast: fastDecodedRecords(), offsets: batch.records.map((r) => r.offset) }));
    `;
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      {
        cwd: join(kafkajsRoot, '..', '..'),
        encoding: 'utf8',
      },
    );
    expect(JSON.parse(out.trim().split('\n').pop() as string)).toEqual({
      state: 'installed',
      again: 'installed',
      fast: 3,
      offsets: ['41', '42', '43'],
    });
  });
});

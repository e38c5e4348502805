// A faster decoder of one Kafka record for kafkajs' fetch path. kafkajs 2.2.4 (its last release)
// decodes every record's timestamp and offset through 64-bit BigInt arithmetic: it parses the
// batch's base offset and timestamp from strings, adds the deltas (a varlong read byte by byte
// into BigInts) and prints the sums back into strings — about a dozen allocations per record, a
// large share of pgferry's CPU in a drain. This decoder reads the same bytes with plain numbers
// and yields the very same record object; whatever it does not handle exactly (headers, values
// beyond 2^53, a malformed or truncated record, log-append time) goes to kafkajs' own decoder,
// so the result is always what kafkajs would have produced (a unit test compares the two).
//
// It replaces kafkajs' record decoder module in the CommonJS module cache, before kafkajs loads
// the record-batch decoder that captures it (kafkajs loads its fetch protocol on first use).
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** The kafkajs release whose internals this decoder was written against. */
export const KAFKAJS_VERSION = '2.2.4';
/** kafkajs' TimestampTypes.LOG_APPEND_TIME. */
const LOG_APPEND_TIME = 1;

/** What this decoder uses of kafkajs' Decoder (src/protocol/decoder.js). */
export interface KafkajsDecoder {
  buffer: Buffer;
  offset: number;
}

/** The record batch's fields kafkajs passes to every record's decoding. */
export interface RecordBatchContext {
  firstOffset: string;
  firstTimestamp: string;
  maxTimestamp?: string;
  timestampType?: number;
  magicByte?: number;
  isControlBatch?: boolean;
}

export type RecordDecoder = (decoder: KafkajsDecoder, batchContext?: RecordBatchContext) => unknown;

/** The batch's base offset and timestamp as numbers (NaN: not exact). */
interface Bases {
  offset: number;
  timestamp: number;
}

/** A decimal string as a number when the number prints back as the same string. */
function exactNumber(text: string): number {
  const n = Number(text);
  return Number.isSafeInteger(n) && String(n) === text ? n : Number.NaN;
}

let lastContext: RecordBatchContext | undefined;
let lastBases: Bases = { offset: Number.NaN, timestamp: Number.NaN };

/** A record batch's records are decoded one after another: its bases are read once. */
function bases(ctx: RecordBatchContext): Bases {
  if (ctx !== lastContext) {
    lastBases = {
      offset: exactNumber(ctx.firstOffset),
      timestamp: exactNumber(ctx.firstTimestamp),
    };
    lastContext = ctx;
  }
  return lastBases;
}

/**
 * Position after a zigzag varint of at most `maxBytes` bytes starting at `at`, its value in
 * `varint.value`; -1 when it is longer or runs past the end (kafkajs decides those cases).
 */
const varint = { value: 0 };
function readZigZag(buf: Buffer, at: number, maxBytes: number): number {
  let unsigned = 0;
  let scale = 1;
  for (let i = 0; i < maxBytes; i++) {
    if (at >= buf.length) return -1;
    const byte = buf[at++] as number;
    unsigned += (byte & 0x7f) * scale;
    if (byte < 0x80) {
      varint.value = unsigned % 2 === 0 ? unsigned / 2 : -(unsigned + 1) / 2;
      return at;
    }
    scale *= 128;
  }
  return -1;
}

let fastDecoded = 0;
/** Records the fast path has decoded in this process (for tests). */
export const fastDecodedRecords = (): number => fastDecoded;

/** Wraps kafkajs' record decoder with the fast path; every other record goes to `original`. */
export function fastRecordDecoder(original: RecordDecoder): RecordDecoder {
  const decode: RecordDecoder = (decoder, batchContext) => {
    const ctx = batchContext;
    if (ctx === undefined) return original(decoder, batchContext);
    if (ctx.timestampType === LOG_APPEND_TIME && ctx.maxTimestamp) return original(decoder, ctx);
    const base = bases(ctx);
    if (Number.isNaN(base.offset) || Number.isNaN(base.timestamp)) return original(decoder, ctx);
    const buf = decoder.buffer;
    let at = decoder.offset;
    if (at >= buf.length) return original(decoder, ctx);
    const attributes = buf.readInt8(at++);
    // A varlong of up to 7 bytes (49 bits) is exact as a number; a longer one is kafkajs'.
    at = readZigZag(buf, at, 7);
    if (at < 0) return original(decoder, ctx);
    const timestamp = base.timestamp + varint.value;
    // kafkajs reads the offset delta as a 32-bit varint: up to 4 bytes (28 bits) agree exactly.
    at = readZigZag(buf, at, 4);
    if (at < 0) return original(decoder, ctx);
    const offset = base.offset + varint.value;
    if (!Number.isSafeInteger(timestamp) || !Number.isSafeInteger(offset)) {
      return original(decoder, ctx);
    }
    at = readZigZag(buf, at, 4);
    if (at < 0 || varint.value < -1 || at + Math.max(0, varint.value) > buf.length) {
      return original(decoder, ctx);
    }
    let key: Buffer | null = null;
    if (varint.value >= 0) {
      key = buf.subarray(at, at + varint.value);
      at += varint.value;
    }
    at = readZigZag(buf, at, 4);
    if (at < 0 || varint.value < -1 || at + Math.max(0, varint.value) > buf.length) {
      return original(decoder, ctx);
    }
    let value: Buffer | null = null;
    if (varint.value >= 0) {
      value = buf.subarray(at, at + varint.value);
      at += varint.value;
    }
    // Headers: none (0, or -1 for a null array) is the fast path; any header is kafkajs'.
    at = readZigZag(buf, at, 4);
    if (at < 0 || (varint.value !== 0 && varint.value !== -1)) return original(decoder, ctx);
    decoder.offset = at;
    fastDecoded++;
    return {
      magicByte: ctx.magicByte,
      attributes,
      timestamp: String(timestamp),
      offset: String(offset),
      key,
      value,
      headers: {},
      isControlRecord: ctx.isControlBatch === undefined ? false : ctx.isControlBatch,
      batchContext: ctx,
    };
  };
  return decode;
}

export type FastRecordsState = 'installed' | 'too-late' | 'other-kafkajs';

let state: FastRecordsState | undefined;

/** The path of a module inside the kafkajs package this process loads. */
function kafkajsModule(path: string): string {
  return join(dirname(require.resolve('kafkajs/package.json')), path);
}

/** kafkajs' own record decoder (for tests comparing it with the fast one). */
export function kafkajsRecordDecoder(): RecordDecoder {
  const current = require(
    kafkajsModule('src/protocol/recordBatch/record/v0/decoder.js'),
  ) as RecordDecoder & { original?: RecordDecoder };
  return current.original ?? current;
}

/**
 * Puts the fast record decoder in place of kafkajs' own, once per process. It takes effect only
 * before kafkajs first fetches (its record-batch decoder captures the record decoder when loaded):
 * 'too-late' otherwise, and 'other-kafkajs' with any kafkajs but the one it was written for. Both
 * leave kafkajs as it is: slower, never different.
 */
export function installFastRecordDecoder(): FastRecordsState {
  if (state !== undefined) return state;
  const version = (require(kafkajsModule('package.json')) as { version: string }).version;
  if (version !== KAFKAJS_VERSION) {
    state = 'other-kafkajs';
    return state;
  }
  const batchPath = kafkajsModule('src/protocol/recordBatch/v0/decoder.js');
  if (require.cache[batchPath] !== undefined) {
    state = 'too-late';
    return state;
  }
  const recordPath = kafkajsModule('src/protocol/recordBatch/record/v0/decoder.js');
  const original = require(recordPath) as RecordDecoder;
  const mod = require.cache[recordPath];
  if (mod === undefined) {
    state = 'too-late';
    return state;
  }
  const fast = Object.assign(fastRecordDecoder(original), { original });
  mod.exports = fast;
  state = 'installed';
  return state;
}

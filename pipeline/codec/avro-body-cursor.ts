// The position in an Avro body being read against its schema, and what the message may still
// spend: every read checks its length, count, varint size or index against the bytes left before
// it moves (the rules are in avro-bounds-check.ts). Shared by the bounds walk and the compiled
// envelope decoder, so both refuse the same bytes with the same messages.
import { MessageBoundsError } from './message-bounds-error.js';

/** Records, arrays and maps inside each other: a Debezium event nests about 4 deep. */
export const MAX_NESTING = 64;

/**
 * Position in the body being checked, and what the message may still spend. The body runs from
 * `start` to the end of `bytes` (a whole message, header before `start`: no subarray per message);
 * positions are into `bytes`, messages count from the body's start.
 */
export class BodyCursor {
  pos = 0;
  /** Array items and map entries the rest of the message may still hold: one per byte in all. */
  itemsLeft = 0;
  depth = 0;
  private start = 0;
  declare bytes: Uint8Array;

  constructor(bytes: Uint8Array, start = 0) {
    this.reset(bytes, start);
  }

  /** Points the cursor at another body (a cursor is reused from message to message). */
  reset(bytes: Uint8Array, start: number): void {
    this.bytes = bytes;
    this.start = start;
    this.pos = start;
    this.itemsLeft = bytes.length - start;
    this.depth = 0;
  }

  get left(): number {
    return this.bytes.length - this.pos;
  }

  fail(what: string, at = this.pos): never {
    throw new MessageBoundsError(
      `${what} (at byte ${at - this.start} of ${this.bytes.length - this.start})`,
    );
  }

  skip(length: number, what: string): void {
    if (length > this.left) this.fail(`${what} of ${length} bytes, only ${this.left} left`);
    this.pos += length;
  }

  /**
   * A zigzag varint as a Number: exact up to 2^53, and beyond that still far more than any body
   * holds, which is all a length or count is compared with. `maxBytes`: 5 for int, 10 for long.
   */
  readVarint(maxBytes: 5 | 10, what: string, whatSuffix = ''): number {
    const start = this.pos;
    const first = this.bytes[start];
    if (first !== undefined && first < 0x80) {
      // One byte: lengths, counts, indexes and most ints of a Debezium event.
      this.pos++;
      return first & 1 ? -(first + 1) / 2 : first / 2;
    }
    let raw = 0;
    let scale = 1;
    for (let i = 0; ; i++) {
      if (this.pos >= this.bytes.length) this.fail(`${what}${whatSuffix} runs past the end`, start);
      const byte = this.bytes[this.pos++] as number;
      raw += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) {
        // The last byte of a long carries only bit 63; of an int, only bits 28..31.
        if (i === maxBytes - 1 && byte > (maxBytes === 5 ? 0x0f : 0x01)) break;
        return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
      }
      if (i === maxBytes - 1) break;
      scale *= 128;
    }
    return this.fail(
      `${what}${whatSuffix} is not a valid ${maxBytes === 5 ? 'int' : 'long'} varint`,
      start,
    );
  }

  /** A string or bytes length: never negative, never more than the bytes left. */
  readLength(what: string): number {
    const at = this.pos;
    // The label is joined only for an error: a template here made a string per value read.
    const length = this.readVarint(10, what, ' length');
    if (length < 0 || length > this.left) {
      this.fail(`${what} length ${length}, only ${this.left} bytes left`, at);
    }
    return length;
  }

  /** Takes `count` items of at least `minBytes` each from what the message can still hold. */
  takeItems(count: number, minBytes: number, what: string, at: number): void {
    if (count * minBytes > this.left) {
      this.fail(`${what} block of ${count} items, only ${this.left} bytes left`, at);
    }
    this.itemsLeft -= count;
    if (this.itemsLeft < 0) {
      this.fail(`${what} block of ${count} items: more items than the message has bytes`, at);
    }
  }

  /** A union or enum index: one of `count`. */
  readIndex(count: number, what: string): number {
    const at = this.pos;
    const index = this.readVarint(10, what);
    if (index < 0 || index >= count) this.fail(`${what} ${index} is not one of ${count}`, at);
    return index;
  }

  /** The value must end exactly where the body does. */
  end(): void {
    if (this.left > 0) this.fail(`${this.left} bytes of trailing data`);
  }

  enter(): void {
    if (++this.depth > MAX_NESTING) this.fail(`nested deeper than ${MAX_NESTING} levels`);
  }

  leave(): void {
    this.depth--;
  }
}

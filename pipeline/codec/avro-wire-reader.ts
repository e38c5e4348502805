// Reads Avro primitives from bytes that were already checked against their schema (BodyCursor, by
// the compiled envelope decoder): no length, count or varint is checked again here, so it must
// never be pointed at bytes the check did not pass. Longs come as JS numbers when they are safe
// integers (exact), as BigInt only beyond ±(2^53 - 1): no 8-byte Buffer and BigInt per long, as
// avsc's exact long type builds.

/** Node's Buffer has the slice methods toString() dispatches to, without its argument handling. */
interface SlicingBuffer extends Buffer {
  utf8Slice(start: number, end: number): string;
}

const HAS_UTF8_SLICE = typeof (Buffer.prototype as Partial<SlicingBuffer>).utf8Slice === 'function';

/** 2^28: the bits the first four bytes of a varint carry. */
const LOW_BITS = 268_435_456;
/** The high part of an 8-byte raw varint below which hi * 2^28 + lo stays below 2^53. */
const EXACT_HIGH = 33_554_432;

export class WireReader {
  constructor(
    public bytes: Buffer,
    public pos = 0,
  ) {}

  /** A zigzag varint that is known to be small (int, length, count, index) as a number. */
  readInt(): number {
    const bytes = this.bytes;
    const first = bytes[this.pos++] as number;
    if (first < 0x80) return first & 1 ? -(first + 1) / 2 : first / 2;
    let raw = first & 0x7f;
    let scale = 128;
    for (;;) {
      const byte = bytes[this.pos++] as number;
      raw += (byte & 0x7f) * scale;
      if (byte < 0x80) break;
      scale *= 128;
    }
    return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
  }

  /** A zigzag long, exact: a number when it is a safe integer, else a BigInt. */
  readLong(): number | bigint {
    const bytes = this.bytes;
    const start = this.pos;
    const first = bytes[start] as number;
    if (first < 0x80) {
      this.pos = start + 1;
      return first & 1 ? -(first + 1) / 2 : first / 2;
    }
    // lo: bits 0..27 (the first four bytes), hi: the rest, each exact in a double.
    let lo = first & 0x7f;
    let hi = 0;
    let at = start + 1;
    let scale = 128;
    let byte: number;
    do {
      byte = bytes[at] as number;
      if (at - start === 4) scale = 1;
      if (at - start < 4) lo += (byte & 0x7f) * scale;
      else hi += (byte & 0x7f) * scale;
      scale *= 128;
      at++;
    } while (byte >= 0x80);
    this.pos = at;
    if (hi < EXACT_HIGH) {
      const raw = hi * LOW_BITS + lo;
      return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
    }
    const raw = BigInt(hi) * BigInt(LOW_BITS) + BigInt(lo);
    const value = raw & 1n ? -(raw >> 1n) - 1n : raw >> 1n;
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value;
  }

  skipVarint(): void {
    const bytes = this.bytes;
    while ((bytes[this.pos++] as number) >= 0x80) {
      // continuation bytes
    }
  }

  readFloat(): number {
    const value = this.bytes.readFloatLE(this.pos);
    this.pos += 4;
    return value;
  }

  readDouble(): number {
    const value = this.bytes.readDoubleLE(this.pos);
    this.pos += 8;
    return value;
  }

  /** A string as avsc reads it (Buffer's UTF-8 decoder: invalid sequences become U+FFFD). */
  readString(): string {
    return this.readText(this.readInt());
  }

  /** The next `length` bytes as UTF-8 text, as readString reads a string's bytes. */
  readText(length: number): string {
    const start = this.pos;
    this.pos = start + length;
    return HAS_UTF8_SLICE
      ? (this.bytes as SlicingBuffer).utf8Slice(start, this.pos)
      : this.bytes.toString('utf8', start, this.pos);
  }

  /** Bytes as a view into the message (no copy: the codecs only read them). */
  readBytes(): Buffer {
    return this.readFixed(this.readInt());
  }

  readFixed(size: number): Buffer {
    const start = this.pos;
    this.pos = start + size;
    return this.bytes.subarray(start, this.pos);
  }

  skipBytes(): void {
    const length = this.readInt();
    this.pos += length;
  }
}

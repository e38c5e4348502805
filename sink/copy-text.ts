// COPY ... FROM STDIN in text format: one line per row, tab-separated, \N for NULL, and
// backslash escapes for the characters the format gives meaning to.

/** The characters COPY text gives meaning to: backslash, tab, newline, carriage return. */
const SPECIALS = /[\\\t\n\r]/g;
/**
 * Up to this length a scan in JS is cheapest; above it, four native indexOf scans are (measured
 * on the bench's rows: about 45 ns for a 0.5 KB text, where the regex engine took 200-300 ns and a
 * loop in JS 500 ns).
 */
const SHORT_VALUE = 24;

/** True when `value` holds a character COPY text gives meaning to. */
function needsEscape(value: string): boolean {
  if (value.length > SHORT_VALUE) {
    return (
      value.indexOf('\\') !== -1 ||
      value.indexOf('\n') !== -1 ||
      value.indexOf('\t') !== -1 ||
      value.indexOf('\r') !== -1
    );
  }
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    // \\ = 92, \t = 9, \n = 10, \r = 13
    if (c === 92 || (c <= 13 && (c === 9 || c === 10 || c === 13))) return true;
  }
  return false;
}

export function escapeCopyText(value: string): string {
  // Fast path: most values need no escaping, and are returned as they are.
  if (!needsEscape(value)) return value;
  return value.replace(SPECIALS, (c) =>
    c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r',
  );
}

export const COPY_NULL = '\\N';

export function encodeCopyRow(values: readonly (string | null)[]): string {
  let line = '';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i > 0) line += '\t';
    line += v === null || v === undefined ? COPY_NULL : escapeCopyText(v);
  }
  return `${line}\n`;
}

/** Bytes (UTF-16 units, near enough) of COPY text per write: one CopyData message each. */
const COPY_CHUNK_CHARS = 64 * 1024;

/**
 * COPY lines joined into chunks of about 64 KiB: a write per line costs a CopyData message and a
 * socket write each, which dominated the sink's CPU.
 */
export function* inChunks(lines: Iterable<string>): Generator<string> {
  const parts: string[] = [];
  let size = 0;
  for (const line of lines) {
    parts.push(line);
    size += line.length;
    if (size >= COPY_CHUNK_CHARS) {
      // One flat string per chunk (what the socket write needs), the parts array reused.
      yield parts.join('');
      parts.length = 0;
      size = 0;
    }
  }
  if (parts.length > 0) yield parts.join('');
}

/** Room past a chunk's size for the line that fills it (longer lines grow the buffer). */
const CHUNK_SLACK = 16 * 1024;
const CHUNK_BUFFER_BYTES = COPY_CHUNK_CHARS + CHUNK_SLACK;
/**
 * Chunk buffers of COPYs that have ended, for the next ones: a drain runs a COPY per table and
 * batch, and buffers left to the garbage collector (memory outside the JS heap, collected late
 * when the heap sees little garbage) added ~10 MiB to the drain's peak RSS. A few at most.
 */
const spareBuffers: Buffer[] = [];
const MAX_SPARE_BUFFERS = 8;
const NO_BUFFER: Buffer = Buffer.alloc(0);

/**
 * COPY text written as UTF-8 straight into chunks of about 64 KiB, value by value: no string per
 * value, line or chunk, and no array of lines. Short values are escaped and encoded byte by byte
 * while they are ASCII; longer ones are scanned by indexOf and encoded natively. A chunk
 * ends after the line that brought it to 64 KiB (at most 64 KiB + one line, as `inChunks`).
 */
export class CopyTextWriter {
  /** Taken on the first byte written (none for a COPY with no rows). */
  private buffer: Buffer = NO_BUFFER;
  private size = 0;
  /** The buffers behind the chunks taken, for `recycle`. */
  private readonly taken: Buffer[] = [];

  /** A column value after the row's first: a tab, then the value. */
  value(value: string | null | undefined): void {
    this.reserve(1);
    this.buffer[this.size++] = 9;
    this.first(value);
  }

  /** The row's first value. */
  first(value: string | null | undefined): void {
    if (value === null || value === undefined) {
      this.reserve(2);
      this.buffer[this.size++] = 92; // \N
      this.buffer[this.size++] = 78;
    } else if (value.length <= SHORT_VALUE) this.writeShort(value);
    else this.writeEncoded(escapeCopyText(value));
  }

  endLine(): void {
    this.reserve(1);
    this.buffer[this.size++] = 10;
  }

  /** The chunk once it holds 64 KiB (call between lines); undefined until then. */
  takeFull(): Buffer | undefined {
    return this.size >= COPY_CHUNK_CHARS ? this.take() : undefined;
  }

  /** Whatever is written and not taken yet; undefined when nothing is. */
  takeRest(): Buffer | undefined {
    return this.size > 0 ? this.take() : undefined;
  }

  /**
   * Gives the buffers of the chunks taken back for later COPYs. Only once the COPY that sent them
   * has ended: the server's answer means every byte has left them (the socket copies what it
   * writes into the kernel); never after a failed COPY, whose writes may still be queued.
   */
  recycle(): void {
    for (const buffer of this.taken) {
      if (spareBuffers.length >= MAX_SPARE_BUFFERS) break;
      if (buffer.length === CHUNK_BUFFER_BYTES) spareBuffers.push(buffer);
    }
    this.taken.length = 0;
  }

  private take(): Buffer {
    const chunk = this.buffer.subarray(0, this.size);
    this.taken.push(this.buffer);
    this.buffer = NO_BUFFER;
    this.size = 0;
    return chunk;
  }

  private writeShort(value: string): void {
    // An escaped character takes 2 bytes; UTF-8 takes at most 3 bytes per UTF-16 unit.
    this.reserve(value.length * 6);
    const buffer = this.buffer;
    let at = this.size;
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0x80) {
        // Past ASCII: the rest as a string, encoded natively.
        this.size = at;
        this.writeEncoded(escapeCopyText(value.slice(i)));
        return;
      }
      if (c === 92) {
        buffer[at++] = 92;
        buffer[at++] = 92;
      } else if (c === 9) {
        buffer[at++] = 92;
        buffer[at++] = 116; // t
      } else if (c === 10) {
        buffer[at++] = 92;
        buffer[at++] = 110; // n
      } else if (c === 13) {
        buffer[at++] = 92;
        buffer[at++] = 114; // r
      } else buffer[at++] = c;
    }
    this.size = at;
  }

  /** Text already escaped, encoded as UTF-8. */
  private writeEncoded(text: string): void {
    // 3 bytes per unit at most; counted exactly only when that bound would not fit anyway.
    const bound = text.length * 3;
    this.reserve(this.size + bound <= this.buffer.length ? bound : Buffer.byteLength(text));
    this.size += this.buffer.write(text, this.size);
  }

  private reserve(bytes: number): void {
    if (this.size + bytes <= this.buffer.length) return;
    if (this.buffer === NO_BUFFER) {
      this.buffer = spareBuffers.pop() ?? Buffer.allocUnsafe(CHUNK_BUFFER_BYTES);
      if (bytes <= this.buffer.length) return;
    }
    const grown = Buffer.allocUnsafe(Math.max(this.size + bytes, this.buffer.length * 2));
    this.buffer.copy(grown, 0, 0, this.size);
    this.buffer = grown;
  }
}

// COPY ... FROM STDIN in text format: one line per row, tab-separated, \N for NULL, and
// backslash escapes for the characters the format gives meaning to.

/** The characters COPY text gives meaning to: backslash, tab, newline, carriage return. */
const SPECIAL = /[\\\t\n\r]/;
const SPECIALS = /[\\\t\n\r]/g;
/**
 * Up to this length a scan in JS is cheaper than a call into the regex engine; above it the
 * engine's scan is (measured on the bench's rows: short numbers and names, 0.5 KB texts).
 */
const SHORT_VALUE = 24;

/** True when `value` holds a character COPY text gives meaning to. */
function needsEscape(value: string): boolean {
  if (value.length > SHORT_VALUE) return SPECIAL.test(value);
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

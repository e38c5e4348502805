// COPY ... FROM STDIN in text format: one line per row, tab-separated, \N for NULL, and
// backslash escapes for the characters the format gives meaning to.
export function escapeCopyText(value: string): string {
  // Fast path: most values need no escaping.
  if (!/[\\\t\n\r]/.test(value)) return value;
  return value.replace(/[\\\t\n\r]/g, (c) =>
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
  let parts: string[] = [];
  let size = 0;
  for (const line of lines) {
    parts.push(line);
    size += line.length;
    if (size >= COPY_CHUNK_CHARS) {
      yield parts.join('');
      parts = [];
      size = 0;
    }
  }
  if (parts.length > 0) yield parts.join('');
}

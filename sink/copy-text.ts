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

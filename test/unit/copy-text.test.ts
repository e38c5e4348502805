// COPY text format: the characters the format gives meaning to are escaped, NULL is \N, and
// everything else (unicode included) passes through untouched.
import { describe, expect, it } from 'vitest';
import {
  COPY_NULL,
  CopyTextWriter,
  encodeCopyRow,
  escapeCopyText,
  inChunks,
} from '../../sink/copy-text.js';

describe('escapeCopyText', () => {
  it('leaves plain text and unicode alone', () => {
    expect(escapeCopyText('hello world')).toBe('hello world');
    expect(escapeCopyText('')).toBe('');
    expect(escapeCopyText('naïve café – 日本語 🚢')).toBe('naïve café – 日本語 🚢');
  });

  it('escapes backslash, tab, newline and carriage return', () => {
    expect(escapeCopyText('a\\b')).toBe('a\\\\b');
    expect(escapeCopyText('a\tb')).toBe('a\\tb');
    expect(escapeCopyText('a\nb')).toBe('a\\nb');
    expect(escapeCopyText('a\rb')).toBe('a\\rb');
    expect(escapeCopyText('\r\n\t\\')).toBe('\\r\\n\\t\\\\');
    expect(escapeCopyText('\\\\')).toBe('\\\\\\\\');
  });

  it('makes a literal \\N and the end-of-data marker plain data', () => {
    expect(escapeCopyText('\\N')).toBe('\\\\N');
    expect(escapeCopyText('\\.')).toBe('\\\\.');
  });

  it('passes other control characters through (COPY takes them literally)', () => {
    expect(escapeCopyText('a\u0001b\u000bc\fd')).toBe('a\u0001b\u000bc\fd');
  });

  it('escapes unicode text around the special characters without touching it', () => {
    expect(escapeCopyText('ü\tß\n🚢\\')).toBe('ü\\tß\\n🚢\\\\');
  });
});

describe('encodeCopyRow', () => {
  it('joins escaped values with tabs, ends with a newline, NULL as \\N', () => {
    expect(COPY_NULL).toBe('\\N');
    expect(encodeCopyRow(['u', '42', '', 'a\tb', null, '\\N'])).toBe(
      'u\t42\t\ta\\tb\t\\N\t\\\\N\n',
    );
  });

  it('writes exactly one line whatever the values contain', () => {
    const line = encodeCopyRow(['line1\nline2', 'x\r\ny', null]);
    expect(line).toBe('line1\\nline2\tx\\r\\ny\t\\N\n');
    expect(line.split('\n')).toEqual(['line1\\nline2\tx\\r\\ny\t\\N', '']);
  });

  it('tells the empty string from NULL', () => {
    expect(encodeCopyRow([''])).toBe('\n');
    expect(encodeCopyRow([null])).toBe('\\N\n');
    expect(encodeCopyRow(['', null])).toBe('\t\\N\n');
  });

  it('treats a missing value as NULL', () => {
    expect(encodeCopyRow([undefined as unknown as null, 'x'])).toBe('\\N\tx\n');
  });

  it('writes an empty line for no values', () => {
    expect(encodeCopyRow([])).toBe('\n');
  });
});

describe('inChunks', () => {
  it('joins whole lines into chunks of at least 64 KiB, in order, losing nothing', () => {
    const lines = Array.from({ length: 5000 }, (_, i) => `${i}\t${'x'.repeat(i % 50)}\n`);
    const chunks = [...inChunks(lines)];
    expect(chunks.join('')).toBe(lines.join(''));
    expect(chunks.length).toBeGreaterThan(1);
    for (const chunk of chunks.slice(0, -1)) expect(chunk.length).toBeGreaterThanOrEqual(64 * 1024);
    // A chunk never ends inside a line.
    for (const chunk of chunks) expect(chunk.endsWith('\n')).toBe(true);
  });

  it('yields one chunk for a few lines and none for no lines', () => {
    expect([...inChunks(['a\n', 'b\n'])]).toEqual(['a\nb\n']);
    expect([...inChunks([])]).toEqual([]);
  });
});

describe('CopyTextWriter', () => {
  const fill = (writer: CopyTextWriter, text: string): Buffer => {
    for (;;) {
      writer.first(text);
      writer.endLine();
      const full = writer.takeFull();
      if (full) return full;
    }
  };

  it('writes nothing and takes no buffer for no rows', () => {
    expect(new CopyTextWriter().takeRest()).toBeUndefined();
  });

  it('reuses the buffers of a COPY that ended, and only those', () => {
    const first = new CopyTextWriter();
    const sent = fill(first, 'a'.repeat(100));
    const kept = Buffer.from(sent);
    // Not recycled: a later COPY never writes over a chunk that may still be queued.
    fill(new CopyTextWriter(), 'b'.repeat(100));
    expect(sent.equals(kept)).toBe(true);
    // Recycled (its COPY ended): the next writer writes into the same memory.
    first.recycle();
    const next = fill(new CopyTextWriter(), 'c'.repeat(100));
    expect(next.toString('latin1', 0, 3)).toBe('ccc');
    expect(sent.toString('latin1', 0, 3)).toBe('ccc');
  });
});

// COPY text against the encoding it replaced (kept below as the oracle: a regex per value, an
// array of values per row) on random strings — every control character, backslashes, tabs,
// newlines, unicode (lone surrogates too), around the length where the scan changes — and on
// random staged rows: NULL, unchanged-TOAST placeholders, columns a schema version lacks, deletes;
// the writer's bytes compared with the UTF-8 of the reference's text.
import { describe, expect, it } from 'vitest';
import {
  type PgRow,
  type PgValue,
  type RowChange,
  UNCHANGED_TOAST,
} from '../../pipeline/row-change.js';
import type { TableSchema } from '../../pipeline/table-schema.js';
import { CopyTextWriter, encodeCopyRow, escapeCopyText, inChunks } from '../../sink/copy-text.js';
import type { StagingTable } from '../../sink/merge-sql.js';
import { copyChunksOf } from '../../sink/table-apply.js';
import { createSeededRandom, type SeededRandom } from '../support/seeded-random.js';

// ---- the oracle ----

function oracleEscape(value: string): string {
  if (!/[\\\t\n\r]/.test(value)) return value;
  return value.replace(/[\\\t\n\r]/g, (c) =>
    c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r',
  );
}

function oracleEncodeRow(values: readonly (string | null)[]): string {
  let line = '';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i > 0) line += '\t';
    line += v === null || v === undefined ? '\\N' : oracleEscape(v);
  }
  return `${line}\n`;
}

function* oracleCopyLines(
  stage: StagingTable,
  primaryKey: readonly string[],
  rows: readonly RowChange[],
  keepPatterns: Set<string>,
): Generator<string> {
  const keySet = new Set(primaryKey);
  const isKey = stage.columns.map((col) => keySet.has(col.name));
  const width = stage.columns.length;
  for (const change of rows) {
    const carried = new Set(change.schema.columns.map((c) => c.name));
    const values: (string | null)[] = [change.op, change.position.toString(), ''];
    let pattern = '';
    for (let i = 0; i < width; i++) {
      const name = (stage.columns[i] as { name: string }).name;
      if (change.op === 'd') {
        values.push(isKey[i] ? (change.key[name] ?? null) : null);
        continue;
      }
      const v = change.after?.[name];
      if (v === UNCHANGED_TOAST || (!isKey[i] && !carried.has(name))) {
        pattern = pattern === '' ? String(i) : `${pattern},${i}`;
        values.push(null);
      } else {
        values.push(v === undefined ? null : v);
      }
    }
    values[2] = pattern;
    if (change.op !== 'd') keepPatterns.add(pattern);
    yield oracleEncodeRow(values);
  }
}

// ---- random text ----

/** Every C0 control character, DEL, the COPY specials, ASCII, unicode, surrogates. */
const ALPHABET = [
  ...Array.from({ length: 32 }, (_, c) => String.fromCharCode(c)),
  '\u007f',
  '\\',
  '\\N',
  '\\.',
  'a',
  'Z',
  '0',
  ' ',
  ',',
  '"',
  'é',
  'ß',
  '日本',
  '\u2028',
  '🚢',
  '\ud800', // a lone surrogate
  '\udfff',
];

function randomText(random: SeededRandom): string {
  // Lengths around the scan's switch from a JS loop to the regex engine (24), and long ones.
  const length = random.pick([0, 1, 2, 5, 23, 24, 25, 26, 40, 300]);
  let text = '';
  const plain = random.chance(0.4); // most real values have nothing to escape
  for (let i = 0; i < length; i++)
    text += plain ? random.pick(['a', '7', 'ü', '-']) : random.pick(ALPHABET);
  return text;
}

describe('COPY text against the reference encoding', () => {
  it('escapes 20000 random strings the same way', () => {
    const random = createSeededRandom(41);
    for (let i = 0; i < 20000; i++) {
      const text = randomText(random);
      expect(escapeCopyText(text), JSON.stringify(text)).toBe(oracleEscape(text));
    }
  });

  it('encodes 3000 random rows (NULLs, empty strings) the same way, and chunks them losslessly', () => {
    const random = createSeededRandom(43);
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const values = Array.from({ length: random.int(6) }, () =>
        random.chance(0.2) ? null : randomText(random),
      );
      const line = encodeCopyRow(values);
      expect(line).toBe(oracleEncodeRow(values));
      lines.push(line);
    }
    const chunks = [...inChunks(lines)];
    expect(chunks.join('')).toBe(lines.join(''));
    for (const chunk of chunks) expect(chunk.endsWith('\n')).toBe(true);
  });

  it('writes the same bytes through CopyTextWriter, in chunks of 64 KiB ending with a line', () => {
    const random = createSeededRandom(44);
    const writer = new CopyTextWriter();
    const chunks: Buffer[] = [];
    let expected = '';
    for (let i = 0; i < 6000; i++) {
      const values = Array.from({ length: 1 + random.int(6) }, () =>
        random.chance(0.2) ? null : randomText(random),
      );
      // Now and then a value larger than a chunk: the buffer grows for it.
      if (random.chance(0.002)) values.push('x\t'.repeat(50_000));
      writer.first(values[0]);
      for (const v of values.slice(1)) writer.value(v);
      writer.endLine();
      expected += oracleEncodeRow(values);
      const full = writer.takeFull();
      if (full) chunks.push(full);
    }
    const rest = writer.takeRest();
    if (rest) chunks.push(rest);
    expect(writer.takeRest()).toBeUndefined();
    expect(Buffer.concat(chunks).equals(Buffer.from(expected, 'utf8'))).toBe(true);
    expect(chunks.length).toBeGreaterThan(3);
    for (const chunk of chunks.slice(0, -1)) expect(chunk.length).toBeGreaterThanOrEqual(64 * 1024);
    for (const chunk of chunks) expect(chunk[chunk.length - 1]).toBe(10);
  });
});

// ---- random staged rows ----

const col = (name: string) => ({ name, pgType: 'text', nullable: true });
/** Two versions of one table: the second adds `extra`; `gone` only the first has. */
const V1: TableSchema = {
  id: '1',
  columns: [col('k1'), col('k2'), col('body'), col('gone')],
  primaryKey: ['k1', 'k2'],
};
const V2: TableSchema = {
  id: '2',
  columns: [col('k1'), col('k2'), col('body'), col('extra')],
  primaryKey: ['k1', 'k2'],
};
const STAGE: StagingTable = {
  name: 'pgferry_stage_test',
  columns: ['k1', 'k2', 'body', 'gone', 'extra'].map((name) => ({ name, type: 'text' })),
};

function randomValue(random: SeededRandom): PgValue {
  if (random.chance(0.15)) return null;
  if (random.chance(0.15)) return UNCHANGED_TOAST;
  return randomText(random);
}

function randomRow(random: SeededRandom, n: number): RowChange {
  const schema = random.pick([V1, V2]);
  const op = random.pick(['c', 'u', 'u', 'r', 'd'] as const);
  const key: Record<string, string> = { k1: randomText(random), k2: randomText(random) };
  if (random.chance(0.05)) delete key.k2; // a key without its column: staged as NULL
  let after: PgRow | null = null;
  if (op !== 'd') {
    after = { ...key };
    for (const c of schema.columns) {
      // Some columns missing from the row although the version has them.
      if (!(c.name in key) && random.chance(0.9)) after[c.name] = randomValue(random);
    }
  }
  return {
    table: { schema: 'public', name: 't' },
    op,
    key,
    after,
    position: BigInt(random.int(2 ** 31)) * 4_294_967_296n + BigInt(n),
    sourceTsMs: 0,
    txId: null,
    schema,
    origin: { topic: 'cdc.public.t', partition: 0, offset: String(n) },
  };
}

describe('staged COPY text against the reference', () => {
  it('writes the same bytes and keep-patterns for 300 random batches', () => {
    const random = createSeededRandom(47);
    let multiChunk = 0;
    for (let run = 0; run < 300; run++) {
      // Now and then a batch of several chunks.
      const count = random.chance(0.05) ? 2000 + random.int(2000) : 1 + random.int(40);
      const rows = Array.from({ length: count }, (_, n) => randomRow(random, n));
      const expectedPatterns = new Set<string>();
      const expected = [...oracleCopyLines(STAGE, ['k1', 'k2'], rows, expectedPatterns)].join('');
      const patterns = new Set<string>();
      const chunks = [...copyChunksOf(STAGE, ['k1', 'k2'], rows, patterns)];
      const text = Buffer.concat(chunks).toString('utf8');
      // Compared as bytes: lone surrogates become U+FFFD in both.
      expect(
        Buffer.concat(chunks).equals(Buffer.from(expected, 'utf8')),
        `seed 47, run ${run}`,
      ).toBe(true);
      expect(text.split('\n')).toHaveLength(rows.length + 1);
      expect([...patterns].sort()).toEqual([...expectedPatterns].sort());
      if (chunks.length > 1) multiChunk += 1;
    }
    expect(multiChunk).toBeGreaterThan(3);
  });
});

import { describe, expect, it } from 'vitest';
import { diffRangeRows, type KeyedRowHash } from '../../migrate/verify/range-diff.js';

async function* stream(rows: KeyedRowHash[], read?: KeyedRowHash[]): AsyncGenerator<KeyedRowHash> {
  for (const row of rows) {
    read?.push(row);
    yield row;
  }
}

const row = (id: number | string, hash = `h${id}`): KeyedRowHash => ({ key: [String(id)], hash });

describe('diffRangeRows', () => {
  it('finds nothing when both sides hold the same rows', async () => {
    const rows = [row(1), row(2), row(3)];
    expect(await diffRangeRows(rows, stream(rows), 10)).toEqual({
      differences: [],
      complete: true,
    });
  });

  it('classifies changed, missing and extra keys; each extra before the next matched key', async () => {
    const source = [row(1), row(2), row(3), row(5), row(6)];
    const target = [row(1), row(2, 'other'), row(4), row(5), row(7)];
    const diff = await diffRangeRows(source, stream(target), 10);
    expect(diff.complete).toBe(true);
    expect(diff.differences).toEqual([
      { key: ['2'], kind: 'changed' },
      { key: ['3'], kind: 'missing' },
      { key: ['4'], kind: 'extra' },
      { key: ['6'], kind: 'missing' },
      { key: ['7'], kind: 'extra' },
    ]);
  });

  it('matches composite keys by every value, not by a joined string', async () => {
    const source: KeyedRowHash[] = [{ key: ['a,b', '1'], hash: 'x' }];
    const target: KeyedRowHash[] = [{ key: ['a', 'b,1'], hash: 'x' }];
    const diff = await diffRangeRows(source, stream(target), 10);
    expect(diff.differences).toEqual([
      { key: ['a,b', '1'], kind: 'missing' },
      { key: ['a', 'b,1'], kind: 'extra' },
    ]);
  });

  it('reports an empty source range as all extra and an empty target as all missing', async () => {
    expect((await diffRangeRows([], stream([row(1), row(2)]), 10)).differences).toEqual([
      { key: ['1'], kind: 'extra' },
      { key: ['2'], kind: 'extra' },
    ]);
    expect((await diffRangeRows([row(1)], stream([]), 10)).differences).toEqual([
      { key: ['1'], kind: 'missing' },
    ]);
  });

  it('stops reading the target after `limit` extras and then claims no missing keys', async () => {
    const read: KeyedRowHash[] = [];
    const target = Array.from({ length: 1000 }, (_, i) => row(i + 100));
    const diff = await diffRangeRows([row(1)], stream(target, read), 3);
    expect(diff.complete).toBe(false);
    expect(diff.differences.map((d) => d.kind)).toEqual(['extra', 'extra', 'extra']);
    expect(read.length).toBe(3);
  });

  it('classifies correctly even when the two sides order keys differently', async () => {
    const source = [row(1), row(2), row(10)];
    const target = [row(1), row(10), row(2, 'changed')];
    const diff = await diffRangeRows(source, stream(target), 10);
    expect(diff.differences).toEqual([{ key: ['2'], kind: 'changed' }]);
  });
});

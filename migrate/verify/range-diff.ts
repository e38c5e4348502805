// The key-level diff of one key range for `pgferry verify`: the source side's rows (one bounded
// page) against the target's rows of the same range, streamed. Keys are matched by their text
// form, never compared for order in JavaScript (collations are PostgreSQL's business), so the
// classification is right whatever the key type; key order only shapes the listing order.
import type { KeyText } from './chunk-checksum-sql.js';

export interface KeyedRowHash {
  key: KeyText;
  hash: string;
}

export type DifferenceKind = 'changed' | 'missing' | 'extra';

export interface RangeDifference {
  key: KeyText;
  /** changed = both sides, other content; missing = source only; extra = target only. */
  kind: DifferenceKind;
}

export interface RangeDiff {
  differences: RangeDifference[];
  /** False when the target was not read to the end because `limit` extras were already found. */
  complete: boolean;
}

/**
 * Diffs `source` (every source row of the range, in key order) against `target` (the target's
 * rows of the same range, in key order). Stops reading the target once it has found `limit`
 * extra rows; then no missing keys are reported, as any unmatched source key might still follow.
 * Differences come out in key order as far as matched keys allow: changed and missing at their
 * source position, each extra just before the next key both sides have (whether it sorts before or
 * after a missing key between two matched ones is unknown without PostgreSQL's collation).
 */
export async function diffRangeRows(
  source: readonly KeyedRowHash[],
  target: AsyncIterable<KeyedRowHash>,
  limit: number,
): Promise<RangeDiff> {
  const positions = new Map<string, number>();
  source.forEach((row, index) => {
    positions.set(keyId(row.key), index);
  });
  const matched = new Array<boolean>(source.length).fill(false);
  const found: { position: number; difference: RangeDifference }[] = [];
  // Extras seen since the last matched key; placed once the next matched key is known.
  let pendingExtras: RangeDifference[] = [];
  const placeExtras = (before: number) => {
    for (const difference of pendingExtras) found.push({ position: before - 0.5, difference });
    pendingExtras = [];
  };
  let extras = 0;
  let complete = true;
  for await (const row of target) {
    const index = positions.get(keyId(row.key));
    if (index === undefined) {
      pendingExtras.push({ key: row.key, kind: 'extra' });
      extras++;
      if (extras >= limit) {
        complete = false;
        break;
      }
      continue;
    }
    matched[index] = true;
    placeExtras(index);
    if (source[index]?.hash !== row.hash) {
      found.push({ position: index, difference: { key: row.key, kind: 'changed' } });
    }
  }
  placeExtras(source.length + 1);
  if (complete) {
    source.forEach((row, index) => {
      if (!matched[index]) {
        found.push({ position: index, difference: { key: row.key, kind: 'missing' } });
      }
    });
  }
  // Array.prototype.sort is stable: extras after the same source key keep their target order.
  found.sort((a, b) => a.position - b.position);
  return { differences: found.map((f) => f.difference), complete };
}

const keyId = (key: KeyText): string => JSON.stringify(key);

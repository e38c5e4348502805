import { describe, expect, it } from 'vitest';
import { heapLimitAdvice, recommendedHeapMb } from '../../core/heap-limit.js';
import { fetchBytes, fetchBytesPerPartition } from '../../pipeline/source/fetch-chunks.js';

const MiB = 1024 * 1024;

describe('heap limit', () => {
  it('sizes the heap from BATCH_MAX_BYTES: 64 MiB + 8 per MiB of batch', () => {
    expect(recommendedHeapMb(16 * MiB)).toBe(192);
    expect(recommendedHeapMb(4 * MiB)).toBe(96);
    expect(recommendedHeapMb(1024)).toBe(72);
  });

  it('advises NODE_OPTIONS only when V8 may grow far beyond that', () => {
    expect(heapLimitAdvice(16 * MiB, 192)).toBeUndefined();
    expect(heapLimitAdvice(16 * MiB, 768)).toBeUndefined();
    expect(heapLimitAdvice(16 * MiB, 4096)).toContain('NODE_OPTIONS=--max-old-space-size=192');
  });

  it('warns when the limit is below what the batches need', () => {
    expect(heapLimitAdvice(64 * MiB, 192)).toContain(
      'below what batches of BATCH_MAX_BYTES may need',
    );
  });
});

describe('fetchBytes', () => {
  it('fetches a quarter of BATCH_MAX_BYTES, at least 1 MiB', () => {
    expect(fetchBytes(16 * 1024 * 1024)).toBe(4 * 1024 * 1024);
    expect(fetchBytes(64 * 1024 * 1024)).toBe(16 * 1024 * 1024);
    expect(fetchBytes(1024 * 1024)).toBe(1024 * 1024);
  });
});

describe('fetchBytesPerPartition', () => {
  it('shares the fetch among the partitions applied at once, at least 1 MiB each', () => {
    const MiB = 1024 * 1024;
    expect(fetchBytesPerPartition(16 * MiB, 1)).toBe(4 * MiB);
    expect(fetchBytesPerPartition(16 * MiB, 2)).toBe(2 * MiB);
    expect(fetchBytesPerPartition(16 * MiB, 8)).toBe(MiB);
    expect(fetchBytesPerPartition(MiB, 4)).toBe(MiB);
  });
});

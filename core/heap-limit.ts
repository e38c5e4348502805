// pgferry's memory is bounded by BATCH_SIZE / BATCH_MAX_BYTES: what it holds at once is one fetch
// and the batch decoded from it. V8, though, collects lazily and lets the heap grow towards its
// own limit (a quarter of RAM, often gigabytes) before it bothers, so under sustained load the
// process's RSS says more about V8's patience than about pgferry's needs. A heap limit sized from
// BATCH_MAX_BYTES makes the bound real: NODE_OPTIONS=--max-old-space-size=<recommendedHeapMb>.
import { getHeapStatistics } from 'node:v8';

const MiB = 1024 * 1024;

/** The old-space limit (MiB) that holds pgferry with batches of `batchMaxBytes`: 64 + 8 per MiB. */
export function recommendedHeapMb(batchMaxBytes: number): number {
  return 64 + 8 * Math.ceil(batchMaxBytes / MiB);
}

/** V8's heap limit of this process, in MiB. */
export function heapLimitMb(): number {
  return Math.round(getHeapStatistics().heap_size_limit / MiB);
}

/** A line for the log when the heap limit is far above what the batches need, else undefined. */
export function heapLimitAdvice(
  batchMaxBytes: number,
  limitMb = heapLimitMb(),
): string | undefined {
  const recommended = recommendedHeapMb(batchMaxBytes);
  if (limitMb < recommended)
    return `the V8 heap limit (${limitMb} MiB) is below what batches of BATCH_MAX_BYTES may need: raise it to NODE_OPTIONS=--max-old-space-size=${recommended} or lower BATCH_MAX_BYTES, or pgferry may run out of memory on a large batch`;
  if (limitMb <= 4 * recommended) return undefined;
  return `V8 may grow the heap to ${limitMb} MiB before collecting; to bound pgferry's memory by BATCH_MAX_BYTES, run it with NODE_OPTIONS=--max-old-space-size=${recommended} (the Dockerfile and npm start do)`;
}

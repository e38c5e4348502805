// The copy phase's settings (BENCH_COPY_*): the data set's size, the pgferry copy job counts to
// measure, and which competitors to run. Read once with the rest of the bench's settings.
import { availableParallelism } from 'node:os';

export const COPY_STEPS = ['pgferry', 'psql', 'dump', 'indexes', 'debezium'] as const;
export type CopyStep = (typeof COPY_STEPS)[number];

export interface CopyBenchSettings {
  /** Rows of the narrow and the wide table together (BENCH_COPY_ROWS). */
  rows: number;
  /** Share of `rows` in the narrow table (the rest in the wide one). */
  narrowShare: number;
  /** Rounds of the index step (copy into indexed tables / copy then CREATE INDEX, alternated). */
  indexRounds: number;
  /** Every how many rows of the wide table has a body above the TOAST threshold (> 2 kB). */
  toastEvery: number;
  smallTables: number;
  smallRows: number;
  /** pgferry copy --jobs values to measure, ascending; includes 1 and the cores. */
  jobs: number[];
  /** os.availableParallelism() of the machine: "jobs = cores", pg_dump/pg_restore -j. */
  cores: number;
  /** --chunk-rows for pgferry copy; undefined = pgferry's default. */
  chunkRows: number | undefined;
  /** pg_dump --compress level (0 = none, pg_dump's fastest). */
  dumpCompress: number;
  /** The Debezium snapshot path: every table, the narrow table only, or skipped. */
  debezium: 'all' | 'narrow' | 'off';
  /**
   * Share of the narrow and wide tables' rows the Debezium path snapshots (1 = all; default 0.25:
   * the whole path runs at ~2,000 rows/s here, 2M rows would take over 15 minutes).
   */
  debeziumShare: number;
  /** NODE_OPTIONS of the pgferry copy child (default none: what `pgferry copy` does by itself). */
  nodeOptions: string;
  steps: ReadonlySet<CopyStep>;
}

function readPositive(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 1): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw.replace(/_/g, ''));
  if (!Number.isInteger(value) || value < min)
    throw new Error(`${name} must be an integer of at least ${min}`);
  return value;
}

/** BENCH_COPY_JOBS, or 1, the cores and twice the cores; always with 1 and the cores. */
export function readCopyJobs(raw: string | undefined, cores: number): number[] {
  const listed =
    raw === undefined || raw.trim() === ''
      ? [1, cores, 2 * cores]
      : raw.split(',').map((j) => {
          const n = Number(j.trim());
          if (!Number.isInteger(n) || n < 1 || n > 64)
            throw new Error('BENCH_COPY_JOBS: integers from 1 to 64, comma-separated');
          return n;
        });
  return [...new Set([1, cores, ...listed])].sort((a, b) => a - b);
}

export function readCopySteps(raw: string | undefined): ReadonlySet<CopyStep> {
  if (raw === undefined || raw.trim() === '') return new Set(COPY_STEPS);
  const steps = raw.split(',').map((s) => s.trim());
  const unknown = steps.filter((s) => !(COPY_STEPS as readonly string[]).includes(s));
  if (unknown.length > 0)
    throw new Error(
      `BENCH_COPY_STEPS: unknown ${unknown.join(', ')} (known: ${COPY_STEPS.join(', ')})`,
    );
  return new Set(steps as CopyStep[]);
}

export function readCopyBenchSettings(env: NodeJS.ProcessEnv): CopyBenchSettings {
  const cores = availableParallelism();
  const debezium = env.BENCH_COPY_DEBEZIUM ?? 'all';
  if (debezium !== 'all' && debezium !== 'narrow' && debezium !== 'off')
    throw new Error('BENCH_COPY_DEBEZIUM: all, narrow or off');
  const chunkRows = readPositive(env, 'BENCH_COPY_CHUNK_ROWS', 0, 0);
  const share = Number(env.BENCH_COPY_DEBEZIUM_SHARE ?? '0.25');
  if (!(share > 0 && share <= 1)) throw new Error('BENCH_COPY_DEBEZIUM_SHARE: a number in (0, 1]');
  return {
    rows: readPositive(env, 'BENCH_COPY_ROWS', 2_000_000, 2),
    narrowShare: 0.75,
    toastEvery: readPositive(env, 'BENCH_COPY_TOAST_EVERY', 10),
    indexRounds: readPositive(env, 'BENCH_COPY_INDEX_ROUNDS', 2),
    smallTables: readPositive(env, 'BENCH_COPY_SMALL_TABLES', 100, 0),
    smallRows: readPositive(env, 'BENCH_COPY_SMALL_ROWS', 1000),
    jobs: readCopyJobs(env.BENCH_COPY_JOBS, cores),
    cores,
    chunkRows: chunkRows === 0 ? undefined : chunkRows,
    dumpCompress: readPositive(env, 'BENCH_COPY_DUMP_COMPRESS', 0, 0),
    debezium,
    debeziumShare: share,
    nodeOptions: env.BENCH_COPY_NODE_OPTIONS ?? '',
    steps: readCopySteps(env.BENCH_COPY_STEPS),
  };
}

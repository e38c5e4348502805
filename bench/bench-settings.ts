// The benchmark's settings, read once from the environment (BENCH_*) and the local stack's env.
import { SETTINGS } from '../core/config/settings-table.js';
import { loadStackEnv, type StackEnv } from '../test/support/stack-env.js';
import { type CopyBenchSettings, readCopyBenchSettings } from './copy-settings.js';
import { type JdbcSinkConfig, readJdbcConfigs } from './jdbc-sink-config.js';
import { type MixName, readMixes } from './workload-mix.js';

export interface BenchSettings {
  /** Source change events (creates + updates + deletes) the workload writes. */
  events: number;
  /** pgferry's BATCH_SIZE; the floors' rows per batch and the default JDBC sink's batch.size. */
  batchSize: number;
  /** Runs of the headline pair (pgferry's drain, the best JDBC sink config): median, min, max. */
  repeat: number;
  /** Runs of every other phase (floors, ceiling, replay, sweep configs, curve, mixes). */
  repeatOthers: number;
  /** The JDBC sink configurations swept on the standard mix (BENCH_JDBC_CONFIGS). */
  jdbcConfigs: JdbcSinkConfig[];
  /** The workload mixes (BENCH_MIXES): standard always, the others beside it. */
  mixes: MixName[];
  /** Events of each mix other than standard (scaled per mix: wide-toast writes a quarter). */
  mixEvents: number;
  /** APPLY_CONCURRENCY values of the concurrency curve (BENCH_APPLY_CONCURRENCY); empty: none. */
  applyConcurrencies: number[];
  /** Events per source transaction. */
  eventsPerTransaction: number;
  seed: number;
  /** Unique per run: topic prefix, slot, groups and target databases carry it. */
  runId: string;
  /** Keep the bench's target databases and source tables after the run (for a post-mortem). */
  keep: boolean;
  /** Skip the Debezium JDBC sink (its own Connect worker takes ~30 s to start). */
  skipJdbcSink: boolean;
  /** The phases to run (BENCH_PHASES; default all). */
  phases: ReadonlySet<BenchPhase>;
  /**
   * bin/pgferry.js of another build (BENCH_BASELINE_BIN, e.g. a worktree of an older commit): its
   * drain runs on the same topic right after pgferry's, for before/after figures from one run.
   */
  baselineBin: string | undefined;
  /**
   * BENCH_SCALE_OUT=N (>= 2) adds two phases: N pgferry processes in one consumer group, and the
   * JDBC sink with tasks.max=N (the topic's partitions are shared out in both).
   */
  scaleOut: number;
  /** Run id of an earlier run (kept with BENCH_KEEP=1) whose topic this run measures again. */
  reuseTopic: string | undefined;
  /** Paced mode's source write rates (rows/s); empty = skip paced mode. */
  pacedRates: number[];
  /** Seconds at each paced rate. */
  pacedSeconds: number;
  /**
   * NODE_OPTIONS of the pgferry children: by default the heap limit pgferry recommends for the
   * default BATCH_MAX_BYTES (64 + 8 x 16 MiB; core/heap-limit.ts), as it is deployed.
   */
  pgferryNodeOptions: string;
  /** Extra node arguments of the pgferry children (BENCH_PGFERRY_NODE_ARGS, e.g. --cpu-prof). */
  pgferryNodeArgs: string[];
  /** Port of the bench's own Connect worker (never the shared one). */
  connectPort: number;
  connectHeap: string;
  /** Per-phase deadline for draining the topic. */
  drainTimeoutMs: number;
  /** The copy phase (`pgferry copy` against its alternatives): BENCH_COPY_*. */
  copy: CopyBenchSettings;
  stack: StackEnv;
}

export const BENCH_PHASES = [
  'ceiling',
  'floor',
  'replay',
  'pgferry',
  'jdbc',
  'paced',
  'copy',
] as const;
export type BenchPhase = (typeof BENCH_PHASES)[number];

/** The phases measured on the bench topic (the change stream), all of them by default. */
export const TOPIC_PHASES: readonly BenchPhase[] = [
  'ceiling',
  'floor',
  'replay',
  'pgferry',
  'jdbc',
  'paced',
];

/** BENCH_PHASES; unset = the topic phases (the copy phase runs only when named: ~15 minutes more). */
export function readPhases(raw: string | undefined): ReadonlySet<BenchPhase> {
  if (raw === undefined || raw.trim() === '') return new Set(TOPIC_PHASES);
  const phases = raw.split(',').map((p) => p.trim());
  const unknown = phases.filter((p) => !(BENCH_PHASES as readonly string[]).includes(p));
  if (unknown.length > 0)
    throw new Error(
      `BENCH_PHASES: unknown ${unknown.join(', ')} (known: ${BENCH_PHASES.join(', ')})`,
    );
  return new Set(phases as BenchPhase[]);
}

function readInteger(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw.replace(/_/g, ''));
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
}

/** BENCH_APPLY_CONCURRENCY: positive integers, comma-separated; `0` or `off` for none. */
export function readConcurrencies(raw: string | undefined): number[] {
  if (raw === undefined || raw.trim() === '') return [1, 2, 4];
  if (raw.trim() === '0' || raw.trim() === 'off') return [];
  const values = raw.split(',').map((v) => {
    const n = Number(v.trim());
    if (!Number.isInteger(n) || n <= 0 || n > 64)
      throw new Error('BENCH_APPLY_CONCURRENCY: integers from 1 to 64, comma-separated, or 0');
    return n;
  });
  // A value's drain is named after it (target database, consumer group): a second drain of the
  // same value would find the group at the topic's ends and apply nothing.
  const repeated = values.find((n, i) => values.indexOf(n) !== i);
  if (repeated !== undefined)
    throw new Error(
      `BENCH_APPLY_CONCURRENCY: ${repeated} is listed twice (BENCH_REPEAT_OTHERS repeats each value)`,
    );
  return values;
}

export function readBenchSettings(env: NodeJS.ProcessEnv): BenchSettings {
  // pgferry's default BATCH_SIZE: the drains run pgferry as it ships.
  const batchSize = readInteger(env, 'BENCH_BATCH_SIZE', Number(SETTINGS.BATCH_SIZE.default));
  const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 12);
  return {
    events: readInteger(env, 'BENCH_EVENTS', 1_000_000),
    batchSize,
    repeat: readInteger(env, 'BENCH_REPEAT', 3),
    repeatOthers: readInteger(env, 'BENCH_REPEAT_OTHERS', 1),
    jdbcConfigs: readJdbcConfigs(env.BENCH_JDBC_CONFIGS, batchSize),
    mixes: readMixes(env.BENCH_MIXES),
    mixEvents: readInteger(env, 'BENCH_MIX_EVENTS', 200_000),
    applyConcurrencies: readConcurrencies(env.BENCH_APPLY_CONCURRENCY),
    eventsPerTransaction: readInteger(env, 'BENCH_EVENTS_PER_TX', 500),
    seed: readInteger(env, 'BENCH_SEED', 42),
    runId: env.BENCH_RUN_ID ?? `b${stamp}${Math.floor(Math.random() * 1000)}`,
    keep: env.BENCH_KEEP === '1',
    skipJdbcSink: env.BENCH_SKIP_JDBC === '1',
    phases: readPhases(env.BENCH_PHASES),
    baselineBin: env.BENCH_BASELINE_BIN || undefined,
    scaleOut: readInteger(env, 'BENCH_SCALE_OUT', 1),
    reuseTopic:
      env.BENCH_TOPIC === undefined || env.BENCH_TOPIC === '' ? undefined : env.BENCH_TOPIC,
    pacedRates:
      env.BENCH_PACED === '0' || !readPhases(env.BENCH_PHASES).has('paced')
        ? []
        : (env.BENCH_PACED_RATES ?? '1000,5000,10000').split(',').map((r) => {
            const rate = Number(r.trim());
            if (!Number.isInteger(rate) || rate <= 0)
              throw new Error('BENCH_PACED_RATES: integers, comma-separated');
            return rate;
          }),
    pacedSeconds: readInteger(env, 'BENCH_PACED_SECONDS', 60),
    pgferryNodeOptions: env.BENCH_PGFERRY_NODE_OPTIONS ?? '--max-old-space-size=192',
    pgferryNodeArgs: (env.BENCH_PGFERRY_NODE_ARGS ?? '').split(/\s+/).filter((a) => a !== ''),
    connectPort: readInteger(env, 'BENCH_CONNECT_PORT', 58183),
    connectHeap: env.BENCH_CONNECT_HEAP ?? '1g',
    drainTimeoutMs: readInteger(env, 'BENCH_DRAIN_TIMEOUT_S', 3600) * 1000,
    copy: readCopyBenchSettings(env),
    stack: loadStackEnv(),
  };
}

// The copy phase's result (the `copy` section of the bench JSON) and its Markdown summary.
import { round } from './round.js';

/** One competitor's measured run (or why it has no figures). */
export interface CopyStepFigures {
  ok: boolean;
  error?: string;
  /** Wall seconds from spawning the first process to the last one's exit. */
  seconds?: number;
  rows?: number;
  rowsPerSecond?: number;
  /** The data set's binary COPY bytes (as pgferry counts them) / seconds, 1 MB = 10^6 bytes. */
  mbPerSecond?: number;
  /** CPU seconds of the client processes (pgferry, psql, pg_dump + pg_restore). */
  clientCpuSeconds?: number;
  /** CPU seconds of each PostgreSQL cluster during the step (every backend: other sessions' too). */
  sourceServerCpuSeconds?: number;
  targetServerCpuSeconds?: number;
  machineBusyPercent?: number;
  loadAverage1m?: number;
  checksum?: 'equal';
  [figure: string]: unknown;
}

export interface CopyTarget {
  value: number | null;
  target: string;
  met: boolean | null;
}

export interface CopyBenchResult {
  ok: boolean;
  error?: string;
  settings: {
    rows: number;
    smallTables: number;
    smallRows: number;
    toastEvery: number;
    jobs: number[];
    cores: number;
    chunkRows: number | string;
    dumpCompress: number;
    debezium: string;
    debeziumShare: number;
    nodeOptions: string;
  };
  dataset?: {
    schema: string;
    tables: number;
    rows: number;
    /** Binary COPY bytes of the whole data set, as pgferry copy counted them. */
    copyBytes: number | null;
    /** Heap + TOAST + primary keys on the source. */
    sourceBytes: number;
    narrow: { rows: number; totalBytes: number; toastBytes: number };
    wide: { rows: number; totalBytes: number; toastBytes: number; rowsAboveToastThreshold: number };
    small: { tables: number; rowsEach: number; totalBytes: number };
    /** pgferry copy's COPY format per table kind (binary when the types allow). */
    formats?: Record<string, string>;
  };
  competitors: {
    /** `pgferry copy --jobs N`, keyed `jobs=N`. */
    pgferryCopy: Record<string, CopyStepFigures>;
    psqlPipe?: CopyStepFigures;
    dumpRestore?: CopyStepFigures;
    debeziumSnapshot?: CopyStepFigures;
  };
  indexes?: {
    indexes: string[];
    jobs: number;
    rounds: number;
    /** pgferry copy into tables that already have the secondary indexes, per round. */
    intoIndexedTables: CopyStepFigures[];
    /** pgferry copy into tables without them, then CREATE INDEX one after the other, per round. */
    deferred: CopyStepFigures[];
    /** The best (lowest) round of each: the least disturbed by the machine's other load. */
    bestIntoIndexedSeconds: number | null;
    bestDeferredSeconds: number | null;
    bestDeferredCopySeconds: number | null;
    bestDeferredIndexSeconds: number | null;
    /** Seconds saved by deferring (best indexed - best deferred); positive = deferring is faster. */
    deferSavesSeconds: number | null;
    deferSavesPercent: number | null;
  };
  ratios: {
    copyOverDebeziumSnapshot: CopyTarget;
    jobs1OverPsqlPipe: CopyTarget;
    coresOverDumpRestore: CopyTarget;
    peakRssMiB: CopyTarget;
  };
  scaling: { curve: { jobs: number; rowsPerSecond: number; speedup: number }[]; note: string };
  notes: string[];
}

export function targetRatio(
  a: CopyStepFigures | undefined,
  b: CopyStepFigures | undefined,
  atLeast: number,
  label: string,
): CopyTarget {
  if (!a?.ok || !b?.ok || !a.rowsPerSecond || !b.rowsPerSecond)
    return { value: null, target: label, met: null };
  const value = round(a.rowsPerSecond / b.rowsPerSecond, 3);
  return { value, target: label, met: value >= atLeast };
}

function cell(value: unknown): string {
  return value === undefined || value === null
    ? '—'
    : typeof value === 'number'
      ? value.toLocaleString('en-US')
      : String(value);
}

function met(t: CopyTarget): string {
  return `${cell(t.value)} (target ${t.target}: ${t.met === null ? 'not measured' : t.met ? 'met' : 'NOT met'})`;
}

export function renderCopyMarkdown(copy: CopyBenchResult): string[] {
  if (!copy.ok && !copy.dataset) return ['', `Copy phase: FAILED: ${copy.error ?? ''}`];
  const d = copy.dataset;
  const row = (name: string, f: CopyStepFigures | undefined) =>
    !f
      ? []
      : f.ok
        ? [
            `| ${name} | ${cell(f.seconds)} | ${cell(f.rowsPerSecond)} | ${cell(f.mbPerSecond)} | ${cell(f.clientCpuSeconds)} | ${cell(f.sourceServerCpuSeconds)} / ${cell(f.targetServerCpuSeconds)} | ${cell(f.peakRssMiB)} | ${cell(f.machineBusyPercent)} |`,
          ]
        : [`| ${name} | FAILED: ${String(f.error ?? '').slice(0, 160)} | | | | | | |`];
  const c = copy.competitors;
  const ix = copy.indexes;
  return [
    '',
    `### Copy phase (BENCH_PHASES=copy)`,
    '',
    d
      ? `Data set: schema ${d.schema}, ${cell(d.tables)} tables, ${cell(d.rows)} rows: narrow ${cell(d.narrow.rows)} rows (${cell(round(d.narrow.totalBytes / 1e6, 1))} MB), wide ${cell(d.wide.rows)} rows (${cell(round(d.wide.totalBytes / 1e6, 1))} MB, TOAST ${cell(round(d.wide.toastBytes / 1e6, 1))} MB, ${cell(d.wide.rowsAboveToastThreshold)} bodies > 2 kB), ${cell(d.small.tables)} small tables of ${cell(d.small.rowsEach)} rows; binary COPY bytes ${cell(d.copyBytes === null ? null : round(d.copyBytes / 1e6, 1))} MB.`
      : '',
    '',
    '| competitor | seconds | rows/s | MB/s | client CPU s | source / target PG CPU s | peak RSS MiB | machine busy % |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...Object.entries(c.pgferryCopy).flatMap(([jobs, f]) =>
      row(`pgferry copy --${jobs.replace('=', ' ')}`, f),
    ),
    ...row('psql \\copy pipe (binary, table after table)', c.psqlPipe),
    ...row(
      `pg_dump -Fd -j ${copy.settings.cores} + pg_restore -j ${copy.settings.cores} (-Z ${copy.settings.dumpCompress})`,
      c.dumpRestore,
    ),
    ...row(
      `Debezium snapshot -> Kafka -> pgferry run (${copy.settings.debezium === 'narrow' ? 'narrow table' : 'all tables'}${copy.settings.debeziumShare < 1 ? `, ${round(copy.settings.debeziumShare * 100, 1)} % of the large tables' rows` : ''}${c.debeziumSnapshot?.ok ? `: ${cell(c.debeziumSnapshot.rows)} rows` : ''})`,
      c.debeziumSnapshot,
    ),
    '',
    ...Object.entries(c.pgferryCopy)
      .filter(([, f]) => f.ok)
      .map(
        ([jobs, f]) =>
          `pgferry copy --${jobs.replace('=', ' ')}: ${cell(f.plannedAfterSeconds)} s to start and plan (${cell(f.chunks)} chunks), ${cell(f.copySeconds)} s copying (${cell(f.copyRowsPerSecond)} rows/s).`,
      ),
    ...(c.psqlPipe?.ok
      ? [
          `psql pipe per table: narrow ${cell(c.psqlPipe.narrowSeconds)} s, wide ${cell(c.psqlPipe.wideSeconds)} s, the small tables ${cell(c.psqlPipe.smallTablesSeconds)} s together.`,
        ]
      : []),
    ...(c.dumpRestore?.ok
      ? [
          `pg_dump ${cell(c.dumpRestore.dumpSeconds)} s + pg_restore ${cell(c.dumpRestore.restoreSeconds)} s (dump ${cell(round(Number(c.dumpRestore.dumpBytes ?? 0) / 1e6, 1))} MB on disk).`,
        ]
      : []),
    `Targets: pgferry copy (jobs = cores) / Debezium snapshot path ${met(copy.ratios.copyOverDebeziumSnapshot)}; jobs 1 / psql pipe ${met(copy.ratios.jobs1OverPsqlPipe)}; jobs = cores / pg_dump + pg_restore ${met(copy.ratios.coresOverDumpRestore)}; peak RSS MiB ${met(copy.ratios.peakRssMiB)}.`,
    ...(ix
      ? [
          `Secondary indexes (${ix.indexes.join(', ')}; pgferry copy --jobs ${ix.jobs}; best of ${ix.rounds} alternated rounds): copy into indexed tables ${cell(ix.bestIntoIndexedSeconds)} s (rounds: ${ix.intoIndexedTables.map((f) => cell(f.ok ? f.seconds : 'failed')).join(', ')}); copy without, then CREATE INDEX: ${cell(ix.bestDeferredCopySeconds)} + ${cell(ix.bestDeferredIndexSeconds)} = ${cell(ix.bestDeferredSeconds)} s (rounds: ${ix.deferred.map((f) => cell(f.ok ? f.seconds : 'failed')).join(', ')}); deferring saves ${cell(ix.deferSavesSeconds)} s (${cell(ix.deferSavesPercent)} %).`,
        ]
      : []),
    `Scaling: ${copy.scaling.note}`,
    ...copy.notes.map((n) => `- ${n}`),
  ];
}

// The benchmark's result: one JSON document (also written to bench/results/<date>.json) and a
// short Markdown summary. A phase whose target checksum differs from the source reports no
// throughput, only why it failed.

import type { TopicProfile } from './bench-topic.js';
import { type CopyBenchResult, renderCopyMarkdown } from './copy-report.js';
import type { MachineInfo } from './machine-info.js';
import type { PacedResult } from './paced-lag.js';
import { round } from './round.js';
import type { WorkloadCounts } from './source-workload.js';
import type { Fingerprints } from './target-database.js';

export interface PhaseFigures {
  ok: boolean;
  /** Why the phase reports no throughput (an error, or the checksum mismatch). */
  error?: string;
  seconds?: number;
  /** Source change events (creates + updates + deletes) per second: the topic's events / seconds. */
  eventsPerSecond?: number;
  [figure: string]: unknown;
}

export interface BenchResult {
  date: string;
  runId: string;
  machine: MachineInfo;
  settings: {
    events: number;
    batchSize: number;
    eventsPerTransaction: number;
    seed: number;
    /** Runs of the headline pair (BENCH_REPEAT) and of every other phase (BENCH_REPEAT_OTHERS). */
    repeat: number;
    repeatOthers: number;
    /** pgferry's default APPLY_CONCURRENCY here: the drain's and the apply floor's. */
    applyConcurrency: number;
    /** The bench Connect worker's -Xmx (BENCH_CONNECT_HEAP). */
    connectHeap: string;
    jdbcConfigs: string[];
    mixEvents: number;
  };
  workload: WorkloadFigures;
  expected: Fingerprints;
  phases: {
    clientCeiling: PhaseFigures;
    /** COPY + merge of the final rows in key order, all inserts: the COPY-only figure. */
    finalRowsCopyFloor: PhaseFigures;
    /** pgferry's sink alone on the drain's row changes and chunks: what the apply must do. */
    applyFloor: PhaseFigures;
    /** pgferry's topology and sink in this process, timed apart (for profiling). */
    sinkReplay: PhaseFigures;
    pgferry: PhaseFigures;
    /** The best configuration of the sweep, repeated. */
    jdbcSink: PhaseFigures;
    /** Every swept JDBC sink configuration, by name. */
    jdbcSweep: Record<string, PhaseFigures>;
    /** The drain of another build (BENCH_BASELINE_BIN) on the same topic: before/after. */
    baseline?: PhaseFigures;
    /** The drain per APPLY_CONCURRENCY value (BENCH_APPLY_CONCURRENCY). */
    pgferryConcurrency?: Record<string, PhaseFigures>;
    /** BENCH_SCALE_OUT=N: N pgferry processes in one group, and the JDBC sink with N tasks. */
    pgferryScaled?: PhaseFigures;
    jdbcScaled?: PhaseFigures;
  };
  /** Live replication at steady source rates; null when skipped (BENCH_PACED=0). */
  paced: (PacedResult & { secondsPerRate: number }) | null;
  /** The other workload mixes (BENCH_MIXES), by name. */
  mixes: Record<string, MixResult>;
  /** pgferry's events/s over the other's (= the other's seconds / pgferry's seconds). */
  ratios: {
    pgferryOverJdbcSink: number | null;
    pgferryOverJdbcDefault: number | null;
    pgferryOverApplyFloor: number | null;
    pgferryOverFinalRowsCopyFloor: number | null;
    pgferryOverClientCeiling: number | null;
    pgferryOverSinkReplay: number | null;
    pgferryOverBaseline?: number | null;
    scaledPgferryOverScaledJdbcSink?: number | null;
  };
  notes: string[];
  /** The copy phase (BENCH_PHASES with copy). */
  copy?: CopyBenchResult;
}

/** What a topic holds: the op mix, partitions per topic, per table the ops and row widths. */
export type WorkloadFigures = Omit<WorkloadCounts, 'messagesByTable'> & {
  mix: string;
  messages: number;
  captureSeconds: number;
  finalRows: Record<string, number>;
  partitionsPerTopic: Record<string, number>;
  tables?: TopicProfile;
};

/** A workload mix beside the standard one: pgferry's drain against the best JDBC config. */
export interface MixResult {
  description: string;
  ok: boolean;
  error?: string;
  workload?: WorkloadFigures;
  /** `baseline`: the drain of BENCH_BASELINE_BIN's build on the mix's topic, right after pgferry's. */
  phases?: { pgferry: PhaseFigures; jdbcSink: PhaseFigures; baseline?: PhaseFigures };
  ratios?: { pgferryOverJdbcSink: number | null; pgferryOverBaseline?: number | null };
}

/** The document of a run of the copy phase alone (BENCH_PHASES=copy): no topic. */
export interface CopyOnlyResult {
  date: string;
  runId: string;
  machine: MachineInfo;
  copy: CopyBenchResult;
}

export function ratio(a: PhaseFigures, b: PhaseFigures): number | null {
  if (!a.ok || !b.ok || !a.eventsPerSecond || !b.eventsPerSecond) return null;
  return round(a.eventsPerSecond / b.eventsPerSecond, 3);
}

export const mebibytes = (bytes: number | undefined): number | undefined =>
  bytes === undefined ? undefined : round(bytes / 1024 / 1024, 1);

function cell(value: unknown): string {
  return value === undefined || value === null
    ? '—'
    : typeof value === 'number'
      ? value.toLocaleString('en-US')
      : String(value);
}

function machineLine(m: MachineInfo): string {
  return `Machine: ${m.cores} cores (${m.cpuModel}), ${mebibytes(m.memoryBytes)} MiB; Node ${m.node}; ${m.java}; PostgreSQL ${m.postgres.target}; Kafka ${m.kafka}; Debezium ${m.debeziumSource}; load average at the start ${m.loadAverageAtStart}. Code: ${m.code.commit.slice(0, 10)}${m.code.uncommitted.length > 0 ? ` + uncommitted changes to ${m.code.uncommitted.join(', ')}` : ''}.`;
}

export function renderCopyOnlyMarkdown(result: CopyOnlyResult): string {
  return [
    `## pgferry copy benchmark ${result.date} (${result.runId})`,
    '',
    machineLine(result.machine),
    ...renderCopyMarkdown(result.copy),
    '',
  ].join('\n');
}

/** events/s with the min-max of its runs when repeated. */
function rate(f: PhaseFigures): string {
  const spread = (f.spread as Record<string, { min: number; max: number }> | undefined)
    ?.eventsPerSecond;
  return spread
    ? `${cell(f.eventsPerSecond)} (${cell(spread.min)}–${cell(spread.max)}, ${cell(f.repetitions)} runs)`
    : cell(f.eventsPerSecond);
}

const PHASE_HEADER = [
  '| phase | events/s | seconds | pgferry CPU s / M events | Connect worker CPU s / M events | target PG CPU s / M events | peak RSS MiB | machine busy % | checksum |',
  '|---|---:|---:|---:|---:|---:|---:|---:|---|',
];

function phaseRow(name: string, f: PhaseFigures): string {
  return f.ok
    ? `| ${name} | ${rate(f)} | ${cell(f.seconds)} | ${cell(f.pgferryCpuSecondsPerMillionEvents)} | ${cell(f.connectWorkerCpuSecondsPerMillionEvents)} | ${cell(f.targetCpuSecondsPerMillionEvents)} | ${cell(f.peakRssMiB ?? f.workerPeakRssMiB)} | ${cell(f.machineBusyPercent)} | ok |`
    : `| ${name} | — | — | — | — | — | — | ${cell(f.machineBusyPercent)} | FAILED: ${String(f.error ?? '').slice(0, 160)} |`;
}

function workloadLine(w: WorkloadFigures, events: number): string {
  const widths = w.tables
    ? Object.entries(w.tables).length > 4
      ? `; ${Object.keys(w.tables).length} tables, ${cell(Object.values(w.tables)[0]?.partitions)} partitions each, ~${cell(Math.round(Object.values(w.tables).reduce((n, t) => n + t.avgValueBytes, 0) / Object.keys(w.tables).length))} value bytes a message`
      : `; per table: ${Object.entries(w.tables)
          .map(
            ([t, p]) =>
              `${t} ${p.partitions} partitions, ${cell(p.avgValueBytes)} value bytes a message`,
          )
          .join(', ')}`
    : '';
  return `Topic (${w.mix}): ${cell(events)} change events (${cell(w.creates)} creates, ${cell(w.updates)} updates, ${cell(w.deletes)} deletes; ${cell(w.messages)} messages with tombstones)${widths}.`;
}

export function renderMarkdown(result: BenchResult): string {
  const m = result.machine;
  const p = result.phases;
  const r = result.ratios;
  const best = typeof p.jdbcSink.config === 'string' ? p.jdbcSink.config : undefined;
  return [
    `## pgferry benchmark ${result.date} (${result.runId})`,
    '',
    machineLine(m),
    `${workloadLine(result.workload, result.settings.events)} Final rows ${Object.entries(
      result.workload.finalRows,
    )
      .map(([t, n]) => `${t} ${cell(n)}`)
      .join(
        ', ',
      )}; batch size ${result.settings.batchSize}; pgferry's APPLY_CONCURRENCY ${result.settings.applyConcurrency}; Connect worker -Xmx${result.settings.connectHeap}.`,
    '',
    ...PHASE_HEADER,
    phaseRow('client ceiling (kafkajs + Avro decode)', p.clientCeiling),
    phaseRow(
      'final-rows COPY floor (COPY + merge of the final rows, inserts)',
      p.finalRowsCopyFloor,
    ),
    phaseRow(
      `apply floor (pgferry's sink alone on the drain's changes, concurrency ${cell(p.applyFloor.applyConcurrency)})`,
      p.applyFloor,
    ),
    phaseRow('pgferry sink replay (sink seconds)', p.sinkReplay),
    phaseRow('**pgferry drain**', p.pgferry),
    ...(p.baseline ? [phaseRow('pgferry drain, baseline build', p.baseline)] : []),
    phaseRow(`**Debezium JDBC sink, best: ${best ?? '—'}**`, p.jdbcSink),
    ...Object.entries(p.jdbcSweep).map(([name, f]) => phaseRow(`JDBC sink sweep: ${name}`, f)),
    ...Object.entries(p.pgferryConcurrency ?? {}).map(([n, f]) =>
      phaseRow(`pgferry drain, APPLY_CONCURRENCY=${n}`, f),
    ),
    ...(p.pgferryScaled
      ? [
          phaseRow(
            `pgferry drain, ${String(p.pgferryScaled.processes ?? '')} processes in one group`,
            p.pgferryScaled,
          ),
        ]
      : []),
    ...(p.jdbcScaled
      ? [
          phaseRow(
            `Debezium JDBC sink, tasks.max=${String(p.jdbcScaled.tasks ?? '')}`,
            p.jdbcScaled,
          ),
        ]
      : []),
    '',
    `Ratios: pgferry / best JDBC sink ${cell(r.pgferryOverJdbcSink)}, pgferry / JDBC default ${cell(r.pgferryOverJdbcDefault)}, pgferry / apply floor ${cell(r.pgferryOverApplyFloor)}, pgferry / final-rows COPY floor ${cell(r.pgferryOverFinalRowsCopyFloor)}, pgferry / client ceiling ${cell(r.pgferryOverClientCeiling)}, pgferry / its sink replay ${cell(r.pgferryOverSinkReplay)}${r.pgferryOverBaseline === undefined ? '' : `, pgferry / baseline build ${cell(r.pgferryOverBaseline)}`}${r.scaledPgferryOverScaledJdbcSink === undefined ? '' : `, scaled out: pgferry / JDBC sink ${cell(r.scaledPgferryOverScaledJdbcSink)}`}.`,
    ...(p.sinkReplay.ok
      ? [
          `Replay in one process: topology (decode + transform + dedupe) ${cell(p.sinkReplay.topologySeconds)} s = ${cell(p.sinkReplay.topologyEventsPerSecond)} events/s, sink ${cell(p.sinkReplay.seconds)} s (${Object.entries(
            p.sinkReplay.sinkStageSeconds as Record<string, number>,
          )
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}), wall ${cell(p.sinkReplay.wallSeconds)} s.`,
        ]
      : []),
    ...renderMixes(result.mixes),
    ...renderPaced(result.paced),
    ...result.notes.map((n) => `- ${n}`),
    ...(result.copy ? renderCopyMarkdown(result.copy) : []),
    '',
  ].join('\n');
}

function renderMixes(mixes: BenchResult['mixes']): string[] {
  const entries = Object.entries(mixes);
  if (entries.length === 0) return [];
  return [
    '',
    'Workload mixes (pgferry drain against the best JDBC configuration of the standard mix):',
    '',
    ...PHASE_HEADER,
    ...entries.flatMap(([name, mix]) =>
      mix.ok && mix.phases
        ? [
            phaseRow(`${name}: pgferry drain`, mix.phases.pgferry),
            ...(mix.phases.baseline
              ? [phaseRow(`${name}: pgferry drain, baseline build`, mix.phases.baseline)]
              : []),
            phaseRow(`${name}: JDBC sink`, mix.phases.jdbcSink),
          ]
        : [
            `| ${name} | — | — | — | — | — | — | — | FAILED: ${String(mix.error ?? '').slice(0, 160)} |`,
          ],
    ),
    '',
    ...entries.flatMap(([name, mix]) =>
      mix.workload
        ? [
            `- ${name}: ${mix.description}. ${workloadLine(mix.workload, mix.workload.creates + mix.workload.updates + mix.workload.deletes)} pgferry / JDBC sink ${cell(mix.ratios?.pgferryOverJdbcSink)}${mix.ratios?.pgferryOverBaseline === undefined ? '' : `, pgferry / baseline build ${cell(mix.ratios.pgferryOverBaseline)}`}.`,
          ]
        : [],
    ),
  ];
}

function renderPaced(paced: BenchResult['paced']): string[] {
  if (!paced) return ['', 'Paced mode: skipped.'];
  if (!paced.ok) return ['', `Paced mode: FAILED: ${paced.error}`];
  return [
    '',
    `Paced mode (pgferry live, ${paced.secondsPerRate} s per rate; lag = target commit - source write, seen on the target):`,
    '',
    '| rate rows/s | achieved | lag p50 ms | p99 ms | max ms | of which capture p50 / p99 ms | caught up after s | p99 flat |',
    '|---:|---:|---:|---:|---:|---:|---:|---|',
    ...paced.steps.map(
      (s) =>
        `| ${cell(s.rate)} | ${cell(s.achievedRate)} | ${cell(s.lag?.p50Ms)} | ${cell(s.lag?.p99Ms)} | ${cell(s.lag?.maxMs)} | ${cell(s.captureLag?.p50Ms)} / ${cell(s.captureLag?.p99Ms)} | ${cell(s.caughtUpSeconds)} | ${s.flat ? 'yes' : 'no'} |`,
    ),
    '',
    `Highest rate with a flat p99: ${cell(paced.highestFlatRate)} rows/s.`,
  ];
}

// The benchmark's result: one JSON document (also written to bench/results/<date>.json) and a
// short Markdown summary. A phase whose target checksum differs from the source reports no
// throughput, only why it failed.
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
  settings: { events: number; batchSize: number; eventsPerTransaction: number; seed: number };
  workload: Omit<WorkloadCounts, 'messagesByTable'> & {
    messages: number;
    captureSeconds: number;
    finalRows: Record<string, number>;
  };
  expected: Fingerprints;
  phases: {
    clientCeiling: PhaseFigures;
    floor: PhaseFigures;
    /** pgferry's topology and sink in this process, timed apart (for profiling). */
    sinkReplay: PhaseFigures;
    pgferry: PhaseFigures;
    jdbcSink: PhaseFigures;
    /** The drain of another build (BENCH_BASELINE_BIN) on the same topic: before/after. */
    baseline?: PhaseFigures;
    /** BENCH_SCALE_OUT=N: N pgferry processes in one group, and the JDBC sink with N tasks. */
    pgferryScaled?: PhaseFigures;
    jdbcScaled?: PhaseFigures;
  };
  /** Live replication at steady source rates; null when skipped (BENCH_PACED=0). */
  paced: (PacedResult & { secondsPerRate: number }) | null;
  /** pgferry's events/s over the other's (= the other's seconds / pgferry's seconds). */
  ratios: {
    pgferryOverJdbcSink: number | null;
    pgferryOverFloor: number | null;
    pgferryOverClientCeiling: number | null;
    pgferryOverSinkReplay: number | null;
    pgferryOverBaseline?: number | null;
    scaledPgferryOverScaledJdbcSink?: number | null;
  };
  notes: string[];
  /** The copy phase (BENCH_PHASES with copy). */
  copy?: CopyBenchResult;
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

export function renderMarkdown(result: BenchResult): string {
  const m = result.machine;
  const w = result.workload;
  const p = result.phases;
  const row = (name: string, f: PhaseFigures, cpu: unknown, rss: unknown) =>
    f.ok
      ? `| ${name} | ${cell(f.eventsPerSecond)} | ${cell(f.seconds)} | ${cell(cpu)} | ${cell(f.targetCpuSecondsPerMillionEvents)} | ${cell(rss)} | ${cell(f.machineBusyPercent)} | ok |`
      : `| ${name} | — | — | — | — | — | ${cell(f.machineBusyPercent)} | FAILED: ${String(f.error ?? '').slice(0, 160)} |`;
  return [
    `## pgferry benchmark ${result.date} (${result.runId})`,
    '',
    machineLine(m),
    `Topic: ${cell(result.settings.events)} change events (${cell(w.creates)} creates, ${cell(w.updates)} updates, ${cell(w.deletes)} deletes; ${cell(w.messages)} messages with tombstones), final rows ${Object.entries(
      w.finalRows,
    )
      .map(([t, n]) => `${t} ${cell(n)}`)
      .join(', ')}; batch size ${result.settings.batchSize}.`,
    '',
    '| phase | events/s | seconds | CPU s / M events | target PG CPU s / M events | peak RSS MiB | machine busy % | checksum |',
    '|---|---:|---:|---:|---:|---:|---:|---|',
    row(
      'client ceiling (kafkajs + Avro decode)',
      p.clientCeiling,
      p.clientCeiling.cpuSecondsPerMillionEvents,
      undefined,
    ),
    row('floor (COPY + merge of the final rows)', p.floor, undefined, undefined),
    row('pgferry sink only (replay: COPY + merge + offsets)', p.sinkReplay, undefined, undefined),
    row('pgferry drain', p.pgferry, p.pgferry.cpuSecondsPerMillionEvents, p.pgferry.peakRssMiB),
    ...(p.baseline
      ? [
          row(
            'pgferry drain, baseline build',
            p.baseline,
            p.baseline.cpuSecondsPerMillionEvents,
            p.baseline.peakRssMiB,
          ),
        ]
      : []),
    row(
      'Debezium JDBC sink',
      p.jdbcSink,
      p.jdbcSink.cpuSecondsPerMillionEvents,
      p.jdbcSink.workerPeakRssMiB,
    ),
    ...(p.pgferryScaled
      ? [
          row(
            `pgferry drain, ${String(p.pgferryScaled.processes ?? '')} processes in one group (RSS: the largest)`,
            p.pgferryScaled,
            p.pgferryScaled.cpuSecondsPerMillionEvents,
            p.pgferryScaled.peakRssMiB,
          ),
        ]
      : []),
    ...(p.jdbcScaled
      ? [
          row(
            `Debezium JDBC sink, tasks.max=${String(p.jdbcScaled.tasks ?? '')}`,
            p.jdbcScaled,
            p.jdbcScaled.cpuSecondsPerMillionEvents,
            p.jdbcScaled.workerPeakRssMiB,
          ),
        ]
      : []),
    '',
    `Ratios: pgferry / JDBC sink ${cell(result.ratios.pgferryOverJdbcSink)}, pgferry / floor ${cell(result.ratios.pgferryOverFloor)}, pgferry / client ceiling ${cell(result.ratios.pgferryOverClientCeiling)}, pgferry / its sink alone ${cell(result.ratios.pgferryOverSinkReplay)}${result.ratios.pgferryOverBaseline === undefined ? '' : `, pgferry / baseline build ${cell(result.ratios.pgferryOverBaseline)}`}${result.ratios.scaledPgferryOverScaledJdbcSink === undefined ? '' : `, scaled out: pgferry / JDBC sink ${cell(result.ratios.scaledPgferryOverScaledJdbcSink)}`}.`,
    ...(p.sinkReplay.ok
      ? [
          `Replay in one process: topology (decode + transform + dedupe) ${cell(p.sinkReplay.topologySeconds)} s = ${cell(p.sinkReplay.topologyEventsPerSecond)} events/s, sink ${cell(p.sinkReplay.seconds)} s (${Object.entries(
            p.sinkReplay.sinkStageSeconds as Record<string, number>,
          )
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}), wall ${cell(p.sinkReplay.wallSeconds)} s.`,
        ]
      : []),
    ...(p.floor.ok
      ? [
          `Floor: ${cell(p.floor.rows)} final rows at ${cell(p.floor.rowsPerSecond)} rows/s (events/s above = the topic's events / the floor's seconds).`,
        ]
      : []),
    ...renderPaced(result.paced),
    ...result.notes.map((n) => `- ${n}`),
    ...(result.copy ? renderCopyMarkdown(result.copy) : []),
    '',
  ].join('\n');
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

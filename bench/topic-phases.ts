// The phases measured on a bench topic, each one run of it as figures: the client ceiling, the two
// floors, the sink replay, a pgferry drain and a Debezium JDBC sink run. Every phase reports the
// CPU seconds per million events of what applies (pgferry's code: the child or this process; the
// Connect worker) and of the target PostgreSQL backends. The orchestration is in run-bench.ts.

import { DEFAULT_APPLY_CONCURRENCY, runApplyFloor } from './apply-floor.js';
import { mebibytes, type PhaseFigures } from './bench-report.js';
import type { BenchSettings } from './bench-settings.js';
import { type BenchTopic, topicEvents } from './bench-topic.js';
import { runClientCeiling } from './client-ceiling.js';
import { fetchJdbcSinkPlugin, startConnectWorker } from './connect-worker.js';
import { describeJdbcConfig, type JdbcSinkConfig } from './jdbc-sink-config.js';
import { runJdbcSink } from './jdbc-sink-run.js';
import { runMergeFloor } from './merge-floor.js';
import { type DrainOptions, runPgferryDrain } from './pgferry-drain.js';
import type { PhaseRunner } from './phase-runner.js';
import { round } from './round.js';
import { runSinkReplay } from './sink-replay.js';
import type { Fingerprints } from './target-database.js';

/** The stack services a phase uses (a phase they went down during is run again). */
export const SERVICES = {
  kafka: ['kafka', 'registry'],
  target: ['pg-source', 'pg-target'],
  apply: ['kafka', 'registry', 'pg-target'],
} as const;

export class TopicPhases {
  readonly events: number;

  constructor(
    readonly runner: PhaseRunner,
    readonly topic: BenchTopic,
    readonly expected: Fingerprints,
    private readonly log: (line: string) => void,
  ) {
    this.events = topicEvents(topic);
  }

  private perSecond(seconds: number): number {
    return round(this.events / seconds, 0);
  }

  private perMillion(cpuSeconds: number | undefined): number | undefined {
    return cpuSeconds === undefined || Number.isNaN(cpuSeconds)
      ? undefined
      : round((cpuSeconds * 1e6) / this.events, 1);
  }

  /**
   * Seconds and events/s of a drain; from the first committed batch on, the rate once started
   * and joined (approximate: the first batch's events are counted, its time is not).
   */
  private rateFigures(seconds: number, firstCommitSeconds: number | undefined) {
    return {
      seconds: round(seconds, 2),
      eventsPerSecond: this.perSecond(seconds),
      firstCommitSeconds:
        firstCommitSeconds === undefined ? undefined : round(firstCommitSeconds, 2),
      steadyEventsPerSecond:
        firstCommitSeconds === undefined ? undefined : this.perSecond(seconds - firstCommitSeconds),
    };
  }

  ceiling = async (s: BenchSettings): Promise<PhaseFigures> => {
    const r = await runClientCeiling(s, this.topic);
    if (r.events !== this.events)
      return { ok: false, error: `decoded ${r.events} events, expected ${this.events}` };
    return {
      ok: true,
      seconds: round(r.seconds, 2),
      eventsPerSecond: this.perSecond(r.seconds),
      messages: r.messages,
      cpuSecondsPerMillionEvents: this.perMillion(r.cpuSeconds),
      pgferryCpuSecondsPerMillionEvents: this.perMillion(r.cpuSeconds),
    };
  };

  finalRowsFloor = async (s: BenchSettings): Promise<PhaseFigures> => {
    const r = await runMergeFloor(s, this.topic.tables);
    return this.runner.checked(this.topic, this.expected, r.targetUrl, {
      ok: true,
      seconds: round(r.seconds, 2),
      eventsPerSecond: this.perSecond(r.seconds),
      rows: r.rows,
      rowsPerSecond: round(r.rows / r.seconds, 0),
      batches: r.batches,
      copySeconds: round(r.copySeconds, 2),
      mergeSeconds: round(r.mergeSeconds, 2),
      pgferryCpuSecondsPerMillionEvents: this.perMillion(r.cpuSeconds),
      targetCpuSecondsPerMillionEvents: this.perMillion(r.targetCpuSeconds),
    });
  };

  applyFloor = async (s: BenchSettings): Promise<PhaseFigures> => {
    const r = await runApplyFloor(s, this.topic, DEFAULT_APPLY_CONCURRENCY);
    return this.runner.checked(this.topic, this.expected, r.targetUrl, {
      ok: true,
      seconds: round(r.seconds, 2),
      eventsPerSecond: this.perSecond(r.seconds),
      applyConcurrency: r.concurrency,
      chunks: r.chunks,
      changesApplied: r.changes,
      windows: r.windows,
      sinkStageSeconds: {
        copy: round(r.sinkStageSeconds.copy, 2),
        merge: round(r.sinkStageSeconds.merge, 2),
        commit: round(r.sinkStageSeconds.commit, 2),
      },
      prepareSecondsUntimed: round(r.prepareSeconds, 2),
      cpuSecondsPerMillionEvents: this.perMillion(r.cpuSeconds),
      pgferryCpuSecondsPerMillionEvents: this.perMillion(r.cpuSeconds),
      targetCpuSecondsPerMillionEvents: this.perMillion(r.targetCpuSeconds),
    });
  };

  sinkReplay = async (s: BenchSettings): Promise<PhaseFigures> => {
    const cpu = process.cpuUsage();
    const r = await runSinkReplay(s, this.topic);
    const used = process.cpuUsage(cpu);
    const perStage = (seconds: Record<string, number>) =>
      Object.fromEntries(Object.entries(seconds).map(([k, v]) => [k, round(v, 2)]));
    return this.runner.checked(this.topic, this.expected, r.targetUrl, {
      ok: true,
      seconds: round(r.sinkSeconds, 2),
      eventsPerSecond: this.perSecond(r.sinkSeconds),
      sinkStageSeconds: perStage(r.sinkStageSeconds),
      topologySeconds: round(r.topologySeconds, 2),
      topologyEventsPerSecond: this.perSecond(r.topologySeconds),
      topologyStageSeconds: perStage(r.stageSeconds),
      wallSeconds: round(r.wallSeconds, 2),
      wallEventsPerSecond: this.perSecond(r.wallSeconds),
      chunks: r.chunks,
      changesWritten: r.changesWritten,
      // The whole process: kafkajs, the topology and the sink.
      pgferryCpuSecondsPerMillionEvents: this.perMillion((used.user + used.system) / 1e6),
      targetCpuSecondsPerMillionEvents: this.perMillion(r.targetCpuSeconds),
    });
  };

  /** One pgferry drain (`pgferry run` children). */
  drain(options: DrainOptions): (s: BenchSettings) => Promise<PhaseFigures> {
    return async (s) => {
      const r = await runPgferryDrain(s, this.topic, this.log, options);
      return this.runner.checked(this.topic, this.expected, r.targetUrl, {
        ok: true,
        ...this.rateFigures(r.seconds, r.firstCommitSeconds),
        startupSeconds: round(r.startupSeconds, 2),
        cpuSeconds: round(r.stats?.cpuSeconds ?? Number.NaN, 2),
        cpuSecondsPerMillionEvents: this.perMillion(r.stats?.cpuSeconds),
        pgferryCpuSecondsPerMillionEvents: this.perMillion(r.stats?.cpuSeconds),
        // Without the process's start (until /healthz answers: module loading, settings, the
        // first connections): a fixed cost that a short drain spreads over few events.
        startCpuSeconds: round(r.stats?.cpuSecondsAtStart ?? Number.NaN, 2),
        pgferryDrainCpuSecondsPerMillionEvents: this.perMillion(
          r.stats === undefined ? undefined : r.stats.cpuSeconds - (r.stats.cpuSecondsAtStart ?? 0),
        ),
        targetCpuSecondsPerMillionEvents: this.perMillion(r.targetCpuSeconds),
        peakRssMiB: mebibytes(r.stats?.peakRssBytes),
        nodeOptions: s.pgferryNodeOptions,
        applyConcurrency:
          options.applyConcurrency ?? `pgferry's default (${DEFAULT_APPLY_CONCURRENCY})`,
        log: r.logFile,
        ...(options.bin ? { bin: options.bin } : {}),
        ...((options.processes ?? 1) > 1 ? { processes: options.processes } : {}),
      });
    };
  }

  /** One run of the JDBC sink in `config`, on a Connect worker of its own (started and stopped). */
  jdbc(
    config: JdbcSinkConfig,
    label: string,
    tasks = 1,
  ): (s: BenchSettings) => Promise<PhaseFigures> {
    return async (s) => {
      const pluginPath = fetchJdbcSinkPlugin();
      this.log('starting the bench Connect worker');
      // Its own group and internal topics per run: a topic deleted at the last stop may still
      // be marked for deletion.
      const worker = await startConnectWorker({ ...s, runId: `${s.runId}${label}` }, pluginPath);
      try {
        const r = await runJdbcSink(s, this.topic, worker, this.log, { config, label, tasks });
        return await this.runner.checked(this.topic, this.expected, r.targetUrl, {
          ok: true,
          ...this.rateFigures(r.seconds, r.firstCommitSeconds),
          config: config.name,
          settings: describeJdbcConfig(config),
          connectorVersion: r.version,
          cpuSeconds: round(r.cpuSeconds, 2),
          cpuSecondsPerMillionEvents: this.perMillion(r.cpuSeconds),
          connectWorkerCpuSecondsPerMillionEvents: this.perMillion(r.cpuSeconds),
          targetCpuSecondsPerMillionEvents: this.perMillion(r.targetCpuSeconds),
          workerRssMiB: mebibytes(r.stats?.rssBytes),
          workerPeakRssMiB: mebibytes(r.stats?.peakRssBytes),
          workerIdleRssMiB: mebibytes(r.idleRssBytes),
          workerHeapMax: s.connectHeap,
          ...(tasks > 1 ? { tasks } : {}),
          log: worker.logFile,
        });
      } finally {
        await worker.stop();
      }
    };
  }
}

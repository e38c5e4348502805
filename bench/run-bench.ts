// `npm run bench`: makes one Debezium Avro topic from a source workload, then measures on it, one
// after the other, the client ceiling, the floor, the pgferry drain and the Debezium JDBC sink;
// with BENCH_PHASES=copy (alone or with others), `pgferry copy` against its alternatives
// (bench/copy-bench.ts); checks every target against the source; prints JSON and a Markdown
// summary and writes bench/results/<date>.json. Not part of CI. Settings: see bench/README.md.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { repoPath } from '../test/support/stack-env.js';
import { cleanupBenchRun } from './bench-cleanup.js';
import {
  type BenchResult,
  type CopyOnlyResult,
  mebibytes,
  type PhaseFigures,
  ratio,
  renderCopyOnlyMarkdown,
  renderMarkdown,
} from './bench-report.js';
import {
  type BenchPhase,
  type BenchSettings,
  readBenchSettings,
  TOPIC_PHASES,
} from './bench-settings.js';
import {
  type BenchTopic,
  loadBenchTopic,
  produceBenchTopic,
  SpoiledTopicError,
  saveBenchTopic,
} from './bench-topic.js';
import { stopChildren } from './child-processes.js';
import { runClientCeiling } from './client-ceiling.js';
import { fetchJdbcSinkPlugin, startConnectWorker } from './connect-worker.js';
import { runCopyPhase } from './copy-bench.js';
import type { CopyBenchResult } from './copy-report.js';
import { runJdbcSink } from './jdbc-sink-run.js';
import { type MachineInfo, readMachineInfo } from './machine-info.js';
import { runMergeFloor } from './merge-floor.js';
import { type PacedResult, runPacedMode } from './paced-lag.js';
import { runPgferryDrain } from './pgferry-drain.js';
import { machineBusyPercent, readMachineCpu } from './process-stats.js';
import { round } from './round.js';
import { runSinkReplay } from './sink-replay.js';
import { StackWatch } from './stack-watch.js';
import { compareFingerprints, type Fingerprints, fingerprintTables } from './target-database.js';

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

/**
 * Runs a phase; an error becomes a failed phase (the others still run). A phase during which a
 * stack service it uses went down or restarted (other sessions' fault tests) is run again once,
 * with names of its own (`<run id>r2`); if disturbed again, it reports no figures.
 */
async function phase(
  name: string,
  context: { settings: BenchSettings; watch: StackWatch; services: readonly string[] },
  run: (settings: BenchSettings) => Promise<PhaseFigures>,
): Promise<PhaseFigures> {
  for (let attempt = 1; ; attempt++) {
    log(`${name}${attempt > 1 ? ` (attempt ${attempt})` : ''}...`);
    const settings =
      attempt === 1
        ? context.settings
        : { ...context.settings, runId: `${context.settings.runId}r${attempt}` };
    if (!(await context.watch.settle(context.services))) {
      log(`${name}: the stack is still disturbed after 180 s; running anyway`);
    }
    const from = Date.now();
    const cpuBefore = readMachineCpu();
    let figures: PhaseFigures;
    try {
      figures = await run(settings);
    } catch (error) {
      figures = { ok: false, error: (error as Error).message };
    }
    // How busy the whole machine was (the stack, the phase, and anything else running on it).
    figures.machineBusyPercent = machineBusyPercent(cpuBefore, readMachineCpu());
    figures.loadAverage1m = Math.round((loadavg()[0] ?? 0) * 100) / 100;
    const disturbed = context.watch.between(from, Date.now(), context.services);
    if (disturbed.length === 0) {
      log(
        `${name}: ${figures.ok ? `${figures.eventsPerSecond} events/s` : `FAILED ${figures.error}`}`,
      );
      return figures;
    }
    log(`${name}: the stack was disturbed during the phase: ${disturbed.join('; ')}`);
    if (attempt >= 2) {
      return {
        ok: false,
        error: `the stack was disturbed during the phase (${disturbed.join('; ')}): figures withheld`,
        withheld: figures,
      };
    }
  }
}

/** The checksum gate: a target that differs from the source gets no throughput figures. */
async function checked(
  expected: Fingerprints,
  targetUrl: string,
  figures: PhaseFigures,
): Promise<PhaseFigures> {
  const diffs = compareFingerprints(expected, await fingerprintTables(targetUrl));
  return diffs.length === 0
    ? { ...figures, checksum: 'equal' }
    : { ok: false, error: `target checksum differs from the source: ${diffs.join('; ')}` };
}

/** The phases on the bench topic (the change stream): makes the topic, measures, checks. */
async function measureTopic(
  settings: BenchSettings,
  machine: MachineInfo,
  watch: StackWatch,
): Promise<BenchResult> {
  const { stack } = settings;
  log(`run ${settings.runId}: ${settings.events} events, batch size ${settings.batchSize}`);
  let topic: BenchTopic | undefined;
  const notes: string[] = [];
  const topicFrom = Date.now();
  if (settings.reuseTopic) {
    topic = loadBenchTopic(settings.reuseTopic);
    log(`measuring the topic of run ${settings.reuseTopic} again (BENCH_TOPIC)`);
    notes.push(`The topic was made by run ${settings.reuseTopic} (BENCH_TOPIC).`);
  }
  for (let attempt = 1; !topic; attempt++) {
    const s = attempt === 1 ? settings : { ...settings, runId: `${settings.runId}t${attempt}` };
    await watch.settle(['kafka', 'registry', 'connect', 'pg-source']);
    try {
      topic = await produceBenchTopic(s, log);
      saveBenchTopic(s.runId, topic);
    } catch (error) {
      if (!(error instanceof SpoiledTopicError) || attempt >= 2) throw error;
      log(`${error.message}: making the topic again under new names`);
    }
  }
  const t = topic;
  const topicDisturbed = watch.between(topicFrom, Date.now(), [
    'kafka',
    'registry',
    'connect',
    'pg-source',
  ]);
  if (topicDisturbed.length > 0) {
    notes.push(
      `The stack was disturbed while the topic was made (${topicDisturbed.join('; ')}); its content was checked complete.`,
    );
  }
  const events = t.workload.creates + t.workload.updates + t.workload.deletes;
  log(`topic ready: ${t.messages} messages, captured in ${t.captureSeconds.toFixed(1)} s`);
  const expected = await fingerprintTables(stack.sourceDatabaseUrl);
  const perSecond = (seconds: number) => round(events / seconds, 0);
  const cpuPerMillion = (cpu: number | undefined) =>
    cpu === undefined ? undefined : round((cpu * 1e6) / events, 1);

  const uses = (...services: string[]) => ({ settings, watch, services });
  /**
   * Seconds and events/s of a drain; from the first committed batch on, the rate once started
   * and joined (approximate: the first batch's events are counted, its time is not).
   */
  const rateFigures = (seconds: number, firstCommitSeconds: number | undefined) => ({
    seconds: round(seconds, 2),
    eventsPerSecond: perSecond(seconds),
    firstCommitSeconds: firstCommitSeconds === undefined ? undefined : round(firstCommitSeconds, 2),
    steadyEventsPerSecond:
      firstCommitSeconds === undefined ? undefined : perSecond(seconds - firstCommitSeconds),
  });
  const skipped: PhaseFigures = { ok: false, error: 'skipped (BENCH_PHASES)' };
  const wanted = (name: BenchPhase) => settings.phases.has(name);
  const clientCeiling = !wanted('ceiling')
    ? skipped
    : await phase('client ceiling', uses('kafka', 'registry'), async (s) => {
        const r = await runClientCeiling(s, t);
        if (r.events !== events)
          return { ok: false, error: `decoded ${r.events} events, expected ${events}` };
        return {
          ok: true,
          seconds: round(r.seconds, 2),
          eventsPerSecond: perSecond(r.seconds),
          messages: r.messages,
          cpuSecondsPerMillionEvents: cpuPerMillion(r.cpuSeconds),
        };
      });

  const floor = !wanted('floor')
    ? skipped
    : await phase('floor', uses('pg-source', 'pg-target'), async (s) => {
        const r = await runMergeFloor(s);
        return checked(expected, r.targetUrl, {
          ok: true,
          seconds: round(r.seconds, 2),
          eventsPerSecond: perSecond(r.seconds),
          rows: r.rows,
          rowsPerSecond: round(r.rows / r.seconds, 0),
          batches: r.batches,
          copySeconds: round(r.copySeconds, 2),
          mergeSeconds: round(r.mergeSeconds, 2),
          targetCpuSecondsPerMillionEvents: cpuPerMillion(r.targetCpuSeconds),
        });
      });

  const sinkReplay = !wanted('replay')
    ? skipped
    : await phase('pgferry sink replay', uses('kafka', 'registry', 'pg-target'), async (s) => {
        const r = await runSinkReplay(s, t);
        const perStage = (seconds: Record<string, number>) =>
          Object.fromEntries(Object.entries(seconds).map(([k, v]) => [k, round(v, 2)]));
        return checked(expected, r.targetUrl, {
          ok: true,
          seconds: round(r.sinkSeconds, 2),
          eventsPerSecond: perSecond(r.sinkSeconds),
          sinkStageSeconds: perStage(r.sinkStageSeconds),
          topologySeconds: round(r.topologySeconds, 2),
          topologyEventsPerSecond: perSecond(r.topologySeconds),
          topologyStageSeconds: perStage(r.stageSeconds),
          wallSeconds: round(r.wallSeconds, 2),
          wallEventsPerSecond: perSecond(r.wallSeconds),
          chunks: r.chunks,
          changesWritten: r.changesWritten,
          targetCpuSecondsPerMillionEvents: cpuPerMillion(r.targetCpuSeconds),
        });
      });

  const drain = (baselineBin?: string, processes = 1) =>
    phase(
      baselineBin
        ? 'pgferry baseline drain'
        : processes > 1
          ? `pgferry drain, ${processes} processes`
          : 'pgferry drain',
      uses('kafka', 'registry', 'pg-target'),
      async (s) => {
        const r = await runPgferryDrain(s, t, log, baselineBin, processes);
        return checked(expected, r.targetUrl, {
          ok: true,
          ...rateFigures(r.seconds, r.firstCommitSeconds),
          startupSeconds: round(r.startupSeconds, 2),
          cpuSeconds: round(r.stats?.cpuSeconds ?? Number.NaN, 2),
          cpuSecondsPerMillionEvents: cpuPerMillion(r.stats?.cpuSeconds),
          peakRssMiB: mebibytes(r.stats?.peakRssBytes),
          nodeOptions: s.pgferryNodeOptions,
          targetCpuSecondsPerMillionEvents: cpuPerMillion(r.targetCpuSeconds),
          log: r.logFile,
          ...(baselineBin ? { bin: baselineBin } : {}),
          ...(processes > 1 ? { processes } : {}),
        });
      },
    );

  const pgferry = wanted('pgferry') ? await drain() : skipped;
  const baseline =
    settings.baselineBin && wanted('pgferry') ? await drain(settings.baselineBin) : undefined;
  const pgferryScaled =
    settings.scaleOut > 1 && wanted('pgferry')
      ? await drain(undefined, settings.scaleOut)
      : undefined;

  const jdbc = (tasks = 1) =>
    phase(
      tasks > 1 ? `Debezium JDBC sink, tasks.max=${tasks}` : 'Debezium JDBC sink',
      uses('kafka', 'registry', 'pg-target'),
      async (s) => {
        const pluginPath = fetchJdbcSinkPlugin();
        log('starting the bench Connect worker');
        const worker = await startConnectWorker(s, pluginPath);
        try {
          const r = await runJdbcSink(s, t, worker, log, tasks);
          return checked(expected, r.targetUrl, {
            ok: true,
            ...rateFigures(r.seconds, r.firstCommitSeconds),
            connectorVersion: r.version,
            cpuSeconds: round(r.cpuSeconds, 2),
            cpuSecondsPerMillionEvents: cpuPerMillion(r.cpuSeconds),
            workerRssMiB: mebibytes(r.stats?.rssBytes),
            targetCpuSecondsPerMillionEvents: cpuPerMillion(r.targetCpuSeconds),
            workerPeakRssMiB: mebibytes(r.stats?.peakRssBytes),
            workerIdleRssMiB: mebibytes(r.idleRssBytes),
            workerHeapMax: settings.connectHeap,
            ...(tasks > 1 ? { tasks } : {}),
            log: worker.logFile,
          });
        } finally {
          await worker.stop();
        }
      },
    );
  const jdbcSink = settings.skipJdbcSink
    ? { ok: false, error: 'skipped (BENCH_SKIP_JDBC=1)' }
    : wanted('jdbc')
      ? await jdbc()
      : skipped;
  const jdbcScaled =
    settings.scaleOut > 1 && !settings.skipJdbcSink && wanted('jdbc')
      ? await jdbc(settings.scaleOut)
      : undefined;

  let paced: BenchResult['paced'] = null;
  if (settings.pacedRates.length > 0) {
    log(`paced mode: ${settings.pacedRates.join(', ')} rows/s, ${settings.pacedSeconds} s each`);
    const pacedServices = ['kafka', 'registry', 'connect', 'pg-source', 'pg-target'];
    await watch.settle(pacedServices);
    const from = Date.now();
    let r: PacedResult = await runPacedMode(
      settings,
      { rates: settings.pacedRates, seconds: settings.pacedSeconds },
      log,
    ).catch((error: Error) => ({
      ok: false,
      error: error.message,
      steps: [],
      highestFlatRate: null,
    }));
    const disturbed = watch.between(from, Date.now(), pacedServices);
    if (disturbed.length > 0) {
      r = {
        ok: false,
        error: `the stack was disturbed during paced mode (${disturbed.join('; ')}): figures withheld`,
        steps: [],
        highestFlatRate: null,
        withheld: r,
      };
    }
    if (!r.ok) log(`paced mode: FAILED ${r.error}`);
    paced = { ...r, secondsPerRate: settings.pacedSeconds };
  }

  notes.push(
    "events/s = the topic's change events (creates + updates + deletes; tombstones not counted) / the phase's seconds; pgferry's seconds run from spawning the process (startup and group join included) to its stored offsets reaching the topic ends; the JDBC sink's from creating the connector to its committed offsets reaching the ends.",
  );
  if (machine.debeziumSource !== (jdbcSink.connectorVersion ?? machine.debeziumSource)) {
    notes.push(
      `JDBC sink ${String(jdbcSink.connectorVersion)} (Maven Central has no debezium-connector-jdbc ${machine.debeziumSource}).`,
    );
  }
  const result: BenchResult = {
    date: new Date().toISOString(),
    runId: settings.runId,
    machine,
    settings: {
      // The topic's events (a reused topic was made with its own BENCH_EVENTS).
      events,
      batchSize: settings.batchSize,
      eventsPerTransaction: settings.eventsPerTransaction,
      seed: settings.seed,
    },
    workload: {
      creates: t.workload.creates,
      updates: t.workload.updates,
      deletes: t.workload.deletes,
      transactions: t.workload.transactions,
      seconds: round(t.workload.seconds, 2),
      messages: t.messages,
      captureSeconds: round(t.captureSeconds, 2),
      finalRows: Object.fromEntries(Object.entries(expected).map(([k, v]) => [k, v.rows])),
    },
    expected,
    phases: {
      clientCeiling,
      floor,
      sinkReplay,
      pgferry,
      jdbcSink,
      ...(baseline ? { baseline } : {}),
      ...(pgferryScaled ? { pgferryScaled } : {}),
      ...(jdbcScaled ? { jdbcScaled } : {}),
    },
    paced,
    ratios: {
      pgferryOverJdbcSink: ratio(pgferry, jdbcSink),
      pgferryOverFloor: ratio(pgferry, floor),
      pgferryOverClientCeiling: ratio(pgferry, clientCeiling),
      pgferryOverSinkReplay: ratio(pgferry, sinkReplay),
      ...(baseline ? { pgferryOverBaseline: ratio(pgferry, baseline) } : {}),
      ...(pgferryScaled && jdbcScaled
        ? { scaledPgferryOverScaledJdbcSink: ratio(pgferryScaled, jdbcScaled) }
        : {}),
    },
    notes,
  };
  return result;
}

/** Any phase on the bench topic asked for (BENCH_PHASES=copy alone makes none). */
const makesTopic = (settings: BenchSettings): boolean =>
  TOPIC_PHASES.some((p) => settings.phases.has(p));

async function main(): Promise<void> {
  const settings: BenchSettings = readBenchSettings(process.env);
  current = { settings };
  const { stack } = settings;
  const pkg = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { version: string };
  const machine = await readMachineInfo(stack, pkg.version);
  const watch = new StackWatch(stack);
  watch.start();
  try {
    const topicResult = makesTopic(settings)
      ? await measureTopic(settings, machine, watch)
      : undefined;
    const copy = settings.phases.has('copy')
      ? await runCopyPhase(settings, machine, watch, log)
      : undefined;
    const result: BenchResult | CopyOnlyResult = topicResult
      ? { ...topicResult, ...(copy ? { copy } : {}) }
      : {
          date: new Date().toISOString(),
          runId: settings.runId,
          machine,
          copy: copy as CopyBenchResult,
        };
    const json = JSON.stringify(result, null, 2);
    mkdirSync(repoPath('bench/results'), { recursive: true });
    const file = repoPath(
      `bench/results/${result.date.slice(0, 19).replace(/:/g, '')}Z${topicResult ? '' : '-copy'}.json`,
    );
    writeFileSync(file, `${json}\n`);
    const markdown = 'settings' in result ? renderMarkdown(result) : renderCopyOnlyMarkdown(result);
    process.stdout.write(`${json}\n\n${markdown}\nwritten to ${file}\n`);
  } finally {
    watch.stop();
    log(
      settings.keep
        ? 'cleaning up connectors and slots (BENCH_KEEP=1: databases, tables and topics kept)'
        : 'cleaning up',
    );
    await cleanupBenchRun(
      stack,
      settings.runId,
      settings.keep,
      settings.reuseTopic !== undefined,
      makesTopic(settings),
    );
  }
}

/** The run in progress, for an interrupted run's cleanup. */
let current: { settings: BenchSettings } | undefined;

/** Ctrl-C or SIGTERM: stop the children, remove what the run made, exit. */
function cleanUpOnSignal(signal: NodeJS.Signals): void {
  log(`${signal}: stopping and cleaning up`);
  stopChildren();
  const settings = current?.settings;
  if (!settings) process.exit(130);
  void cleanupBenchRun(
    settings.stack,
    settings.runId,
    settings.keep,
    settings.reuseTopic !== undefined,
    makesTopic(settings),
  ).finally(() => process.exit(130));
}
process.once('SIGINT', cleanUpOnSignal);
process.once('SIGTERM', cleanUpOnSignal);

main().then(
  () => process.exit(0),
  (error: Error) => {
    log(`FAILED: ${error.stack ?? error.message}`);
    process.exit(1);
  },
);

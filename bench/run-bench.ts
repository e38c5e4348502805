// `npm run bench`: makes a Debezium Avro topic from the standard source workload, then measures on
// it, one after the other, the client ceiling, the two floors, the sink replay, the Debezium JDBC
// sink in each swept configuration, the headline pair (pgferry's drain and the best JDBC
// configuration, repeated and interleaved), the concurrency curve and paced mode; then each other
// workload mix on a topic of its own (pgferry and the best JDBC configuration);
// with BENCH_PHASES=copy (alone or with others), `pgferry copy` against its alternatives
// (bench/copy-bench.ts); checks every target against the source; prints JSON and a Markdown
// summary and writes bench/results/<date>.json. Not part of CI. Settings: see bench/README.md.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { repoPath } from '../test/support/stack-env.js';
import { DEFAULT_APPLY_CONCURRENCY } from './apply-floor.js';
import { cleanupBenchRun } from './bench-cleanup.js';
import {
  type BenchResult,
  type CopyOnlyResult,
  type MixResult,
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
import { runCopyPhase } from './copy-bench.js';
import type { CopyBenchResult } from './copy-report.js';
import type { JdbcSinkConfig } from './jdbc-sink-config.js';
import { type MachineInfo, readMachineInfo } from './machine-info.js';
import { type PacedResult, runPacedMode } from './paced-lag.js';
import { PhaseRunner } from './phase-runner.js';
import { summarizeRuns } from './repeated-phase.js';
import { round } from './round.js';
import { StackWatch } from './stack-watch.js';
import { type Fingerprints, fingerprintTables } from './target-database.js';
import { SERVICES, TopicPhases } from './topic-phases.js';
import { profileTopic } from './topic-profile.js';
import { buildWorkloadMix, type MixName, type WorkloadMix } from './workload-mix.js';

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

/**
 * A topic of `mix` (made again once under new names if the connector failed meanwhile), its
 * profile read from Kafka; kept for BENCH_TOPIC when BENCH_KEEP=1.
 */
async function makeTopic(
  settings: BenchSettings,
  watch: StackWatch,
  mix: WorkloadMix,
  events: number,
  notes: string[],
): Promise<BenchTopic> {
  const services = ['kafka', 'registry', 'connect', 'pg-source'];
  const from = Date.now();
  let topic: BenchTopic | undefined;
  for (let attempt = 1; !topic; attempt++) {
    const s = attempt === 1 ? settings : { ...settings, runId: `${settings.runId}t${attempt}` };
    await watch.settle(services);
    try {
      topic = await produceBenchTopic(
        s,
        log,
        buildWorkloadMix(mix.name, `${s.runId}${mix.code}`),
        events,
      );
    } catch (error) {
      if (!(error instanceof SpoiledTopicError) || attempt >= 2) throw error;
      log(`${error.message}: making the topic again under new names`);
    }
  }
  const disturbed = watch.between(from, Date.now(), services);
  if (disturbed.length > 0) {
    notes.push(
      `The stack was disturbed while the ${mix.name} topic was made (${disturbed.join('; ')}); its content was checked complete.`,
    );
  }
  log(
    `topic ${topic.prefix} ready: ${topic.messages} messages, captured in ${topic.captureSeconds.toFixed(1)} s`,
  );
  Object.assign(topic, await profileTopic(settings, topic));
  saveBenchTopic(topic.prefix, topic);
  return topic;
}

/** The workload figures of a topic: op mix, partitions and row widths per table. */
function describeWorkload(topic: BenchTopic, expected: Fingerprints): BenchResult['workload'] {
  return {
    mix: topic.mix,
    creates: topic.workload.creates,
    updates: topic.workload.updates,
    deletes: topic.workload.deletes,
    transactions: topic.workload.transactions,
    seconds: round(topic.workload.seconds, 2),
    messages: topic.messages,
    captureSeconds: round(topic.captureSeconds, 2),
    finalRows: Object.fromEntries(Object.entries(expected).map(([k, v]) => [k, v.rows])),
    partitionsPerTopic: Object.fromEntries([...topic.ends].map(([t, parts]) => [t, parts.size])),
    ...(topic.workload.opsByTable ? { opsByTable: topic.workload.opsByTable } : {}),
    ...(topic.profile ? { tables: topic.profile } : {}),
  };
}

/** The sweep's best configuration: the highest events/s among those that passed. */
function bestJdbcConfig(
  sweep: Record<string, PhaseFigures>,
  configs: readonly JdbcSinkConfig[],
): JdbcSinkConfig | undefined {
  let best: JdbcSinkConfig | undefined;
  for (const config of configs) {
    const f = sweep[config.name];
    if (!f?.ok || f.eventsPerSecond === undefined) continue;
    if (!best || f.eventsPerSecond > (sweep[best.name]?.eventsPerSecond ?? 0)) best = config;
  }
  return best;
}

const jdbcLabel = (config: JdbcSinkConfig, mixCode = '') =>
  `jdbc${mixCode}_${config.name.replace(/-/g, '')}`;

/** A mix beside the standard one: its own topic, pgferry's drain and the best JDBC config. */
async function measureMix(
  settings: BenchSettings,
  watch: StackWatch,
  runner: PhaseRunner,
  name: MixName,
  best: JdbcSinkConfig | undefined,
  notes: string[],
): Promise<MixResult> {
  const mix = buildWorkloadMix(name, settings.runId);
  const events = Math.max(1000, Math.round(settings.mixEvents * mix.eventScale));
  const wanted = (p: BenchPhase) => settings.phases.has(p);
  let topic: BenchTopic;
  try {
    topic = await makeTopic(settings, watch, mix, events, notes);
  } catch (error) {
    log(`mix ${name}: FAILED to make its topic: ${(error as Error).message}`);
    return { description: mix.description, ok: false, error: (error as Error).message };
  }
  const expected = await fingerprintTables(settings.stack.sourceDatabaseUrl, topic.tables);
  const phases = new TopicPhases(runner, topic, expected, log);
  const pgferry = wanted('pgferry')
    ? await runner.repeated(
        `${name}: pgferry drain`,
        settings.repeatOthers,
        SERVICES.apply,
        phases.drain({ label: `pgferry${mix.code}` }),
      )
    : SKIPPED;
  const baseline =
    settings.baselineBin && wanted('pgferry')
      ? await runner.repeated(
          `${name}: pgferry baseline drain`,
          settings.repeatOthers,
          SERVICES.apply,
          phases.drain({ label: `baseline${mix.code}`, bin: settings.baselineBin }),
        )
      : undefined;
  const jdbcSink =
    best && wanted('jdbc') && !settings.skipJdbcSink
      ? await runner.repeated(
          `${name}: Debezium JDBC sink, ${best.name}`,
          settings.repeatOthers,
          SERVICES.apply,
          phases.jdbc(best, jdbcLabel(best, mix.code)),
        )
      : {
          ok: false,
          error: best ? 'skipped' : 'no JDBC sink configuration passed on the standard mix',
        };
  return {
    description: mix.description,
    ok: true,
    workload: describeWorkload(topic, expected),
    phases: { pgferry, jdbcSink, ...(baseline ? { baseline } : {}) },
    ratios: {
      pgferryOverJdbcSink: ratio(pgferry, jdbcSink),
      ...(baseline ? { pgferryOverBaseline: ratio(pgferry, baseline) } : {}),
    },
  };
}

const SKIPPED: PhaseFigures = { ok: false, error: 'skipped (BENCH_PHASES)' };

/** The phases on the bench topic (the change stream): makes the topic, measures, checks. */
async function measureTopic(
  settings: BenchSettings,
  machine: MachineInfo,
  watch: StackWatch,
): Promise<BenchResult> {
  const { stack } = settings;
  log(`run ${settings.runId}: ${settings.events} events, batch size ${settings.batchSize}`);
  const notes: string[] = [];
  let topic: BenchTopic;
  if (settings.reuseTopic) {
    topic = loadBenchTopic(settings.reuseTopic);
    log(`measuring the topic of run ${settings.reuseTopic} again (BENCH_TOPIC)`);
    notes.push(`The topic was made by run ${settings.reuseTopic} (BENCH_TOPIC).`);
    if (!topic.profile || !topic.changeEnds)
      Object.assign(topic, await profileTopic(settings, topic));
  } else {
    topic = await makeTopic(
      settings,
      watch,
      buildWorkloadMix('standard', settings.runId),
      settings.events,
      notes,
    );
  }
  const t = topic;
  const expected = await fingerprintTables(stack.sourceDatabaseUrl, t.tables);
  const runner = new PhaseRunner(settings, watch, log);
  const phases = new TopicPhases(runner, t, expected, log);
  const others = settings.repeatOthers;
  const wanted = (name: BenchPhase) => settings.phases.has(name);

  const clientCeiling = wanted('ceiling')
    ? await runner.repeated('client ceiling', others, SERVICES.kafka, phases.ceiling)
    : SKIPPED;
  const finalRowsCopyFloor = wanted('floor')
    ? await runner.repeated('final-rows COPY floor', others, SERVICES.target, phases.finalRowsFloor)
    : SKIPPED;
  const applyFloor = wanted('floor')
    ? await runner.repeated(
        `apply floor (APPLY_CONCURRENCY ${DEFAULT_APPLY_CONCURRENCY})`,
        others,
        SERVICES.apply,
        phases.applyFloor,
      )
    : SKIPPED;
  const sinkReplay = wanted('replay')
    ? await runner.repeated('pgferry sink replay', others, SERVICES.apply, phases.sinkReplay)
    : SKIPPED;

  // The sweep: every JDBC configuration once (BENCH_REPEAT_OTHERS); the best is the opponent.
  const runJdbc = wanted('jdbc') && !settings.skipJdbcSink;
  const jdbcSweep: Record<string, PhaseFigures> = {};
  if (runJdbc) {
    for (const config of settings.jdbcConfigs) {
      jdbcSweep[config.name] = await runner.repeated(
        `Debezium JDBC sink, ${config.name}`,
        others,
        SERVICES.apply,
        phases.jdbc(config, jdbcLabel(config)),
      );
    }
  }
  const best = runJdbc ? bestJdbcConfig(jdbcSweep, settings.jdbcConfigs) : undefined;

  // The headline pair, interleaved (pgferry, JDBC, pgferry, ...) so that a slow stretch of the
  // shared machine weighs on both; the sweep's run of the best config is its first repetition.
  const pgferryRuns: PhaseFigures[] = [];
  const jdbcRuns: PhaseFigures[] =
    best && jdbcSweep[best.name]?.runs === undefined ? [jdbcSweep[best.name] as PhaseFigures] : [];
  for (let i = 1; i <= settings.repeat; i++) {
    if (wanted('pgferry')) {
      pgferryRuns.push(
        await runner.phase(
          `pgferry drain (run ${i} of ${settings.repeat})`,
          SERVICES.apply,
          phases.drain({ label: 'pgferry' }),
          runner.runIdOf(i),
        ),
      );
    }
    if (best && jdbcRuns.length < settings.repeat) {
      jdbcRuns.push(
        await runner.phase(
          `Debezium JDBC sink, ${best.name} (run ${jdbcRuns.length + 1} of ${settings.repeat})`,
          SERVICES.apply,
          phases.jdbc(best, jdbcLabel(best)),
          runner.runIdOf(jdbcRuns.length + 1),
        ),
      );
    }
  }
  const pgferry = pgferryRuns.length > 0 ? summarizeRuns(pgferryRuns) : SKIPPED;
  const jdbcSink = settings.skipJdbcSink
    ? { ok: false, error: 'skipped (BENCH_SKIP_JDBC=1)' }
    : !wanted('jdbc')
      ? SKIPPED
      : best
        ? { ...summarizeRuns(jdbcRuns), config: best.name }
        : { ok: false, error: 'no JDBC sink configuration passed' };
  const jdbcDefault = jdbcSweep.default ?? SKIPPED;

  const baseline =
    settings.baselineBin && wanted('pgferry')
      ? await runner.repeated(
          'pgferry baseline drain',
          settings.repeat,
          SERVICES.apply,
          phases.drain({ label: 'baseline', bin: settings.baselineBin }),
        )
      : undefined;

  // The concurrency curve: the same drain with APPLY_CONCURRENCY=n in the child's environment.
  let pgferryConcurrency: Record<string, PhaseFigures> | undefined;
  if (wanted('pgferry') && settings.applyConcurrencies.length > 0) {
    pgferryConcurrency = {};
    for (const n of settings.applyConcurrencies) {
      pgferryConcurrency[String(n)] = await runner.repeated(
        `pgferry drain, APPLY_CONCURRENCY=${n}`,
        others,
        SERVICES.apply,
        phases.drain({ label: `pgferryc${n}`, applyConcurrency: n }),
      );
    }
  }

  const pgferryScaled =
    settings.scaleOut > 1 && wanted('pgferry')
      ? await runner.phase(
          `pgferry drain, ${settings.scaleOut} processes`,
          SERVICES.apply,
          phases.drain({ label: `pgferryx${settings.scaleOut}`, processes: settings.scaleOut }),
        )
      : undefined;
  const jdbcScaled =
    settings.scaleOut > 1 && best
      ? await runner.phase(
          `Debezium JDBC sink, ${best.name}, tasks.max=${settings.scaleOut}`,
          SERVICES.apply,
          phases.jdbc(best, `${jdbcLabel(best)}x${settings.scaleOut}`, settings.scaleOut),
        )
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

  const mixes: Record<string, MixResult> = {};
  for (const name of settings.mixes) {
    if (name === 'standard') continue;
    mixes[name] = await measureMix(settings, watch, runner, name, best, notes);
  }

  notes.push(
    "events/s = the topic's change events (creates + updates + deletes; tombstones not counted) / the phase's seconds; pgferry's seconds run from spawning the process (startup and group join included) to its stored offsets reaching the topic ends; the JDBC sink's from creating the connector to its committed offsets reaching the ends; the floors' are their timed applies only.",
  );
  if (settings.repeat > 1) {
    notes.push(
      `The headline pair ran ${settings.repeat} times, interleaved: events/s is the median, spread.eventsPerSecond the median, min and max; the other figures are the median run's. The best JDBC configuration's first run is its sweep run (chosen as the best of the sweep: if anything, that favours the JDBC sink).`,
    );
  }
  if (jdbcSink.connectorVersion && machine.debeziumSource !== jdbcSink.connectorVersion) {
    notes.push(
      `JDBC sink ${String(jdbcSink.connectorVersion)} (Maven Central has no debezium-connector-jdbc ${machine.debeziumSource}).`,
    );
  }
  return {
    date: new Date().toISOString(),
    runId: settings.runId,
    machine,
    settings: {
      // The topic's events (a reused topic was made with its own BENCH_EVENTS).
      events: phases.events,
      batchSize: settings.batchSize,
      eventsPerTransaction: settings.eventsPerTransaction,
      seed: settings.seed,
      repeat: settings.repeat,
      repeatOthers: settings.repeatOthers,
      applyConcurrency: DEFAULT_APPLY_CONCURRENCY,
      connectHeap: settings.connectHeap,
      jdbcConfigs: settings.jdbcConfigs.map((c) => c.name),
      mixEvents: settings.mixEvents,
    },
    workload: describeWorkload(t, expected),
    expected,
    phases: {
      clientCeiling,
      finalRowsCopyFloor,
      applyFloor,
      sinkReplay,
      pgferry,
      jdbcSink,
      jdbcSweep,
      ...(baseline ? { baseline } : {}),
      ...(pgferryConcurrency ? { pgferryConcurrency } : {}),
      ...(pgferryScaled ? { pgferryScaled } : {}),
      ...(jdbcScaled ? { jdbcScaled } : {}),
    },
    paced,
    mixes,
    ratios: {
      pgferryOverJdbcSink: ratio(pgferry, jdbcSink),
      pgferryOverJdbcDefault: ratio(pgferry, jdbcDefault),
      pgferryOverApplyFloor: ratio(pgferry, applyFloor),
      pgferryOverFinalRowsCopyFloor: ratio(pgferry, finalRowsCopyFloor),
      pgferryOverClientCeiling: ratio(pgferry, clientCeiling),
      pgferryOverSinkReplay: ratio(pgferry, sinkReplay),
      ...(baseline ? { pgferryOverBaseline: ratio(pgferry, baseline) } : {}),
      ...(pgferryScaled && jdbcScaled
        ? { scaledPgferryOverScaledJdbcSink: ratio(pgferryScaled, jdbcScaled) }
        : {}),
    },
    notes,
  };
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
      makesTopic(settings),
      settings.pacedRates.length > 0,
    );
  }
}

/** The run in progress, for an interrupted run's cleanup. */
let current: { settings: BenchSettings } | undefined;

let cleaningUp = false;

/**
 * Ctrl-C or SIGTERM: stop the children, remove what the run made, exit. Repeats are ignored
 * while it cleans up: Ctrl-C signals the whole process group, and `npm run` / `tsx` pass it on
 * too, so the bench gets it two or three times; taken by Node's default action, the second one
 * killed the cleanup half-way (a connector and its replication slot were left behind).
 */
function cleanUpOnSignal(signal: NodeJS.Signals): void {
  if (cleaningUp) {
    log(`${signal}: still cleaning up (SIGKILL to leave at once)`);
    return;
  }
  cleaningUp = true;
  log(`${signal}: stopping and cleaning up`);
  stopChildren();
  const settings = current?.settings;
  if (!settings) process.exit(130);
  void cleanupBenchRun(
    settings.stack,
    settings.runId,
    settings.keep,
    makesTopic(settings),
    settings.pacedRates.length > 0,
  ).finally(() => process.exit(130));
}
process.on('SIGINT', cleanUpOnSignal);
process.on('SIGTERM', cleanUpOnSignal);

main().then(
  () => process.exit(0),
  (error: Error) => {
    log(`FAILED: ${error.stack ?? error.message}`);
    process.exit(1);
  },
);

// `npm run bench`: makes one Debezium Avro topic from a source workload, then measures on it, one
// after the other, the client ceiling, the floor, the pgferry drain and the Debezium JDBC sink;
// checks every target against the source; prints JSON and a Markdown summary and writes
// bench/results/<date>.json. Not part of CI. Settings: see bench/README.md.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { repoPath } from '../test/support/stack-env.js';
import {
  type BenchResult,
  mebibytes,
  type PhaseFigures,
  ratio,
  renderMarkdown,
  round,
} from './bench-report.js';
import { type BenchSettings, readBenchSettings } from './bench-settings.js';
import { type BenchTopic, produceBenchTopic } from './bench-topic.js';
import { runClientCeiling } from './client-ceiling.js';
import { fetchJdbcSinkPlugin, startConnectWorker } from './connect-worker.js';
import { runJdbcSink } from './jdbc-sink-run.js';
import { createBenchKafka } from './kafka-topics.js';
import { readMachineInfo } from './machine-info.js';
import { runMergeFloor } from './merge-floor.js';
import { type PacedResult, runPacedMode } from './paced-lag.js';
import { runPgferryDrain } from './pgferry-drain.js';
import { dropSourceTables } from './source-workload.js';
import {
  compareFingerprints,
  dropTargetDatabase,
  type Fingerprints,
  fingerprintTables,
} from './target-database.js';

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

/** Runs a phase; an error becomes a failed phase (the others still run). */
async function phase(name: string, run: () => Promise<PhaseFigures>): Promise<PhaseFigures> {
  log(`${name}...`);
  try {
    const figures = await run();
    log(
      `${name}: ${figures.ok ? `${figures.eventsPerSecond} events/s` : `FAILED ${figures.error}`}`,
    );
    return figures;
  } catch (error) {
    const message = (error as Error).message;
    log(`${name}: FAILED ${message}`);
    return { ok: false, error: message };
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

async function main(): Promise<void> {
  const settings: BenchSettings = readBenchSettings(process.env);
  const { stack } = settings;
  const pkg = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { version: string };
  const machine = await readMachineInfo(stack, pkg.version);
  log(`run ${settings.runId}: ${settings.events} events, batch size ${settings.batchSize}`);
  const databases: string[] = [];
  let topic: BenchTopic | undefined;
  const notes: string[] = [];
  try {
    topic = await produceBenchTopic(settings, log);
    const t = topic;
    const events = t.workload.creates + t.workload.updates + t.workload.deletes;
    log(`topic ready: ${t.messages} messages, captured in ${t.captureSeconds.toFixed(1)} s`);
    const expected = await fingerprintTables(stack.sourceDatabaseUrl);
    const perSecond = (seconds: number) => round(events / seconds, 0);
    const cpuPerMillion = (cpu: number | undefined) =>
      cpu === undefined ? undefined : round((cpu * 1e6) / events, 1);

    const clientCeiling = await phase('client ceiling', async () => {
      const r = await runClientCeiling(settings, t);
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

    const floor = await phase('floor', async () => {
      const r = await runMergeFloor(settings);
      databases.push(r.database);
      return checked(expected, r.targetUrl, {
        ok: true,
        seconds: round(r.seconds, 2),
        eventsPerSecond: perSecond(r.seconds),
        rows: r.rows,
        rowsPerSecond: round(r.rows / r.seconds, 0),
        batches: r.batches,
        copySeconds: round(r.copySeconds, 2),
        mergeSeconds: round(r.mergeSeconds, 2),
      });
    });

    const pgferry = await phase('pgferry drain', async () => {
      const r = await runPgferryDrain(settings, t, log);
      databases.push(r.database);
      return checked(expected, r.targetUrl, {
        ok: true,
        seconds: round(r.seconds, 2),
        eventsPerSecond: perSecond(r.seconds),
        startupSeconds: round(r.startupSeconds, 2),
        cpuSeconds: round(r.stats?.cpuSeconds ?? Number.NaN, 2),
        cpuSecondsPerMillionEvents: cpuPerMillion(r.stats?.cpuSeconds),
        peakRssMiB: mebibytes(r.stats?.peakRssBytes),
        log: r.logFile,
      });
    });

    const jdbcSink = settings.skipJdbcSink
      ? { ok: false, error: 'skipped (BENCH_SKIP_JDBC=1)' }
      : await phase('Debezium JDBC sink', async () => {
          const pluginPath = fetchJdbcSinkPlugin();
          log('starting the bench Connect worker');
          const worker = await startConnectWorker(settings, pluginPath);
          try {
            const r = await runJdbcSink(settings, t, worker, log);
            databases.push(r.database);
            return checked(expected, r.targetUrl, {
              ok: true,
              seconds: round(r.seconds, 2),
              eventsPerSecond: perSecond(r.seconds),
              connectorVersion: r.version,
              firstCommitSeconds:
                r.firstCommitSeconds === undefined ? undefined : round(r.firstCommitSeconds, 2),
              cpuSeconds: round(r.cpuSeconds, 2),
              cpuSecondsPerMillionEvents: cpuPerMillion(r.cpuSeconds),
              workerRssMiB: mebibytes(r.stats?.rssBytes),
              workerPeakRssMiB: mebibytes(r.stats?.peakRssBytes),
              workerIdleRssMiB: mebibytes(r.idleRssBytes),
              workerHeapMax: settings.connectHeap,
              log: worker.logFile,
            });
          } finally {
            await worker.stop();
          }
        });

    let paced: BenchResult['paced'] = null;
    if (settings.pacedRates.length > 0) {
      log(`paced mode: ${settings.pacedRates.join(', ')} rows/s, ${settings.pacedSeconds} s each`);
      const r: PacedResult = await runPacedMode(
        settings,
        { rates: settings.pacedRates, seconds: settings.pacedSeconds },
        databases,
        log,
      ).catch((error: Error) => ({
        ok: false,
        error: error.message,
        steps: [],
        highestFlatRate: null,
      }));
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
        events: settings.events,
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
      phases: { clientCeiling, floor, pgferry, jdbcSink },
      paced,
      ratios: {
        pgferryOverJdbcSink: ratio(pgferry, jdbcSink),
        pgferryOverFloor: ratio(pgferry, floor),
        pgferryOverClientCeiling: ratio(pgferry, clientCeiling),
      },
      notes,
    };
    const json = JSON.stringify(result, null, 2);
    mkdirSync(repoPath('bench/results'), { recursive: true });
    const file = repoPath(`bench/results/${result.date.slice(0, 19).replace(/:/g, '')}Z.json`);
    writeFileSync(file, `${json}\n`);
    process.stdout.write(`${json}\n\n${renderMarkdown(result)}\nwritten to ${file}\n`);
  } finally {
    if (!settings.keep) {
      log('cleaning up (BENCH_KEEP=1 keeps the databases, tables and topics)');
      for (const db of databases) await dropTargetDatabase(stack, db).catch(() => undefined);
      await dropSourceTables(stack.sourceDatabaseUrl).catch(() => undefined);
      if (topic) {
        const admin = createBenchKafka(stack.kafkaBootstrap, 'pgferry-bench-cleanup').admin();
        await admin.connect();
        const runTopics = (await admin.listTopics()).filter((name) =>
          name.includes(settings.runId),
        );
        await admin.deleteTopics({ topics: runTopics }).catch(() => undefined);
        await admin
          .deleteGroups([
            `${settings.runId}-paced`,
            `${settings.runId}-pgferry`,
            `${settings.runId}-ceiling`,
            `connect-${settings.runId}-jdbc`,
          ])
          .catch(() => undefined);
        await admin.disconnect();
      }
    }
  }
}

main().then(
  () => process.exit(0),
  (error: Error) => {
    log(`FAILED: ${error.stack ?? error.message}`);
    process.exit(1);
  },
);

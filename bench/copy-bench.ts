// The copy phase (BENCH_PHASES=copy): `pgferry copy` against its alternatives on one data set, in
// one run, one after the other into the same emptied target: pgferry copy at several --jobs, the
// single-stream psql pipe, pg_dump -j | pg_restore -j, the cost of secondary indexes during the
// copy against building them afterwards, and the Debezium snapshot path through Kafka and
// `pgferry run`. Every target must equal the source afterwards (row counts and md5s).
import { loadavg } from 'node:os';
import pg from 'pg';
import type { BenchSettings } from './bench-settings.js';
import {
  pgBinDir,
  runDumpRestore,
  runPgferryCopy,
  runPsqlPipe,
  sourceSide,
  targetSide,
} from './copy-competitors.js';
import {
  COPY_SCHEMA,
  type CopyFingerprint,
  type CopyTable,
  compareCopyFingerprints,
  createCopyTarget,
  createSecondaryIndexes,
  createSourceDataset,
  deferSecondaryIndexes,
  dropSecondaryIndexes,
  emptyTarget,
  fingerprintCopyTables,
  readDatasetFacts,
  SECONDARY_INDEXES,
  snapshotSubset,
} from './copy-dataset.js';
import { runDebeziumSnapshot } from './copy-debezium.js';
import {
  type CopyBenchResult,
  type CopyStepFigures,
  type CopyTarget,
  targetRatio,
} from './copy-report.js';
import type { MachineInfo } from './machine-info.js';
import {
  machineBusyPercent,
  readMachineCpu,
  readProcessTreeCpuSeconds,
  stackServicePid,
} from './process-stats.js';
import { round } from './round.js';
import type { StackWatch } from './stack-watch.js';

const MiB = 1024 * 1024;
const round2 = (value: number) => round(value, 2);

interface StepRun {
  figures: CopyStepFigures;
  /** pgferry copy's deferred index builds (after the rows, inside its wall time). */
  indexSeconds?: number;
  indexSecondsEach?: Record<string, number>;
  /** The target to check against the source, and which tables (default: all). */
  check?: { url: string; tables?: readonly CopyTable[] };
}

export async function runCopyPhase(
  settings: BenchSettings,
  machine: MachineInfo,
  watch: StackWatch,
  log: (line: string) => void,
): Promise<CopyBenchResult> {
  const c = settings.copy;
  const { stack, runId } = settings;
  const result: CopyBenchResult = {
    ok: false,
    settings: {
      rows: c.rows,
      smallTables: c.smallTables,
      smallRows: c.smallRows,
      toastEvery: c.toastEvery,
      jobs: c.jobs,
      cores: c.cores,
      chunkRows: c.chunkRows ?? 'pgferry default (100000)',
      dumpCompress: c.dumpCompress,
      debezium: c.debezium,
      debeziumShare: c.debeziumShare,
      nodeOptions: c.nodeOptions || '(none)',
    },
    competitors: { pgferryCopy: {} },
    ratios: {
      copyOverDebeziumSnapshot: { value: null, target: '>= 10x', met: null },
      jobs1OverPsqlPipe: { value: null, target: '>= 0.9x', met: null },
      coresOverDumpRestore: { value: null, target: '> 1x (faster)', met: null },
      peakRssMiB: { value: null, target: '< 200 MiB', met: null },
    },
    scaling: { curve: [], note: '' },
    notes: [],
  };
  const slot = `${runId}_copyslot`;
  const source = new pg.Client({ connectionString: stack.sourceDatabaseUrl });
  // A source restart (other sessions' fault tests) must fail a query, not crash the run.
  source.on('error', () => undefined);
  await source.connect();
  try {
    await watch.settle(['pg-source', 'pg-target']);
    log(
      `copy: data set: ${c.rows} rows (narrow + wide), ${c.smallTables} small tables of ${c.smallRows} rows`,
    );
    const started = performance.now();
    const tables = await createSourceDataset(stack, runId, c, log);
    log(`copy: data set made in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    const facts = await readDatasetFacts(stack.sourceDatabaseUrl, tables);
    const expected = await fingerprintCopyTables(stack.sourceDatabaseUrl, tables);
    const totalRows = facts.reduce((n, f) => n + f.rows, 0);
    const narrow = facts.find((f) => f.table === 'narrow');
    const wide = facts.find((f) => f.table === 'wide');
    const small = facts.filter((f) => f.table.startsWith('small_'));
    const sourceBytes = facts.reduce((n, f) => n + f.totalBytes, 0);
    result.dataset = {
      schema: COPY_SCHEMA,
      tables: tables.length,
      rows: totalRows,
      copyBytes: null,
      sourceBytes,
      narrow: {
        rows: narrow?.rows ?? 0,
        totalBytes: narrow?.totalBytes ?? 0,
        toastBytes: narrow?.toastBytes ?? 0,
      },
      wide: {
        rows: wide?.rows ?? 0,
        totalBytes: wide?.totalBytes ?? 0,
        toastBytes: wide?.toastBytes ?? 0,
        rowsAboveToastThreshold: Math.floor((wide?.rows ?? 0) / c.toastEvery),
      },
      small: {
        tables: small.length,
        rowsEach: c.smallRows,
        totalBytes: small.reduce((n, f) => n + f.totalBytes, 0),
      },
    };
    const dataset = result.dataset;
    /** pgferry's binary COPY bytes per table (once it has run): MB/s of a subset of the tables. */
    const copyBytesByTable = new Map<string, number>();
    const target = await createCopyTarget(stack, `${runId}_copy`, tables);
    // Rows/s and MB/s: every competitor moves the same rows; MB are pgferry's binary COPY bytes
    // (the source's table sizes until pgferry has run).
    const perSecond = (seconds: number, rows = totalRows, bytes?: number) => ({
      seconds: round(seconds, 2),
      rows,
      rowsPerSecond: round(rows / seconds, 0),
      mbPerSecond: round((bytes ?? dataset.copyBytes ?? sourceBytes) / 1e6 / seconds, 1),
    });

    const services = ['pg-source', 'pg-target'];
    /**
     * One measured step: settle, prepare (untimed), run with the machine's and both clusters' CPU
     * read around it, then the checksum. A step during which a service restarted or went away
     * (other sessions' fault tests) runs again once; disturbed again, its figures are withheld.
     */
    const measure = async (
      name: string,
      step: {
        services?: string[];
        prepare?: () => Promise<void>;
        run: (attempt: number) => Promise<StepRun>;
      },
    ): Promise<CopyStepFigures> => {
      const uses = step.services ?? services;
      for (let attempt = 1; ; attempt++) {
        log(`copy: ${name}${attempt > 1 ? ` (attempt ${attempt})` : ''}...`);
        await watch.settle(uses);
        let figures: CopyStepFigures;
        const from = Date.now();
        try {
          await step.prepare?.();
          const machineBefore = readMachineCpu();
          const sourceBefore = readProcessTreeCpuSeconds(stackServicePid('pg-source'));
          const targetBefore = readProcessTreeCpuSeconds(stackServicePid('pg-target'));
          const run = await step.run(attempt);
          figures = {
            ...run.figures,
            sourceServerCpuSeconds: round(
              readProcessTreeCpuSeconds(stackServicePid('pg-source')) - sourceBefore,
              1,
            ),
            targetServerCpuSeconds: round(
              readProcessTreeCpuSeconds(stackServicePid('pg-target')) - targetBefore,
              1,
            ),
            machineBusyPercent: machineBusyPercent(machineBefore, readMachineCpu()),
            loadAverage1m: round(loadavg()[0] ?? 0, 2),
          };
          if (run.check) {
            const checked = run.check.tables ?? tables;
            // A subset of rows (maxKey): its own fingerprint on the source.
            let want: Record<string, CopyFingerprint> = {};
            if (checked.some((t) => t.maxKey !== undefined))
              want = await fingerprintCopyTables(stack.sourceDatabaseUrl, checked);
            else for (const t of checked) want[t.name] = expected[t.name] as CopyFingerprint;
            const diffs = compareCopyFingerprints(
              want,
              await fingerprintCopyTables(run.check.url, checked),
            );
            figures =
              diffs.length === 0
                ? { ...figures, checksum: 'equal' }
                : {
                    ok: false,
                    error: `target differs from the source: ${diffs.join('; ')}`,
                  };
          }
        } catch (error) {
          figures = { ok: false, error: (error as Error).message };
        }
        const disturbed = watch.between(from, Date.now(), uses);
        if (disturbed.length === 0) {
          log(
            `copy: ${name}: ${figures.ok ? `${figures.seconds} s, ${figures.rowsPerSecond} rows/s` : `FAILED ${figures.error}`}`,
          );
          return figures;
        }
        log(`copy: ${name}: the stack was disturbed: ${disturbed.join('; ')}`);
        if (attempt >= 2)
          return {
            ok: false,
            error: `the stack was disturbed during the step (${disturbed.join('; ')}): figures withheld`,
            withheld: figures,
          };
      }
    };

    const empty = () => emptyTarget(stack, target.adminUrl, tables);
    const pgferryCopy = async (name: string, jobs: number): Promise<StepRun> => {
      const r = await runPgferryCopy({
        stack,
        runId,
        name,
        database: `${runId}_copy`,
        slot,
        tables,
        jobs,
        chunkRows: c.chunkRows,
        nodeOptions: c.nodeOptions,
        timeoutMs: settings.drainTimeoutMs,
      });
      dataset.copyBytes ??= r.report.bytes;
      for (const t of r.report.tables)
        if (!copyBytesByTable.has(t.table)) copyBytesByTable.set(t.table, t.bytes);
      dataset.formats ??= Object.fromEntries(
        ['narrow', 'wide', 'small_001'].map((t) => [
          t,
          r.report.tables.find((x) => x.table === `${COPY_SCHEMA}.${t}`)?.format ?? '?',
        ]),
      );
      const built = (r.report.indexes ?? []).filter((x) => x.state === 'built');
      return {
        ...(built.length > 0
          ? {
              indexSeconds: r.report.indexSeconds,
              indexSecondsEach: Object.fromEntries(built.map((x) => [x.index, round2(x.seconds)])),
            }
          : {}),
        figures: {
          ok: true,
          ...perSecond(r.seconds, r.report.rows, r.report.bytes),
          copySeconds: r.report.seconds,
          copyRowsPerSecond: r.report.rowsPerSecond,
          plannedAfterSeconds:
            r.plannedAfterSeconds === undefined ? undefined : round(r.plannedAfterSeconds, 2),
          jobs,
          chunks: r.report.tables.reduce((n, t) => n + t.chunksTotal, 0),
          clientCpuSeconds: round(r.cpuSeconds, 1),
          peakRssMiB: r.peakRssBytes === undefined ? undefined : round(r.peakRssBytes / MiB, 1),
          log: r.logFile,
        },
        check: { url: target.url },
      };
    };

    const wantsCopy = c.steps.has('pgferry') || c.steps.has('indexes');
    if (wantsCopy) {
      log(`copy: creating the slot ${slot} (waits for transactions running on the source)`);
      await source.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
    }

    if (c.steps.has('pgferry')) {
      for (const jobs of c.jobs) {
        result.competitors.pgferryCopy[`jobs=${jobs}`] = await measure(
          `pgferry copy --jobs ${jobs}`,
          { prepare: empty, run: () => pgferryCopy(`copy-pgferry-j${jobs}`, jobs) },
        );
      }
    }

    const binDir = pgBinDir(machine.postgres.source);
    if (pgBinDir(machine.postgres.target) !== binDir)
      result.notes.push('Source and target run different major versions; the source one is used.');
    const sides = { source: sourceSide(stack), target: targetSide(stack, `${runId}_copy`) };
    if (c.steps.has('psql')) {
      result.competitors.psqlPipe = await measure('psql \\copy pipe', {
        prepare: empty,
        run: async () => {
          const r = await runPsqlPipe({
            runId,
            binDir,
            ...sides,
            tables,
            timeoutMs: settings.drainTimeoutMs,
          });
          const smallSeconds = tables
            .filter((t) => t.kind === 'small')
            .reduce((n, t) => n + (r.tableSeconds.get(t.name) ?? 0), 0);
          return {
            figures: {
              ok: true,
              ...perSecond(r.seconds),
              clientCpuSeconds: round(r.cpuSeconds, 1),
              narrowSeconds: round(r.tableSeconds.get('narrow') ?? Number.NaN, 2),
              wideSeconds: round(r.tableSeconds.get('wide') ?? Number.NaN, 2),
              smallTablesSeconds: round(smallSeconds, 2),
              log: r.logFile,
            },
            check: { url: target.url },
          };
        },
      });
    }
    if (c.steps.has('dump')) {
      result.competitors.dumpRestore = await measure('pg_dump -j | pg_restore -j', {
        prepare: empty,
        run: async () => {
          const r = await runDumpRestore({
            runId,
            binDir,
            ...sides,
            jobs: c.cores,
            compress: c.dumpCompress,
            timeoutMs: settings.drainTimeoutMs,
          });
          return {
            figures: {
              ok: true,
              ...perSecond(r.dump.seconds + r.restore.seconds),
              dumpSeconds: round(r.dump.seconds, 2),
              restoreSeconds: round(r.restore.seconds, 2),
              dumpBytes: r.dumpBytes,
              jobs: c.cores,
              clientCpuSeconds: round(r.dump.cpuSeconds + r.restore.cpuSeconds, 1),
              dumpCpuSeconds: round(r.dump.cpuSeconds, 1),
              restoreCpuSeconds: round(r.restore.cpuSeconds, 1),
              log: r.restore.logFile,
            },
            check: { url: target.url },
          };
        },
      });
    }

    if (c.steps.has('indexes')) {
      const jobs = c.cores;
      const intoIndexedTables: CopyStepFigures[] = [];
      const deferred: CopyStepFigures[] = [];
      // Alternated rounds: the machine's noise (other sessions) falls on both variants alike.
      for (let pass = 1; pass <= c.indexRounds; pass++) {
        const of = c.indexRounds > 1 ? ` (round ${pass} of ${c.indexRounds})` : '';
        intoIndexedTables.push(
          await measure(`pgferry copy into tables with secondary indexes${of}`, {
            prepare: async () => {
              await dropSecondaryIndexes(target.url);
              await empty();
              await createSecondaryIndexes(target.url);
            },
            run: () => pgferryCopy(`copy-pgferry-indexed${pass}`, jobs),
          }),
        );
        deferred.push(
          await measure(`schema-sync --defer-indexes, then pgferry copy (builds them)${of}`, {
            prepare: async () => {
              await dropSecondaryIndexes(target.url);
              await empty();
              await deferSecondaryIndexes(target.url);
            },
            run: async () => {
              const copied = await pgferryCopy(`copy-pgferry-deferred${pass}`, jobs);
              const indexSeconds = copied.indexSeconds ?? Number.NaN;
              return {
                ...copied,
                figures: {
                  ...copied.figures,
                  copyWallSeconds: round2((copied.figures.seconds ?? Number.NaN) - indexSeconds),
                  indexSeconds: round2(indexSeconds),
                  indexSecondsEach: copied.indexSecondsEach ?? {},
                },
              };
            },
          }),
        );
      }
      await dropSecondaryIndexes(target.url).catch(() => undefined);
      const best = (runs: CopyStepFigures[]) =>
        runs
          .filter((f) => f.ok && f.seconds !== undefined)
          .sort((a, b) => (a.seconds ?? 0) - (b.seconds ?? 0))[0];
      const indexed = best(intoIndexedTables);
      const later = best(deferred);
      const saves = indexed && later ? (indexed.seconds ?? 0) - (later.seconds ?? 0) : null;
      result.indexes = {
        indexes: SECONDARY_INDEXES.map((i) => `${i.table} (${i.columns})`),
        jobs,
        rounds: c.indexRounds,
        intoIndexedTables,
        deferred,
        bestIntoIndexedSeconds: indexed?.seconds ?? null,
        bestDeferredSeconds: later?.seconds ?? null,
        bestDeferredCopySeconds: (later?.copyWallSeconds as number | undefined) ?? null,
        bestDeferredIndexSeconds: (later?.indexSeconds as number | undefined) ?? null,
        deferSavesSeconds: saves === null ? null : round2(saves),
        deferSavesPercent:
          saves === null || !indexed?.seconds ? null : round((100 * saves) / indexed.seconds, 1),
      };
    }

    if (wantsCopy) await dropSlot(source, slot);

    if (c.steps.has('debezium') && c.debezium !== 'off') {
      const subset = snapshotSubset(tables, c.debezium, c.debeziumShare);
      const subsetRows = subset.reduce((n, t) => n + t.rows, 0);
      // Bytes of the subset: pgferry's per table (or the source's sizes), pro rata for a share.
      const subsetBytes = subset.reduce((n, t) => {
        const whole =
          copyBytesByTable.get(`${COPY_SCHEMA}.${t.name}`) ??
          facts.find((f) => f.table === t.name)?.totalBytes ??
          0;
        const all = tables.find((x) => x.name === t.name)?.rows ?? t.rows;
        return n + (whole * t.rows) / all;
      }, 0);
      result.competitors.debeziumSnapshot = await measure('Debezium snapshot path', {
        services: ['kafka', 'registry', 'connect', 'pg-source', 'pg-target'],
        run: async (attempt) => {
          const s = attempt === 1 ? settings : { ...settings, runId: `${runId}r${attempt}` };
          const r = await runDebeziumSnapshot(s, subset, log);
          return {
            figures: {
              ok: true,
              ...perSecond(r.seconds, subsetRows, subsetBytes),
              tables: subset.length,
              connectorRunningSeconds: round(r.connectorRunningSeconds, 2),
              firstRowSeconds:
                r.firstRowSeconds === undefined ? undefined : round(r.firstRowSeconds, 2),
              // The path's client side: pgferry run, the Connect worker and the broker (these
              // two serve other sessions' connectors and tests too).
              clientCpuSeconds: round(
                (r.pgferry?.cpuSeconds ?? Number.NaN) + r.connectCpuSeconds + r.kafkaCpuSeconds,
                1,
              ),
              pgferryCpuSeconds: round(r.pgferry?.cpuSeconds ?? Number.NaN, 1),
              pgferryPeakRssMiB: round((r.pgferry?.peakRssBytes ?? Number.NaN) / MiB, 1),
              connectCpuSeconds: round(r.connectCpuSeconds, 1),
              kafkaCpuSeconds: round(r.kafkaCpuSeconds, 1),
              log: r.logFile,
            },
            check: { url: r.targetUrl, tables: subset },
          };
        },
      });
      if (c.debezium === 'narrow' || c.debeziumShare < 1)
        result.notes.push(
          `The Debezium snapshot path ran on a subset: ${c.debezium === 'narrow' ? 'the narrow table only' : 'every table'}${c.debeziumShare < 1 ? `, ${round(c.debeziumShare * 100, 1)} % of the large tables' rows (keys up to the share, snapshot.select.statement.overrides; small tables whole)` : ''}: ${subsetRows.toLocaleString('en-US')} rows. Its rows/s are compared with pgferry copy's over the whole data set.`,
        );
    }

    finishFigures(result, c.cores);
    result.ok = [
      ...Object.values(result.competitors.pgferryCopy),
      result.competitors.psqlPipe,
      result.competitors.dumpRestore,
      result.competitors.debeziumSnapshot,
      ...(result.indexes?.intoIndexedTables ?? []),
      ...(result.indexes?.deferred ?? []),
    ].every((f) => f === undefined || f.ok);
    return result;
  } catch (error) {
    result.error = (error as Error).message;
    return result;
  } finally {
    await dropSlot(source, slot).catch(() => undefined);
    await source.end();
  }
}

async function dropSlot(source: pg.ClientBase, slot: string): Promise<void> {
  await source.query(
    'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active',
    [slot],
  );
}

/** Ratios against the issue's targets, the jobs curve, and the notes on what the figures mean. */
function finishFigures(result: CopyBenchResult, cores: number): void {
  const p = result.competitors.pgferryCopy;
  const atCores = p[`jobs=${cores}`];
  const c = result.competitors;
  result.ratios.copyOverDebeziumSnapshot = targetRatio(atCores, c.debeziumSnapshot, 10, '>= 10x');
  result.ratios.jobs1OverPsqlPipe = targetRatio(p['jobs=1'], c.psqlPipe, 0.9, '>= 0.9x');
  result.ratios.coresOverDumpRestore = targetRatio(atCores, c.dumpRestore, 1.001, '> 1x (faster)');
  const rss = [
    ...Object.values(p),
    ...(result.indexes?.intoIndexedTables ?? []),
    ...(result.indexes?.deferred ?? []),
  ].flatMap((f) => (f?.ok && typeof f.peakRssMiB === 'number' ? [f.peakRssMiB] : []));
  const peak: CopyTarget =
    rss.length === 0
      ? { value: null, target: '< 200 MiB', met: null }
      : { value: Math.max(...rss), target: '< 200 MiB', met: Math.max(...rss) < 200 };
  result.ratios.peakRssMiB = peak;

  const one = p['jobs=1'];
  result.scaling.curve = Object.values(p)
    .filter((f) => f.ok && typeof f.jobs === 'number' && f.rowsPerSecond)
    .map((f) => ({
      jobs: f.jobs as number,
      rowsPerSecond: f.rowsPerSecond as number,
      speedup:
        one?.ok && one.rowsPerSecond
          ? round((f.rowsPerSecond as number) / one.rowsPerSecond, 2)
          : 0,
    }));
  const curve = result.scaling.curve
    .map((s) => `jobs ${s.jobs}: ${s.rowsPerSecond.toLocaleString('en-US')} rows/s (x${s.speedup})`)
    .join(', ');
  const share = (f: CopyStepFigures | undefined) => {
    if (!f?.ok || !f.seconds) return '';
    const available = cores * f.seconds;
    return ` At jobs ${String(f.jobs)}, of ${round(available, 0)} core-seconds (${cores} cores x ${f.seconds} s): pgferry ${f.clientCpuSeconds} s, source PostgreSQL ${f.sourceServerCpuSeconds} s, target PostgreSQL ${f.targetServerCpuSeconds} s (machine ${f.machineBusyPercent} % busy, other sessions included).`;
  };
  result.scaling.note =
    `${curve || 'not measured'}.${share(atCores)}` +
    ' Each job is a source backend running COPY TO, pgferry relaying the bytes (binary COPY: pgferry does not parse rows) and a target backend running COPY FROM (tuple forming, WAL, primary-key and TOAST inserts: the most CPU of the three).' +
    ` Here both PostgreSQL servers and pgferry share ${cores} cores with the stack (Kafka, Connect, the registry) and other sessions' tests, so the curve flattens once the cores are busy: jobs beyond the cores only take turns.` +
    " With source and target on hosts of their own, jobs add a source and a target backend each and scale until the target runs out of cores or WAL/disk bandwidth, or the network saturates; pgferry itself spends a small fraction of the servers' CPU per row (see client CPU s), so it is not the limit.";

  result.notes.push(
    "seconds = wall time from spawning the competitor's first process to its last one's exit (pgferry copy: Node start, its checks, planning the chunks and its bookkeeping included; copySeconds is pgferry's own report, the chunks only). rows/s = the data set's rows / seconds; MB/s = pgferry's binary COPY bytes of the data set / seconds, for every competitor.",
    "Before each step the target tables are emptied (TRUNCATE as the superuser), pgferry's bookkeeping schema there dropped (every pgferry copy is a first copy into a fresh target, without --restart) and both clusters checkpointed, outside the timing; after it, the target must equal the source (row counts and md5 of every row in key order).",
    "CPU: the competitor's own processes (from this process's cutime/cstime, exact; the Debezium path: pgferry run + the Connect worker + Kafka, the last two serving other sessions too), and each PostgreSQL cluster's postmaster and backends during the step: every session's, other engineers' tests on the shared stack included.",
    'The machine is shared: the stack (two PostgreSQL clusters, Kafka, Connect, the registry) and other sessions running tests on it at the same time, on 2 cores. Expect +-15 % between runs; compare the ratios more than the absolutes.',
    'pg_dump writes the directory format uncompressed (BENCH_COPY_DUMP_COMPRESS=0, its fastest setting on 2 cores; the default level 6 gzip would slow it down) to the same disk, and fsyncs it (its default).',
    "The Debezium snapshot path: the connector file of the project with snapshot.mode=initial (snapshot.max.threads 1, the default), its slot and topics (broker default partitions) created beforehand, pgferry run (BATCH_SIZE as the bench) started with the registration; timed from the registration until every target table has the source row count. pgferry copy's slot is also created beforehand.",
  );
}

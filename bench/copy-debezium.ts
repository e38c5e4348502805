// The Debezium snapshot path, the way an initial load goes without `pgferry copy`: a connector
// with snapshot.mode=initial on the copy tables (a publication of its own), its topics created
// beforehand (one consumer group join instead of one per table appearing), and `pgferry run`
// applying the snapshot's read events into an empty target database. Timed from the connector's
// registration until every target table holds the source's row count.
import pg from 'pg';
import { applyBenchConnector, removeBenchConnector } from './bench-connector.js';
import type { BenchSettings } from './bench-settings.js';
import {
  COPY_SCHEMA,
  type CopyTable,
  countRows,
  createCopyTarget,
  qualified,
} from './copy-dataset.js';
import { createBenchKafka } from './kafka-topics.js';
import { type PgferryChild, startPgferryChild } from './pgferry-child.js';
import {
  type ProcessStats,
  readProcessStats,
  sampleProcess,
  stackServicePid,
} from './process-stats.js';

export interface DebeziumSnapshotRun {
  targetUrl: string;
  seconds: number;
  /** Seconds from registration until the connector and its task were RUNNING. */
  connectorRunningSeconds: number;
  /** Seconds until the first row appeared in the target. */
  firstRowSeconds: number | undefined;
  pgferry: ProcessStats | undefined;
  /** CPU seconds of the stack's Connect worker and Kafka broker during the path. */
  connectCpuSeconds: number;
  kafkaCpuSeconds: number;
  logFile: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runDebeziumSnapshot(
  settings: BenchSettings,
  tables: readonly CopyTable[],
  log: (line: string) => void,
): Promise<DebeziumSnapshotRun> {
  const { stack, runId } = settings;
  const database = `${runId}_copydbz`;
  const { url: targetUrl } = await createCopyTarget(stack, database, tables);
  const prefix = `${runId}_copy`;
  const publication = `${runId}_copypub`;
  const connector = {
    name: `${runId}-copy-snapshot`,
    topicPrefix: prefix,
    slotName: `${runId}_copydbz`,
    tableIncludeList: tables.map(qualified).join(','),
  };
  const topics = tables.map((t) => `${prefix}.${qualified(t)}`);
  const source = new pg.Client({ connectionString: stack.sourceDatabaseUrl });
  await source.connect();
  const target = new pg.Client({ connectionString: targetUrl });
  await target.connect();
  const kafka = createBenchKafka(stack.kafkaBootstrap, 'pgferry-bench-copy');
  const admin = kafka.admin();
  let starting: Promise<PgferryChild> | undefined;
  let sampler: ReturnType<typeof sampleProcess> | undefined;
  try {
    await source.query(
      `CREATE PUBLICATION "${publication}" FOR TABLE ${tables.map(qualified).join(', ')}`,
    );
    await admin.connect();
    // The broker's default partitions, as Debezium's own topic creation would use.
    await admin.createTopics({ topics: topics.map((topic) => ({ topic })), waitForLeaders: true });
    await admin.disconnect();
    const connectBefore = readProcessStats(stackServicePid('connect'))?.cpuSeconds ?? Number.NaN;
    const kafkaBefore = readProcessStats(stackServicePid('kafka'))?.cpuSeconds ?? Number.NaN;
    log(`  registering ${connector.name} (snapshot.mode=initial) and starting pgferry run`);
    const started = performance.now();
    let connectorRunningSeconds = Number.NaN;
    starting = startPgferryChild(settings, {
      name: 'copy-snapshot-run',
      database,
      groupId: `${runId}-copy-snapshot`,
      topicPattern: `^${prefix}\\.${COPY_SCHEMA}\\..*`,
      connectorName: connector.name,
    });
    const [child] = await Promise.all([
      starting,
      applyBenchConnector(stack.connectUrl, source, connector, {
        snapshotMode: 'initial',
        config: {
          'publication.name': publication,
          'schema.include.list': 'bench_copy',
        },
        waitForSlot: false,
      }).then(() => {
        connectorRunningSeconds = (performance.now() - started) / 1000;
      }),
    ]);
    sampler = sampleProcess(child.child.pid as number);
    const expected = new Map(tables.map((t) => [t.name, t.rows]));
    let pending = [...tables];
    let firstRowSeconds: number | undefined;
    let lastLog = Date.now();
    const deadline = Date.now() + settings.drainTimeoutMs;
    for (;;) {
      const counts = await countRows(target, pending);
      const copied = [...counts.values()].reduce((a, b) => a + b, 0);
      if (firstRowSeconds === undefined && copied > 0)
        firstRowSeconds = (performance.now() - started) / 1000;
      pending = pending.filter((t) => counts.get(t.name) !== expected.get(t.name));
      if (pending.length === 0) break;
      if (child.child.exitCode !== null)
        throw new Error(`pgferry run exited (${child.child.exitCode}); see ${child.logFile}`);
      if (Date.now() > deadline)
        throw new Error(`the Debezium snapshot path did not finish in time; see ${child.logFile}`);
      if (Date.now() - lastLog > 15_000) {
        lastLog = Date.now();
        log(
          `  snapshot path: ${pending.length} tables behind, ${pending
            .slice(0, 3)
            .map((t) => `${t.name} ${counts.get(t.name)}/${t.rows}`)
            .join(', ')}`,
        );
      }
      await sleep(500);
    }
    const seconds = (performance.now() - started) / 1000;
    const stats = sampler.stop();
    return {
      targetUrl,
      seconds,
      connectorRunningSeconds,
      firstRowSeconds,
      pgferry: stats,
      connectCpuSeconds:
        (readProcessStats(stackServicePid('connect'))?.cpuSeconds ?? Number.NaN) - connectBefore,
      kafkaCpuSeconds: (readProcessStats(stackServicePid('kafka'))?.cpuSeconds ?? Number.NaN) - kafkaBefore,
      logFile: child.logFile,
    };
  } finally {
    sampler?.stop();
    // Started, or failed to start (then it stopped itself): never left running.
    await (await starting?.catch(() => undefined))?.stop();
    await admin.disconnect().catch(() => undefined);
    await removeBenchConnector(stack.connectUrl, source, connector);
    await source.query(`DROP PUBLICATION IF EXISTS "${publication}"`).catch(() => undefined);
    await source.end();
    await target.end();
  }
}

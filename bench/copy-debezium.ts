// The Debezium snapshot path, the way an initial load goes without `pgferry copy`: a connector
// with snapshot.mode=initial on the copy tables (a publication of its own; a share of the large
// tables' rows through snapshot.select.statement.overrides if asked), its slot and topics created
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
  /** Seconds until the first row appeared in the target (from the statistics: within ~1 s). */
  firstRowSeconds: number | undefined;
  pgferry: ProcessStats | undefined;
  /** CPU seconds of the stack's Connect worker and Kafka broker during the path. */
  connectCpuSeconds: number;
  kafkaCpuSeconds: number;
  logFile: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The pending tables worth a count(*) now: small ones always, large ones once the statistics
 * (inserts so far, at most ~1 s old while rows arrive) say 99 % are in: counting a large table
 * every poll would take CPU from the apply it measures. Also the inserts so far per table.
 */
async function nearlyThere(
  target: pg.ClientBase,
  pending: readonly CopyTable[],
): Promise<{ toCount: CopyTable[]; inserted: Map<string, number> }> {
  const r = await target.query<{ relname: string; inserted: string }>(
    'SELECT relname, n_tup_ins AS inserted FROM pg_stat_user_tables WHERE schemaname = $1',
    [COPY_SCHEMA],
  );
  const inserted = new Map(r.rows.map((row) => [row.relname, Number(row.inserted)]));
  const toCount = pending.filter(
    (t) => t.rows <= 20_000 || (inserted.get(t.name) ?? 0) >= 0.99 * t.rows,
  );
  return { toCount, inserted };
}

/** snapshot.select.statement.overrides for the tables snapshotted in part (maxKey). */
function subsetSelects(tables: readonly CopyTable[]): Record<string, string> {
  const partial = tables.filter((t) => t.maxKey !== undefined);
  if (partial.length === 0) return {};
  return {
    'snapshot.select.statement.overrides': partial.map(qualified).join(','),
    ...Object.fromEntries(
      partial.map((t) => [
        `snapshot.select.statement.overrides.${qualified(t)}`,
        `SELECT * FROM ${qualified(t)} WHERE ${t.key} <= ${t.maxKey}`,
      ]),
    ),
  };
}

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
  source.on('error', () => undefined);
  await source.connect();
  const target = new pg.Client({ connectionString: targetUrl });
  target.on('error', () => undefined);
  await target.connect();
  const kafka = createBenchKafka(stack.kafkaBootstrap, 'pgferry-bench-copy');
  const admin = kafka.admin();
  let starting: Promise<PgferryChild> | undefined;
  let sampler: ReturnType<typeof sampleProcess> | undefined;
  try {
    await source.query(
      `CREATE PUBLICATION "${publication}" FOR TABLE ${tables.map(qualified).join(', ')}`,
    );
    // The slot beforehand, as for pgferry copy (untimed in both: creating one waits for the
    // transactions running on the source, other sessions' included); the connector takes it over.
    log(`  creating the slot ${connector.slotName}`);
    await source.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [
      connector.slotName,
    ]);
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
          'schema.include.list': COPY_SCHEMA,
          ...subsetSelects(tables),
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
      const { toCount, inserted } = await nearlyThere(target, pending);
      const counts = await countRows(target, toCount);
      const copied = [...counts.values(), ...inserted.values()].reduce((a, b) => a + b, 0);
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
            .map((t) => `${t.name} ~${inserted.get(t.name) ?? 0}/${t.rows}`)
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
      kafkaCpuSeconds:
        (readProcessStats(stackServicePid('kafka'))?.cpuSeconds ?? Number.NaN) - kafkaBefore,
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

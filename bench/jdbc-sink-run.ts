// Debezium JDBC sink: the same topic into a fresh target database (the same DDL) through the
// bench's own Connect worker, in upsert mode with deletes, in one of the swept configurations
// (jdbc-sink-config.ts); done when the connector's consumer group has committed the topic ends
// (a configuration that drops tombstones: the offset after each partition's last change event).
// Events/s, the worker's CPU and memory, the target backends' CPU.
import { ConnectClient } from '../core/connect-client.js';
import { failedTask } from './bench-connector.js';
import type { BenchSettings } from './bench-settings.js';
import type { BenchTopic } from './bench-topic.js';
import type { ConnectWorker } from './connect-worker.js';
import {
  type JdbcSinkConfig,
  jdbcConfigSettings,
  jdbcTransforms,
  jdbcUrlParameters,
} from './jdbc-sink-config.js';
import { createBenchKafka, reachedEnds, readGroupOffsets } from './kafka-topics.js';
import { type ProcessStats, readProcessStats, sampleProcess } from './process-stats.js';
import { readTargetBackendCpu } from './target-backend-cpu.js';
import { createTargetDatabase, targetRole } from './target-database.js';

export interface JdbcSinkResult {
  database: string;
  targetUrl: string;
  connector: string;
  version: string;
  seconds: number;
  /** Worker CPU seconds during the drain. */
  cpuSeconds: number;
  /** The worker's memory at the end and its peak (JVM heap up to BENCH_CONNECT_HEAP included). */
  stats: ProcessStats | undefined;
  idleRssBytes: number;
  /** Seconds from creating the connector to its first committed offset (task start, first batch). */
  firstCommitSeconds: number | undefined;
  /** CPU seconds of the target backends the sink's connection pool held at the end. */
  targetCpuSeconds: number;
}

/** The first line and the innermost cause of a task's trace, without the password. */
function rootCause(trace: string | undefined, password: string): string {
  const lines = (trace ?? 'no trace').split('\n');
  const causes = lines.filter((l) => l.startsWith('Caused by:'));
  const text = [lines[0], causes.at(-1)].filter((l) => l !== undefined).join(' ... ');
  return (password === '' ? text : text.replaceAll(password, '***')).slice(0, 600);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runJdbcSink(
  settings: BenchSettings,
  topic: BenchTopic,
  worker: ConnectWorker,
  log: (line: string) => void,
  options: {
    config: JdbcSinkConfig;
    /** Names the phase's database and connector (`<run id>_<label>`): unique in the run. */
    label: string;
    /** tasks.max (scale-out: the partitions are shared out among the tasks). */
    tasks?: number;
  },
): Promise<JdbcSinkResult> {
  const { stack } = settings;
  const { config: sinkConfig, label, tasks = 1 } = options;
  const database = `${settings.runId}_${label}`;
  const targetUrl = await createTargetDatabase(stack, database, topic.tables);
  const role = targetRole(stack);
  const connector = `${settings.runId}-${label}`;
  const registry = new URL(stack.schemaRegistryUrl);
  registry.pathname = '/apis/registry/v2';
  const converter = (side: 'key' | 'value') => ({
    [`${side}.converter`]: 'io.apicurio.registry.utils.converter.AvroConverter',
    [`${side}.converter.apicurio.registry.url`]: registry.toString(),
    [`${side}.converter.apicurio.registry.as-confluent`]: 'true',
    [`${side}.converter.apicurio.registry.use-id`]: 'contentId',
    [`${side}.converter.apicurio.registry.headers.enabled`]: 'false',
  });
  const target = new URL(stack.targetDatabaseUrl);
  const config = {
    'connector.class': 'io.debezium.connector.jdbc.JdbcSinkConnector',
    'tasks.max': String(tasks),
    topics: topic.topics.join(','),
    'connection.url': `jdbc:postgresql://${target.hostname}:${target.port}/${database}${jdbcUrlParameters(sinkConfig)}`,
    'connection.username': role.name,
    'connection.password': role.password,
    'insert.mode': 'upsert',
    'delete.enabled': 'true',
    'primary.key.mode': 'record_key',
    'schema.evolution': 'none',
    'consumer.override.auto.offset.reset': 'earliest',
    ...jdbcConfigSettings(sinkConfig),
    ...jdbcTransforms(sinkConfig),
    ...converter('key'),
    ...converter('value'),
  };
  const pid = worker.child.pid as number;
  const idleRssBytes = readProcessStats(pid)?.rssBytes ?? 0;
  const kafka = createBenchKafka(stack.kafkaBootstrap, 'pgferry-bench-jdbc');
  const cpuBefore = readProcessStats(pid)?.cpuSeconds ?? 0;
  const sampler = sampleProcess(pid);
  const started = performance.now();
  const created = await fetch(`${worker.url}/connectors`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: connector, config }),
  });
  if (!created.ok) {
    // The refusal may quote the config it was sent: never the password.
    const reason = (await created.text()).replaceAll(role.password || '\u0000', '***');
    throw new Error(`JDBC sink connector refused: ${created.status} ${reason.slice(0, 500)}`);
  }
  const connect = new ConnectClient({ baseUrl: worker.url });
  try {
    const deadline = Date.now() + settings.drainTimeoutMs;
    let lastLog = Date.now();
    let firstCommitSeconds: number | undefined;
    for (;;) {
      const offsets = await readGroupOffsets(kafka, `connect-${connector}`, topic.topics).catch(
        () => new Map<string, Map<number, bigint>>(),
      );
      if (
        firstCommitSeconds === undefined &&
        [...offsets.values()].some((p) => [...p.values()].some((o) => o > 0n))
      )
        firstCommitSeconds = (performance.now() - started) / 1000;
      // Tuned configurations drop tombstones: a partition's trailing ones are never committed.
      if (reachedEnds(sinkConfig.tuned ? (topic.changeEnds ?? topic.ends) : topic.ends, offsets))
        break;
      const failed = await failedTask(connect, connector);
      if (failed)
        throw new Error(`JDBC sink task failed: ${rootCause(failed.trace, role.password)}`);
      if (Date.now() > deadline) throw new Error('JDBC sink did not drain the topic in time');
      if (Date.now() - lastLog > 15_000) {
        lastLog = Date.now();
        let n = 0n;
        for (const parts of offsets.values()) for (const o of parts.values()) n += o;
        log(`  JDBC sink: ${n} of ${topic.messages} messages committed`);
      }
      await sleep(250);
    }
    const seconds = (performance.now() - started) / 1000;
    const stats = sampler.stop();
    const targetCpuSeconds = await readTargetBackendCpu(stack, database);
    const version = (
      (await fetch(`${worker.url}/connector-plugins`)
        .then((r) => r.json())
        .catch(() => [])) as { class: string; version: string }[]
    ).find((p) => p.class.endsWith('JdbcSinkConnector'))?.version;
    return {
      database,
      targetUrl,
      connector,
      version: version ?? 'unknown',
      seconds,
      cpuSeconds: (stats?.cpuSeconds ?? cpuBefore) - cpuBefore,
      stats,
      idleRssBytes,
      firstCommitSeconds,
      targetCpuSeconds,
    };
  } finally {
    sampler.stop();
    await fetch(`${worker.url}/connectors/${connector}`, { method: 'DELETE' }).catch(
      () => undefined,
    );
  }
}

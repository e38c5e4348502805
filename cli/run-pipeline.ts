// `pgferry run`: the replication pipeline until SIGTERM/SIGINT, then a clean stop (the batch in
// flight finishes or is abandoned uncommitted, offsets are committed, connections closed). Its
// progress is shown as a live view on a terminal or as summary log lines (openRunOutput).

import type { DestinationStream } from 'pino';
import { type PgferryConfig, readControlToken } from '../core/config.js';
import { PgferryError } from '../core/errors.js';
import { configureFaultInjection } from '../core/fault-points.js';
import { heapLimitAdvice, heapLimitMb } from '../core/heap-limit.js';
import { createKafka } from '../core/kafka-client.js';
import { createLogger, type Logger } from '../core/logger.js';
import { createMetrics } from '../core/metrics.js';
import { connectPg } from '../core/pg-connection.js';
import { readReplicaIdentity } from '../core/source-replica-identity.js';
import { SourceWalPositionReader } from '../core/source-wal-position.js';
import type { CliIo } from '../migrate/command-context.js';
import { startControlServer } from '../ops/control-server.js';
import { startConnectorMonitor } from '../ops/monitors/connector-monitor.js';
import { startConsumerLagMonitor } from '../ops/monitors/consumer-lag-monitor.js';
import { startSourceSlotMonitor } from '../ops/monitors/source-slot-monitor.js';
import {
  type ProgressMode,
  type ProgressPlan,
  planProgress,
  quietLogLevel,
} from '../ops/progress/progress-mode.js';
import { startProgressReporter } from '../ops/progress/progress-reporter.js';
import { ProgressTerminal, type TerminalSize } from '../ops/progress/progress-terminal.js';
import { RegistrySchemaLookup } from '../pipeline/codec/schema-lookup.js';
import { createDecodeProcessor } from '../pipeline/processors/decode-processor.js';
import { createDedupeProcessor } from '../pipeline/processors/dedupe-processor.js';
import { createPositionGuardProcessor } from '../pipeline/processors/position-guard-processor.js';
import { createTopicBindingProcessor } from '../pipeline/processors/topic-binding-processor.js';
import { Topology } from '../pipeline/processors/topology.js';
import { createTransformProcessor } from '../pipeline/processors/transform-processor.js';
import { createTopicExclusion } from '../pipeline/routing/topic-admission.js';
import { TopicTableMap } from '../pipeline/routing/topic-table-map.js';
import { PipelineRunner } from '../pipeline/runner.js';
import type { KafkaRecord } from '../pipeline/source/kafka-record.js';
import { KafkaSource } from '../pipeline/source/kafka-source.js';
import { SourcePositionGuard } from '../pipeline/source-position-guard.js';
import { recordSlotLoss } from '../sink/bookkeeping/slot-losses.js';
import { DlqProducer } from '../sink/dlq-producer.js';
import { PostgresSink } from '../sink/postgres-sink.js';

/** How `pgferry run` shows its progress; see openRunOutput. */
export interface RunProgressOutput {
  plan: ProgressPlan;
  terminal?: ProgressTerminal;
  terminalSize?: () => TerminalSize;
}

/**
 * The logger and the progress output of `pgferry run`. With the live view on the terminal that
 * also shows stderr, logs below warn are dropped and the others printed above the view (so no
 * log line lands inside it); redirect stderr (`2>>pgferry.log`) to keep every log line.
 */
export function openRunOutput(
  config: PgferryConfig,
  io: CliIo,
  requested: ProgressMode,
): { log: Logger; progress: RunProgressOutput } {
  const plan = planProgress({
    requested,
    stdoutIsTty: io.isTty === true,
    stderrIsTty: io.isStderrTty === true,
    logSeconds: config.progress.logSeconds,
  });
  if (plan.display !== 'view') {
    return { log: createLogger(config.log.level, io.logDestination), progress: { plan } };
  }
  const terminal = new ProgressTerminal(io.stdout, io.terminalSize);
  const progress = {
    plan,
    terminal,
    ...(io.terminalSize ? { terminalSize: io.terminalSize } : {}),
  };
  if (!plan.quietLogs) {
    return { log: createLogger(config.log.level, io.logDestination), progress };
  }
  const aboveView: DestinationStream = {
    write: (line: string) => terminal.printAbove(line, (text) => io.logDestination.write(text)),
  };
  return { log: createLogger(quietLogLevel(config.log.level), aboveView), progress };
}

/**
 * decode -> bind (the event writes only its topic's table) -> transform -> position (no position
 * beyond the source's WAL; without a source connection, no such check) -> dedupe.
 */
export function buildTopology(
  lookup: RegistrySchemaLookup,
  routing: { map: TopicTableMap; positions?: SourcePositionGuard },
) {
  const converted = Topology.from<KafkaRecord>()
    .through(createDecodeProcessor(lookup))
    .through(createTopicBindingProcessor({ map: routing.map, subjects: lookup }))
    .through(createTransformProcessor());
  const checked = routing.positions
    ? converted.through(createPositionGuardProcessor(routing.positions))
    : converted;
  return checked.through(createDedupeProcessor());
}

/** The position guard over SOURCE_DB_*, or none (said at start) when no source is configured. */
function openPositionGuard(
  config: PgferryConfig,
  log: Logger,
): { guard?: SourcePositionGuard; close: () => Promise<void> } {
  if (config.source === undefined) {
    log.warn(
      'SOURCE_DB_* not set: event positions (source.lsn) are not checked against the source WAL, so a forged position far ahead would hold back its row or table; set SOURCE_DB_* (the read-only role) to check them',
    );
    return { close: async () => undefined };
  }
  const reader = new SourceWalPositionReader(config.source);
  return { guard: new SourcePositionGuard({ reader }), close: () => reader.close() };
}

export async function runPipeline(
  config: PgferryConfig,
  log: Logger,
  signal: AbortSignal,
  progress: RunProgressOutput = { plan: { display: 'off', quietLogs: false } },
): Promise<number> {
  // First: an unreadable CONTROL_TOKEN_FILE is a config error before anything is started.
  const controlToken = readControlToken(config.control);
  // Also first: no topic prefix to bind events to their tables is a config error.
  const routing = TopicTableMap.fromConfig(config);
  log.info(
    {
      topicPrefix: routing.prefix,
      from: routing.topicPrefix.from,
      targetSchema: config.mapping.targetSchema,
      sourceSchemas: config.mapping.sourceSchemas,
      schemaMap: config.mapping.schemaMap,
      include: config.mapping.include,
      exclude: config.mapping.exclude,
    },
    'events write only the table their topic <prefix>.<schema>.<table> names',
  );
  const positions = openPositionGuard(config, log);
  const metrics = createMetrics();
  const lookup = new RegistrySchemaLookup({
    url: config.schemaRegistry.url,
    ...(config.schemaRegistry.auth ? { auth: config.schemaRegistry.auth } : {}),
    tls: config.schemaRegistry.tls,
  });
  const sourceSettings = config.source;
  const sink = new PostgresSink({
    settings: config.target,
    log,
    onSchemaChange: (table, kind) => metrics.schemaChanges.inc({ table, kind }),
    mapTable: (t) => routing.targetOf(t),
    concurrency: config.batch.applyConcurrency,
    ...(sourceSettings ? { replicaIdentityOf: (t) => readReplicaIdentity(sourceSettings, t) } : {}),
  });
  const kafka = createKafka(config.kafka, log);
  configureFaultInjection(config.faultInjection, log);
  const dlqTopic = config.dlq.topic;
  const runner = new PipelineRunner({
    groupId: config.kafka.groupId,
    retryMaxDelayMs: config.retry.maxDelaySeconds * 1000,
    topology: buildTopology(lookup, {
      map: routing,
      ...(positions.guard ? { positions: positions.guard } : {}),
    }),
    createSource: (handler) =>
      new KafkaSource(
        {
          kafka,
          brokers: config.kafka.brokers,
          ssl: config.kafka.ssl,
          groupId: config.kafka.groupId,
          topicPattern: config.kafka.topicPattern,
          excludeTopic: createTopicExclusion({ map: routing, dlqTopic, log }),
          maxRows: config.batch.maxRows,
          maxBytes: config.batch.maxBytes,
          concurrency: config.batch.applyConcurrency,
          topicRefreshMs: config.consumer.topicRefreshSeconds * 1000,
          pollTimeoutMs: Math.round(config.consumer.pollTimeoutSeconds * 1000),
          log,
          offsets: sink,
        },
        handler,
      ),
    sink,
    deadLetters: new DlqProducer({
      kafka,
      groupId: config.kafka.groupId,
      log,
      ...(dlqTopic ? { topic: dlqTopic } : {}),
    }),
    log,
    metrics,
  });
  const control = await startControlServer({
    host: config.metrics.host,
    port: config.metrics.port,
    metrics,
    runner,
    log,
    token: controlToken,
  });
  log.info(
    { host: config.metrics.host, port: control.port, pauseAccess: control.pauseAccess },
    'metrics and health endpoint listening',
  );
  const heapAdvice = heapLimitAdvice(config.batch.maxBytes);
  if (heapAdvice) log.warn({ heapLimitMb: heapLimitMb() }, heapAdvice);
  // Observability pollers: none of them is on the data path, none can stop the pipeline.
  const stopMonitors = [
    startConsumerLagMonitor({
      kafka,
      groupId: config.kafka.groupId,
      topics: () => runner.topics,
      metrics,
      log,
      intervalMs: 10_000,
    }),
    startConnectorMonitor({
      url: config.connect.url,
      auth: config.connect.auth,
      tls: config.connect.tls,
      name: config.connect.connectorName,
      metrics,
      log,
      intervalMs: 15_000,
      autoRestart: config.connect.autoRestart
        ? { maxAttempts: config.connect.autoRestartMax }
        : undefined,
    }),
    ...(config.source
      ? [
          startSourceSlotMonitor({
            settings: config.source,
            metrics,
            log,
            intervalMs: 10_000,
            watchedSlot: config.replication.slotName,
            onSlotLost: (slot) => recordSlotLossInTarget(config, slot),
          }),
        ]
      : []),
  ];
  const reporter = startProgressReporter({
    ...progress,
    metrics,
    runner,
    log,
    logSeconds: config.progress.logSeconds,
    ...(config.source ? { source: config.source } : {}),
  });
  const stopped = new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
  try {
    await Promise.race([runner.start(), stopped]);
    await stopped;
    log.info('stopping: finishing the batch in flight');
    await runner.stop();
    return 0;
  } catch (error) {
    // A failure pgferry names (wrong credentials, bad settings) is one line; a bug gets its stack.
    const err = error instanceof PgferryError ? error.message : (error as Error).stack;
    log.error({ err }, 'pgferry failed');
    await runner.stop().catch(() => undefined);
    return 1;
  } finally {
    for (const stop of stopMonitors) stop();
    await reporter.stop();
    await control.close();
    await positions.close();
  }
}

/** The durable mark of a lost slot that `pgferry status` reports until `pgferry resnapshot`. */
async function recordSlotLossInTarget(config: PgferryConfig, slot: string): Promise<void> {
  const client = await connectPg(config.target, 'pgferry-monitor');
  try {
    await recordSlotLoss(client, slot, `pgferry run (group ${config.kafka.groupId})`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

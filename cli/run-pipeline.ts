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
import { Topology } from '../pipeline/processors/topology.js';
import { createTransformProcessor } from '../pipeline/processors/transform-processor.js';
import { PipelineRunner } from '../pipeline/runner.js';
import type { KafkaRecord } from '../pipeline/source/kafka-record.js';
import { KafkaSource } from '../pipeline/source/kafka-source.js';
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

export function buildTopology(lookup: RegistrySchemaLookup) {
  return Topology.from<KafkaRecord>()
    .through(createDecodeProcessor(lookup))
    .through(createTransformProcessor())
    .through(createDedupeProcessor());
}

export async function runPipeline(
  config: PgferryConfig,
  log: Logger,
  signal: AbortSignal,
  progress: RunProgressOutput = { plan: { display: 'off', quietLogs: false } },
): Promise<number> {
  // First: an unreadable CONTROL_TOKEN_FILE is a config error before anything is started.
  const controlToken = readControlToken(config.control);
  const metrics = createMetrics();
  const lookup = new RegistrySchemaLookup({
    url: config.schemaRegistry.url,
    ...(config.schemaRegistry.auth ? { auth: config.schemaRegistry.auth } : {}),
  });
  const targetSchema = config.mapping.targetSchema;
  const sink = new PostgresSink({
    settings: config.target,
    log,
    onSchemaChange: (table, kind) => metrics.schemaChanges.inc({ table, kind }),
    ...(targetSchema ? { mapTable: (t) => ({ schema: targetSchema, name: t.name }) } : {}),
  });
  const kafka = createKafka(config.kafka, log);
  configureFaultInjection(config.faultInjection, log);
  const dlqTopic = config.dlq.topic;
  const runner = new PipelineRunner({
    groupId: config.kafka.groupId,
    retryMaxDelayMs: config.retry.maxDelaySeconds * 1000,
    topology: buildTopology(lookup),
    createSource: (handler) =>
      new KafkaSource(
        {
          kafka,
          brokers: config.kafka.brokers,
          groupId: config.kafka.groupId,
          topicPattern: config.kafka.topicPattern,
          excludeTopic: (t) => t.endsWith('.dlq') || t === dlqTopic || t.startsWith('__'),
          maxRows: config.batch.maxRows,
          maxBytes: config.batch.maxBytes,
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
      name: config.connect.connectorName,
      metrics,
      log,
      intervalMs: 15_000,
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

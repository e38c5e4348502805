// `pgferry run`: the replication pipeline until SIGTERM/SIGINT, then a clean stop (the batch in
// flight finishes or is abandoned uncommitted, offsets are committed, connections closed).
import type { PgferryConfig } from '../pipeline/config.js';
import { startControlServer } from '../pipeline/control-server.js';
import { createDecodeProcessor } from '../pipeline/decode-processor.js';
import { createDedupeProcessor } from '../pipeline/dedupe-processor.js';
import { createKafka } from '../pipeline/kafka-client.js';
import type { KafkaRecord } from '../pipeline/kafka-record.js';
import type { Logger } from '../pipeline/logger.js';
import { createMetrics } from '../pipeline/metrics.js';
import { PipelineRunner } from '../pipeline/runner.js';
import { RegistrySchemaLookup } from '../pipeline/schema-lookup.js';
import { Topology } from '../pipeline/topology.js';
import { createTransformProcessor } from '../pipeline/transform-processor.js';
import { PostgresSink } from '../sink/postgres-sink.js';

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
): Promise<number> {
  const metrics = createMetrics();
  const lookup = new RegistrySchemaLookup({
    url: config.schemaRegistry.url,
    ...(config.schemaRegistry.auth ? { auth: config.schemaRegistry.auth } : {}),
  });
  const targetSchema = config.mapping.targetSchema;
  const sink = new PostgresSink({
    settings: config.target,
    log,
    ...(targetSchema ? { mapTable: (t) => ({ schema: targetSchema, name: t.name }) } : {}),
  });
  const runner = new PipelineRunner({
    config,
    kafka: createKafka(config.kafka, log),
    topology: buildTopology(lookup),
    sink,
    log,
    metrics,
  });
  const control = await startControlServer({
    host: config.metrics.host,
    port: config.metrics.port,
    metrics,
    runner,
  });
  log.info(
    { host: config.metrics.host, port: control.port },
    'metrics and health endpoint listening',
  );
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
    log.error({ err: (error as Error).stack }, 'pgferry failed');
    await runner.stop().catch(() => undefined);
    return 1;
  } finally {
    await control.close();
  }
}

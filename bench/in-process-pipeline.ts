// pgferry's own pipeline parts in the bench process, built as `pgferry run` builds them: the
// topology of cli/run-pipeline.ts (decode -> transform -> dedupe) and sink/postgres-sink.ts on a
// target database of the phase's, for the phases that drive them without the runner (the sink
// replay and the apply floor).
import { buildTopology } from '../cli/run-pipeline.js';
import { createLogger, type Logger } from '../core/logger.js';
import { RegistrySchemaLookup } from '../pipeline/codec/schema-lookup.js';
import type { ChangeBatch } from '../pipeline/ports.js';
import { TopicTableMap } from '../pipeline/routing/topic-table-map.js';
import type { RowChange } from '../pipeline/row-change.js';
import { nextOffsetAfter } from '../pipeline/source/fetch-chunks.js';
import type { KafkaRecord } from '../pipeline/source/kafka-record.js';
import { PostgresSink, type SinkResult } from '../sink/postgres-sink.js';
import type { BenchSettings } from './bench-settings.js';
import type { BenchTopic } from './bench-topic.js';
import { createTargetDatabase, targetRole } from './target-database.js';

export interface InProcessPipeline {
  /** The phase's own target database (the topic's tables, empty). */
  database: string;
  targetUrl: string;
  sink: PostgresSink;
  log: Logger;
  /** A chunk of one partition's records to the sink's batch (throws on a rejected record). */
  prepareChunk(
    groupId: string,
    records: KafkaRecord[],
  ): Promise<{ batch: ChangeBatch; stageMs: Record<string, number> }>;
}

export async function openInProcessPipeline(
  settings: BenchSettings,
  topic: BenchTopic,
  /** Names the target database: `<run id>_<label>`. */
  label: string,
  /** The sink's APPLY_CONCURRENCY (its pool of target sessions). */
  concurrency = 1,
): Promise<InProcessPipeline> {
  const { stack } = settings;
  const database = `${settings.runId}_${label}`;
  const targetUrl = await createTargetDatabase(stack, database, topic.tables);
  const log = createLogger('silent');
  const role = targetRole(stack);
  const target = new URL(stack.targetDatabaseUrl);
  const sink = new PostgresSink({
    settings: {
      host: target.hostname,
      port: Number(target.port),
      database,
      user: role.name,
      password: role.password,
      sslMode: 'disable',
    },
    log,
    concurrency,
  });
  // The bench's own connector prefix; no position guard (as the bench's drain: no SOURCE_DB_*).
  const topology = buildTopology(new RegistrySchemaLookup({ url: stack.schemaRegistryUrl }), {
    map: new TopicTableMap({ prefix: topic.prefix, from: 'KAFKA_TOPIC_PREFIX' }, undefined),
  });
  return {
    database,
    targetUrl,
    sink,
    log,
    async prepareChunk(groupId, records) {
      const processed = await topology.processBatch(records, { log });
      if (processed.failures.length > 0) {
        throw new Error(
          `topology rejected ${processed.failures.length} records: ${processed.failures[0]?.error.message}`,
        );
      }
      const last = records.at(-1) as KafkaRecord;
      const changes: RowChange[] = processed.outputs;
      return {
        batch: {
          groupId,
          topic: last.topic,
          partition: last.partition,
          nextOffset: nextOffsetAfter(records),
          changes,
        },
        stageMs: processed.timingsMs,
      };
    },
  };
}

/** A batch the target refused rows of is not a measurement: stop the phase. */
export function assertNothingRejected(written: SinkResult): void {
  if (written.rejected.length > 0) {
    throw new Error(
      `sink rejected ${written.rejected.length} rows: ${written.rejected[0]?.error.message}`,
    );
  }
}

// The tables part of `pgferry status`: every pipeline topic's target table with its progress from
// the target's bookkeeping and its own dead-letter count.
import type { PgferryConfig } from '../../core/config.js';
import { dlqTopicFor } from '../../sink/dlq-producer.js';
import type {
  KafkaReading,
  Settled,
  TableProgress,
  TargetReading,
} from './migration-status-types.js';
import { readPipelineRouting, splitTableName, tableOfTopic } from './topic-routing.js';

export function buildTableProgress(
  config: PgferryConfig,
  kafka: KafkaReading | undefined,
  target: Settled<TargetReading>,
): { tables: TableProgress[]; tablesError?: string } {
  const rows = new Map((target.value?.tables ?? []).map((r) => [r.table, r]));
  const dlqByTopic = new Map((kafka?.dlq ?? []).map((d) => [d.topic, d.messages]));
  const perTableDlq = (topic: string) =>
    config.dlq.topic === undefined ? (dlqByTopic.get(dlqTopicFor(topic)) ?? 0) : 0;
  const error = target.error === undefined ? {} : { tablesError: target.error };
  if (kafka === undefined) {
    // Which tables belong to this pipeline is known from its topics; without Kafka, list them all.
    return {
      tables: [...rows.values()].map((r) => ({ ...r, topic: null, dlqMessages: 0 })),
      ...error,
    };
  }
  const routing = readPipelineRouting(config);
  const known = [...rows.keys()].map(splitTableName);
  const tables = kafka.topics.map(({ topic }) => {
    const table = tableOfTopic(topic, routing, {
      targetSchema: config.mapping.targetSchema,
      known,
    });
    const row = rows.get(table);
    return {
      table,
      topic,
      changesApplied: row?.changesApplied ?? 0,
      lastSourceTs: row?.lastSourceTs ?? null,
      lastAppliedAt: row?.lastAppliedAt ?? null,
      endToEndLagSeconds: row?.endToEndLagSeconds ?? null,
      dlqMessages: perTableDlq(topic),
    };
  });
  return { tables, ...error };
}

// Which of the topics matching KAFKA_TOPIC_PATTERN the pipeline consumes: never a dead-letter or
// internal topic (Debezium's heartbeats, Kafka's own), and only a topic whose table the mapping
// accepts (a table outside TABLES_INCLUDE/TABLES_EXCLUDE, or one that would land in pgferry's
// bookkeeping schema, is never consumed at all). `run` logs each refused topic once.
import type { Logger } from '../../core/logger.js';
import type { TopicTableMap } from './topic-table-map.js';

/** Dead-letter and internal topics: never a source of changes, whatever the pattern says. */
export function isDeadLetterOrInternalTopic(topic: string, dlqTopic: string | undefined): boolean {
  return topic.endsWith('.dlq') || topic === dlqTopic || topic.startsWith('__');
}

/** The pipeline's topics among `matching` (already matched against KAFKA_TOPIC_PATTERN). */
export function selectConsumedTopics(
  matching: readonly string[],
  map: TopicTableMap,
  dlqTopic: string | undefined,
): string[] {
  return matching.filter(
    (t) => !isDeadLetterOrInternalTopic(t, dlqTopic) && map.refusalOf(t) === undefined,
  );
}

/** For the Kafka source: true = leave the topic alone; the first time, say why in the log. */
export function createTopicExclusion(options: {
  map: TopicTableMap;
  dlqTopic: string | undefined;
  log: Logger;
}): (topic: string) => boolean {
  const told = new Set<string>();
  return (topic) => {
    if (isDeadLetterOrInternalTopic(topic, options.dlqTopic)) return true;
    const refusal = options.map.refusalOf(topic);
    if (refusal === undefined) return false;
    if (!told.has(topic)) {
      told.add(topic);
      options.log.info(
        { topic, reason: refusal },
        'topic not consumed: it maps to no table pgferry writes',
      );
    }
    return true;
  };
}

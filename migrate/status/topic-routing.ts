// The topic -> table mapping of `pgferry run` (pipeline/routing/), as status and resnapshot read
// topics: which topics the pipeline consumes and which target table each one fills. Without a
// topic prefix (KAFKA_TOPIC_PATTERN without a literal head and no KAFKA_TOPIC_PREFIX, which `run`
// refuses) status still shows something: each topic's last two parts.
import { ConfigError } from '../../core/errors.js';
import { formatTableRef } from '../../pipeline/routing/target-table-name.js';
import {
  type TopicRoutingSettings,
  TopicTableMap,
} from '../../pipeline/routing/topic-table-map.js';
import type { TableRef } from '../../pipeline/row-change.js';

/** The mapping `run` would use, or undefined when `run` would refuse the settings. */
export function readPipelineRouting(config: TopicRoutingSettings): TopicTableMap | undefined {
  try {
    return TopicTableMap.fromConfig(config);
  } catch (error) {
    if (error instanceof ConfigError) return undefined;
    throw error;
  }
}

/** `schema.name` (first dot) back to a table, for names read as text. */
export function splitTableName(text: string): TableRef {
  const dot = text.indexOf('.');
  return dot < 0
    ? { schema: 'public', name: text }
    : { schema: text.slice(0, dot), name: text.slice(dot + 1) };
}

/**
 * The target table (schema.table) a topic's changes go to, for display: the mapping's, preferring
 * `known` tables (those pgferry registered) when a name is ambiguous.
 */
export function tableOfTopic(
  topic: string,
  routing: TopicTableMap | undefined,
  options: { targetSchema?: string | undefined; known?: readonly TableRef[] } = {},
): string {
  const mapped = routing?.targetsOfTopic(topic, options.known)[0];
  if (mapped !== undefined) return formatTableRef(mapped);
  const parts = topic.split('.');
  const name = parts[parts.length - 1] ?? topic;
  const schema =
    options.targetSchema ?? (parts.length >= 3 ? (parts[parts.length - 2] as string) : 'public');
  return `${schema}.${name}`;
}

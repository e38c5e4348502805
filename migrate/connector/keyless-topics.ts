// Topics of keyless tables get one partition. Debezium sends a table's changes with its primary
// key (or REPLICA IDENTITY USING INDEX columns) as the Kafka key, so one row's changes share a
// partition; a table without either gets a null key, and its changes spread over the topic's
// partitions, where their order is lost. `connector apply` therefore adds a Connect topic-creation
// group for those tables' topics with `partitions=1` (pgferry run stops such a table whose
// changes arrive on another partition). A topic that exists already keeps its partitions.
import type pg from 'pg';
import type { ConnectorConfig } from '../../core/connect-client.js';

export const KEYLESS_TOPIC_GROUP = 'pgferrykeyless';

export interface KeylessTable {
  schema: string;
  name: string;
  /** pg_class.relreplident: f = FULL (pgferry applies it), d/n (pgferry refuses it). */
  identity?: string;
}

/**
 * Source tables Debezium keys with null: no primary key and no REPLICA IDENTITY USING INDEX
 * (the FULL ones pgferry applies; DEFAULT/NOTHING ones it refuses, but their topic is theirs too).
 */
export async function readKeylessTables(client: pg.ClientBase): Promise<KeylessTable[]> {
  const result = await client.query<KeylessTable>(
    `SELECT n.nspname AS schema, c.relname AS name, c.relreplident AS identity
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relreplident <> 'i'
        AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
        AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p')
      ORDER BY 1, 2`,
  );
  return result.rows;
}

/** Debezium's topic name part: characters Kafka does not allow become `_`. */
const topicPart = (name: string): string => name.replace(/[^A-Za-z0-9._-]/g, '_');
const escapeRegex = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * `config` with the keyless-topics creation group set to these tables' topics (or removed when
 * there are none). Unchanged when the topic prefix is an `${env:...}` placeholder: the topic
 * names are then unknown here (the note says so).
 */
export function withKeylessTopicGroup(
  config: ConnectorConfig,
  tables: readonly KeylessTable[],
): { config: ConnectorConfig; note?: string } {
  const prefix = config['topic.prefix'];
  if (prefix === undefined || prefix.includes('${')) {
    return {
      config,
      note: 'topic.prefix is not literal: keyless tables’ topics are not made single-partition (create them with one partition yourself)',
    };
  }
  const next: ConnectorConfig = {};
  const groupKey = `topic.creation.${KEYLESS_TOPIC_GROUP}.`;
  for (const [key, value] of Object.entries(config))
    if (!key.startsWith(groupKey)) next[key] = value;
  const groups = (config['topic.creation.groups'] ?? '')
    .split(',')
    .map((g) => g.trim())
    .filter((g) => g !== '' && g !== KEYLESS_TOPIC_GROUP);
  if (tables.length > 0) {
    groups.push(KEYLESS_TOPIC_GROUP);
    next[`${groupKey}include`] = tables
      .map(
        (t) =>
          `${escapeRegex(topicPart(prefix))}\\.${escapeRegex(topicPart(t.schema))}\\.${escapeRegex(topicPart(t.name))}`,
      )
      .join(',');
    next[`${groupKey}partitions`] = '1';
    next[`${groupKey}replication.factor`] =
      config['topic.creation.default.replication.factor'] ?? '-1';
  }
  if (groups.length > 0) next['topic.creation.groups'] = groups.join(',');
  else delete next['topic.creation.groups'];
  return { config: next };
}

/**
 * `pgferry connector apply --snapshot-keyless`: Debezium's own snapshot for the REPLICA IDENTITY
 * FULL tables without a key only (snapshot.mode=initial, snapshot.include.collection.list), none
 * for the others, which `pgferry copy` loads. The snapshot is consistent with the slot, so no
 * change is applied twice; a copy could not promise that for a table without a key. Takes effect
 * on the connector's first start only (later ones resume from their offsets).
 */
export function withKeylessSnapshot(
  config: ConnectorConfig,
  tables: readonly KeylessTable[],
): ConnectorConfig {
  const full = tables.filter((t) => t.identity === undefined || t.identity === 'f');
  const next: ConnectorConfig = { ...config };
  if (full.length === 0) {
    next['snapshot.mode'] = 'no_data';
    delete next['snapshot.include.collection.list'];
    return next;
  }
  next['snapshot.mode'] = 'initial';
  next['snapshot.include.collection.list'] = full
    .map((t) => `${escapeRegex(t.schema)}\\.${escapeRegex(t.name)}`)
    .join(',');
  return next;
}

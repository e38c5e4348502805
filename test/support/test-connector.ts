// A Debezium connector of a test's own: the project's connector file with its own topic prefix,
// slot (dropped when the connector stops) and tables, so tests never share offsets or slots.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import type pg from 'pg';
import type { ConnectClient, ConnectorConfig } from '../../core/connect-client.js';
import { quoteIdent } from '../../core/sql-identifier.js';
import { applyConnector } from '../../migrate/connector/connector-apply.js';
import { readConnectorDefinition } from '../../migrate/connector/connector-definition.js';
import { repoPath } from './stack-env.js';

export async function applyTestConnector(
  connect: ConnectClient,
  options: {
    name: string;
    topicPrefix: string;
    slotName: string;
    tableIncludeList: string;
    /**
     * Default true (no slot left behind). False as in production: a task stopped by a Connect
     * rebalance (e.g. after a broker restart) then keeps its slot instead of dropping it, which
     * would lose the changes until the next start re-creates it.
     */
    slotDropOnStop?: boolean;
    /** Debezium's snapshot.mode (default: the file's, initial); no_data for the pgferry copy path. */
    snapshotMode?: string;
    /** A last change of the config, as `connector apply` makes (e.g. the keyless topic group). */
    configure?: (config: ConnectorConfig) => ConnectorConfig;
  },
): Promise<void> {
  const configure = options.configure ?? ((config: ConnectorConfig) => config);
  await applyConnector({
    client: connect,
    name: options.name,
    timeoutMs: 180_000,
    config: configure(
      await testConnectorConfig({
        ...options,
        config: {
          'slot.drop.on.stop': String(options.slotDropOnStop ?? true),
          'table.include.list': options.tableIncludeList,
          ...(options.snapshotMode === undefined ? {} : { 'snapshot.mode': options.snapshotMode }),
        },
      }),
    ),
  });
}

/** The project's connector file's config with a test's own topic prefix and slot (dropped on stop). */
async function testConnectorConfig(options: {
  topicPrefix: string;
  slotName: string;
  config?: ConnectorConfig;
}): Promise<ConnectorConfig> {
  const definition = await readConnectorDefinition(repoPath('connect-config/debezium-source.json'));
  return {
    ...definition.config,
    'topic.prefix': options.topicPrefix,
    'slot.name': options.slotName,
    'slot.drop.on.stop': 'true',
    ...options.config,
  };
}

/**
 * Deletes a test's connector and then its slot if it is left inactive (a connector that never
 * stopped cleanly does not drop it), so no test leaves a slot retaining WAL.
 */
export async function removeTestConnector(
  connectUrl: string,
  name: string,
  db: pg.ClientBase,
  slotName: string,
): Promise<void> {
  await fetch(`${connectUrl}/connectors/${encodeURIComponent(name)}`, { method: 'DELETE' }).catch(
    () => undefined,
  );
  await new Promise((r) => setTimeout(r, 2000));
  await db
    .query(
      'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active',
      [slotName],
    )
    .catch(() => undefined);
}

/**
 * Writes the project's connector file (connect-config/debezium-source.json) with a test's own
 * name, topic prefix, slot (dropped when the connector stops) and other overrides, for the tests
 * that register it the user's way, `pgferry connector apply --file`. Returns the file's path.
 */
export async function writeTestConnectorFile(options: {
  name: string;
  topicPrefix: string;
  slotName: string;
  /** Other settings, e.g. `publication.name` or `table.include.list`. */
  config?: ConnectorConfig;
}): Promise<string> {
  const file = join(mkdtempSync(join(tmpdir(), 'pgferry-connector-')), 'connector.json');
  writeFileSync(
    file,
    JSON.stringify({ name: options.name, config: await testConnectorConfig(options) }),
  );
  return file;
}

/**
 * Forgets what pgferry kept on the target for a test's migration: its consumer group's offsets,
 * and the row positions (with their position tables), copy plans and cutover triggers of its
 * target schemas. The target schemas themselves are the test's to drop.
 */
export async function removeMigrationBookkeeping(
  target: pg.ClientBase,
  groupId: string,
  targetSchemas: readonly string[],
): Promise<void> {
  await target
    .query('DELETE FROM pgferry.offsets WHERE group_id = $1', [groupId])
    .catch(() => undefined);
  const positions = await target
    .query<{ position_table: string }>(
      'DELETE FROM pgferry.tables WHERE table_schema = ANY($1) RETURNING position_table',
      [targetSchemas],
    )
    .catch(() => ({ rows: [] }));
  for (const { position_table } of positions.rows) {
    await target.query(`DROP TABLE IF EXISTS pgferry.${quoteIdent(position_table)}`);
  }
  for (const table of ['copy_tables', 'cutover_triggers', 'table_progress']) {
    await target
      .query(`DELETE FROM pgferry.${table} WHERE table_schema = ANY($1)`, [targetSchemas])
      .catch(() => undefined);
  }
}

/** Deletes the topics under a test's own topic prefix (`<prefix>.`). */
export async function deleteTestTopics(kafkaBootstrap: string, prefix: string): Promise<void> {
  const kafka = new Kafka({
    brokers: [kafkaBootstrap],
    clientId: 'pgferry-test-cleanup',
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const mine = (await admin.listTopics()).filter((t) => t.startsWith(`${prefix}.`));
    if (mine.length > 0) await admin.deleteTopics({ topics: mine }).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
}

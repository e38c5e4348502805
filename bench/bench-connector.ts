// The bench's Debezium source connectors: the project's connector file with a topic prefix, slot
// and tables of their own. The slot is NOT dropped on stop (slot.drop.on.stop=false, as in
// production): a task stopped by a Connect rebalance after a broker restart (other sessions'
// fault tests) would otherwise drop it and lose the changes made meanwhile. The bench drops the
// slot itself when it removes the connector (and its cleanup drops any slot named after the run).
// No snapshot by default: the bench's tables are created empty before their connector starts.
// The copy phase's Debezium snapshot path asks for snapshot.mode=initial (and its own publication).
import type pg from 'pg';
import { ConnectClient, type ConnectorTaskStatus } from '../core/connect-client.js';
import { applyConnector } from '../migrate/connector/connector-apply.js';
import { readConnectorDefinition } from '../migrate/connector/connector-definition.js';
import { repoPath } from '../test/support/stack-env.js';

export interface BenchConnector {
  name: string;
  topicPrefix: string;
  slotName: string;
  tableIncludeList: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Registers the connector and waits until it runs and (unless `waitForSlot` is false: a snapshot
 * comes first) its slot is active (streaming has started).
 */
export async function applyBenchConnector(
  connectUrl: string,
  source: pg.ClientBase,
  connector: BenchConnector,
  options: {
    snapshotMode?: 'no_data' | 'initial';
    /** More connector settings (e.g. publication.name, schema.include.list). */
    config?: Record<string, string>;
    waitForSlot?: boolean;
  } = {},
): Promise<void> {
  const definition = await readConnectorDefinition(repoPath('connect-config/debezium-source.json'));
  await applyConnector({
    client: new ConnectClient({ baseUrl: connectUrl }),
    name: connector.name,
    timeoutMs: 180_000,
    config: {
      ...definition.config,
      'topic.prefix': connector.topicPrefix,
      'slot.name': connector.slotName,
      'slot.drop.on.stop': 'false',
      // The tables are empty when it starts: no snapshot, now or on a restart without offsets
      // (a snapshot then would publish the tables' current rows as reads instead of the changes).
      'snapshot.mode': options.snapshotMode ?? 'no_data',
      'table.include.list': connector.tableIncludeList,
      ...options.config,
    },
  });
  if (options.waitForSlot === false) return;
  for (let i = 0; ; i++) {
    const active = await source.query(
      'SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active',
      [connector.slotName],
    );
    if (active.rowCount) return;
    if (i > 240) throw new Error(`slot ${connector.slotName} did not become active`);
    await sleep(500);
  }
}

/** Deletes the connector, then its slot once the task has let go of it. */
export async function removeBenchConnector(
  connectUrl: string,
  source: pg.ClientBase,
  connector: BenchConnector,
): Promise<void> {
  await fetch(`${connectUrl}/connectors/${encodeURIComponent(connector.name)}`, {
    method: 'DELETE',
  }).catch(() => undefined);
  for (let i = 0; i < 30; i++) {
    const dropped = await source
      .query(
        'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active',
        [connector.slotName],
      )
      .catch(() => ({ rowCount: 0 }));
    const left = await source
      .query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [connector.slotName])
      .catch(() => ({ rowCount: 0 }));
    if (dropped.rowCount || !left.rowCount) return;
    await sleep(500);
  }
}

/**
 * The connector's first FAILED task, or undefined while none has failed (or its status cannot be
 * read: Connect busy with a rebalance, the connector not known yet).
 */
export async function failedTask(
  connect: ConnectClient,
  name: string,
): Promise<ConnectorTaskStatus | undefined> {
  const status = await connect.getConnectorStatus(name).catch(() => undefined);
  return status?.tasks.find((t) => t.state === 'FAILED');
}

// A Debezium connector of a test's own: the project's connector file with its own topic prefix,
// slot (dropped when the connector stops) and tables, so tests never share offsets or slots.
import type pg from 'pg';
import type { ConnectClient, ConnectorConfig } from '../../core/connect-client.js';
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
  const definition = await readConnectorDefinition(repoPath('connect-config/debezium-source.json'));
  const configure = options.configure ?? ((config: ConnectorConfig) => config);
  await applyConnector({
    client: connect,
    name: options.name,
    timeoutMs: 180_000,
    config: configure({
      ...definition.config,
      'topic.prefix': options.topicPrefix,
      'slot.name': options.slotName,
      'slot.drop.on.stop': String(options.slotDropOnStop ?? true),
      'table.include.list': options.tableIncludeList,
      ...(options.snapshotMode === undefined ? {} : { 'snapshot.mode': options.snapshotMode }),
    }),
  });
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

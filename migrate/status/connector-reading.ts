// The connector part of `pgferry status`: the connector's and its tasks' states from the Connect
// REST API (a task's trace included, so a failure says why).
import type { PgferryConfig } from '../../core/config.js';
import { ConnectClient } from '../../core/connect-client.js';
import type { ConnectorPart } from './migration-status-types.js';

export async function readConnectorPart(
  config: PgferryConfig,
  signal?: AbortSignal,
): Promise<ConnectorPart> {
  const client = new ConnectClient({
    baseUrl: config.connect.url,
    auth: config.connect.auth,
    tls: config.connect.tls,
    requestTimeoutMs: 10_000,
  });
  const name = config.connect.connectorName;
  const status = await client.getConnectorStatus(name, signal);
  if (status === undefined) return { name, state: null, tasks: [] };
  return {
    name,
    state: status.connector.state,
    tasks: status.tasks.map((t) => ({
      id: t.id,
      state: t.state,
      ...(t.trace ? { trace: t.trace } : {}),
    })),
  };
}

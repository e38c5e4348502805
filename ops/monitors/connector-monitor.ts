// The Debezium connector's state as Connect reports it, exported as gauges (Kafka Connect has no
// Prometheus endpoint of its own without a JMX exporter). UNREACHABLE when Connect does not answer.
import { ConnectClient } from '../../core/connect-client.js';
import type { Logger } from '../../core/logger.js';
import type { PgferryMetrics } from '../../core/metrics.js';
import { startPoller } from '../poller.js';

export const CONNECTOR_STATES = [
  'RUNNING',
  'PAUSED',
  'STOPPED',
  'FAILED',
  'UNASSIGNED',
  'UNREACHABLE',
] as const;
const TASK_STATES = ['RUNNING', 'PAUSED', 'FAILED', 'UNASSIGNED'] as const;

export async function measureConnector(
  client: ConnectClient,
  name: string,
  metrics: PgferryMetrics,
): Promise<string> {
  let state = 'UNREACHABLE';
  const tasks = new Map<string, number>(TASK_STATES.map((s) => [s, 0]));
  try {
    const status = await client.getConnectorStatus(name);
    if (status) {
      state = status.connector.state;
      for (const t of status.tasks) tasks.set(t.state, (tasks.get(t.state) ?? 0) + 1);
    }
  } catch {
    state = 'UNREACHABLE';
  }
  for (const s of CONNECTOR_STATES)
    metrics.connectorState.set({ connector: name, state: s }, s === state ? 1 : 0);
  for (const [s, n] of tasks) metrics.connectorTasks.set({ connector: name, state: s }, n);
  return state;
}

export function startConnectorMonitor(options: {
  url: string;
  name: string;
  metrics: PgferryMetrics;
  log: Logger;
  intervalMs: number;
}): () => void {
  const client = new ConnectClient({ baseUrl: options.url, requestTimeoutMs: 5000 });
  let last = '';
  const tick = async () => {
    const state = await measureConnector(client, options.name, options.metrics);
    if (state !== last) {
      const level = state === 'RUNNING' ? 'info' : 'warn';
      options.log[level]({ connector: options.name, state }, 'source connector state');
      last = state;
    }
  };
  return startPoller(tick, { intervalMs: options.intervalMs, firstDelayMs: 500 });
}

// The Debezium connector's state as Connect reports it, exported as gauges (Kafka Connect has no
// Prometheus endpoint of its own without a JMX exporter). UNREACHABLE when Connect does not answer.
// With auto-restart on, a FAILED task is restarted by the policy of connector-restart-policy.ts.

import { ConnectClient } from '../../core/connect-client.js';
import type { HttpTlsFiles } from '../../core/http-tls.js';
import type { Logger } from '../../core/logger.js';
import type { PgferryMetrics } from '../../core/metrics.js';
import type { BasicAuth } from '../../core/url-credentials.js';
import { startPoller } from '../poller.js';
import {
  DEFAULT_RESTART_POLICY,
  decideRestart,
  initialRestartState,
  type RestartPolicySettings,
} from './connector-restart-policy.js';

export const CONNECTOR_STATES = [
  'RUNNING',
  'PAUSED',
  'STOPPED',
  'FAILED',
  'UNASSIGNED',
  'UNREACHABLE',
] as const;
const TASK_STATES = ['RUNNING', 'PAUSED', 'FAILED', 'UNASSIGNED'] as const;

export interface ConnectorReading {
  state: string;
  /** A task (or the connector) is FAILED; its trace's first line when Connect gives one. */
  failed: boolean;
  failure?: string;
  /** The connector and every task RUNNING. */
  running: boolean;
}

export async function measureConnector(
  client: ConnectClient,
  name: string,
  metrics: PgferryMetrics,
): Promise<ConnectorReading> {
  let state = 'UNREACHABLE';
  let failure: string | undefined;
  let running = false;
  const tasks = new Map<string, number>(TASK_STATES.map((s) => [s, 0]));
  try {
    const status = await client.getConnectorStatus(name);
    if (status) {
      state = status.connector.state;
      for (const t of status.tasks) tasks.set(t.state, (tasks.get(t.state) ?? 0) + 1);
      const failedTask = status.tasks.find((t) => t.state === 'FAILED');
      if (failedTask) failure = (failedTask.trace ?? '').split('\n')[0]?.slice(0, 300) ?? '';
      running =
        state === 'RUNNING' &&
        status.tasks.length > 0 &&
        status.tasks.every((t) => t.state === 'RUNNING');
    }
  } catch {
    state = 'UNREACHABLE';
  }
  for (const s of CONNECTOR_STATES)
    metrics.connectorState.set({ connector: name, state: s }, s === state ? 1 : 0);
  for (const [s, n] of tasks) metrics.connectorTasks.set({ connector: name, state: s }, n);
  const failed = state === 'FAILED' || failure !== undefined;
  return { state, failed, running, ...(failure === undefined ? {} : { failure }) };
}

export function startConnectorMonitor(options: {
  url: string;
  auth?: BasicAuth | undefined;
  /** CONNECT_CA_FILE for an https:// Connect. */
  tls?: HttpTlsFiles | undefined;
  name: string;
  metrics: PgferryMetrics;
  log: Logger;
  intervalMs: number;
  /** Restart FAILED tasks (CONNECTOR_AUTO_RESTART); unset: only watch. */
  autoRestart?: Partial<RestartPolicySettings> | undefined;
  now?: () => number;
}): () => void {
  const client = new ConnectClient({
    baseUrl: options.url,
    auth: options.auth,
    tls: options.tls,
    requestTimeoutMs: 5000,
  });
  const { name, log, metrics } = options;
  const policy = options.autoRestart
    ? { ...DEFAULT_RESTART_POLICY, ...options.autoRestart }
    : undefined;
  const restarts = initialRestartState();
  const now = options.now ?? Date.now;
  metrics.connectorRestarts.inc({ connector: name }, 0);
  metrics.connectorRestartsExhausted.set({ connector: name }, 0);
  let last = '';
  const tick = async () => {
    const reading = await measureConnector(client, name, metrics);
    const shown =
      reading.failed && reading.state === 'RUNNING' ? 'RUNNING, a task FAILED' : reading.state;
    if (shown !== last) {
      const level = reading.running ? 'info' : 'warn';
      log[level](
        {
          connector: name,
          state: reading.state,
          ...(reading.failure ? { failure: reading.failure } : {}),
        },
        'source connector state',
      );
      last = shown;
    }
    if (!policy) return;
    const decision = decideRestart(restarts, reading, now(), policy);
    if (decision.kind === 'give-up') {
      metrics.connectorRestartsExhausted.set({ connector: name }, 1);
      log.error(
        { connector: name, attempts: decision.attempts, failure: reading.failure },
        'source connector task still FAILED after the restarts pgferry may make (CONNECTOR_AUTO_RESTART_MAX): look at the Connect worker log, then POST /connectors/<name>/restart?includeTasks=true&onlyFailed=true',
      );
    } else if (decision.kind === 'restart') {
      log.warn(
        {
          connector: name,
          attempt: decision.attempt,
          of: policy.maxAttempts,
          failure: reading.failure,
        },
        'source connector task FAILED: restarting it (CONNECTOR_AUTO_RESTART)',
      );
      metrics.connectorRestarts.inc({ connector: name });
      await client
        .restartFailedTasks(name)
        .catch((error: Error) =>
          log.warn({ connector: name, err: error.message }, 'connector restart request failed'),
        );
    }
    metrics.connectorRestartsExhausted.set({ connector: name }, restarts.gaveUp ? 1 : 0);
  };
  return startPoller(tick, { intervalMs: options.intervalMs, firstDelayMs: 500 });
}

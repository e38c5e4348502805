// `pgferry connector status`: what Connect says about the connector and each task, in a form
// a person (or, with --json, a script) can read.
import type { ConnectClient, ConnectorStatus } from '../../core/connect-client.js';
import { isConnectorRunning } from './connector-wait.js';

export interface ConnectorStatusReport {
  name: string;
  found: boolean;
  running: boolean;
  status: ConnectorStatus | undefined;
}

export async function readConnectorStatus(
  client: ConnectClient,
  name: string,
  signal?: AbortSignal,
): Promise<ConnectorStatusReport> {
  const status = await client.getConnectorStatus(name, signal);
  return {
    name,
    found: status !== undefined,
    running: status !== undefined && isConnectorRunning(status),
    status,
  };
}

export function formatConnectorStatus(report: ConnectorStatusReport): string {
  const { status } = report;
  if (status === undefined) return `connector ${report.name}: not found`;
  const lines = [
    `connector ${report.name}: ${status.connector.state} on ${status.connector.worker_id ?? '?'}`,
  ];
  if (status.tasks.length === 0) lines.push('  no tasks');
  for (const task of status.tasks) {
    lines.push(`  task ${task.id}: ${task.state} on ${task.worker_id ?? '?'}`);
    if (task.state === 'FAILED' && task.trace) {
      lines.push(
        ...task.trace
          .trimEnd()
          .split('\n')
          .slice(0, 8)
          .map((line) => `    ${line}`),
      );
    }
  }
  return lines.join('\n');
}

/** Stable JSON shape for scripts: Connect's snake_case fields renamed, traces kept. */
export function toConnectorStatusJson(report: ConnectorStatusReport): Record<string, unknown> {
  const { status } = report;
  return {
    name: report.name,
    found: report.found,
    running: report.running,
    connector: status
      ? { state: status.connector.state, workerId: status.connector.worker_id ?? null }
      : null,
    tasks: (status?.tasks ?? []).map((task) => ({
      id: task.id,
      state: task.state,
      workerId: task.worker_id ?? null,
      ...(task.trace ? { trace: task.trace } : {}),
    })),
  };
}

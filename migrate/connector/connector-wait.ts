// Polls Connect until a connector and all its tasks run, failing fast on FAILED (with the
// task's trace) because a failed task never recovers without a config change or restart.
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConnectClient, ConnectorStatus } from '../../core/connect-client.js';
import { PgferryError } from '../../core/errors.js';

/** The connector or a task is FAILED, or parked in a state it never leaves on its own. */
export class ConnectorFailedError extends PgferryError {
  readonly status: ConnectorStatus;

  constructor(message: string, status: ConnectorStatus) {
    super(message, { retriable: false });
    this.status = status;
  }
}

/** Not running before the deadline; carries the last state seen for the message. */
export class ConnectorWaitTimeoutError extends PgferryError {
  readonly lastStatus: ConnectorStatus | undefined;

  constructor(message: string, lastStatus: ConnectorStatus | undefined, cause?: unknown) {
    super(message, { retriable: false, cause });
    this.lastStatus = lastStatus;
  }
}

export interface WaitForConnectorOptions {
  timeoutMs: number;
  pollIntervalMs?: number;
  /**
   * Right after a config write, Connect may still report the previous run's FAILED tasks until
   * the rebalance restarts them; within this window FAILED means "keep polling".
   */
  staleFailureGraceMs?: number;
  signal?: AbortSignal;
  onPoll?: (status: ConnectorStatus | undefined) => void;
  onTransientError?: (error: PgferryError) => void;
}

const TRACE_LINES = 8;

export function isConnectorRunning(status: ConnectorStatus): boolean {
  return (
    status.connector.state === 'RUNNING' &&
    status.tasks.length > 0 &&
    status.tasks.every((task) => task.state === 'RUNNING')
  );
}

export function describeConnectorState(status: ConnectorStatus | undefined): string {
  if (status === undefined) return 'not known to Connect';
  const running = status.tasks.filter((task) => task.state === 'RUNNING').length;
  const tasks =
    status.tasks.length === 0
      ? 'no tasks'
      : status.tasks.map((task) => `task ${task.id} ${task.state}`).join(', ');
  return `connector ${status.connector.state}, ${running}/${status.tasks.length} tasks RUNNING (${tasks})`;
}

export async function waitForConnectorRunning(
  client: ConnectClient,
  name: string,
  options: WaitForConnectorOptions,
): Promise<ConnectorStatus> {
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  const pollIntervalMs = options.pollIntervalMs ?? 1_000;
  const graceUntil = started + (options.staleFailureGraceMs ?? 0);
  let lastStatus: ConnectorStatus | undefined;
  let lastError: PgferryError | undefined;

  for (;;) {
    try {
      lastStatus = await client.getConnectorStatus(name, options.signal);
      lastError = undefined;
      options.onPoll?.(lastStatus);
    } catch (error) {
      if (!(error instanceof PgferryError) || !error.retriable) throw error;
      lastError = error;
      options.onTransientError?.(error);
    }
    if (lastStatus !== undefined && lastError === undefined) {
      if (isConnectorRunning(lastStatus)) return lastStatus;
      const failure = findFailure(name, lastStatus);
      if (failure !== undefined && (failure.final || Date.now() >= graceUntil)) {
        throw new ConnectorFailedError(failure.message, lastStatus);
      }
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      const why = lastError
        ? `last error: ${lastError.message}`
        : describeConnectorState(lastStatus);
      throw new ConnectorWaitTimeoutError(
        `connector ${name} not RUNNING after ${Math.round(options.timeoutMs / 1000)} s: ${why}`,
        lastStatus,
        lastError,
      );
    }
    await sleep(
      Math.min(pollIntervalMs, remaining),
      undefined,
      options.signal ? { signal: options.signal } : undefined,
    );
  }
}

/** `final` = no point waiting out the grace period (paused/stopped is deliberate). */
function findFailure(
  name: string,
  status: ConnectorStatus,
): { message: string; final: boolean } | undefined {
  const connectorState = status.connector.state;
  if (connectorState === 'FAILED') {
    return {
      message: `connector ${name} FAILED on ${status.connector.worker_id ?? '?'}${formatTrace(status.connector.trace)}`,
      final: false,
    };
  }
  const failedTask = status.tasks.find((task) => task.state === 'FAILED');
  if (failedTask !== undefined) {
    return {
      message: `connector ${name} task ${failedTask.id} FAILED on ${failedTask.worker_id ?? '?'}${formatTrace(failedTask.trace)}`,
      final: false,
    };
  }
  if (connectorState === 'PAUSED' || connectorState === 'STOPPED') {
    return {
      message: `connector ${name} is ${connectorState}; resume it (PUT /connectors/${name}/resume) and apply again`,
      final: true,
    };
  }
  return undefined;
}

function formatTrace(trace: string | undefined): string {
  if (trace === undefined || trace.trim() === '') return '';
  const lines = trace.trimEnd().split('\n');
  const shown = lines.slice(0, TRACE_LINES).map((line) => `    ${line}`);
  const more =
    lines.length > TRACE_LINES ? [`    ... (${lines.length - TRACE_LINES} more lines)`] : [];
  return `\n${[...shown, ...more].join('\n')}`;
}

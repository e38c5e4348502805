// The emergency stop and its undo: pause (or resume) the Debezium connector through Connect and
// each running pgferry through its control endpoint, then wait until every one reports the new
// state. Nothing is lost either way: a paused connector keeps its slot (the source retains the
// WAL), a paused pgferry keeps its group membership and the offsets it committed with the rows.
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConnectClient, ConnectorStatus } from '../../core/connect-client.js';
import { ControlClient } from '../../core/control-client.js';
import { PgferryError } from '../../core/errors.js';
import { describeConnectorState } from '../connector/connector-wait.js';

export interface PauseComponentResult {
  component: 'connector' | 'pgferry';
  /** Connector name, or the control endpoint URL. */
  name: string;
  /** The state the component reported last (Connect's, or pgferry's paused/running/...). */
  state: string | null;
  /** It reached the requested state before the timeout. */
  reached: boolean;
  /** It could not be asked at all (connection refused, unknown connector, HTTP error). */
  unreachable: boolean;
  /** What it looked like last, or why it failed. */
  detail: string;
}

export interface SetPipelinePausedOptions {
  paused: boolean;
  connector?: { client: ConnectClient; name: string };
  controlUrls: readonly string[];
  /** CONTROL_TOKEN, sent to every control endpoint with POST /pause and /resume. */
  controlToken?: string | undefined;
  timeoutMs: number;
  pollIntervalMs?: number;
  signal?: AbortSignal;
}

/** Asks every component at once and waits for each; never throws for a component's failure. */
export function setPipelinePaused(
  options: SetPipelinePausedOptions,
): Promise<PauseComponentResult[]> {
  const deadline = Date.now() + options.timeoutMs;
  const poll = options.pollIntervalMs ?? 500;
  return Promise.all([
    ...(options.connector === undefined
      ? []
      : [setConnectorPaused(options.connector, options.paused, deadline, poll, options.signal)]),
    ...options.controlUrls.map((url) =>
      setPgferryPaused(
        new ControlClient({ baseUrl: url, token: options.controlToken }),
        options.paused,
        deadline,
        poll,
        options.signal,
      ),
    ),
  ]);
}

/** Connector and every task PAUSED (pause), or RUNNING (resume); a connector needs its tasks. */
export function hasConnectorReached(status: ConnectorStatus, paused: boolean): boolean {
  const want = paused ? 'PAUSED' : 'RUNNING';
  return (
    status.connector.state === want &&
    (paused || status.tasks.length > 0) &&
    status.tasks.every((task) => task.state === want)
  );
}

/** A component that did not answer; a cancelled call is rethrown as the cancellation. */
function unreachable(
  error: unknown,
  signal: AbortSignal | undefined,
): Pick<PauseComponentResult, 'state' | 'reached' | 'unreachable' | 'detail'> {
  if (signal?.aborted) throw signal.reason;
  return { state: null, reached: false, unreachable: true, detail: (error as Error).message };
}

async function setConnectorPaused(
  connector: { client: ConnectClient; name: string },
  paused: boolean,
  deadline: number,
  pollMs: number,
  signal: AbortSignal | undefined,
): Promise<PauseComponentResult> {
  const { client, name } = connector;
  const result = (
    fields: Pick<PauseComponentResult, 'state' | 'reached' | 'unreachable' | 'detail'>,
  ) => ({
    component: 'connector' as const,
    name,
    ...fields,
  });
  try {
    if (paused) await client.pauseConnector(name, signal);
    else await client.resumeConnector(name, signal);
  } catch (error) {
    return result(unreachable(error, signal));
  }
  let last: ConnectorStatus | undefined;
  let lastError: string | undefined;
  for (;;) {
    try {
      last = await client.getConnectorStatus(name, signal);
      lastError = undefined;
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (!(error instanceof PgferryError) || !error.retriable) {
        return result(unreachable(error, signal));
      }
      lastError = error.message;
    }
    if (last !== undefined && lastError === undefined) {
      if (hasConnectorReached(last, paused)) {
        return result({
          state: last.connector.state,
          reached: true,
          unreachable: false,
          detail: describeConnectorState(last),
        });
      }
      // A FAILED task neither pauses nor resumes on request: no point waiting for it.
      const failed = last.tasks.find((task) => task.state === 'FAILED');
      if (failed !== undefined || last.connector.state === 'FAILED') {
        return result({
          state: last.connector.state,
          reached: false,
          unreachable: false,
          detail: describeConnectorState(last),
        });
      }
    }
    if (Date.now() >= deadline) {
      return result({
        state: last?.connector.state ?? null,
        reached: false,
        unreachable: false,
        detail: lastError ?? describeConnectorState(last),
      });
    }
    await sleep(
      Math.min(pollMs, Math.max(0, deadline - Date.now())),
      undefined,
      signal ? { signal } : undefined,
    );
  }
}

async function setPgferryPaused(
  client: ControlClient,
  paused: boolean,
  deadline: number,
  pollMs: number,
  signal: AbortSignal | undefined,
): Promise<PauseComponentResult> {
  const url = client.baseUrl;
  const describe = (s: { state: string; paused: boolean; pausing?: boolean | undefined }) =>
    s.paused ? 'paused' : s.pausing ? 'pausing (batch in flight committing)' : s.state;
  const result = (
    fields: Pick<PauseComponentResult, 'state' | 'reached' | 'unreachable' | 'detail'>,
  ) => ({
    component: 'pgferry' as const,
    name: url,
    ...fields,
  });
  let status: { state: string; paused: boolean; pausing?: boolean | undefined };
  try {
    status = paused
      ? await client.pause(Math.max(0, (deadline - Date.now()) / 1000), signal)
      : await client.resume(signal);
  } catch (error) {
    return result(unreachable(error, signal));
  }
  // The server answered 202 (still committing the batch in flight): poll until paused.
  while (paused && !status.paused && Date.now() < deadline) {
    await sleep(
      Math.min(pollMs, Math.max(0, deadline - Date.now())),
      undefined,
      signal ? { signal } : undefined,
    );
    try {
      status = await client.health(signal);
    } catch (error) {
      return result(unreachable(error, signal));
    }
  }
  const reached = status.paused === paused && (paused || !status.pausing);
  return result({
    state: status.paused ? 'paused' : status.state,
    reached,
    unreachable: false,
    detail: describe(status),
  });
}

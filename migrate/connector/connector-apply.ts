// `pgferry connector apply`: idempotent register-or-update of the Debezium source connector,
// then wait until it and all its tasks run. Safe to run on every start of the stack.

import type { ConnectClient, ConnectorConfig, ConnectorStatus } from '../../core/connect-client.js';
import type { Logger } from '../../core/logger.js';
import { retryWithBackoff } from '../../core/retry-with-backoff.js';
import { planConnectorChange } from './connector-plan.js';
import { waitForConnectorRunning } from './connector-wait.js';

export interface ApplyConnectorOptions {
  client: ConnectClient;
  name: string;
  config: ConnectorConfig;
  /** Budget for the whole apply: retries of the writes and the wait for RUNNING. */
  timeoutMs: number;
  pollIntervalMs?: number;
  staleFailureGraceMs?: number;
  retryInitialDelayMs?: number;
  signal?: AbortSignal;
  log?: Logger;
}

export interface ApplyConnectorResult {
  name: string;
  action: 'created' | 'updated' | 'unchanged';
  /** Keys whose values changed (names only: values may hold credentials). */
  changedKeys: string[];
  status: ConnectorStatus;
}

export async function applyConnector(
  options: ApplyConnectorOptions,
): Promise<ApplyConnectorResult> {
  const { client, name, log } = options;
  const deadline = Date.now() + options.timeoutMs;
  const retry = {
    deadline,
    ...(options.retryInitialDelayMs === undefined
      ? {}
      : { initialDelayMs: options.retryInitialDelayMs }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    onRetry: (error: Error, attempt: number, delayMs: number) =>
      log?.warn(
        { connector: name, attempt, delayMs, err: error.message },
        'Connect REST call failed; retrying',
      ),
  };

  const current = await retryWithBackoff(
    () => client.getConnectorConfig(name, options.signal),
    retry,
  );
  const change = planConnectorChange(current, options.config);
  let action: ApplyConnectorResult['action'] = 'unchanged';
  let changedKeys: string[] = [];
  if (change.action !== 'unchanged') {
    // PUT is an upsert and idempotent, so retrying it after a lost response is harmless.
    await retryWithBackoff(
      () => client.putConnectorConfig(name, change.config, options.signal),
      retry,
    );
    action = change.action === 'create' ? 'created' : 'updated';
    changedKeys = change.action === 'update' ? change.changedKeys : [];
    log?.info({ connector: name, action, changedKeys }, 'connector config written');
  } else {
    log?.info({ connector: name, action }, 'connector config unchanged');
  }

  const status = await waitForConnectorRunning(client, name, {
    timeoutMs: Math.max(0, deadline - Date.now()),
    ...(options.pollIntervalMs === undefined ? {} : { pollIntervalMs: options.pollIntervalMs }),
    // Only a fresh write can leave stale FAILED states behind; an unchanged connector's
    // FAILED task is real and reported at once.
    staleFailureGraceMs: action === 'unchanged' ? 0 : (options.staleFailureGraceMs ?? 5_000),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    onTransientError: (error) =>
      log?.warn({ connector: name, err: error.message }, 'connector status unavailable; retrying'),
  });
  return { name, action, changedKeys, status };
}

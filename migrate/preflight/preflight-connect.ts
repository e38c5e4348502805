// Preflight checks of the schema registry and Kafka Connect: both answer, and the Debezium
// connector is registered with every task RUNNING (the brief's "verify connector health").

import type { PgferryConfig } from '../../core/config.js';
import { ConnectClient, type ConnectorStatus } from '../../core/connect-client.js';
import { createFetchDispatcher } from '../../core/http-tls.js';
import { redactUrlsInText } from '../../core/redact-url.js';
import { formatBasicAuthorization, splitUrlCredentials } from '../../core/url-credentials.js';
import { judgeNumericSettings, readConnectorFileConfig } from './connect-numeric-checks.js';
import {
  type Check,
  CheckSkipped,
  type CheckVerdict,
  describeError,
  fail,
  type PreflightContext,
  type PreflightSection,
  pass,
  runChecks,
  warn,
} from './preflight-check.js';
import { judgeHttpTransport } from './transport-checks.js';

/** The first line of a Java stack trace: the exception and its message. */
export const firstTraceLine = (trace: string | undefined): string =>
  trace?.split('\n')[0]?.trim() || 'no trace';

export function judgeConnector(name: string, status: ConnectorStatus | undefined): CheckVerdict {
  if (status === undefined) {
    return warn(`${name} is not registered yet: run pgferry connector apply`);
  }
  const state = status.connector.state;
  if (state === 'FAILED') {
    return fail(
      `${name} is FAILED: ${firstTraceLine(status.connector.trace)}: fix the cause, then pgferry connector apply`,
    );
  }
  const failed = status.tasks.filter((t) => t.state === 'FAILED');
  if (failed.length > 0) {
    return fail(
      `${name}: ${failed.length} task(s) FAILED: ${firstTraceLine(failed[0]?.trace)}: fix the cause, then restart the task (POST /connectors/${name}/tasks/${failed[0]?.id}/restart)`,
      failed.map((t) => `task ${t.id}: ${firstTraceLine(t.trace)}`),
    );
  }
  if (state === 'PAUSED') return warn(`${name} is PAUSED: pgferry resume`);
  if (state !== 'RUNNING') {
    return warn(`${name} is ${state}: wait for RUNNING, or see pgferry connector status`);
  }
  const notRunning = status.tasks.filter((t) => t.state !== 'RUNNING');
  if (status.tasks.length === 0 || notRunning.length > 0) {
    const states = status.tasks.map((t) => `task ${t.id} ${t.state}`).join(', ') || 'no tasks';
    return warn(
      `${name} is RUNNING but its tasks are not (${states}): wait, or see the worker log`,
    );
  }
  return pass(`${name} and its ${status.tasks.length} task(s) are RUNNING`);
}

export async function checkConnectAndRegistry(
  context: PreflightContext,
): Promise<PreflightSection> {
  const { config, options } = context;
  const connect = new ConnectClient({
    baseUrl: config.connect.url,
    auth: config.connect.auth,
    tls: config.connect.tls,
    requestTimeoutMs: options.checkTimeoutMs,
  });
  let connectError: string | undefined;
  const checks: Check[] = [
    {
      id: 'connect.registry',
      title: 'schema registry',
      run: () => checkRegistry(config, options.checkTimeoutMs),
    },
    {
      id: 'connect.registry_transport',
      title: 'schema registry encryption',
      run: async () =>
        judgeHttpTransport(config.schemaRegistry.url, 'SCHEMA_REGISTRY_URL', {
          setting: 'SCHEMA_REGISTRY_CA_FILE',
          file: config.schemaRegistry.tls.caFile,
        }),
    },
    {
      id: 'connect.reachable',
      title: 'Kafka Connect',
      run: async () => {
        try {
          const info = await connect.getWorkerInfo();
          return pass(`${connect.baseUrl} answers (Kafka Connect ${info.version})`);
        } catch (error) {
          connectError = describeError(error);
          return fail(`cannot reach ${connect.baseUrl}: ${connectError}: check CONNECT_URL`);
        }
      },
    },
    {
      id: 'connect.transport',
      title: 'Kafka Connect encryption',
      run: async () =>
        judgeHttpTransport(connect.baseUrl, 'CONNECT_URL', {
          setting: 'CONNECT_CA_FILE',
          file: config.connect.tls.caFile,
        }),
    },
    {
      id: 'connect.connector',
      title: 'connector',
      run: async () => {
        if (connectError !== undefined) {
          throw new CheckSkipped('not checked: Kafka Connect is unreachable');
        }
        const name = config.connect.connectorName;
        return judgeConnector(name, await connect.getConnectorStatus(name));
      },
    },
    {
      id: 'connect.numeric',
      title: 'exact numerics',
      run: async () => {
        const reading = await context.connector;
        if (reading.config !== undefined) {
          return judgeNumericSettings(reading.config, `connector ${config.connect.connectorName}`);
        }
        // Not registered yet: what `pgferry connector apply` would register.
        const file = config.connect.connectorConfigFile;
        return judgeNumericSettings(await readConnectorFileConfig(file), file);
      },
    },
  ];
  return {
    name: 'connect',
    title: 'Schema registry and Kafka Connect',
    checks: await runChecks(checks, options.checkTimeoutMs),
  };
}

async function checkRegistry(config: PgferryConfig, timeoutMs: number): Promise<CheckVerdict> {
  // loadConfig took any user:password@ out of the URL; split again for a config built elsewhere.
  const { url, auth: urlAuth } = splitUrlCredentials(config.schemaRegistry.url);
  const auth = urlAuth ?? config.schemaRegistry.auth;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (auth) headers.authorization = formatBasicAuthorization(auth);
  let response: Response;
  try {
    const dispatcher = createFetchDispatcher(config.schemaRegistry.tls);
    response = await fetch(`${url}/subjects`, {
      headers,
      signal: AbortSignal.timeout(timeoutMs),
      // undici's own Dispatcher type and the one Node's fetch declares differ only in name.
      ...(dispatcher ? ({ dispatcher } as RequestInit) : {}),
    });
  } catch (error) {
    const cause =
      error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
    const why = redactUrlsInText(`${describeError(error)}${cause}`);
    return fail(`cannot reach ${url}: ${why}: check SCHEMA_REGISTRY_URL`);
  }
  const body = await response.text();
  if (!response.ok) {
    return fail(
      `GET ${url}/subjects answered HTTP ${response.status}: check SCHEMA_REGISTRY_URL (Apicurio: its /apis/ccompat/v7 path) and SCHEMA_REGISTRY_USERNAME/PASSWORD`,
    );
  }
  let subjects: unknown;
  try {
    subjects = JSON.parse(body);
  } catch {
    subjects = undefined;
  }
  if (!Array.isArray(subjects)) {
    return fail(
      `GET ${url}/subjects did not answer a list of subjects: is SCHEMA_REGISTRY_URL a Confluent-compatible API (Apicurio: /apis/ccompat/v7)?`,
    );
  }
  return pass(`${url} answers (${subjects.length} subject(s))`);
}

// `pgferry preflight`: the brief's pre-migration checklist as checks, grouped by the service they
// look at. Every check runs on its own with a timeout and turns any error into its own FAIL, so
// one unreachable service never hides what the others say.
import type pg from 'pg';
import type { PgferryConfig } from '../../core/config.js';
import { ConnectClient } from '../../core/connect-client.js';
import {
  type ConnectorConfigReading,
  countChecks,
  describeError,
  type PreflightContext,
  type PreflightOptions,
  type PreflightReport,
  type SourceFacts,
} from './preflight-check.js';
import { checkConnectAndRegistry } from './preflight-connect.js';
import { checkKafka } from './preflight-kafka.js';
import { checkSource } from './preflight-source.js';
import { checkTarget } from './preflight-target.js';
import { openSourceFacts } from './source-facts.js';

export async function runPreflight(
  config: PgferryConfig,
  options: PreflightOptions,
): Promise<PreflightReport> {
  const at = new Date().toISOString();
  const connector = readConnectorConfig(config, options.checkTimeoutMs);
  const source = openSourceFacts(config, options);
  const context: PreflightContext = { config, options, connector, source };
  try {
    const sections = await Promise.all([
      checkSource(context),
      checkKafka(context),
      checkConnectAndRegistry(context),
      checkTarget(context),
    ]);
    const counts = countChecks(sections);
    return { at, sections, counts, ok: counts.fail === 0 };
  } finally {
    await closeSource(source);
  }
}

async function closeSource(source: Promise<SourceFacts>): Promise<void> {
  const facts = await source.catch(() => undefined);
  const client: pg.Client | undefined = facts?.client;
  await client?.end().catch(() => undefined);
}

async function readConnectorConfig(
  config: PgferryConfig,
  timeoutMs: number,
): Promise<ConnectorConfigReading> {
  const client = new ConnectClient({
    baseUrl: config.connect.url,
    auth: config.connect.auth,
    tls: config.connect.tls,
    requestTimeoutMs: timeoutMs,
  });
  try {
    const found = await client.getConnectorConfig(config.connect.connectorName);
    return found === undefined ? {} : { config: found };
  } catch (error) {
    return { error: describeError(error) };
  }
}

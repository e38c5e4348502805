// `pgferry rollback prepare`: before traffic moves to the target, make the old source a fallback
// that stays current. On the target: a publication of the migrated tables and (through the
// reverse Debezium connector) a slot, so every write made on the target from now on is captured;
// the forward connector is stopped first, so the writes the reverse pgferry applies to the source
// are not captured again and sent back (a loop). The reverse pgferry itself is a long-running
// `pgferry run --reverse`, started by the operator like the forward one.
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import type { PgferryConfig } from '../../core/config.js';
import { ConnectClient, type ConnectorConfig } from '../../core/connect-client.js';
import type { Logger } from '../../core/logger.js';
import { connectPg } from '../../core/pg-connection.js';
import { qualifiedName, quoteIdent } from '../../core/sql-identifier.js';
import { SchemaMapping } from '../../pipeline/routing/schema-mapping.js';
import { mapTargetTable } from '../../pipeline/routing/target-table-name.js';
import { requireSource } from '../command-context.js';
import { applyConnector } from '../connector/connector-apply.js';
import { readConnectorDefinition } from '../connector/connector-definition.js';
import { applyTableSelection } from '../connector/connector-selection.js';
import {
  formatTableName,
  type MigrationTable,
  resolveMigrationTables,
} from '../migration-tables.js';
import type { ConsumerLagReading } from './cutover-result.js';

export type PrepareStepName =
  | 'target-wal-level'
  | 'forward-drained'
  | 'reverse-publication'
  | 'forward-connector-stopped'
  | 'reverse-connector'
  | 'reverse-slot';

export interface PrepareStep {
  step: PrepareStepName;
  status: 'passed' | 'failed' | 'skipped';
  summary: string;
}

export interface PrepareResult {
  ok: boolean;
  dryRun: boolean;
  tables: string[];
  steps: PrepareStep[];
  /** What the operator runs next. */
  next: string[];
  /**
   * What it changes, as read (the plan shown before it acts is made of these): the publication
   * statement it runs (null: the publication already has the tables, or not reached) and the
   * forward connector's state (null: not registered, or not reached).
   */
  publicationSql: string | null;
  forwardState: string | null;
}

export interface PrepareOptions {
  tables?: MigrationTable[];
  dryRun: boolean;
  timeoutMs: number;
  log?: Logger;
  readConsumerLag: (config: PgferryConfig) => Promise<ConsumerLagReading>;
}

/** The reverse connector: the forward file's settings, the reverse file's keys on top, and the
 * publication and slot named by pgferry's config (REVERSE_PUBLICATION, REVERSE_SLOT_NAME). */
export async function buildReverseConnectorConfig(config: PgferryConfig): Promise<ConnectorConfig> {
  const forward = await readConnectorDefinition(config.connect.connectorConfigFile);
  const reverse = await readConnectorDefinition(config.reverse.connectorConfigFile);
  // pgferry creates the publication and watches the slot: it names them, not the file.
  const merged = {
    ...forward.config,
    ...reverse.config,
    'publication.name': config.reverse.publication,
    'publication.autocreate.mode': 'disabled',
    'slot.name': config.reverse.slotName,
  };
  // The same schemas and tables back (reverse replication keeps the names: no schema is renamed).
  return applyTableSelection(merged, config.mapping).config;
}

export async function prepareReverseReplication(
  config: PgferryConfig,
  options: PrepareOptions,
): Promise<PrepareResult> {
  const sourceSettings = requireSource(config, 'rollback prepare');
  const result: PrepareResult = {
    ok: false,
    dryRun: options.dryRun,
    tables: [],
    steps: [],
    next: [],
    publicationSql: null,
    forwardState: null,
  };
  const record = (step: PrepareStep) => {
    result.steps.push(step);
    options.log?.debug({ step: step.step, status: step.status }, step.summary);
    return step.status !== 'failed';
  };
  const source = await connectPg(sourceSettings, 'pgferry-rollback-prepare');
  let target: pg.Client | undefined;
  try {
    target = await connectPg(config.target, 'pgferry-rollback-prepare');
    const tables = await resolveMigrationTables(source, {
      ...(options.tables ? { tables: options.tables } : {}),
      publication: config.replication.publication,
      selection: config.mapping,
    });
    const schemas = SchemaMapping.fromSettings(config.mapping);
    const targetTables = tables.map((t) => mapTargetTable(t, schemas));
    result.tables = targetTables.map(formatTableName);

    const walLevel = await target.query<{ wal_level: string }>('SHOW wal_level');
    const level = walLevel.rows[0]?.wal_level;
    if (
      !record(
        level === 'logical'
          ? { step: 'target-wal-level', status: 'passed', summary: 'target wal_level = logical' }
          : {
              step: 'target-wal-level',
              status: 'failed',
              summary: `target wal_level = ${level}: set wal_level = logical on the target and restart it (reverse replication decodes its WAL)`,
            },
      )
    )
      return result;

    // Everything the source produced must be applied before its connector stops.
    const lag = await options.readConsumerLag(config);
    if (
      !record(
        lag.error === undefined && lag.totalLag === 0
          ? {
              step: 'forward-drained',
              status: 'passed',
              summary: 'forward consumer lag 0',
            }
          : {
              step: 'forward-drained',
              status: 'failed',
              summary:
                lag.error !== undefined
                  ? `forward consumer lag unreadable: ${lag.error}`
                  : `the forward pipeline still has ${lag.totalLag} message(s) to apply: run pgferry cutover first`,
            },
      )
    )
      return result;

    const publication = config.reverse.publication;
    const have = await target.query<{ schema: string; name: string }>(
      `SELECT schemaname AS schema, tablename AS name FROM pg_publication_tables WHERE pubname = $1`,
      [publication],
    );
    const found = await target.query<{ via_root: boolean }>(
      'SELECT pubviaroot AS via_root FROM pg_publication WHERE pubname = $1',
      [publication],
    );
    const exists = found.rowCount === 1;
    const wanted = new Set(result.tables);
    const current = new Set(have.rows.map((r) => `${r.schema}.${r.name}`));
    // Partitioned tables go back through their root, as they came (publish_via_partition_root;
    // without it the publication lists their partitions instead).
    const same =
      exists &&
      found.rows[0]?.via_root === true &&
      current.size === wanted.size &&
      [...wanted].every((t) => current.has(t));
    const list = targetTables.map((t) => qualifiedName(t.schema, t.name)).join(', ');
    const sql = exists
      ? `ALTER PUBLICATION ${quoteIdent(publication)} SET TABLE ${list}; ALTER PUBLICATION ${quoteIdent(publication)} SET (publish_via_partition_root = true)`
      : `CREATE PUBLICATION ${quoteIdent(publication)} FOR TABLE ${list} WITH (publish_via_partition_root = true)`;
    if (!same) result.publicationSql = sql;
    if (same) {
      record({
        step: 'reverse-publication',
        status: 'passed',
        summary: `publication ${publication} on the target already has the ${wanted.size} table(s)`,
      });
    } else if (options.dryRun) {
      record({ step: 'reverse-publication', status: 'skipped', summary: `dry run: ${sql}` });
    } else {
      await target.query(sql);
      record({
        step: 'reverse-publication',
        status: 'passed',
        summary: `${exists ? 'updated' : 'created'} publication ${publication} on the target (${wanted.size} table(s))`,
      });
    }

    const connect = new ConnectClient({
      baseUrl: config.connect.url,
      auth: config.connect.auth,
      tls: config.connect.tls,
    });
    const forwardName = config.connect.connectorName;
    const forward = await connect.getConnectorStatus(forwardName);
    result.forwardState = forward?.connector.state ?? null;
    if (forward === undefined) {
      record({
        step: 'forward-connector-stopped',
        status: 'skipped',
        summary: `forward connector ${forwardName} is not registered`,
      });
    } else if (options.dryRun) {
      record({
        step: 'forward-connector-stopped',
        status: 'skipped',
        summary: `dry run: would stop forward connector ${forwardName} (now ${forward.connector.state})`,
      });
    } else {
      await connect.stopConnector(forwardName);
      const stopped = await waitForState(connect, forwardName, 'STOPPED', options.timeoutMs);
      if (
        !record(
          stopped
            ? {
                step: 'forward-connector-stopped',
                status: 'passed',
                summary: `forward connector ${forwardName} STOPPED (its slot ${config.replication.slotName} is kept; drop it once the migration is final)`,
              }
            : {
                step: 'forward-connector-stopped',
                status: 'failed',
                summary: `forward connector ${forwardName} did not reach STOPPED within ${options.timeoutMs / 1000}s`,
              },
        )
      )
        return result;
    }

    const reverseName = config.reverse.connectorName;
    if (options.dryRun) {
      record({
        step: 'reverse-connector',
        status: 'skipped',
        summary: `dry run: would register connector ${reverseName} from ${config.connect.connectorConfigFile} + ${config.reverse.connectorConfigFile}`,
      });
      record({
        step: 'reverse-slot',
        status: 'skipped',
        summary: `dry run: the connector would create slot ${config.reverse.slotName} on the target`,
      });
      result.ok = true;
      return result;
    }
    // From here the forward connector is stopped: a failure must say so, not just throw.
    let action: string;
    try {
      const applied = await applyConnector({
        client: connect,
        name: reverseName,
        config: await buildReverseConnectorConfig(config),
        timeoutMs: options.timeoutMs,
        ...(options.log ? { log: options.log } : {}),
      });
      action = applied.action;
    } catch (error) {
      record({
        step: 'reverse-connector',
        status: 'failed',
        summary: `reverse connector ${reverseName} did not start: ${(error as Error).message}. The forward connector ${forwardName} is STOPPED; fix the cause and run rollback prepare again (or resume the forward connector: PUT ${config.connect.url}/connectors/${forwardName}/resume)`,
      });
      return result;
    }
    record({
      step: 'reverse-connector',
      status: 'passed',
      summary: `reverse connector ${reverseName} ${action}, RUNNING`,
    });

    // The slot is where capture starts: from here on every write on the target is kept.
    const slot = await waitForSlot(target, config.reverse.slotName, options.timeoutMs);
    if (
      !record(
        slot
          ? {
              step: 'reverse-slot',
              status: 'passed',
              summary: `slot ${config.reverse.slotName} on the target is active: writes on the target are captured from now on`,
            }
          : {
              step: 'reverse-slot',
              status: 'failed',
              summary: `slot ${config.reverse.slotName} did not appear (active) on the target within ${options.timeoutMs / 1000}s; see the connector's status`,
            },
      )
    )
      return result;
    result.ok = true;
    result.next = [
      'start the reverse pgferry (applies target writes to the source): pgferry run --reverse   (with its own METRICS_PORT if the forward one still runs)',
      'switch the application to the target',
      'to check the fallback at any time: pgferry status --reverse ; pgferry verify --reverse',
      'to switch back: stop writes on the target, then pgferry rollback',
    ];
    return result;
  } finally {
    await source.end().catch(() => undefined);
    await target?.end().catch(() => undefined);
  }
}

async function waitForState(
  connect: ConnectClient,
  name: string,
  state: string,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const status = await connect.getConnectorStatus(name);
    if (status?.connector.state === state) return true;
    await sleep(500);
  }
  return false;
}

async function waitForSlot(client: pg.ClientBase, slot: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const result = await client.query<{ active: boolean }>(
      'SELECT active FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
    if (result.rows[0]?.active) return true;
    await sleep(500);
  }
  return false;
}

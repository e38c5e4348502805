// Preflight checks of the source PostgreSQL: what Debezium needs to stream it (wal_level, a free
// slot and WAL sender, a role with REPLICATION and SELECT, the publication, a key on every
// captured table) and whether an existing slot is holding back WAL.
import type pg from 'pg';
import type { PgferryConfig, PostgresSettings } from '../../core/config.js';
import { PgferryError } from '../../core/errors.js';
import { qualifiedName, quoteIdent, quoteLiteral } from '../../core/sql-identifier.js';
import {
  formatTableName,
  type MigrationTable,
  resolveMigrationTables,
} from '../migration-tables.js';
import { readSchemaCatalog, type SchemaCatalog } from '../schema-sync/schema-catalog.js';
import {
  type Check,
  CheckSkipped,
  type CheckVerdict,
  type ConnectorConfigReading,
  connectPgWithin,
  describeError,
  fail,
  listNames,
  type PreflightContext,
  type PreflightOptions,
  type PreflightSection,
  pass,
  runChecks,
  type SourceFacts,
  skip,
  warn,
} from './preflight-check.js';

/**
 * Connects to the source as SOURCE_DB_* and resolves the captured tables, once, within the check
 * timeout. Rejects when the source cannot be reached.
 */
export async function openSourceFacts(
  config: PgferryConfig,
  options: PreflightOptions,
): Promise<SourceFacts> {
  const settings = config.source;
  if (settings === undefined)
    throw new PgferryError('source database not configured (SOURCE_DB_*)', { retriable: false });
  const client = await connectPgWithin(settings, options.checkTimeoutMs);
  try {
    // A hung query ends on its own instead of holding the connection past the check timeout.
    await client.query(`SET statement_timeout = ${Math.ceil(options.checkTimeoutMs)}`);
    const about = await client.query<{ version: string; user: string }>(
      `SELECT current_setting('server_version') AS version, current_user AS user`,
    );
    let catalog: Promise<SchemaCatalog> | undefined;
    const facts: SourceFacts = {
      client,
      serverVersion: about.rows[0]?.version ?? 'unknown',
      user: about.rows[0]?.user ?? settings.user,
      tablesFrom: describeTableOrigin(options.tables, config.replication.publication),
      readCatalog: () => {
        const tables = facts.tables;
        if (tables === undefined) {
          return Promise.reject(
            new CheckSkipped(`not checked: the captured tables are unknown (${facts.tablesError})`),
          );
        }
        catalog ??= readCapturedCatalog(settings, tables, options.checkTimeoutMs);
        return catalog;
      },
    };
    try {
      facts.tables = await resolveMigrationTables(client, {
        ...(options.tables ? { tables: options.tables } : {}),
        publication: config.replication.publication,
      });
      facts.tablesFrom = await describeResolvedOrigin(client, options, config);
    } catch (error) {
      facts.tablesError = describeError(error);
    }
    return facts;
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
}

async function readCapturedCatalog(
  settings: PostgresSettings,
  tables: MigrationTable[],
  timeoutMs: number,
): Promise<SchemaCatalog> {
  const client = await connectPgWithin(settings, timeoutMs);
  try {
    await client.query(`SET statement_timeout = ${Math.ceil(timeoutMs)}`);
    return await readSchemaCatalog(client, { tables, followDependencies: true });
  } finally {
    await client.end().catch(() => undefined);
  }
}

function describeTableOrigin(tables: readonly MigrationTable[] | undefined, publication: string) {
  return tables?.length ? '--tables' : `publication ${publication}`;
}

async function describeResolvedOrigin(
  client: pg.ClientBase,
  options: PreflightOptions,
  config: PgferryConfig,
): Promise<string> {
  if (options.tables?.length) return '--tables';
  const publication = config.replication.publication;
  const found = await client.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [
    publication,
  ]);
  // resolveMigrationTables falls back to schema public when the publication does not exist.
  return found.rowCount ? `publication ${publication}` : 'schema public (no publication yet)';
}

// --- pure judgements (unit-tested) ---

export type ConnectorUser =
  | { user: string; from: string }
  | { unknown: string; placeholder?: string };

/**
 * The connector's database role: --connector-user, else the connector config's database.user
 * unless it is a `${...}` placeholder the worker resolves (pgferry cannot see its value).
 */
export function resolveConnectorUser(
  reading: ConnectorConfigReading,
  optionUser: string | undefined,
  connectorName: string,
): ConnectorUser {
  if (optionUser !== undefined) return { user: optionUser, from: '--connector-user' };
  const configured = reading.config?.['database.user'];
  if (configured !== undefined && !configured.includes('${')) {
    return { user: configured, from: `connector ${connectorName}` };
  }
  if (configured !== undefined) {
    return {
      unknown: `the user is a worker placeholder (${configured}); give --connector-user NAME`,
      placeholder: configured,
    };
  }
  if (reading.error !== undefined) {
    return {
      unknown: `Kafka Connect could not be asked (${reading.error}); give --connector-user NAME`,
    };
  }
  return {
    unknown: `connector ${connectorName} is not registered; give --connector-user NAME`,
  };
}

export type ReplicaIdentityVerdict = 'ok' | 'no-primary-key' | 'no-key' | 'nothing';

/**
 * pg_class.relreplident: d = default (the primary key), f = full, i = an index, n = nothing.
 * Without a primary key a default identity has no key at all: UPDATE and DELETE on a table in
 * the publication then fail on the source. REPLICA IDENTITY FULL (or USING INDEX) lets Debezium
 * capture it, but pgferry still needs a primary key to apply it.
 */
export function judgeReplicaIdentity(table: {
  hasPrimaryKey: boolean;
  identity: string;
}): ReplicaIdentityVerdict {
  if (table.identity === 'n') return 'nothing';
  if (table.hasPrimaryKey) return 'ok';
  if (table.identity === 'f' || table.identity === 'i') return 'no-primary-key';
  return 'no-key';
}

export interface SlotReading {
  name: string;
  exists: boolean;
  active: boolean;
  retainedBytes: number | null;
  /** pg_replication_slots.wal_status (PostgreSQL 13+): reserved, extended, unreserved, lost. */
  walStatus: string | null;
  database: string | null;
  currentDatabase: string;
  plugin: string | null;
}

const MB = 1024 * 1024;

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * MB) return `${(bytes / (1024 * MB)).toFixed(1)} GB`;
  if (bytes >= MB) return `${(bytes / MB).toFixed(1)} MB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${bytes} B`;
}

/** An inactive slot keeps every WAL segment since its restart_lsn: the source disk fills up. */
export function judgeSlot(
  slot: SlotReading,
  maxRetainedMb: number,
  expectedPlugin = 'pgoutput',
): CheckVerdict {
  if (!slot.exists) {
    return pass(`${slot.name} does not exist yet: the connector creates it when it first starts`);
  }
  if (slot.plugin === null) {
    return fail(
      `${slot.name} is a physical slot, not a logical one: use another SOURCE_SLOT_NAME (and slot.name), or drop it`,
    );
  }
  if (slot.plugin !== expectedPlugin) {
    return fail(
      `${slot.name} decodes with ${slot.plugin}, the connector with ${expectedPlugin}: use another SOURCE_SLOT_NAME (and slot.name), or drop it`,
    );
  }
  if (slot.database !== null && slot.database !== slot.currentDatabase) {
    return fail(
      `${slot.name} belongs to database ${slot.database}, not ${slot.currentDatabase}: use another SOURCE_SLOT_NAME (and slot.name), or drop it`,
    );
  }
  if (slot.walStatus === 'lost') {
    return fail(
      `${slot.name} has lost WAL it needs (wal_status = lost): drop it (SELECT pg_drop_replication_slot(${quoteLiteral(slot.name)})) and let the connector snapshot again`,
    );
  }
  if (slot.walStatus === 'unreserved') {
    return warn(
      `${slot.name} is about to lose WAL it needs (wal_status = unreserved, beyond max_slot_wal_keep_size): let the connector catch up now`,
    );
  }
  const retained = slot.retainedBytes === null ? 'unknown' : formatBytes(slot.retainedBytes);
  if (slot.active) return pass(`${slot.name} is active (read by a connector), retains ${retained}`);
  if (slot.retainedBytes !== null && slot.retainedBytes > maxRetainedMb * MB) {
    return warn(
      `${slot.name} is inactive and retains ${retained} of WAL (more than ${maxRetainedMb} MB): start the connector, or drop the slot (SELECT pg_drop_replication_slot(${quoteLiteral(slot.name)})) before the source disk fills up`,
    );
  }
  return pass(`${slot.name} exists, inactive (no connector reads it now), retains ${retained}`);
}

export interface ReplicationCapacity {
  maxSlots: number;
  usedSlots: number;
  maxSenders: number;
  activeSenders: number;
  slotExists: boolean;
  slotActive: boolean;
}

/** The connector needs one slot unless its slot exists, and one WAL sender unless it is active. */
export function judgeReplicationCapacity(c: ReplicationCapacity): CheckVerdict {
  const freeSlots = c.maxSlots - c.usedSlots;
  const freeSenders = c.maxSenders - c.activeSenders;
  const needSlots = c.slotExists ? 0 : 1;
  const needSenders = c.slotActive ? 0 : 1;
  const summary = `${freeSlots} of ${c.maxSlots} replication slots free, ${freeSenders} of ${c.maxSenders} WAL senders free`;
  const problems: string[] = [];
  if (freeSlots < needSlots) {
    problems.push(
      'no free replication slot: raise max_replication_slots (restart) or drop an unused slot',
    );
  }
  if (freeSenders < needSenders) {
    problems.push('no free WAL sender: raise max_wal_senders (restart)');
  }
  return problems.length > 0 ? fail(`${summary}; ${problems.join('; ')}`) : pass(summary);
}

// --- the checks ---

const SECTION_TITLE = 'Source PostgreSQL';

export async function checkSource(context: PreflightContext): Promise<PreflightSection> {
  const { config, options } = context;
  const settings = config.source;
  const where = settings
    ? `${settings.host}:${settings.port}/${settings.database} as ${settings.user}`
    : 'not configured';
  const title = `${SECTION_TITLE} (${where})`;
  let facts: SourceFacts;
  try {
    facts = await context.source;
  } catch (error) {
    return {
      name: 'source',
      title,
      checks: [
        {
          id: 'source.reachable',
          title: 'reachable',
          ...fail(`cannot connect: ${describeError(error)}: check SOURCE_DB_* and the network`),
        },
        ...SOURCE_CHECKS.map(({ id, title: t }) => ({
          id,
          title: t,
          ...skip('not checked: the source is unreachable'),
        })),
      ],
    };
  }
  const checks: Check[] = [
    {
      id: 'source.reachable',
      title: 'reachable',
      run: async () => pass(`PostgreSQL ${facts.serverVersion}, connected as ${facts.user}`),
    },
    ...SOURCE_CHECKS.map(({ id, title: t, run }) => ({
      id,
      title: t,
      run: () => run(facts, context),
    })),
  ];
  return { name: 'source', title, checks: await runChecks(checks, options.checkTimeoutMs) };
}

interface SourceCheck {
  id: string;
  title: string;
  run: (facts: SourceFacts, context: PreflightContext) => Promise<CheckVerdict>;
}

const SOURCE_CHECKS: SourceCheck[] = [
  { id: 'source.tables', title: 'captured tables', run: checkCapturedTables },
  { id: 'source.wal_level', title: 'wal_level', run: checkWalLevel },
  { id: 'source.capacity', title: 'slots and WAL senders', run: checkCapacity },
  { id: 'source.connector_role', title: 'connector role', run: checkConnectorRole },
  { id: 'source.publication', title: 'publication', run: checkPublication },
  { id: 'source.keys', title: 'primary keys', run: checkKeys },
  { id: 'source.slot', title: 'replication slot', run: checkSlot },
];

function requireTables(facts: SourceFacts): MigrationTable[] {
  if (facts.tables === undefined) {
    throw new CheckSkipped('not checked: the captured tables are unknown (see captured tables)');
  }
  return facts.tables;
}

const tableArrays = (tables: readonly MigrationTable[]) => [
  tables.map((t) => t.schema),
  tables.map((t) => t.name),
];

const qualified = (t: MigrationTable): string => qualifiedName(t.schema, t.name);

async function checkCapturedTables(facts: SourceFacts): Promise<CheckVerdict> {
  if (facts.tables === undefined) {
    return fail(`${facts.tablesError ?? 'unknown error'}: fix --tables or SOURCE_PUBLICATION`);
  }
  if (facts.tables.length === 0) {
    return warn(
      `no tables to capture (from ${facts.tablesFrom}): add tables to the publication, or name them with --tables`,
    );
  }
  const names = facts.tables.map(formatTableName);
  return pass(`${names.length} from ${facts.tablesFrom}: ${listNames(names)}`);
}

async function checkWalLevel(facts: SourceFacts): Promise<CheckVerdict> {
  const result = await facts.client.query<{ wal_level: string }>(
    `SELECT current_setting('wal_level') AS wal_level`,
  );
  const level = result.rows[0]?.wal_level ?? 'unknown';
  if (level === 'logical') return pass('wal_level = logical');
  return fail(
    `wal_level = ${level}, Debezium needs logical: ALTER SYSTEM SET wal_level = logical, then restart PostgreSQL (managed services: enable logical replication in the parameter group)`,
  );
}

async function checkCapacity(facts: SourceFacts, context: PreflightContext): Promise<CheckVerdict> {
  const result = await facts.client.query<{
    max_slots: number;
    used_slots: number;
    max_senders: number;
    active_senders: number;
    slot_exists: boolean;
    slot_active: boolean;
  }>(
    `SELECT current_setting('max_replication_slots')::int AS max_slots,
            (SELECT count(*) FROM pg_replication_slots)::int AS used_slots,
            current_setting('max_wal_senders')::int AS max_senders,
            (SELECT count(*) FROM pg_stat_replication)::int AS active_senders,
            s.slot_name IS NOT NULL AS slot_exists, coalesce(s.active, false) AS slot_active
       FROM (SELECT 1) AS one LEFT JOIN pg_replication_slots s ON s.slot_name = $1`,
    [context.config.replication.slotName],
  );
  const row = result.rows[0];
  if (!row) throw new PgferryError('pg_replication_slots returned nothing', { retriable: false });
  return judgeReplicationCapacity({
    maxSlots: row.max_slots,
    usedSlots: row.used_slots,
    maxSenders: row.max_senders,
    activeSenders: row.active_senders,
    slotExists: row.slot_exists,
    slotActive: row.slot_active,
  });
}

async function checkConnectorRole(
  facts: SourceFacts,
  context: PreflightContext,
): Promise<CheckVerdict> {
  const resolved = resolveConnectorUser(
    await context.connector,
    context.options.connectorUser,
    context.config.connect.connectorName,
  );
  if ('unknown' in resolved) return warn(`cannot check: ${resolved.unknown}`);
  const { user } = resolved;
  const role = await facts.client.query<{
    super: boolean;
    replication: boolean;
    login: boolean;
    can_connect: boolean;
    database: string;
  }>(
    // On AWS RDS/Aurora the replication right is membership of rds_replication, not the attribute.
    `SELECT rolsuper AS super,
            rolreplication OR CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_replication')
                                   THEN pg_has_role(rolname, 'rds_replication', 'MEMBER')
                                   ELSE false END AS replication,
            rolcanlogin AS login,
            has_database_privilege(rolname, current_database(), 'CONNECT') AS can_connect,
            current_database() AS database
       FROM pg_roles WHERE rolname = $1`,
    [user],
  );
  const row = role.rows[0];
  if (!row) {
    return fail(
      `role ${user} (from ${resolved.from}) does not exist on the source: create it (CREATE ROLE ${quoteIdent(user)} LOGIN REPLICATION)`,
    );
  }
  const problems: string[] = [];
  if (!row.login) problems.push(`ALTER ROLE ${quoteIdent(user)} LOGIN`);
  if (!row.replication && !row.super) problems.push(`ALTER ROLE ${quoteIdent(user)} REPLICATION`);
  if (!row.can_connect) {
    problems.push(`GRANT CONNECT ON DATABASE ${quoteIdent(row.database)} TO ${quoteIdent(user)}`);
  }
  const tables = facts.tables ?? [];
  const unreadable = await facts.client.query<{ schema: string; name: string }>(
    `SELECT t.schema, t.name FROM unnest($2::text[], $3::text[]) AS t(schema, name)
      WHERE NOT (has_schema_privilege($1, t.schema, 'USAGE')
                 AND has_table_privilege($1, format('%I.%I', t.schema, t.name), 'SELECT'))`,
    [user, ...tableArrays(tables)],
  );
  const details = unreadable.rows.map(
    (t) =>
      `${formatTableName(t)}: GRANT USAGE ON SCHEMA ${quoteIdent(t.schema)} TO ${quoteIdent(user)}; GRANT SELECT ON ${qualified(t)} TO ${quoteIdent(user)}`,
  );
  if (unreadable.rows.length > 0) {
    problems.push(`SELECT on ${unreadable.rows.length} captured table(s) (listed below)`);
  }
  if (problems.length > 0) {
    return fail(`role ${user} (from ${resolved.from}) lacks: ${problems.join('; ')}`, details);
  }
  const tablesNote =
    facts.tables === undefined ? '' : `, SELECT on all ${tables.length} captured table(s)`;
  return pass(
    `role ${user} (from ${resolved.from}) has ${row.super ? 'SUPERUSER' : 'REPLICATION'}${tablesNote}`,
  );
}

async function checkPublication(
  facts: SourceFacts,
  context: PreflightContext,
): Promise<CheckVerdict> {
  const name = context.config.replication.publication;
  const tables = requireTables(facts);
  const found = await facts.client.query<{ all_tables: boolean }>(
    'SELECT puballtables AS all_tables FROM pg_publication WHERE pubname = $1',
    [name],
  );
  if (found.rowCount) {
    const missing = await facts.client.query<{ schema: string; name: string }>(
      `SELECT t.schema, t.name FROM unnest($2::text[], $3::text[]) AS t(schema, name)
        WHERE NOT EXISTS (SELECT 1 FROM pg_publication_tables p
                           WHERE p.pubname = $1 AND p.schemaname = t.schema AND p.tablename = t.name)`,
      [name, ...tableArrays(tables)],
    );
    if (missing.rows.length > 0) {
      return fail(
        `${name} does not publish ${missing.rows.length} captured table(s), Debezium would never see their changes: ALTER PUBLICATION ${quoteIdent(name)} ADD TABLE ${missing.rows.map(qualified).join(', ')}`,
        missing.rows.map(formatTableName),
      );
    }
    return pass(`${name} exists and publishes all ${tables.length} captured table(s)`);
  }

  const create = `CREATE PUBLICATION ${quoteIdent(name)} FOR TABLE ${tables.map(qualified).join(', ') || '...'}`;
  const reading = await context.connector;
  const mode = reading.config?.['publication.autocreate.mode'];
  if (mode === 'disabled') {
    return fail(
      `${name} does not exist and the connector does not create it (publication.autocreate.mode = disabled): as the tables' owner, ${create}`,
    );
  }
  const resolved = resolveConnectorUser(
    reading,
    context.options.connectorUser,
    context.config.connect.connectorName,
  );
  if ('unknown' in resolved) {
    return warn(
      `${name} does not exist; cannot tell whether the connector may create it (${resolved.unknown}): create it as the tables' owner: ${create}`,
    );
  }
  const can = await facts.client.query<{ super: boolean; create_db: boolean; owns_all: boolean }>(
    `SELECT r.rolsuper AS super,
            has_database_privilege(r.rolname, current_database(), 'CREATE') AS create_db,
            coalesce((SELECT bool_and(pg_has_role(r.rolname, c.relowner, 'USAGE'))
                        FROM unnest($2::text[], $3::text[]) AS t(schema, name)
                        JOIN pg_namespace n ON n.nspname = t.schema
                        JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.name), true) AS owns_all
       FROM pg_roles r WHERE r.rolname = $1`,
    [resolved.user, ...tableArrays(tables)],
  );
  const row = can.rows[0];
  if (row?.super) {
    return pass(`${name} does not exist yet; ${resolved.user} is a superuser and can create it`);
  }
  if (row?.create_db && row.owns_all) {
    // FOR ALL TABLES (Debezium's default mode, all_tables) needs a superuser; filtered does not.
    if (mode === 'filtered') {
      return pass(
        `${name} does not exist yet; ${resolved.user} owns the tables and may create it (publication.autocreate.mode = filtered)`,
      );
    }
    return warn(
      `${name} does not exist; ${resolved.user} may create it for these tables but not FOR ALL TABLES (publication.autocreate.mode = ${mode ?? 'all_tables, the default'}): set publication.autocreate.mode = filtered, or ${create}`,
    );
  }
  return warn(
    `${name} does not exist and ${resolved.user} cannot create it (needs CREATE on the database and ownership of the tables, or superuser): as the tables' owner, ${create}`,
  );
}

async function checkKeys(facts: SourceFacts): Promise<CheckVerdict> {
  const tables = requireTables(facts);
  const result = await facts.client.query<{
    schema: string;
    name: string;
    identity: string;
    has_pk: boolean;
  }>(
    `SELECT t.schema, t.name, c.relreplident AS identity,
            EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p') AS has_pk
       FROM unnest($1::text[], $2::text[]) AS t(schema, name)
       JOIN pg_namespace n ON n.nspname = t.schema
       JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.name
      ORDER BY t.schema, t.name`,
    tableArrays(tables),
  );
  const failures: string[] = [];
  const warnings: string[] = [];
  for (const row of result.rows) {
    const name = formatTableName(row);
    const alter = `ALTER TABLE ${qualified(row)}`;
    switch (judgeReplicaIdentity({ hasPrimaryKey: row.has_pk, identity: row.identity })) {
      case 'ok':
        break;
      case 'nothing':
        failures.push(
          `${name}: REPLICA IDENTITY NOTHING, so UPDATE and DELETE fail on the source once it is published: ${alter} REPLICA IDENTITY DEFAULT`,
        );
        break;
      case 'no-key':
        failures.push(
          `${name}: no primary key and no replica identity: add a primary key, or ${alter} REPLICA IDENTITY FULL; pgferry still refuses tables without a primary key`,
        );
        break;
      case 'no-primary-key':
        warnings.push(
          `${name}: no primary key (REPLICA IDENTITY ${row.identity === 'f' ? 'FULL' : 'USING INDEX'}: Debezium can capture it), but pgferry refuses tables without a primary key: add one, or leave the table out`,
        );
        break;
    }
  }
  if (failures.length > 0) {
    return fail(
      `${failures.length} table(s) without a primary key or replica identity: add a primary key, or ALTER TABLE ... REPLICA IDENTITY FULL; pgferry still refuses tables without a primary key`,
      [...failures, ...warnings],
    );
  }
  if (warnings.length > 0) {
    return warn(
      `${warnings.length} table(s) without a primary key: Debezium can capture them, pgferry run will not apply them`,
      warnings,
    );
  }
  return pass(`all ${tables.length} captured table(s) have a primary key`);
}

async function checkSlot(facts: SourceFacts, context: PreflightContext): Promise<CheckVerdict> {
  const name = context.config.replication.slotName;
  const result = await facts.client.query<{
    exists: boolean;
    active: boolean | null;
    retained: string | null;
    wal_status: string | null;
    database: string | null;
    current_database: string;
    plugin: string | null;
  }>(
    `SELECT s.slot_name IS NOT NULL AS exists, s.active, s.database, s.plugin,
            current_database() AS current_database,
            -- wal_status exists from PostgreSQL 13 on; read through jsonb so older sources work.
            to_jsonb(s) ->> 'wal_status' AS wal_status,
            pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::bigint::text AS retained
       FROM (SELECT 1) AS one LEFT JOIN pg_replication_slots s ON s.slot_name = $1`,
    [name],
  );
  const row = result.rows[0];
  if (!row) throw new PgferryError('pg_replication_slots returned nothing', { retriable: false });
  return judgeSlot(
    {
      name,
      exists: row.exists,
      active: row.active ?? false,
      retainedBytes: row.retained === null ? null : Number(row.retained),
      walStatus: row.wal_status,
      database: row.database,
      currentDatabase: row.current_database,
      plugin: row.plugin,
    },
    context.options.maxSlotRetainedMb,
    // Debezium's default decoder is decoderbufs; this project's connector file says pgoutput.
    (await context.connector).config?.['plugin.name'] ?? 'pgoutput',
  );
}

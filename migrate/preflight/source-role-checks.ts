// Preflight check of the connector's role on the source: it exists, may log in, replicate and
// connect, and can read every captured table; and which role that is (resolveConnectorUser).
import type pg from 'pg';
import { quoteIdent } from '../../core/sql-identifier.js';
import { formatTableName, type MigrationTable } from '../migration-tables.js';
import {
  type CheckVerdict,
  type ConnectorConfigReading,
  fail,
  type PreflightContext,
  pass,
  type SourceFacts,
  warn,
} from './preflight-check.js';
import { qualifyTable, toTableArrays } from './source-facts.js';

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

export async function checkConnectorRole(
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
  const unreadable = await findUnreadableTables(facts.client, user, tables);
  const details = unreadable.map((t) => grantSelectFix(t, user));
  if (unreadable.length > 0) {
    problems.push(`SELECT on ${unreadable.length} captured table(s) (listed below)`);
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

/** The tables `user` cannot read: no USAGE on the schema or no SELECT on the table. */
export async function findUnreadableTables(
  client: pg.ClientBase,
  user: string,
  tables: readonly MigrationTable[],
): Promise<MigrationTable[]> {
  const unreadable = await client.query<{ schema: string; name: string }>(
    `SELECT t.schema, t.name FROM unnest($2::text[], $3::text[]) AS t(schema, name)
      WHERE NOT (has_schema_privilege($1, t.schema, 'USAGE')
                 AND has_table_privilege($1, format('%I.%I', t.schema, t.name), 'SELECT'))`,
    [user, ...toTableArrays(tables)],
  );
  return unreadable.rows;
}

/** "schema.table: GRANT USAGE ON SCHEMA ...; GRANT SELECT ON ... TO user". */
export const grantSelectFix = (t: MigrationTable, user: string): string =>
  `${formatTableName(t)}: GRANT USAGE ON SCHEMA ${quoteIdent(t.schema)} TO ${quoteIdent(user)}; GRANT SELECT ON ${qualifyTable(t)} TO ${quoteIdent(user)}`;

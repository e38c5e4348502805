// Preflight checks of the target's pgferry role: its attributes (no more power than needed) and
// the privileges `pgferry run` and schema-sync need on the database, schemas and target tables.

import type pg from 'pg';
import { PgferryError } from '../../core/errors.js';
import { qualifiedName, quoteIdent } from '../../core/sql-identifier.js';
import {
  resolveTargetSchema,
  type TargetSchemaChoice,
} from '../../pipeline/routing/schema-mapping.js';
import { BOOKKEEPING_SCHEMA } from '../../sink/bookkeeping/bookkeeping-schema.js';
import type { MigrationTable } from '../migration-tables.js';
import { type CheckVerdict, fail, pass, warn } from './preflight-check.js';

export interface RoleAttributes {
  superuser: boolean;
  bypassRls: boolean;
  createRole: boolean;
  createDb: boolean;
}

/** pgferry needs none of these; a sink role that has them can do far more than write rows. */
export function judgeRoleAttributes(user: string, role: RoleAttributes): CheckVerdict {
  const extra = [
    role.superuser ? 'SUPERUSER' : undefined,
    role.bypassRls ? 'BYPASSRLS' : undefined,
    role.createRole ? 'CREATEROLE' : undefined,
    role.createDb ? 'CREATEDB' : undefined,
  ].filter((a): a is string => a !== undefined);
  if (extra.length === 0) {
    return pass(`${user} has no SUPERUSER, BYPASSRLS, CREATEROLE or CREATEDB`);
  }
  return warn(
    `${user} has ${extra.join(', ')}, which pgferry does not need: use a role with only CONNECT, CREATE and TEMPORARY on the database and USAGE, CREATE on the target schema (ALTER ROLE ${quoteIdent(user)} ${extra.map((a) => `NO${a}`).join(' ')})`,
  );
}

export async function checkRoleAttributes(client: pg.Client): Promise<CheckVerdict> {
  const result = await client.query<{
    user: string;
    superuser: boolean;
    bypass_rls: boolean;
    create_role: boolean;
    create_db: boolean;
  }>(
    `SELECT rolname AS user, rolsuper AS superuser, rolbypassrls AS bypass_rls,
            rolcreaterole AS create_role, rolcreatedb AS create_db
       FROM pg_roles WHERE rolname = current_user`,
  );
  const row = result.rows[0];
  if (!row) throw new PgferryError('current_user not found in pg_roles', { retriable: false });
  return judgeRoleAttributes(row.user, {
    superuser: row.superuser,
    bypassRls: row.bypass_rls,
    createRole: row.create_role,
    createDb: row.create_db,
  });
}

/**
 * What pgferry run and schema-sync do on the target: connect, create temp staging tables, create
 * the bookkeeping schema and the replicated tables (CREATE on the database and on the schema),
 * write rows and ALTER tables it widens (ownership of existing tables).
 */
export async function checkPrivileges(
  client: pg.Client,
  tables: readonly MigrationTable[] | undefined,
  targetSchema: TargetSchemaChoice,
): Promise<CheckVerdict> {
  const db = await client.query<{
    user: string;
    database: string;
    connect: boolean;
    create: boolean;
    temporary: boolean;
  }>(
    `SELECT current_user AS user, current_database() AS database,
            has_database_privilege(current_database(), 'CONNECT') AS connect,
            has_database_privilege(current_database(), 'CREATE') AS create,
            has_database_privilege(current_database(), 'TEMPORARY') AS temporary`,
  );
  const d = db.rows[0];
  if (!d) throw new PgferryError('no answer about the database privileges', { retriable: false });
  const user = quoteIdent(d.user);
  const database = quoteIdent(d.database);
  const missing: string[] = [];
  const warnings: string[] = [];
  if (!d.connect) missing.push(`GRANT CONNECT ON DATABASE ${database} TO ${user}`);
  if (!d.temporary) {
    missing.push(`GRANT TEMPORARY ON DATABASE ${database} TO ${user} (staging tables)`);
  }

  const mapped = (tables ?? []).map((t) => ({
    schema: resolveTargetSchema(targetSchema, t.schema),
    name: t.name,
  }));
  const schemas = [...new Set([...mapped.map((t) => t.schema), BOOKKEEPING_SCHEMA])].sort();
  const schemaRows = await client.query<{
    schema: string;
    exists: boolean;
    usage: boolean | null;
    create: boolean | null;
  }>(
    `SELECT s.schema, n.oid IS NOT NULL AS exists,
            has_schema_privilege(n.oid, 'USAGE') AS usage, has_schema_privilege(n.oid, 'CREATE') AS create
       FROM unnest($1::text[]) AS s(schema) LEFT JOIN pg_namespace n ON n.nspname = s.schema`,
    [schemas],
  );
  const absent = schemaRows.rows.filter((s) => !s.exists).map((s) => s.schema);
  if (absent.length > 0 && !d.create) {
    missing.push(
      `GRANT CREATE ON DATABASE ${database} TO ${user} (to create schema ${absent.join(', ')})`,
    );
  }
  for (const s of schemaRows.rows.filter((r) => r.exists && !(r.usage && r.create))) {
    missing.push(`GRANT USAGE, CREATE ON SCHEMA ${quoteIdent(s.schema)} TO ${user}`);
  }

  const existing = await client.query<{
    schema: string;
    name: string;
    owner: boolean;
    writes: boolean;
  }>(
    `SELECT t.schema, t.name, pg_has_role(c.relowner, 'USAGE') AS owner,
            has_table_privilege(c.oid, 'SELECT') AND has_table_privilege(c.oid, 'INSERT')
              AND has_table_privilege(c.oid, 'UPDATE') AND has_table_privilege(c.oid, 'DELETE')
              AND has_table_privilege(c.oid, 'TRUNCATE') AS writes
       FROM unnest($1::text[], $2::text[]) AS t(schema, name)
       JOIN pg_namespace n ON n.nspname = t.schema
       JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.name
      ORDER BY t.schema, t.name`,
    [mapped.map((t) => t.schema), mapped.map((t) => t.name)],
  );
  for (const t of existing.rows) {
    if (t.owner) continue;
    const table = qualifiedName(t.schema, t.name);
    if (t.writes) {
      warnings.push(
        `${t.schema}.${t.name}: ${d.user} may write but does not own it, so pgferry cannot widen or add columns: ALTER TABLE ${table} OWNER TO ${user}`,
      );
    } else {
      missing.push(
        `${t.schema}.${t.name}: GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ${table} TO ${user} (or ALTER TABLE ${table} OWNER TO ${user})`,
      );
    }
  }
  const scope =
    tables === undefined
      ? ' (captured tables unknown: checked the database and the bookkeeping schema only)'
      : '';
  if (missing.length > 0) {
    return fail(
      `${d.user} lacks ${missing.length} privilege(s) pgferry needs${scope}: grant them (listed below)`,
      [...missing, ...warnings],
    );
  }
  if (warnings.length > 0) {
    return warn(
      `${d.user} does not own ${warnings.length} existing target table(s)${scope}`,
      warnings,
    );
  }
  return pass(
    `${d.user} has CONNECT and TEMPORARY on ${d.database}, USAGE and CREATE on ${schemas.filter((s) => !absent.includes(s)).join(', ') || 'no existing schema'}${absent.length > 0 ? `, may create ${absent.join(', ')}` : ''}, owns the ${existing.rows.length} existing target table(s)${scope}`,
  );
}

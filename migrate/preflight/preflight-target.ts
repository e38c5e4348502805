// Preflight checks of the target PostgreSQL: the pgferry role can do what `pgferry run` and
// schema-sync need (and no more), and every existing target table can take the source's rows:
// each source column exists with a type that is the same, accepted as is, widened automatically
// by the sink (sink/column-type-change.ts), or incompatible.
import type pg from 'pg';
import { PgferryError } from '../../core/errors.js';
import { qualifiedName, quoteIdent } from '../../core/sql-identifier.js';
import { BOOKKEEPING_SCHEMA } from '../../sink/bookkeeping/bookkeeping-schema.js';
import { normalizeType, planColumnTypeChange } from '../../sink/column-type-change.js';
import type { MigrationTable } from '../migration-tables.js';
import {
  type ColumnType,
  formatQualifiedName,
  readSchemaCatalog,
  type SchemaCatalog,
  type TableDefinition,
} from '../schema-sync/schema-catalog.js';
import { targetCatalogRequest } from '../schema-sync/schema-sync-plan.js';
import {
  type Check,
  CheckSkipped,
  type CheckVerdict,
  connectPgWithin,
  describeError,
  fail,
  type PreflightContext,
  type PreflightSection,
  pass,
  runChecks,
  skip,
  warn,
} from './preflight-check.js';

// --- pure parts (unit-tested) ---

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

export type ColumnTypeVerdict =
  | { kind: 'same' }
  /** The target column takes every source value as is (e.g. text, a wider number). */
  | { kind: 'accepts' }
  /** `pgferry run` widens the target column when the first change arrives. */
  | { kind: 'widen'; to: string }
  | { kind: 'incompatible'; reason: string };

/** How events name a source column's type: user enums and domains by their bare, quoted name. */
function eventTypeName(type: ColumnType): string {
  if (type.user && type.user.kind !== 'other') {
    return `${quoteIdent(type.user.name)}${type.array ? '[]' : ''}`;
  }
  return type.sql;
}

/** The sink's own decision (planColumnTypeChange) for a target column receiving source values. */
export function classifyColumnType(target: ColumnType, source: ColumnType): ColumnTypeVerdict {
  const change = planColumnTypeChange(target.sql, eventTypeName(source));
  if (change.kind === 'widen') return { kind: 'widen', to: change.to };
  if (change.kind === 'incompatible') return { kind: 'incompatible', reason: change.reason };
  const sameUserType =
    source.user !== undefined &&
    target.user !== undefined &&
    source.user.name === target.user.name &&
    source.array === target.array;
  return sameUserType || normalizeType(target.sql) === normalizeType(source.sql)
    ? { kind: 'same' }
    : { kind: 'accepts' };
}

export interface SchemaFinding {
  level: 'fail' | 'warn' | 'note';
  text: string;
}

export interface SchemaComparison {
  tables: number;
  matching: number;
  created: number;
  differing: number;
  skipped: number;
  findings: SchemaFinding[];
}

/**
 * Compares each source table with its target table (TARGET_SCHEMA applied): to be created, or
 * every column present with a type the sink can take, and the same primary key.
 */
export function compareTableSchemas(
  source: SchemaCatalog,
  target: SchemaCatalog,
  targetSchema?: string,
): SchemaComparison {
  const result: SchemaComparison = {
    tables: source.tables.length,
    matching: 0,
    created: 0,
    differing: 0,
    skipped: 0,
    findings: [],
  };
  const targetTables = new Map(target.tables.map((t) => [formatQualifiedName(t), t]));
  for (const table of source.tables) {
    const to = { schema: targetSchema ?? table.schema, name: table.name };
    const name = formatQualifiedName(to);
    if (!table.primaryKey) {
      result.skipped += 1;
      result.findings.push({
        level: 'note',
        text: `${name}: no primary key on the source, not created (see the source's primary keys check)`,
      });
      continue;
    }
    const existing = targetTables.get(name);
    if (existing === undefined) {
      result.created += 1;
      result.findings.push({
        level: 'note',
        text: `${name}: will be created by schema-sync or pgferry run`,
      });
      continue;
    }
    const findings = compareTable(name, table, existing);
    if (findings.some((f) => f.level !== 'note')) result.differing += 1;
    else result.matching += 1;
    result.findings.push(...findings);
  }
  return result;
}

function compareTable(
  name: string,
  source: TableDefinition,
  target: TableDefinition,
): SchemaFinding[] {
  const findings: SchemaFinding[] = [];
  const table = qualifiedName(target.schema, target.name);
  const sourcePk = source.primaryKey?.columns ?? [];
  const targetPk = target.primaryKey?.columns;
  if (targetPk === undefined) {
    findings.push({
      level: 'fail',
      text: `${name}: no primary key on the target, pgferry upserts on it: ALTER TABLE ${table} ADD PRIMARY KEY (${sourcePk.map(quoteIdent).join(', ')})`,
    });
  } else if (targetPk.join('\u0000') !== sourcePk.join('\u0000')) {
    findings.push({
      level: 'fail',
      text: `${name}: primary key (${targetPk.join(', ')}) on the target, (${sourcePk.join(', ')}) on the source: make the target's the same`,
    });
  }
  const targetColumns = new Map(target.columns.map((c) => [c.name, c]));
  for (const column of source.columns) {
    const where = `${name}.${column.name}`;
    const have = targetColumns.get(column.name);
    if (have === undefined) {
      findings.push({
        level: 'warn',
        text: `${where}: missing on the target (source type ${column.type.sql}): schema-sync or pgferry run adds it`,
      });
      continue;
    }
    const types = `target type ${have.type.sql}, source type ${column.type.sql}`;
    const verdict = classifyColumnType(have.type, column.type);
    switch (verdict.kind) {
      case 'incompatible':
        findings.push({
          level: 'fail',
          text: `${where}: ${types}: incompatible, pgferry would stop the table: ALTER TABLE ${table} ALTER COLUMN ${quoteIdent(column.name)} TYPE ${column.type.sql}`,
        });
        break;
      case 'widen':
        findings.push({
          level: 'warn',
          text: `${where}: ${types}: pgferry widens it to ${verdict.to} automatically when the first change arrives (or ALTER it beforehand)`,
        });
        break;
      case 'accepts':
        findings.push({
          level: 'note',
          text: `${where}: ${types}: the target column accepts every source value`,
        });
        break;
      case 'same':
        break;
    }
    if (have.notNull && !column.notNull) {
      findings.push({
        level: 'warn',
        text: `${where}: NOT NULL on the target, nullable on the source: a row with NULL would be rejected (dead-letter topic)`,
      });
    }
  }
  return findings;
}

export function judgeSchemaComparison(comparison: SchemaComparison): CheckVerdict {
  const failures = comparison.findings.filter((f) => f.level === 'fail');
  const warnings = comparison.findings.filter((f) => f.level === 'warn');
  const details = comparison.findings.map((f) => f.text);
  const parts = [
    `${comparison.matching} match`,
    `${comparison.created} will be created by schema-sync or pgferry run`,
    `${comparison.differing} differ`,
    ...(comparison.skipped > 0 ? [`${comparison.skipped} skipped (no primary key)`] : []),
  ];
  const summary = `${comparison.tables} table(s): ${parts.join(', ')}`;
  if (failures.length > 0) {
    return fail(
      `${summary}; ${failures.length} incompatible difference(s): change the target (listed below)`,
      details,
    );
  }
  if (warnings.length > 0) {
    return warn(
      `${summary}; ${warnings.length} difference(s) pgferry handles (listed below)`,
      details,
    );
  }
  return pass(summary, details);
}

// --- the checks ---

export async function checkTarget(context: PreflightContext): Promise<PreflightSection> {
  const { config, options } = context;
  const settings = config.target;
  const title = `Target PostgreSQL (${settings.host}:${settings.port}/${settings.database} as ${settings.user})`;
  let client: pg.Client;
  try {
    client = await connectPgWithin(settings, options.checkTimeoutMs);
    await client.query(`SET statement_timeout = ${Math.ceil(options.checkTimeoutMs)}`);
  } catch (error) {
    const notChecked = skip('not checked: the target is unreachable');
    return {
      name: 'target',
      title,
      checks: [
        {
          id: 'target.reachable',
          title: 'reachable',
          ...fail(`cannot connect: ${describeError(error)}: check TARGET_DB_*`),
        },
        { id: 'target.role', title: 'role attributes', ...notChecked },
        { id: 'target.privileges', title: 'privileges', ...notChecked },
        { id: 'target.schema', title: 'schema compatibility', ...notChecked },
      ],
    };
  }
  const captured = async (): Promise<MigrationTable[] | undefined> => {
    const facts = await context.source.catch(() => undefined);
    return facts?.tables ?? options.tables;
  };
  const checks: Check[] = [
    {
      id: 'target.reachable',
      title: 'reachable',
      run: async () => {
        const about = await client.query<{ version: string; user: string }>(
          `SELECT current_setting('server_version') AS version, current_user AS user`,
        );
        const row = about.rows[0];
        return pass(`PostgreSQL ${row?.version}, connected as ${row?.user}`);
      },
    },
    { id: 'target.role', title: 'role attributes', run: () => checkRoleAttributes(client) },
    {
      id: 'target.privileges',
      title: 'privileges',
      run: async () => checkPrivileges(client, await captured(), config.mapping.targetSchema),
    },
    {
      id: 'target.schema',
      title: 'schema compatibility',
      run: async () => {
        const facts = await context.source.catch(() => undefined);
        if (facts === undefined) {
          throw new CheckSkipped('not checked: the source is unreachable');
        }
        const sourceCatalog = await facts.readCatalog();
        const mapping = config.mapping.targetSchema
          ? { targetSchema: config.mapping.targetSchema }
          : {};
        const targetCatalog = await readSchemaCatalog(
          client,
          targetCatalogRequest(sourceCatalog, mapping),
        );
        return judgeSchemaComparison(
          compareTableSchemas(sourceCatalog, targetCatalog, config.mapping.targetSchema),
        );
      },
    },
  ];
  try {
    return { name: 'target', title, checks: await runChecks(checks, options.checkTimeoutMs) };
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function checkRoleAttributes(client: pg.Client): Promise<CheckVerdict> {
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
async function checkPrivileges(
  client: pg.Client,
  tables: readonly MigrationTable[] | undefined,
  targetSchema: string | undefined,
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

  const mapped = (tables ?? []).map((t) => ({ schema: targetSchema ?? t.schema, name: t.name }));
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

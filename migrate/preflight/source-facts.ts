// The source facts every source check reads: one connection to the source, its version and user,
// the captured tables (--tables, else the publication's) and their schema catalog, read once.
import type pg from 'pg';
import type { PgferryConfig, PostgresSettings } from '../../core/config.js';
import { PgferryError } from '../../core/errors.js';
import { qualifiedName } from '../../core/sql-identifier.js';
import { type MigrationTable, resolveMigrationTables } from '../migration-tables.js';
import { readSchemaCatalog } from '../schema-sync/schema-catalog.js';
import type { SchemaCatalog } from '../schema-sync/schema-catalog-types.js';
import {
  CheckSkipped,
  connectPgWithin,
  describeError,
  type PreflightOptions,
  type SourceFacts,
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
        selection: config.mapping,
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

/** The captured tables, or a skip when they could not be resolved (a prerequisite failed). */
export function requireCapturedTables(facts: SourceFacts): MigrationTable[] {
  if (facts.tables === undefined) {
    throw new CheckSkipped('not checked: the captured tables are unknown (see captured tables)');
  }
  return facts.tables;
}

/** The tables as two parallel arrays of schemas and names, for `unnest($n::text[], $m::text[])`. */
export const toTableArrays = (tables: readonly MigrationTable[]) => [
  tables.map((t) => t.schema),
  tables.map((t) => t.name),
];

export const qualifyTable = (t: MigrationTable): string => qualifiedName(t.schema, t.name);

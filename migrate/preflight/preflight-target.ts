// The target PostgreSQL section of preflight: connects as TARGET_DB_*, then runs the role checks
// (target-role-checks.ts), the schema compatibility check (target-schema-checks.ts) and whether
// pgferry copy can fill each target table (target-copy-checks.ts).
import type pg from 'pg';
import { SchemaMapping } from '../../pipeline/routing/schema-mapping.js';
import type { MigrationTable } from '../migration-tables.js';
import { readSchemaCatalog } from '../schema-sync/schema-catalog.js';
import { targetCatalogRequest } from '../schema-sync/schema-sync-plan.js';
import {
  type Check,
  CheckSkipped,
  connectPgWithin,
  describeError,
  fail,
  type PreflightContext,
  type PreflightSection,
  pass,
  runChecks,
  skip,
} from './preflight-check.js';
import { checkCopyTargets } from './target-copy-checks.js';
import {
  judgeExtensions,
  readSourceExtensions,
  readTargetExtensions,
} from './target-extension-checks.js';
import { checkPrivileges, checkRoleAttributes } from './target-role-checks.js';
import { compareTableSchemas, judgeSchemaComparison } from './target-schema-checks.js';
import { checkTargetTriggers } from './target-trigger-checks.js';
import { checkPgTransport } from './transport-checks.js';

export async function checkTarget(context: PreflightContext): Promise<PreflightSection> {
  const { config, options } = context;
  const settings = config.target;
  // Each source schema's target schema (SCHEMA_MAP, TARGET_SCHEMA), as run and schema-sync map it.
  const schemas = SchemaMapping.fromSettings(config.mapping);
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
        { id: 'target.copy', title: 'copy target tables', ...notChecked },
        { id: 'target.triggers', title: 'triggers', ...notChecked },
        { id: 'target.extensions', title: 'extensions', ...notChecked },
        { id: 'target.transport', title: 'encryption', ...notChecked },
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
      run: async () => checkPrivileges(client, await captured(), schemas),
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
        const mapping = {
          ...(config.mapping.targetSchema ? { targetSchema: config.mapping.targetSchema } : {}),
          ...(config.mapping.schemaMap ? { schemaMap: config.mapping.schemaMap } : {}),
        };
        const targetCatalog = await readSchemaCatalog(
          client,
          targetCatalogRequest(sourceCatalog, mapping),
        );
        return judgeSchemaComparison(compareTableSchemas(sourceCatalog, targetCatalog, schemas));
      },
    },
    {
      id: 'target.copy',
      title: 'copy target tables',
      run: async () => checkCopyTargets(client, await captured(), schemas),
    },
    {
      id: 'target.extensions',
      title: 'extensions',
      run: async () => {
        const facts = await context.source.catch(() => undefined);
        if (facts === undefined) throw new CheckSkipped('not checked: the source is unreachable');
        return judgeExtensions(
          await readSourceExtensions(facts.client),
          await readTargetExtensions(client),
        );
      },
    },
    {
      id: 'target.triggers',
      title: 'triggers',
      run: async () => checkTargetTriggers(client, await captured(), config.mapping),
    },
    {
      id: 'target.transport',
      title: 'encryption',
      run: () => checkPgTransport(client, settings, 'TARGET'),
    },
  ];
  try {
    return { name: 'target', title, checks: await runChecks(checks, options.checkTimeoutMs) };
  } finally {
    await client.end().catch(() => undefined);
  }
}

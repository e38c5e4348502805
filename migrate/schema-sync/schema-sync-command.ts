import { InvalidArgumentError } from 'commander';
import type pg from 'pg';
import { loadConfig, type PostgresSettings } from '../../core/config.js';
import { PgferryError } from '../../core/errors.js';
import { connectPg } from '../../core/pg-connection.js';
import type { TableSelectionSettings } from '../../pipeline/routing/table-selection.js';
import { DDL_LOCK_KEY, ensureBookkeeping } from '../../sink/bookkeeping/bookkeeping-schema.js';
import { recordCutoverStatements } from '../../sink/bookkeeping/cutover-statements.js';
import {
  readCutoverTriggers,
  recordCutoverTriggers,
} from '../../sink/bookkeeping/cutover-triggers.js';
import { recordDeferredIndexes } from '../../sink/bookkeeping/deferred-indexes.js';
import {
  EXIT_CHECK_FAILED,
  EXIT_OK,
  parseTablesOption,
  type RegisterCommand,
  requireSource,
} from '../command-context.js';
import { type MigrationTable, resolveMigrationTables } from '../migration-tables.js';
import {
  type CatalogComparison,
  compareCatalogs,
  formatCatalogComparison,
} from './catalog-comparison.js';
import { readSchemaCatalog } from './schema-catalog.js';
import { isUpToDate, planSchemaSync, targetCatalogRequest } from './schema-sync-plan.js';
import type { ObjectPlan, SchemaSyncPlan } from './schema-sync-types.js';

/**
 * What cutover's gate 4 applies itself (recorded in pgferry.cutover_statements): foreign keys,
 * GENERATED ALWAYS and FORCE ROW LEVEL SECURITY. Owners and --defer-unique indexes (built
 * CONCURRENTLY, outside a transaction) stay listed for the operator.
 */
const CUTOVER_APPLIES: ReadonlySet<string> = new Set([
  'foreign-key',
  'identity-always',
  'row-security',
]);

interface SchemaSyncOptions {
  tables?: MigrationTable[];
  deferUnique?: boolean;
  deferIndexes?: boolean;
  dryRun?: boolean;
  check?: boolean;
  json?: boolean;
  roleMap?: Record<string, string>;
  grants?: boolean;
}

/** `--role-map a:b,c:d` -> { a: 'b', c: 'd' }. */
export function parseRoleMap(value: string): Record<string, string> {
  const map: Record<string, string> = {};
  for (const pair of value
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [from, to, ...rest] = pair.split(':');
    if (!from || !to || rest.length > 0) {
      throw new InvalidArgumentError(
        `expected source:target role pairs, got ${JSON.stringify(pair)}`,
      );
    }
    map[from] = to;
  }
  return map;
}

export interface SchemaSyncResult {
  plan: SchemaSyncPlan;
  applied: boolean;
  dryRun: boolean;
  /** `--check`: the target's catalog against the source's (nothing applied). */
  comparison?: CatalogComparison;
}

export const registerSchemaSyncCommand: RegisterCommand = (program, { env, io, setExitCode }) => {
  program
    .command('schema-sync')
    .description(
      'create the replicated tables on the target from the source catalog (types, sequences, keys, indexes); exit 3 on mismatches or skipped tables',
    )
    .option(
      '--tables <list>',
      'comma-separated tables (schema.table or table) instead of the publication',
      parseTablesOption,
    )
    .option(
      '--defer-unique',
      'leave unique/exclusion constraints and unique indexes for cutover (listed as deferred), so rows whose unique values move between them cannot be rejected during replication',
    )
    .option(
      '--defer-indexes',
      'leave the indexes that back no constraint out of the new tables: `pgferry copy` builds each after its table is copied (faster initial load; see bench/README.md)',
    )
    .option(
      '--dry-run',
      'print the DDL by section (before the data, indexes, at cutover) and change nothing',
    )
    .option(
      '--role-map <pairs>',
      'source role:target role pairs (comma-separated) for the roles policies name; a role neither mapped nor on the target is reported',
      parseRoleMap,
    )
    .option(
      '--grants',
      "also grant the source's explicit privileges on the carried objects (roles mapped by --role-map; a role the target lacks is reported) and list ALTER ... OWNER TO the source's owners for cutover",
    )
    .option(
      '--check',
      "compare the target's catalog with the source's, object by object (missing, different, extra, waiting for cutover); change nothing; exit 3 on a difference",
    )
    .option('--json', 'print the plan as JSON')
    .action(async (options: SchemaSyncOptions) => {
      const config = loadConfig(env);
      const sourceSettings = requireSource(config, 'schema-sync');
      const result = await syncSchema({
        source: sourceSettings,
        target: config.target,
        publication: config.replication.publication,
        selection: config.mapping,
        ...(options.tables ? { tables: options.tables } : {}),
        ...(config.mapping.targetSchema ? { targetSchema: config.mapping.targetSchema } : {}),
        ...(config.mapping.schemaMap ? { schemaMap: config.mapping.schemaMap } : {}),
        deferUnique: options.deferUnique === true,
        deferIndexes: options.deferIndexes === true,
        dryRun: options.dryRun === true || options.check === true,
        check: options.check === true,
        ...(options.roleMap ? { roleMap: options.roleMap } : {}),
        ...(options.grants ? { grants: true } : {}),
      });
      if (result.comparison) {
        io.stdout(
          options.json
            ? `${JSON.stringify(result.comparison, null, 2)}\n`
            : formatCatalogComparison(result.comparison),
        );
        setExitCode(result.comparison.match ? EXIT_OK : EXIT_CHECK_FAILED);
        return;
      }
      io.stdout(
        options.json
          ? `${JSON.stringify(toSchemaSyncJson(result), null, 2)}\n`
          : result.dryRun
            ? formatDryRun(result.plan)
            : formatSchemaSyncResult(result),
      );
      const failed =
        result.plan.mismatches.length > 0 ||
        result.plan.skipped.length > 0 ||
        result.plan.blocked.length > 0;
      setExitCode(failed ? EXIT_CHECK_FAILED : EXIT_OK);
    });
};

async function connect(settings: PostgresSettings, side: string): Promise<pg.Client> {
  try {
    return await connectPg(settings, 'pgferry-schema-sync');
  } catch (error) {
    throw new PgferryError(
      `cannot connect to the ${side} database ${settings.host}:${settings.port}/${settings.database} as ${settings.user}: ${(error as Error).message}`,
      { retriable: true, cause: error },
    );
  }
}

/**
 * Reads the source catalog, then — on the target, under the DDL advisory lock, in one
 * transaction — reads the target catalog, plans and applies (or, for a dry run, rolls back).
 */
export async function syncSchema(options: {
  source: PostgresSettings;
  target: PostgresSettings;
  publication?: string;
  /**
   * SOURCE_SCHEMAS, TABLES_INCLUDE / TABLES_EXCLUDE: a table pgferry run never writes is not
   * synced either.
   */
  selection?: TableSelectionSettings;
  tables?: MigrationTable[];
  targetSchema?: string;
  /**
   * SCHEMA_MAP: every (source schema -> target schema) pair in one plan, so that foreign keys
   * and types used across the schemas are named in their own target schema.
   */
  schemaMap?: Readonly<Record<string, string>>;
  deferUnique?: boolean;
  deferIndexes?: boolean;
  dryRun: boolean;
  /** Also compare the catalogs (`--check`); implies a dry run. */
  check?: boolean;
  roleMap?: Record<string, string>;
  grants?: boolean;
}): Promise<SchemaSyncResult> {
  const source = await connect(options.source, 'source');
  let sourceCatalog: Awaited<ReturnType<typeof readSchemaCatalog>>;
  try {
    const tables = await resolveMigrationTables(source, {
      ...(options.tables ? { tables: options.tables } : {}),
      ...(options.publication ? { publication: options.publication } : {}),
      ...(options.selection ? { selection: options.selection } : {}),
    });
    sourceCatalog = await readSchemaCatalog(source, { tables, followDependencies: true });
  } finally {
    await source.end().catch(() => undefined);
  }

  const mapping = {
    ...(options.targetSchema ? { targetSchema: options.targetSchema } : {}),
    ...(options.schemaMap ? { schemaMap: options.schemaMap } : {}),
  };
  const target = await connect(options.target, 'target');
  try {
    // The deferred indexes are recorded with the tables, in the bookkeeping schema.
    if (options.deferIndexes && !options.dryRun) await ensureBookkeeping(target);
    await target.query('BEGIN');
    try {
      // pgferry run and other schema-sync runs take the same lock before they create tables.
      await target.query('SELECT pg_advisory_xact_lock($1)', [DDL_LOCK_KEY]);
      const targetCatalog = await readSchemaCatalog(
        target,
        targetCatalogRequest(sourceCatalog, mapping),
        { inTransaction: true },
      );
      // Triggers cutover enabled stay enabled when schema-sync runs again after it.
      const enabled = (await readCutoverTriggers(target)).filter((t) => t.enabledAt !== null);
      const planOptions = {
        ...mapping,
        triggersEnabledAtCutover: enabled.map(
          (t) => `${t.schema}\u0000${t.table}\u0000${t.trigger}`,
        ),
        ...(options.deferUnique ? { deferUnique: true } : {}),
        ...(options.deferIndexes ? { deferIndexes: true } : {}),
        ...(options.roleMap ? { roleMap: options.roleMap } : {}),
        ...(options.grants ? { grants: true } : {}),
      };
      const plan = planSchemaSync(sourceCatalog, targetCatalog, planOptions);
      if (options.check) {
        await target.query('ROLLBACK');
        const comparison = compareCatalogs(sourceCatalog, targetCatalog, plan, planOptions);
        return { plan, applied: false, dryRun: true, comparison };
      }
      if (
        options.dryRun ||
        plan.blocked.length > 0 ||
        (plan.statements.length === 0 && plan.indexesAfterCopy.length === 0)
      ) {
        await target.query('ROLLBACK');
        return { plan, applied: false, dryRun: options.dryRun };
      }
      for (const statement of plan.statements) {
        try {
          await target.query(statement);
        } catch (error) {
          throw new PgferryError(
            `schema-sync failed, nothing was changed: ${(error as Error).message}\n  in: ${statement}`,
            { retriable: false, cause: error },
          );
        }
      }
      await recordDeferredIndexes(target, plan.indexesAfterCopy);
      await recordCutoverTriggers(
        target,
        plan.atCutover.flatMap((a) =>
          a.kind === 'enable-trigger'
            ? [{ schema: a.schema, table: a.table, trigger: a.name, state: a.state }]
            : [],
        ),
      );
      await recordCutoverStatements(
        target,
        plan.deferred.flatMap((d) =>
          d.table && CUTOVER_APPLIES.has(d.kind)
            ? [
                {
                  schema: d.table.schema,
                  table: d.table.name,
                  object: d.object,
                  kind: d.kind,
                  statements: d.statements,
                },
              ]
            : [],
        ),
      );
      await target.query('COMMIT');
      return { plan, applied: true, dryRun: false };
    } catch (error) {
      await target.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  } finally {
    await target.end().catch(() => undefined);
  }
}

export function toSchemaSyncJson(result: SchemaSyncResult) {
  const { plan } = result;
  return {
    dryRun: result.dryRun,
    applied: result.applied,
    upToDate: isUpToDate(plan),
    objects: plan.objects,
    statements: plan.statements,
    mismatches: plan.mismatches,
    skipped: plan.skipped,
    deferred: plan.deferred,
    indexesAfterCopy: plan.indexesAfterCopy,
    notCopied: plan.notCopied,
    atCutover: plan.atCutover,
    sections: plan.sections,
    blocked: plan.blocked,
  };
}

function describeObject(o: ObjectPlan): string {
  const name = o.source === o.target ? o.source : `${o.source} -> ${o.target}`;
  return `${o.kind} ${name}`;
}

/** One line per object worth mentioning, plus mismatches, skips, deferred and not-copied items. */
function formatPlanLines(plan: SchemaSyncPlan): string[] {
  const lines: string[] = [];
  const mismatchesOf = (o: ObjectPlan) =>
    plan.mismatches.filter((m) => m.object === o.target).map((m) => m.message);
  for (const o of plan.objects) {
    // Types and sequences that need nothing are noise; every table gets its line.
    if (o.status === 'up-to-date' && o.kind !== 'table') continue;
    if (o.status === 'skipped') {
      lines.push(`${describeObject(o)}: skipped: ${o.notes.join('; ')}`);
      continue;
    }
    const what =
      o.status === 'up-to-date'
        ? 'up to date'
        : o.status === 'mismatch'
          ? mismatchesOf(o)
              .map((m) => `mismatch: ${m}`)
              .join('; ')
          : o.actions.join(', ');
    const also =
      o.status === 'mismatch' && o.actions.length > 0 ? ` (applied: ${o.actions.join(', ')})` : '';
    lines.push(`${describeObject(o)}: ${what}${also}`);
    for (const note of o.notes) lines.push(`  note: ${note}`);
  }
  if (plan.deferred.length > 0) {
    lines.push(
      'deferred: left for cutover (not applied by schema-sync; pgferry cutover applies the foreign keys, GENERATED ALWAYS and FORCE ROW LEVEL SECURITY in gate 4):',
    );
    for (const d of plan.deferred) {
      lines.push(`  ${d.kind} ${d.object}: ${d.reason}`);
    }
  }
  if (plan.indexesAfterCopy.length > 0) {
    lines.push('left for pgferry copy (--defer-indexes: built after each table is copied):');
    for (const i of plan.indexesAfterCopy)
      lines.push(`  index ${i.index} on ${i.schema}.${i.table}`);
  }
  if (plan.atCutover.length > 0) {
    lines.push('at cutover (pgferry cutover does these once replication has stopped):');
    for (const a of plan.atCutover) {
      lines.push(
        `  ${a.kind === 'enable-trigger' ? `enable trigger ${a.object}` : `refresh materialized view ${a.object}`}: ${a.reason}`,
      );
    }
  }
  if (plan.notCopied.length > 0) {
    lines.push('not copied:');
    for (const n of plan.notCopied) lines.push(`  ${n.kind} ${n.object}: ${n.reason}`);
  }
  for (const b of plan.blocked) lines.push(`FAIL: ${b}: nothing was applied`);
  return lines;
}

function summaryLine(result: SchemaSyncResult): string {
  const { plan } = result;
  if (plan.blocked.length > 0) {
    return `FAIL: ${plan.blocked.join('; ')}; nothing was applied (${plan.statements.length} statement(s) planned)`;
  }
  const problems = plan.mismatches.length + plan.skipped.length;
  const check =
    problems > 0
      ? `; ${plan.mismatches.length} mismatch(es) and ${plan.skipped.length} skipped table(s) need attention`
      : '';
  const later = plan.indexesAfterCopy.length;
  const left = later > 0 ? `; ${later} index(es) left for pgferry copy to build` : '';
  if (isUpToDate(plan)) return `target schema is up to date${left}`;
  if (result.dryRun) {
    return `dry run: ${plan.statements.length} statement(s) would be applied, nothing was changed${left}${check}`;
  }
  if (result.applied) {
    return `applied ${plan.statements.length} statement(s) in one transaction${left}${check}`;
  }
  return `nothing to apply${check}`;
}

export function formatSchemaSyncResult(result: SchemaSyncResult): string {
  return `${[...formatPlanLines(result.plan), summaryLine(result)].join('\n')}\n`;
}

/**
 * A dry run prints a SQL script by section: the plan as comments, the DDL before the data, the
 * indexes, then what is left for the copy and for cutover commented out.
 */
export function formatDryRun(plan: SchemaSyncPlan): string {
  const out: string[] = [];
  for (const line of formatPlanLines(plan)) out.push(`-- ${line}`);
  out.push('', '-- Section 1: before the data (what replication needs)');
  for (const statement of plan.sections.beforeData) out.push(`${statement};`);
  out.push('', '-- Section 2: indexes');
  for (const statement of plan.sections.indexes) out.push(`${statement};`);
  out.push('', '-- Section 3: at cutover (pgferry cutover; not applied by schema-sync)');
  for (const a of plan.atCutover) {
    out.push(
      a.kind === 'enable-trigger'
        ? `-- enable trigger ${a.object} (state ${a.state})`
        : `-- REFRESH MATERIALIZED VIEW ${a.object}`,
    );
  }
  if (plan.deferred.length > 0) {
    out.push(
      '',
      '-- Deferred to cutover, NOT applied by schema-sync (replication applies rows in per-table',
      '-- batches; run these once replication has stopped, before the application writes):',
    );
    for (const d of plan.deferred) for (const s of d.statements) out.push(`-- ${s};`);
  }
  if (plan.indexesAfterCopy.length > 0) {
    out.push('', '-- Left for pgferry copy, which builds each after its table is copied:');
    for (const i of plan.indexesAfterCopy) out.push(`-- ${i.statement};`);
  }
  out.push(`-- ${summaryLine({ plan, applied: false, dryRun: true })}`);
  return `${out.join('\n')}\n`;
}

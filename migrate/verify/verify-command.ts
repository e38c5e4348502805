import type pg from 'pg';
import { loadConfig, type PostgresSettings } from '../../core/config.js';
import { PgferryError } from '../../core/errors.js';
import { connectPg } from '../../core/pg-connection.js';
import { classifyPgError } from '../../core/pg-errors.js';
import { SchemaMapping } from '../../pipeline/routing/schema-mapping.js';
import { mapTargetTable } from '../../pipeline/routing/target-table-name.js';
import {
  EXIT_CHECK_FAILED,
  EXIT_OK,
  numberOption,
  type RegisterCommand,
  requireSource,
} from '../command-context.js';
import { parseTableList, resolveMigrationTables } from '../migration-tables.js';
import { reverseConfig } from '../reverse-config.js';
import {
  DEFAULT_CHUNK_ROWS,
  DEFAULT_MAX_KEYS_PER_TABLE,
  DEFAULT_RECHECK,
  type KeyRecord,
  type TableVerifyResult,
  type VerifyReport,
  verifyTables,
} from './table-verify.js';

interface VerifyCommandOptions {
  tables?: string;
  chunkRows: number;
  recheckAttempts: number;
  recheckDelay: number;
  maxKeys: number;
  json?: boolean;
}

/** Progress goes to stderr at most this often, and only for tables of many chunks. */
const PROGRESS_INTERVAL_MS = 10_000;

export const registerVerifyCommand: RegisterCommand = (program, { env, io, setExitCode }) => {
  program
    .command('verify')
    .description(
      'compare source and target tables by primary-key chunk checksums; list mismatched ranges and keys (exit 3 on any mismatch)',
    )
    .option(
      '--tables <list>',
      'comma-separated tables (schema.table or table; default: the publication)',
    )
    .option(
      '--chunk-rows <n>',
      'source rows per checksummed chunk',
      parseIntegerOption(1, 10_000_000),
      DEFAULT_CHUNK_ROWS,
    )
    .option(
      '--recheck-attempts <n>',
      're-check a mismatched chunk this many times before reporting it (0 = never)',
      parseIntegerOption(0, 100),
      DEFAULT_RECHECK.attempts,
    )
    .option(
      '--recheck-delay <seconds>',
      'wait this long before each re-check, for changes still in flight',
      parseSecondsOption,
      DEFAULT_RECHECK.delayMs / 1000,
    )
    .option(
      '--max-keys <n>',
      'list at most this many differing keys per table',
      parseIntegerOption(0, 1_000_000),
      DEFAULT_MAX_KEYS_PER_TABLE,
    )
    .option('--json', 'print the report as JSON')
    .option(
      '--reverse',
      'the rollback plan’s direction: the target is the reference, the source must equal it',
    )
    .action(async (options: VerifyCommandOptions & { reverse?: boolean }) => {
      const config = options.reverse ? reverseConfig(loadConfig(env)) : loadConfig(env);
      const sourceSettings = requireSource(config, 'verify');
      const requested = options.tables === undefined ? undefined : parseTableList(options.tables);
      const schemas = SchemaMapping.fromSettings(config.mapping);
      const controller = new AbortController();
      const onSignal = () => controller.abort(new Error('verify interrupted'));
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
      let source: pg.Client | undefined;
      let target: pg.Client | undefined;
      try {
        source = await connectTo(sourceSettings, 'source');
        target = await connectTo(config.target, 'target');
        const tables = await resolveMigrationTables(source, {
          ...(requested === undefined ? {} : { tables: requested }),
          publication: config.replication.publication,
          selection: config.mapping,
        });
        const lastProgress = new Map<string, number>();
        const report = await verifyTables(
          source,
          target,
          tables.map((table) => ({
            source: table,
            target: mapTargetTable(table, schemas),
          })),
          {
            chunkRows: options.chunkRows,
            recheck: { attempts: options.recheckAttempts, delayMs: options.recheckDelay * 1000 },
            maxKeysPerTable: options.maxKeys,
            signal: controller.signal,
            onProgress: (event) => {
              const now = Date.now();
              const since = lastProgress.get(event.table);
              if (since === undefined) lastProgress.set(event.table, now);
              else if (now - since >= PROGRESS_INTERVAL_MS) {
                lastProgress.set(event.table, now);
                io.stderr(
                  `verify: ${event.table}: ${event.chunksDone} chunks, ${event.rowsDone} rows so far\n`,
                );
              }
            },
          },
        );
        io.stdout(
          options.json ? `${JSON.stringify(report, null, 2)}\n` : formatVerifyReport(report),
        );
        setExitCode(report.match ? EXIT_OK : EXIT_CHECK_FAILED);
      } catch (error) {
        if (error instanceof PgferryError) throw error;
        const message = controller.signal.aborted
          ? 'interrupted'
          : error instanceof Error
            ? error.message
            : String(error);
        throw new PgferryError(`verify failed: ${message}`, {
          retriable: classifyPgError(error) === 'retriable',
          cause: error,
        });
      } finally {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        await source?.end();
        await target?.end();
      }
    });
};

async function connectTo(
  settings: PostgresSettings,
  side: 'source' | 'target',
): Promise<pg.Client> {
  try {
    return await connectPg(settings, 'pgferry-verify');
  } catch (error) {
    throw new PgferryError(
      `cannot connect to the ${side} database ${settings.host}:${settings.port}/${settings.database}: ${(error as Error).message}`,
      { retriable: true, cause: error },
    );
  }
}

/** The human report: one line per table, then the details of each table that differs. */
export function formatVerifyReport(report: VerifyReport): string {
  const lines = report.tables.map(formatTableLine);
  for (const table of report.tables) {
    if (table.match || table.error !== undefined) continue;
    lines.push(
      '',
      `${table.source}: ${countOf(table.mismatchedRanges.length, 'mismatched range')}`,
    );
    for (const range of table.mismatchedRanges) lines.push(`  keys ${formatRange(range)}`);
    if (table.differences.length === 0 && !table.differencesTruncated) {
      lines.push('  (no differing keys when listed: rows may still be changing)');
    }
    for (const difference of table.differences) {
      const copies = difference.copies === undefined ? '' : ` x${difference.copies}`;
      lines.push(`  ${difference.kind.padEnd(7)} ${formatKey(difference.key)}${copies}`);
    }
    if (table.differencesTruncated) {
      lines.push(`  ... more differing keys (listed the first ${table.differences.length})`);
    }
  }
  const failed = report.tables.filter((t) => !t.match);
  const errors = report.tables.filter((t) => t.error !== undefined).length;
  lines.push(
    '',
    failed.length === 0
      ? `verify: OK, ${countOf(report.tables.length, 'table')} match`
      : `verify: MISMATCH in ${failed.length} of ${countOf(report.tables.length, 'table')}${errors > 0 ? ` (${countOf(errors, 'table error')})` : ''}`,
  );
  return `${lines.join('\n')}\n`;
}

function formatTableLine(table: TableVerifyResult): string {
  const name = table.source === table.target ? table.source : `${table.source} -> ${table.target}`;
  if (table.error !== undefined) return `${name}: ERROR ${table.error}`;
  const state = table.match ? 'OK' : 'MISMATCH';
  return `${name}: ${table.sourceRows} source rows, ${table.targetRows} target rows, ${countOf(table.chunks, 'chunk')}: ${state}`;
}

function formatRange(range: { from: KeyRecord | null; to: KeyRecord | null }): string {
  if (range.from === null && range.to === null) return 'all';
  if (range.from === null) return `<= ${formatKey(range.to ?? {})}`;
  if (range.to === null) return `> ${formatKey(range.from)}`;
  return `> ${formatKey(range.from)} and <= ${formatKey(range.to)}`;
}

/** (id=42) or (code="a b", seq=7): values that would read ambiguously are JSON-quoted. */
function formatKey(key: KeyRecord): string {
  const parts = Object.entries(key).map(([name, value]) => {
    const text =
      value === null ? 'NULL' : /^[^\s,()='"]+$/.test(value) ? value : JSON.stringify(value);
    return `${name}=${text}`;
  });
  return `(${parts.join(', ')})`;
}

const countOf = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;

const parseIntegerOption = (min: number, max: number) =>
  numberOption({ integer: true, atLeast: min, atMost: max }, `an integer from ${min} to ${max}`);

const parseSecondsOption = numberOption({ atMost: 3600 }, 'a number of seconds from 0 to 3600');

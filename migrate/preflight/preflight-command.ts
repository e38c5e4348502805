import { loadConfig } from '../../core/config.js';
import {
  EXIT_CHECK_FAILED,
  EXIT_OK,
  numberOption,
  parseTablesOption,
  parseTimeoutOption,
  type RegisterCommand,
  requireSource,
} from '../command-context.js';
import type { MigrationTable } from '../migration-tables.js';
import { runPreflight } from './preflight.js';
import type { CheckStatus, PreflightReport } from './preflight-check.js';

interface PreflightCommandOptions {
  tables?: MigrationTable[];
  connectorUser?: string;
  migrationWindow: number;
  maxSlotRetainedMb: number;
  timeout: number;
  json?: boolean;
}

export const DEFAULT_MIGRATION_WINDOW_HOURS = 168;
export const DEFAULT_MAX_SLOT_RETAINED_MB = 1024;
const DEFAULT_CHECK_TIMEOUT_SECONDS = 15;

export const registerPreflightCommand: RegisterCommand = (program, { env, io, setExitCode }) => {
  program
    .command('preflight')
    .description(
      'check the source, Kafka, the registry, Connect and the target before a migration (PASS/WARN/FAIL; exit 3 on any FAIL)',
    )
    .option(
      '--tables <list>',
      'comma-separated captured tables (schema.table or table) instead of the publication',
      parseTablesOption,
    )
    .option(
      '--connector-user <name>',
      'the connector’s source role, when its config names a worker placeholder (${env:...}) or it is not registered',
    )
    .option(
      '--migration-window <hours>',
      'topics must keep messages at least this long',
      parsePositiveNumber('hours'),
      DEFAULT_MIGRATION_WINDOW_HOURS,
    )
    .option(
      '--max-slot-retained-mb <mb>',
      'warn when an inactive replication slot retains more WAL than this',
      parsePositiveNumber('megabytes'),
      DEFAULT_MAX_SLOT_RETAINED_MB,
    )
    .option(
      '--timeout <seconds>',
      'each check gives up after this many seconds',
      parseTimeoutOption,
      DEFAULT_CHECK_TIMEOUT_SECONDS,
    )
    .option('--json', 'print the checks as JSON')
    .action(async (options: PreflightCommandOptions) => {
      const config = loadConfig(env);
      requireSource(config, 'preflight');
      const report = await runPreflight(config, {
        ...(options.tables ? { tables: options.tables } : {}),
        ...(options.connectorUser ? { connectorUser: options.connectorUser } : {}),
        migrationWindowHours: options.migrationWindow,
        maxSlotRetainedMb: options.maxSlotRetainedMb,
        checkTimeoutMs: options.timeout * 1000,
      });
      const exitCode = preflightExitCode(report);
      io.stdout(
        options.json
          ? `${JSON.stringify({ ...report, exitCode }, null, 2)}\n`
          : formatPreflightReport(report),
      );
      setExitCode(exitCode);
    });
};

/** Any FAIL: exit 3; warnings and skipped checks alone do not fail the preflight. */
export const preflightExitCode = (report: Pick<PreflightReport, 'counts'>): number =>
  report.counts.fail > 0 ? EXIT_CHECK_FAILED : EXIT_OK;

const LABEL: Record<CheckStatus, string> = {
  pass: 'PASS',
  warn: 'WARN',
  fail: 'FAIL',
  skip: 'SKIP',
};

export function formatPreflightReport(report: PreflightReport): string {
  const lines: string[] = [];
  const width = Math.max(0, ...report.sections.flatMap((s) => s.checks.map((c) => c.title.length)));
  for (const section of report.sections) {
    lines.push(section.title);
    for (const check of section.checks) {
      lines.push(`  ${LABEL[check.status]}  ${check.title.padEnd(width)}  ${check.message}`);
      for (const detail of check.details ?? []) {
        lines.push(`${' '.repeat(8 + width)}- ${detail}`);
      }
    }
    lines.push('');
  }
  const { pass, warn, fail, skip } = report.counts;
  const verdict = fail > 0 ? 'FAILED' : warn > 0 ? 'OK with warnings' : 'OK';
  const skipped = skip > 0 ? `, ${skip} skipped` : '';
  lines.push(
    `preflight: ${verdict} (${pass} passed, ${warn} warning${warn === 1 ? '' : 's'}, ${fail} failed${skipped})`,
  );
  return `${lines.join('\n')}\n`;
}

const parsePositiveNumber = (unit: string) =>
  numberOption({ above: 0 }, `a number of ${unit} greater than 0`);

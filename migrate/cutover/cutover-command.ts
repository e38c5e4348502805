// `pgferry cutover`: the gated cutover (see migrate/cutover/cutover.ts), printed gate by gate as it runs.
// It first prints what it will change (gate-change-plan.ts) and goes on only with --yes or when
// confirmed on a terminal. Exit 0 = every gate passed (ready to switch traffic), 2 = not
// confirmed (nothing done), 3 = a gate refused, 1 = could not run.
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { loadConfig, type PgferryConfig } from '../../core/config.js';
import { ConnectClient } from '../../core/connect-client.js';
import {
  type CliIo,
  EXIT_CHECK_FAILED,
  EXIT_OK,
  EXIT_USAGE,
  numberOption,
  type RegisterCommand,
} from '../command-context.js';
import { type Confirmation, confirmDestructive } from '../confirm-destructive.js';
import type { DestructivePlan } from '../destructive-plan.js';
import { parseTableList } from '../migration-tables.js';
import { readConsumerLag } from '../status/migration-status.js';
import { verifyTables } from '../verify/table-verify.js';
import { type CutoverDependencies, runCutover } from './cutover.js';
import type { CutoverResult, GateResult } from './cutover-result.js';
import { readGateChangePlan } from './gate-change-plan.js';

export interface GateCommandOptions {
  dryRun?: boolean;
  tables?: string;
  quietSeconds: number;
  lagTimeout: number;
  sequenceMargin?: bigint;
  reportDir: string;
  chunkRows?: number;
  json?: boolean;
  yes?: boolean;
}

const GATE_COUNT = 5;

/** The options cutover and rollback share. */
export function addGateOptions(command: Command): Command {
  return command
    .option('--dry-run', 'run the checks, change nothing (no sequence change, no report file)')
    .option('--tables <list>', 'comma-separated tables (default: the publication’s tables)')
    .option(
      '--quiet-seconds <n>',
      'how long the tables must take no writes (gate 1)',
      parsePositiveNumber,
      15,
    )
    .option(
      '--lag-timeout <seconds>',
      'how long to wait for lag to reach zero (gate 2)',
      parsePositiveNumber,
      120,
    )
    .option(
      '--sequence-margin <n>',
      'extra values to skip when raising sequences (gate 4)',
      parseMargin,
    )
    .option('--chunk-rows <n>', 'verify: rows per checksum chunk', parsePositiveInteger)
    .option('--report-dir <dir>', 'where the report files go', 'cutover-reports')
    .option('--json', 'print the result as JSON (gate lines still go to stderr)')
    .option(
      '--yes',
      'go ahead without asking (without: print the plan, then ask on a terminal or change nothing)',
    );
}

/** The real verify and lag readers behind the gates. */
function cutoverDependencies(options: GateCommandOptions): CutoverDependencies {
  return {
    readConsumerLag: (config: PgferryConfig) => readConsumerLag(config),
    readConnectorSlotName: async (config: PgferryConfig) => {
      const client = new ConnectClient({
        baseUrl: config.connect.url,
        auth: config.connect.auth,
        tls: config.connect.tls,
      });
      return (await client.getConnectorConfig(config.connect.connectorName))?.['slot.name'];
    },
    verify: (source, target, pairs) =>
      verifyTables(source, target, pairs, {
        ...(options.chunkRows ? { chunkRows: options.chunkRows } : {}),
        // The source is quiet by now: a difference is real, no need to wait for it to go away.
        recheck: { attempts: 1, delayMs: 2_000 },
      }),
  };
}

export async function runGateCommand(
  config: PgferryConfig,
  direction: 'cutover' | 'rollback',
  options: GateCommandOptions,
  io: CliIo,
): Promise<{ exitCode: number }> {
  const progress = options.json ? io.stderr : io.stdout;
  const tables = options.tables ? parseTableList(options.tables) : undefined;
  // A dry run changes nothing, so it asks nothing; the real run shows what it will change first.
  let confirmation: Confirmation | undefined;
  let plan: DestructivePlan | undefined;
  if (!options.dryRun) {
    plan = await readGateChangePlan(config, {
      direction,
      ...(tables ? { tables } : {}),
      reportDir: options.reportDir,
    });
    confirmation = await confirmDestructive(plan, options, io);
    if (!confirmation.confirmed) {
      if (options.json) {
        io.stdout(
          `${JSON.stringify({ direction, ok: false, dryRun: false, confirmation: confirmation.by, applied: false, plan }, null, 2)}\n`,
        );
      }
      return { exitCode: EXIT_USAGE };
    }
  }
  progress(
    `${direction === 'cutover' ? 'Cutover' : 'Rollback'}${options.dryRun ? ' (dry run)' : ''}: ${config.source?.host}:${config.source?.port}/${config.source?.database} -> ${config.target.host}:${config.target.port}/${config.target.database}\n`,
  );
  const result = await runCutover(
    config,
    {
      direction,
      dryRun: options.dryRun === true,
      ...(tables ? { tables } : {}),
      quietSeconds: options.quietSeconds,
      lagTimeoutSeconds: options.lagTimeout,
      sequenceMargin: options.sequenceMargin ?? 0n,
      reportDir: options.reportDir,
      onGate: (gate) => progress(formatGateLine(gate, direction)),
    },
    cutoverDependencies(options),
  );
  if (options.json) {
    // `applied`: the run went ahead to change things (sequences, report); the gates say how far.
    const confirmed = confirmation ? { confirmation: confirmation.by, plan } : {};
    io.stdout(
      `${JSON.stringify({ ...result, applied: confirmation?.confirmed === true, ...confirmed }, null, 2)}\n`,
    );
  } else io.stdout(`${formatVerdict(result)}\n`);
  return { exitCode: result.ok ? EXIT_OK : EXIT_CHECK_FAILED };
}

const GATE_NUMBER: Record<GateResult['gate'], number> = {
  'writes-stopped': 1,
  'caught-up': 2,
  verified: 3,
  sequences: 4,
  report: 5,
};

export function formatGateLine(gate: GateResult, direction: 'cutover' | 'rollback'): string {
  const label =
    direction === 'rollback' && gate.gate === 'writes-stopped' ? 'target quiet' : gate.gate;
  return `  [${GATE_NUMBER[gate.gate]}/${GATE_COUNT}] ${label.padEnd(15)} ${gate.status.toUpperCase().padEnd(7)} ${`${gate.seconds}s`.padStart(6)}  ${gate.summary}\n`;
}

export function formatVerdict(result: CutoverResult): string {
  const failed = result.gates.find((g) => g.status === 'failed');
  if (!result.ok) {
    return `REFUSED at gate ${failed ? `${GATE_NUMBER[failed.gate]} (${failed.gate})` : '?'}: nothing was switched. Fix the cause above and run it again.`;
  }
  if (result.dryRun) return 'DRY RUN: every gate would pass; nothing was changed.';
  return result.direction === 'cutover'
    ? `READY TO CUT OVER: set up the rollback plan (pgferry rollback prepare, pgferry run --reverse), then switch the application to the target. Report: ${result.reportFiles.join(', ')}`
    : `READY TO SWITCH BACK: the source has every write made on the target. Report: ${result.reportFiles.join(', ')}`;
}

export const registerCutoverCommand: RegisterCommand = (program, { env, io, setExitCode }) => {
  addGateOptions(
    program
      .command('cutover')
      .description(
        'gated cutover: (1) source takes no writes, (2) initial copy done, slot and consumer lag zero, (3) verify passes, (4) target sequences raised past the source, (5) report written. Prints the sequences it will raise first and acts only with --yes or when confirmed on a terminal. Exit 0 ready, 2 not confirmed, 3 refused at a gate, 1 error.',
      ),
  ).action(async (options: GateCommandOptions) => {
    const config = loadConfig(env);
    const { exitCode } = await runGateCommand(config, 'cutover', options, io);
    setExitCode(exitCode);
  });
};

const parsePositiveNumber = numberOption({ above: 0 }, 'a number greater than 0');

const parsePositiveInteger = numberOption(
  { integer: true, atLeast: 1 },
  'a whole number greater than 0',
);

function parseMargin(value: string): bigint {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError('expected a whole number >= 0');
  return BigInt(value.trim());
}

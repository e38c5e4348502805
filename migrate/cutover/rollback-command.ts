// `pgferry rollback prepare` sets up reverse replication (target -> source) before traffic moves;
// `pgferry rollback` runs the cutover gates in the other direction and says when switching back to
// the source is safe. Both print what they will change and act only with --yes or when confirmed
// on a terminal. Exit codes as for cutover: 0 ready, 3 refused, 1 error, 2 usage or not confirmed.
import { loadConfig } from '../../core/config.js';
import { createLogger } from '../../core/logger.js';
import {
  EXIT_CHECK_FAILED,
  EXIT_OK,
  EXIT_USAGE,
  parseTimeoutOption,
  type RegisterCommand,
} from '../command-context.js';
import { confirmDestructive } from '../confirm-destructive.js';
import { parseTableList } from '../migration-tables.js';
import { reverseConfig } from '../reverse-config.js';
import { readConsumerLag } from '../status/migration-status.js';
import { addGateOptions, type GateCommandOptions, runGateCommand } from './cutover-command.js';
import { type PrepareResult, prepareReverseReplication } from './reverse-replication.js';
import { buildRollbackPreparePlan } from './rollback-prepare-plan.js';

interface PrepareCommandOptions {
  tables?: string;
  dryRun?: boolean;
  timeout: number;
  json?: boolean;
  yes?: boolean;
}

export const registerRollbackCommands: RegisterCommand = (program, { env, io, setExitCode }) => {
  const rollback = addGateOptions(
    program
      .command('rollback')
      .description(
        'check that switching back to the source is safe: the cutover gates in reverse (target quiet, reverse lag zero, verify target -> source, source sequences raised). Needs `rollback prepare` first. Prints the sequences it will raise first and acts only with --yes or when confirmed on a terminal. Exit 0 ready, 2 not confirmed, 3 refused, 1 error.',
      ),
  )
    // `rollback prepare --tables x`: the options after `prepare` are prepare's, not rollback's.
    .enablePositionalOptions()
    .action(async (options: GateCommandOptions) => {
      const config = reverseConfig(loadConfig(env));
      const { exitCode } = await runGateCommand(config, 'rollback', options, io);
      setExitCode(exitCode);
    });

  rollback
    .command('prepare')
    .description(
      'before switching traffic to the target: stop the forward connector, publish the target’s tables and start the reverse Debezium connector, so writes on the target flow back to the source (run `pgferry run --reverse` next). Checks first, prints the plan and acts only with --yes or when confirmed on a terminal. Exit 0 ready, 2 not confirmed, 3 a step failed.',
    )
    .option('--tables <list>', 'comma-separated tables (default: the publication’s tables)')
    .option('--dry-run', 'check and print what would be done, change nothing')
    .option(
      '--timeout <seconds>',
      'wait this long for connectors and the slot',
      parseTimeoutOption,
      120,
    )
    .option('--json', 'print the result as JSON')
    .option(
      '--yes',
      'do it without asking (without: print the plan, then ask on a terminal or change nothing)',
    )
    .action(async (options: PrepareCommandOptions) => {
      const config = loadConfig(env);
      // Fails early, with the settings named, if the reverse side cannot be configured.
      reverseConfig(config);
      const log = createLogger(config.log.level, io.logDestination);
      const tables = options.tables ? parseTableList(options.tables) : undefined;
      const prepare = (dryRun: boolean) =>
        prepareReverseReplication(config, {
          ...(tables ? { tables } : {}),
          dryRun,
          timeoutMs: options.timeout * 1000,
          log,
          readConsumerLag: (forward) => readConsumerLag(forward),
        });
      const answer = (result: PrepareResult, extra: Record<string, unknown>) =>
        io.stdout(
          options.json
            ? `${JSON.stringify({ ...result, ...extra }, null, 2)}\n`
            : formatPrepare(result),
        );
      // The dry run reads everything the real run reads: its checks refuse early, and what it
      // would change is the plan.
      const checked = await prepare(true);
      if (options.dryRun || !checked.ok) {
        // A failed check is shown as the real run would show it (it stopped at the same step).
        answer(options.dryRun ? checked : { ...checked, dryRun: false }, { applied: false });
        setExitCode(checked.ok ? EXIT_OK : EXIT_CHECK_FAILED);
        return;
      }
      const plan = buildRollbackPreparePlan(config, checked);
      const confirmation = await confirmDestructive(plan, options, io);
      if (!confirmation.confirmed) {
        if (options.json) {
          io.stdout(
            `${JSON.stringify({ ok: false, dryRun: false, tables: checked.tables, confirmation: confirmation.by, applied: false, plan }, null, 2)}\n`,
          );
        }
        setExitCode(EXIT_USAGE);
        return;
      }
      const result = await prepare(false);
      answer(result, { confirmation: confirmation.by, applied: true, plan });
      setExitCode(result.ok ? EXIT_OK : EXIT_CHECK_FAILED);
    });
};

function formatPrepare(result: PrepareResult): string {
  const lines = [
    `Rollback prepare${result.dryRun ? ' (dry run)' : ''}: ${result.tables.length} table(s)`,
    ...result.steps.map(
      (s) => `  ${s.step.padEnd(26)} ${s.status.toUpperCase().padEnd(7)} ${s.summary}`,
    ),
  ];
  if (!result.ok) lines.push('NOT READY: fix the failed step and run it again.');
  else if (result.dryRun) lines.push('DRY RUN: every check passed; nothing was changed.');
  else
    lines.push(
      'READY: reverse replication is set up. Next:',
      ...result.next.map((n) => `  - ${n}`),
    );
  return `${lines.join('\n')}\n`;
}

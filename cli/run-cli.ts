// The `pgferry` command tree (commander). Takes argv and env as arguments so tests can run it
// in-process; only cli/main.ts hands it the real process.env.
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { pino } from 'pino';
import {
  findSecretValues,
  loadConfig,
  type PgferryConfig,
  type PostgresSettings,
} from '../core/config.js';
import { ConnectClient, type ConnectorConfig } from '../core/connect-client.js';
import { ConfigError, PgferryError } from '../core/errors.js';
import { createLogger } from '../core/logger.js';
import { connectPg } from '../core/pg-connection.js';
import { redactUrlsInText } from '../core/redact-url.js';
import { createSecretMask } from '../core/secret-mask.js';
import {
  type CliIo,
  type CommandContext,
  type Env,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  parseHttpUrlOption,
  parseTimeoutOption,
  type RegisterCommand,
} from '../migrate/command-context.js';
import { applyConnector } from '../migrate/connector/connector-apply.js';
import {
  ConnectorFileError,
  readConnectorDefinition,
} from '../migrate/connector/connector-definition.js';
import { applyTableSelection } from '../migrate/connector/connector-selection.js';
import {
  formatConnectorStatus,
  readConnectorStatus,
  toConnectorStatusJson,
} from '../migrate/connector/connector-status.js';
import { describeConnectorState } from '../migrate/connector/connector-wait.js';
import {
  readKeylessTables,
  withKeylessSnapshot,
  withKeylessTopicGroup,
} from '../migrate/connector/keyless-topics.js';
import { registerCopyCommand } from '../migrate/copy/copy-command.js';
import { registerCutoverCommand } from '../migrate/cutover/cutover-command.js';
import { registerRollbackCommands } from '../migrate/cutover/rollback-command.js';
import { registerDemoCommands } from '../migrate/demo/demo-command.js';
import { registerPauseResumeCommands } from '../migrate/pause/pause-resume-command.js';
import { registerPreflightCommand } from '../migrate/preflight/preflight-command.js';
import { registerResnapshotCommand } from '../migrate/resnapshot/resnapshot-command.js';
import { reverseConfig } from '../migrate/reverse-config.js';
import { registerSchemaSyncCommand } from '../migrate/schema-sync/schema-sync-command.js';
import { registerStatusCommand } from '../migrate/status/status-command.js';
import { registerVerifyCommand } from '../migrate/verify/verify-command.js';
import {
  PROGRESS_MODES,
  type ProgressMode,
  readProgressMode,
} from '../ops/progress/progress-mode.js';
import { TableSelection } from '../pipeline/routing/table-selection.js';
import { checkConfig, formatConfigTable } from './config-check.js';
import { maskCliIo } from './masked-io.js';
import { openRunOutput, runPipeline } from './run-pipeline.js';
import { readStdinLine } from './terminal-line.js';

export {
  type CliIo,
  EXIT_CHECK_FAILED,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
} from '../migrate/command-context.js';

/** The migration workflow's commands, each in its own module. */
const MIGRATION_COMMANDS: readonly RegisterCommand[] = [
  registerPreflightCommand,
  registerSchemaSyncCommand,
  registerCopyCommand,
  registerStatusCommand,
  registerVerifyCommand,
  registerPauseResumeCommands,
  registerCutoverCommand,
  registerRollbackCommands,
  registerResnapshotCommand,
  registerDemoCommands,
];

export function createProcessIo(): CliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    logDestination: pino.destination({ dest: 2, sync: true }),
    isTty: process.stdout.isTTY === true,
    isStderrTty: process.stderr.isTTY === true,
    terminalSize: () => ({ columns: process.stdout.columns, rows: process.stdout.rows }),
    isStdinTty: process.stdin.isTTY === true,
    readLine: readStdinLine,
  };
}

interface ConnectorOptions {
  connectUrl?: string;
  name?: string;
  json?: boolean;
}

interface ApplyOptions extends ConnectorOptions {
  file?: string;
  timeout: number;
}

/** Runs one pgferry command and resolves to its exit code: 0 ok, 1 failure, 2 config/usage. */
export async function runCli(
  argv: readonly string[],
  env: Env,
  processIo: CliIo = createProcessIo(),
): Promise<number> {
  // Before anything can print: no write of any command carries a secret of this env.
  const io = maskCliIo(processIo, createSecretMask(findSecretValues(env)));
  let exitCode = EXIT_OK;
  const program = new Command('pgferry')
    .description('CDC pipeline: Debezium (Kafka Connect) -> Kafka (Avro) -> PostgreSQL')
    .version(readPackageVersion())
    .exitOverride()
    // A subcommand's options belong to it (e.g. `rollback prepare --tables`), not to its parent.
    .enablePositionalOptions()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(run with --help for usage)');

  program
    .command('config')
    .description('inspect pgferry settings')
    .command('check')
    .description('validate settings from the environment and print them (secrets masked)')
    .option('--json', 'print JSON instead of a table')
    .action((options: { json?: boolean }) => {
      const rows = checkConfig(env);
      if (options.json) {
        io.stdout(`${JSON.stringify({ valid: true, settings: rows }, null, 2)}\n`);
      } else {
        io.stdout(`Configuration is valid.\n${formatConfigTable(rows)}\n`);
      }
    });

  program
    .command('run')
    .description(
      'replicate: consume the Debezium topics and apply them to the target until SIGTERM/SIGINT',
    )
    .option(
      '--reverse',
      'the rollback plan’s reverse pipeline: apply the target’s changes (reverse connector topics) to the source, as ROLLBACK_DB_USER',
    )
    .option(
      '--progress <mode>',
      'auto: a live view when stdout is a terminal, else a summary log line every PROGRESS_LOG_SECONDS; tty, log or off to force one',
      parseProgressOption,
      'auto',
    )
    .action(async (options: { reverse?: boolean; progress: ProgressMode }) => {
      const forward = loadConfig(env);
      const config = options.reverse ? reverseConfig(forward) : forward;
      const { log, progress } = openRunOutput(config, io, options.progress);
      const controller = new AbortController();
      const onSignal = (sig: NodeJS.Signals) => {
        log.info({ signal: sig }, 'signal received');
        controller.abort();
      };
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
      try {
        exitCode = await runPipeline(config, log, controller.signal, progress);
      } finally {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
      }
    });

  const connector = program
    .command('connector')
    .description('manage the Debezium source connector');

  connector
    .command('apply')
    .description('register or update the connector (idempotent), then wait until it runs')
    .option(
      '-f, --file <path>',
      'connector JSON {"name","config"} (default: CONNECTOR_CONFIG_FILE)',
    )
    .option(
      '--connect-url <url>',
      'Kafka Connect REST URL (default: CONNECT_URL)',
      parseHttpUrlOption,
    )
    .option('--name <name>', 'connector name (default: CONNECTOR_NAME, overrides the file)')
    .option('--timeout <seconds>', 'give up after this many seconds', parseTimeoutOption, 120)
    .option(
      '--snapshot-mode <mode>',
      "override the file's snapshot.mode: no_data for the fast path (the slot and the stream, no rows: pgferry copy loads them), initial for Debezium's own snapshot (small databases)",
      parseSnapshotModeOption,
    )
    .option(
      '--snapshot-keyless',
      "Debezium's snapshot (snapshot.mode=initial) for the tables without a primary key (REPLICA IDENTITY FULL) only, none for the others (pgferry copy loads them); first start of the connector only",
    )
    .option('--json', 'print the result as JSON')
    .action(
      async (options: ApplyOptions & { snapshotMode?: string; snapshotKeyless?: boolean }) => {
        if (options.snapshotKeyless && options.snapshotMode !== undefined) {
          throw new InvalidArgumentError(
            '--snapshot-keyless and --snapshot-mode exclude each other',
          );
        }
        const config = loadConfig(env);
        const log = createLogger(config.log.level, io.logDestination);
        const file = options.file ?? config.connect.connectorConfigFile;
        const definition = await readConnectorDefinition(file);
        if (options.snapshotMode !== undefined) {
          definition.config['snapshot.mode'] = options.snapshotMode;
        }
        // SOURCE_SCHEMAS / TABLES_INCLUDE / TABLES_EXCLUDE decide what the connector captures too.
        const selected = applyTableSelection(definition.config, config.mapping);
        definition.config = selected.config;
        if (selected.setKeys.length > 0) {
          io.stderr(
            `note: ${selected.setKeys.join(', ')} from SOURCE_SCHEMAS / TABLES_INCLUDE / TABLES_EXCLUDE (the file's values replaced)\n`,
          );
        }
        // Keyless tables' topics get one partition (their changes carry no Kafka key).
        const keyless = await keylessTopicGroupFor(
          definition.config,
          config.source,
          TableSelection.fromSettings(config.mapping),
          options.snapshotKeyless === true,
        );
        definition.config = keyless.config;
        if (keyless.note) io.stderr(`note: ${keyless.note}\n`);
        const name = options.name ?? config.connect.connectorName;
        if (definition.name !== undefined && definition.name !== name) {
          io.stderr(
            `note: ${file} names the connector "${definition.name}"; applying it as "${name}"\n`,
          );
        }
        const client = createConnectClient(config, options);
        const result = await applyConnector({
          client,
          name,
          config: definition.config,
          timeoutMs: options.timeout * 1000,
          log,
        });
        if (options.json) {
          io.stdout(
            `${JSON.stringify({
              name: result.name,
              action: result.action,
              changedKeys: result.changedKeys,
              connectUrl: client.baseUrl,
              ...toConnectorStatusJson({ name, found: true, running: true, status: result.status }),
            })}\n`,
          );
        } else {
          const changed =
            result.changedKeys.length > 0 ? ` (changed: ${result.changedKeys.join(', ')})` : '';
          io.stdout(`connector ${name}: ${result.action}${changed}\n`);
          io.stdout(`connector ${name}: ${describeConnectorState(result.status)}\n`);
        }
      },
    );

  connector
    .command('status')
    .description('print connector and task states (exit 1 unless all are RUNNING)')
    .option(
      '--connect-url <url>',
      'Kafka Connect REST URL (default: CONNECT_URL)',
      parseHttpUrlOption,
    )
    .option('--name <name>', 'connector name (default: CONNECTOR_NAME)')
    .option('--json', 'print JSON')
    .action(async (options: ConnectorOptions) => {
      const config = loadConfig(env);
      const name = options.name ?? config.connect.connectorName;
      const report = await readConnectorStatus(createConnectClient(config, options), name);
      io.stdout(
        options.json
          ? `${JSON.stringify(toConnectorStatusJson(report))}\n`
          : `${formatConnectorStatus(report)}\n`,
      );
      if (!report.running) exitCode = EXIT_FAILURE;
    });

  const context: CommandContext = {
    env,
    io,
    setExitCode: (code) => {
      exitCode = code;
    },
  };
  for (const register of MIGRATION_COMMANDS) register(program, context);

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    return reportError(error, io);
  }
}

function parseProgressOption(value: string): ProgressMode {
  const mode = readProgressMode(value);
  if (mode === undefined) {
    throw new InvalidArgumentError(`expected one of ${PROGRESS_MODES.join(', ')}`);
  }
  return mode;
}

function createConnectClient(config: PgferryConfig, options: ConnectorOptions): ConnectClient {
  // A --connect-url for one command still authenticates as CONNECT_USERNAME (or its own user@).
  return new ConnectClient({
    baseUrl: options.connectUrl ?? config.connect.url,
    auth: config.connect.auth,
    tls: config.connect.tls,
  });
}

function reportError(error: unknown, io: CliIo): number {
  if (error instanceof CommanderError) {
    // Commander already printed the message (or the help/version text).
    return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  }
  // A library's message may repeat a URL it was given (a --connect-url with user:password@).
  if (error instanceof ConfigError || error instanceof ConnectorFileError) {
    io.stderr(`${redactUrlsInText(error.message)}\n`);
    return EXIT_USAGE;
  }
  if (error instanceof PgferryError) {
    io.stderr(`error: ${redactUrlsInText(error.message)}\n`);
    return EXIT_FAILURE;
  }
  const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
  io.stderr(`unexpected error: ${redactUrlsInText(detail)}\n`);
  return EXIT_FAILURE;
}

// Works from both cli/ (tsx) and dist/cli/ (built): look one and two levels up.
function readPackageVersion(): string {
  for (const relative of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as {
        name?: unknown;
        version?: unknown;
      };
      if (pkg.name === 'pgferry' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // Not at this level; try the next one.
    }
  }
  return 'unknown';
}

/**
 * The connector config with the single-partition topic group for the selected source tables
 * without a key (migrate/connector/keyless-topics.ts), and with --snapshot-keyless Debezium's
 * snapshot for them only; unchanged, with a note, without SOURCE_DB_*.
 */
async function keylessTopicGroupFor(
  config: ConnectorConfig,
  source: PostgresSettings | undefined,
  selection: TableSelection,
  snapshotKeyless: boolean,
): Promise<{ config: ConnectorConfig; note?: string }> {
  if (source === undefined) {
    if (snapshotKeyless) {
      throw new ConfigError([
        {
          setting: 'SOURCE_DB_HOST',
          message: '--snapshot-keyless needs SOURCE_DB_* to find the tables without a key',
        },
      ]);
    }
    return {
      config,
      note: 'SOURCE_DB_* not set: tables without a primary key are not looked up, so their topics are not made single-partition',
    };
  }
  const client = await connectPg(source, 'pgferry-connector-apply');
  try {
    // The migration's tables only (SOURCE_SCHEMAS, TABLES_INCLUDE / TABLES_EXCLUDE).
    const tables = (await readKeylessTables(client)).filter(
      (t) => selection.exclusionOf(t) === undefined,
    );
    const grouped = withKeylessTopicGroup(config, tables);
    return snapshotKeyless
      ? { ...grouped, config: withKeylessSnapshot(grouped.config, tables) }
      : grouped;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Debezium PostgreSQL snapshot modes a migration uses (3.x names). */
const SNAPSHOT_MODES = ['no_data', 'initial', 'initial_only', 'when_needed', 'always'] as const;

function parseSnapshotModeOption(value: string): string {
  if (!(SNAPSHOT_MODES as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`expected one of ${SNAPSHOT_MODES.join(', ')}`);
  }
  return value;
}

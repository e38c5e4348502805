// `pgferry pause` / `pgferry resume`: the emergency stop of the whole pipeline (the Debezium
// connector and the running pgferry processes) and its undo, waiting until each component reports
// the new state. Nothing is lost: the slot retains the WAL, the target keeps the applied offsets.
import type { Command } from 'commander';
import { loadConfig, readControlToken } from '../../core/config.js';
import { ConnectClient } from '../../core/connect-client.js';
import {
  EXIT_CHECK_FAILED,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  parseHttpUrlOption,
  parseTimeoutOption,
  type RegisterCommand,
} from '../command-context.js';
import { type PauseComponentResult, setPipelinePaused } from './pipeline-pause.js';

interface PauseResumeOptions {
  connectorOnly?: boolean;
  pgferryOnly?: boolean;
  controlUrl: string[];
  timeout: number;
  json?: boolean;
}

const DEFAULT_TIMEOUT_SECONDS = 60;

/** 0 all reached the state, 1 some could not be asked, 3 some did not get there in time. */
export function pauseExitCode(results: readonly PauseComponentResult[]): number {
  if (results.some((r) => r.unreachable)) return EXIT_FAILURE;
  return results.every((r) => r.reached) ? EXIT_OK : EXIT_CHECK_FAILED;
}

/** One line per component: its new state, or why it is not there. */
export function formatPauseResults(
  results: readonly PauseComponentResult[],
  paused: boolean,
): string {
  const want = paused ? 'paused' : 'resumed';
  return results
    .map((r) => {
      const label = `${r.component} ${r.name}`;
      if (r.unreachable) return `${label}: unreachable: ${r.detail}`;
      if (r.reached) return `${label}: ${r.component === 'connector' ? r.detail : want}`;
      return `${label}: NOT ${want}: ${r.detail}`;
    })
    .join('\n');
}

export const registerPauseResumeCommands: RegisterCommand = (program, context) => {
  addPauseResumeCommand(program, context, true);
  addPauseResumeCommand(program, context, false);
};

function addPauseResumeCommand(
  program: Command,
  { env, io, setExitCode }: Parameters<RegisterCommand>[1],
  paused: boolean,
): void {
  const verb = paused ? 'pause' : 'resume';
  const want = paused ? 'PAUSED / paused' : 'RUNNING / not paused';
  program
    .command(verb)
    .description(
      paused
        ? 'emergency stop: pause the Debezium connector (the slot keeps the WAL) and pgferry (offsets kept), nothing lost'
        : 'undo pause: resume the Debezium connector and pgferry from where they stopped',
    )
    .option('--connector-only', `${verb} only the Debezium connector (CONNECTOR_NAME)`)
    .option('--pgferry-only', `${verb} only pgferry (the control endpoints)`)
    .option(
      '--control-url <url>',
      'control endpoint of a running pgferry (default http://127.0.0.1:METRICS_PORT); repeatable for several instances',
      (value: string, previous: string[]) => [...previous, parseHttpUrlOption(value)],
      [],
    )
    .option(
      '--timeout <seconds>',
      'wait this long for every component to report the new state',
      parseTimeoutOption,
      DEFAULT_TIMEOUT_SECONDS,
    )
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
Waits until Connect reports the connector and every task ${paused ? 'PAUSED' : 'RUNNING'} and each
pgferry reports ${paused ? 'paused (its batch in flight committed)' : 'not paused'} (${want}).
Each pgferry is sent CONTROL_TOKEN (or the content of CONTROL_TOKEN_FILE) as a bearer token.

Exit codes: 0 every component reached the state; 3 some did not within --timeout;
1 some could not be reached; 2 usage or configuration error.`,
    )
    .action(async (options: PauseResumeOptions) => {
      if (options.connectorOnly && options.pgferryOnly) {
        io.stderr('error: --connector-only and --pgferry-only exclude each other\n');
        setExitCode(EXIT_USAGE);
        return;
      }
      const config = loadConfig(env);
      const controlToken = options.connectorOnly ? undefined : readControlToken(config.control);
      const controlUrls =
        options.controlUrl.length > 0
          ? options.controlUrl
          : [`http://127.0.0.1:${config.metrics.port}`];
      const results = await setPipelinePaused({
        paused,
        ...(options.pgferryOnly
          ? {}
          : {
              connector: {
                client: new ConnectClient({
                  baseUrl: config.connect.url,
                  auth: config.connect.auth,
                  tls: config.connect.tls,
                }),
                name: config.connect.connectorName,
              },
            }),
        controlUrls: options.connectorOnly ? [] : controlUrls,
        controlToken,
        timeoutMs: options.timeout * 1000,
      });
      const exitCode = pauseExitCode(results);
      io.stdout(
        options.json
          ? `${JSON.stringify({ action: verb, ok: exitCode === EXIT_OK, components: results })}\n`
          : `${formatPauseResults(results, paused)}\n`,
      );
      setExitCode(exitCode);
    });
}

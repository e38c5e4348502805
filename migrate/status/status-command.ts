// `pgferry status`: one screen that answers "how far behind are we?" (connector, source slot,
// `pgferry copy`'s progress, consumer lag per partition, tables), once or refreshed with
// --watch; --json for scripts.
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../../core/config.js';
import { createLogger } from '../../core/logger.js';
import {
  EXIT_CHECK_FAILED,
  EXIT_FAILURE,
  EXIT_OK,
  numberOption,
  parseHttpUrlOption,
  type RegisterCommand,
} from '../command-context.js';
import { reverseConfig } from '../reverse-config.js';
import { isNothingRead } from './caught-up-judgement.js';
import { readMigrationStatus } from './migration-status.js';
import { formatMigrationStatus } from './migration-status-text.js';
import type { MigrationStatus } from './migration-status-types.js';

const DEFAULT_WATCH_SECONDS = 5;
const CLEAR_SCREEN = '\u001b[2J\u001b[H';

interface StatusOptions {
  json?: boolean;
  watch?: number | true;
  controlUrl: string[];
}

/** 0 caught up, 3 behind or something not running, 1 nothing could be read. */
export function statusExitCode(status: MigrationStatus): number {
  if (isNothingRead(status)) return EXIT_FAILURE;
  return status.caughtUp ? EXIT_OK : EXIT_CHECK_FAILED;
}

export const registerStatusCommand: RegisterCommand = (program, { env, io, setExitCode }) => {
  program
    .command('status')
    .description(
      'how far behind are we: connector and tasks, source slot lag, initial copy, consumer lag per partition, tables',
    )
    .option('--json', 'print the status as JSON (one line per refresh with --watch)')
    .option(
      '--watch [seconds]',
      `refresh every N seconds (default ${DEFAULT_WATCH_SECONDS}) until Ctrl-C`,
      parseWatchSeconds,
    )
    .option(
      '--control-url <url>',
      'also ask this pgferry control endpoint (http://host:METRICS_PORT) whether it runs or is paused; repeatable',
      collectUrl,
      [],
    )
    .option(
      '--reverse',
      'the rollback plan’s reverse pipeline (REVERSE_* connector, slot on the target, reverse group)',
    )
    .addHelpText(
      'after',
      `
Caught up = the connector and all its tasks are RUNNING, the replication slot exists and is
active, every table's initial copy (pgferry copy, when used) is done, the consumer group's lag
(Kafka end offset - offset applied in the target, summed over the partitions of the topics
matching KAFKA_TOPIC_PATTERN) is 0, and every --control-url answers "running" and is not
paused. The slot's byte lag is shown but not judged. While pgferry copy runs, a Copy section
shows each table's chunks, rows, bytes, rate and ETA, and that its stream waits for the copy.

Exit codes: 0 caught up; 3 behind, or something is not running; 1 nothing could be read;
2 usage or configuration error. With --watch, the code of the last refresh.`,
    )
    .action(async (options: StatusOptions & { reverse?: boolean }) => {
      const config = options.reverse ? reverseConfig(loadConfig(env)) : loadConfig(env);
      // kafkajs logs every failed connection; the status reports it already.
      const verbose = config.log.level === 'debug' || config.log.level === 'trace';
      const log = createLogger(verbose ? config.log.level : 'silent', io.logDestination);
      const read = (signal?: AbortSignal) =>
        readMigrationStatus(config, {
          log,
          ...(options.controlUrl.length > 0 ? { controlUrls: options.controlUrl } : {}),
          ...(signal ? { signal } : {}),
        });
      const render = (status: MigrationStatus) =>
        options.json ? `${JSON.stringify(status)}\n` : `${formatMigrationStatus(status)}\n`;

      if (options.watch === undefined) {
        const status = await read();
        io.stdout(render(status));
        setExitCode(statusExitCode(status));
        return;
      }
      const intervalMs = (options.watch === true ? DEFAULT_WATCH_SECONDS : options.watch) * 1000;
      const controller = new AbortController();
      const stop = () => controller.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      let exitCode = EXIT_FAILURE;
      try {
        exitCode = await watchStatus({
          read,
          intervalMs,
          signal: controller.signal,
          show: (status) => {
            // A terminal gets a redrawn screen; a pipe or file one block per refresh.
            if (io.isTty && !options.json) io.stdout(`${CLEAR_SCREEN}${render(status)}`);
            else io.stdout(options.json ? render(status) : `${render(status)}\n`);
          },
        });
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
      setExitCode(exitCode);
    });
};

/** Reads and shows the status every interval until the signal aborts; the last exit code. */
export async function watchStatus(options: {
  read: (signal: AbortSignal) => Promise<MigrationStatus>;
  show: (status: MigrationStatus) => void;
  intervalMs: number;
  signal: AbortSignal;
}): Promise<number> {
  let exitCode = EXIT_FAILURE;
  while (!options.signal.aborted) {
    try {
      const status = await options.read(options.signal);
      options.show(status);
      exitCode = statusExitCode(status);
      await sleep(options.intervalMs, undefined, { signal: options.signal });
    } catch (error) {
      if (options.signal.aborted) break;
      throw error;
    }
  }
  return exitCode;
}

const parseWatchSeconds = numberOption(
  { atLeast: 0.5, atMost: 3600 },
  'a refresh interval in seconds, from 0.5 to 3600',
);

function collectUrl(value: string, previous: string[]): string[] {
  return [...previous, parseHttpUrlOption(value)];
}

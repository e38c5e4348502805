// What every `pgferry` subcommand gets: the env (never process.env directly), where to print, and
// how to set the exit code. Exit codes mean the same thing for every command (see EXIT_*).
import { type Command, InvalidArgumentError } from 'commander';
import type { DestinationStream } from 'pino';
import type { PgferryConfig } from '../core/config.js';
import { ConfigError } from '../core/errors.js';
import { type MigrationTable, parseTableList } from './migration-tables.js';

/** Success: the command did what it says, every check passed. */
export const EXIT_OK = 0;
/** Operational failure: something could not be reached or an unexpected error happened. */
export const EXIT_FAILURE = 1;
/** Bad usage or configuration: nothing was attempted. */
export const EXIT_USAGE = 2;
/** The command ran fine but its check failed: lag not zero, a mismatch, a cutover gate refused. */
export const EXIT_CHECK_FAILED = 3;

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Where JSON logs go; stderr by default so stdout carries only the command's answer. */
  logDestination: DestinationStream;
  /** stdout is a terminal (screen redraws, e.g. `status --watch`); absent = not. */
  isTty?: boolean;
  /** stderr is a terminal too: `run`'s live view then keeps logs below warn off it. */
  isStderrTty?: boolean;
  /** The terminal's size, when stdout is one (the live view fits itself to it). */
  terminalSize?: () => { columns?: number | undefined; rows?: number | undefined };
  /** stdin is a terminal: a destructive command may then ask before it acts (absent = not). */
  isStdinTty?: boolean;
  /** Reads one line the operator types on stdin; undefined at end of input. */
  readLine?: () => Promise<string | undefined>;
}

export type Env = Record<string, string | undefined>;

export interface CommandContext {
  env: Env;
  io: CliIo;
  setExitCode: (code: number) => void;
}

/** A module that adds one command (or command group) to the `pgferry` program. */
export type RegisterCommand = (program: Command, context: CommandContext) => void;

/** The source connection settings, or a clear error naming the settings a command needs. */
export function requireSource(config: PgferryConfig, command: string) {
  if (config.source === undefined) {
    // A configuration problem (exit 2), named like every other missing setting.
    throw new ConfigError([
      {
        setting: 'SOURCE_DB_HOST',
        message: `not set; ${command} needs the source database (SOURCE_DB_HOST, SOURCE_DB_NAME, SOURCE_DB_USER, SOURCE_DB_PASSWORD)`,
      },
    ]);
  }
  return config.source;
}

export interface NumberBounds {
  /** Whole numbers only (else decimals too). */
  integer?: boolean;
  /** Strictly greater than this. */
  above?: number;
  atLeast?: number;
  atMost?: number;
}

/**
 * Commander parser of a number option: plain decimal digits (no sign, exponent or hex) within
 * `bounds`; otherwise the error says "expected <expected>".
 */
export function numberOption(bounds: NumberBounds, expected: string): (value: string) => number {
  const digits = bounds.integer ? /^\d+$/ : /^\d*\.?\d+$/;
  return (value) => {
    const n = Number(value);
    const inRange =
      (bounds.above === undefined || n > bounds.above) &&
      (bounds.atLeast === undefined || n >= bounds.atLeast) &&
      (bounds.atMost === undefined || n <= bounds.atMost);
    if (!digits.test(value.trim()) || !inRange) {
      throw new InvalidArgumentError(`expected ${expected}`);
    }
    return n;
  };
}

/** Commander parser of a --timeout in seconds (0 < s <= 1 day). */
export const parseTimeoutOption = numberOption(
  { above: 0, atMost: 86_400 },
  'a number of seconds greater than 0',
);

/** Commander parser of an http(s) URL option; the trailing slash is dropped. */
export function parseHttpUrlOption(value: string): string {
  const url = URL.canParse(value) ? new URL(value) : undefined;
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new InvalidArgumentError('expected an http:// or https:// URL');
  }
  return url.href.replace(/\/+$/, '');
}

/** Commander parser of --tables ("a,public.b"): at least one well-formed table name. */
export function parseTablesOption(value: string): MigrationTable[] {
  let tables: MigrationTable[];
  try {
    tables = parseTableList(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
  if (tables.length === 0) throw new InvalidArgumentError('expected at least one table');
  return tables;
}

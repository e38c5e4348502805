// The shape of a preflight check and how one runs: a verdict (PASS, WARN, FAIL, or SKIP when a
// prerequisite is missing), a timeout, and every error turned into the check's own FAIL.
import type pg from 'pg';
import type { PgferryConfig, PostgresSettings } from '../../core/config.js';
import type { ConnectorConfig } from '../../core/connect-client.js';
import { PgferryError, RetriableError } from '../../core/errors.js';
import { connectPg } from '../../core/pg-connection.js';
import type { MigrationTable } from '../migration-tables.js';
import type { SchemaCatalog } from '../schema-sync/schema-catalog-types.js';

/** `skip`: not run because something it needs (a connection, the table list) is missing. */
export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

export interface CheckVerdict {
  status: CheckStatus;
  /** One line: why, and what to do when it is not a PASS. */
  message: string;
  /** Every table, column or topic the verdict is about, one per line. */
  details?: string[];
}

export interface CheckResult extends CheckVerdict {
  id: string;
  title: string;
}

export type SectionName = 'source' | 'kafka' | 'connect' | 'target';

export interface PreflightSection {
  name: SectionName;
  title: string;
  checks: CheckResult[];
}

export interface PreflightReport {
  at: string;
  sections: PreflightSection[];
  counts: Record<CheckStatus, number>;
  /** No check failed (warnings and skips do not fail the preflight). */
  ok: boolean;
}

export interface PreflightOptions {
  /** --tables: the captured tables instead of the publication's. */
  tables?: MigrationTable[];
  /** --connector-user: the connector's source role when the connector config cannot tell. */
  connectorUser?: string;
  /** --migration-window in hours: topics must keep messages at least this long. */
  migrationWindowHours: number;
  /** --max-slot-retained-mb: an inactive slot retaining more WAL than this is a WARN. */
  maxSlotRetainedMb: number;
  /** Each check gives up after this long. */
  checkTimeoutMs: number;
}

/** The connector's stored config as Connect returns it; absent when it is not registered. */
export interface ConnectorConfigReading {
  config?: ConnectorConfig;
  /** Connect could not be asked. */
  error?: string;
}

/** Read once from the source and shared by every section that needs the captured tables. */
export interface SourceFacts {
  client: pg.Client;
  serverVersion: string;
  user: string;
  /** The captured tables; undefined when they could not be resolved (see tablesError). */
  tables?: MigrationTable[];
  /** Where the table list came from. */
  tablesFrom: string;
  tablesError?: string;
  /**
   * The captured tables' catalog (columns, keys, types) for the target's schema check, read once
   * when first asked, on a connection of its own: its read-only transaction must not take in the
   * source checks' queries, and the source checks need not wait for it.
   */
  readCatalog: () => Promise<SchemaCatalog>;
}

/** What every section may use: settings, options and the facts read once for all of them. */
export interface PreflightContext {
  config: PgferryConfig;
  options: PreflightOptions;
  connector: Promise<ConnectorConfigReading>;
  source: Promise<SourceFacts>;
}

/** A check to run: `run` resolves to its verdict; throwing or timing out is a FAIL. */
export interface Check {
  id: string;
  title: string;
  run: () => Promise<CheckVerdict>;
}

export const pass = (message: string, details?: string[]): CheckVerdict =>
  verdict('pass', message, details);
export const warn = (message: string, details?: string[]): CheckVerdict =>
  verdict('warn', message, details);
export const fail = (message: string, details?: string[]): CheckVerdict =>
  verdict('fail', message, details);
export const skip = (message: string): CheckVerdict => verdict('skip', message);

function verdict(status: CheckStatus, message: string, details?: string[]): CheckVerdict {
  return details !== undefined && details.length > 0
    ? { status, message, details }
    : { status, message };
}

/** Thrown by a check whose prerequisite is missing: reported as SKIP with this message. */
export class CheckSkipped extends PgferryError {
  constructor(message: string) {
    super(message, { retriable: false });
  }
}

/** Runs one check; an error becomes its FAIL, a timeout too (never throws). */
export async function runCheck(check: Check, timeoutMs: number): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<CheckVerdict>((resolve) => {
    timer = setTimeout(
      () => resolve(fail(`no answer within ${formatSeconds(timeoutMs)}: is the service up?`)),
      timeoutMs,
    );
  });
  try {
    const result = await Promise.race([check.run(), timedOut]);
    return { id: check.id, title: check.title, ...result };
  } catch (error) {
    if (error instanceof CheckSkipped) {
      return { id: check.id, title: check.title, ...skip(error.message) };
    }
    return { id: check.id, title: check.title, ...fail(describeError(error)) };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs checks one after the other (they may share a connection), each with its timeout. */
export async function runChecks(checks: readonly Check[], timeoutMs: number) {
  const results: CheckResult[] = [];
  for (const check of checks) results.push(await runCheck(check, timeoutMs));
  return results;
}

const formatSeconds = (ms: number): string => `${Math.round(ms / 100) / 10} s`;

export function describeError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    // net.connect to "localhost" tries ::1 and 127.0.0.1: the first reason is the useful one.
    return describeError(error.errors[0]);
  }
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]?.trim() || String(error);
}

/** Exit rule: any FAIL fails the preflight; WARN and SKIP do not. */
export function countChecks(sections: readonly PreflightSection[]): Record<CheckStatus, number> {
  const counts: Record<CheckStatus, number> = { pass: 0, warn: 0, fail: 0, skip: 0 };
  for (const section of sections) for (const check of section.checks) counts[check.status] += 1;
  return counts;
}

/** Rejects with "<what>: no answer within N s" when `promise` takes longer than `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new RetriableError(`${what}: no answer within ${formatSeconds(ms)}`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Connects within `ms`; a connection that arrives after the timeout is closed when it does, so
 * it never keeps the process alive.
 */
export async function connectPgWithin(settings: PostgresSettings, ms: number): Promise<pg.Client> {
  const connecting = connectPg(settings, 'pgferry-preflight');
  try {
    return await withTimeout(connecting, ms, 'connect');
  } catch (error) {
    connecting.then((late) => late.end()).catch(() => undefined);
    throw error;
  }
}

/** "a, b, c and 7 more": a readable list in one line. */
export function listNames(names: readonly string[], max = 10): string {
  if (names.length <= max) return names.join(', ');
  return `${names.slice(0, max).join(', ')} and ${names.length - max} more`;
}

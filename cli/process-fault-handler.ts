// The last line of defence of the `pgferry` process: an exception nothing caught, or a promise
// rejection nothing handled, is logged as one JSON line and ends the process with exit code 1.
// Not Node's multi-line dump, and never an exit that looks clean: the state is unknown, so stop
// (the target holds the offsets committed with the rows, so a restart carries on correctly).
import type { Logger } from '../core/logger.js';
import { EXIT_FAILURE } from '../migrate/command-context.js';

/** The part of `process` this needs (a stand-in in tests). */
export interface FaultReportingProcess {
  on(event: 'uncaughtException', listener: (error: Error, origin: string) => void): unknown;
  on(event: 'unhandledRejection', listener: (reason: unknown) => void): unknown;
  exit(code: number): void;
}

export function installProcessFaultHandlers(
  log: Logger,
  target: FaultReportingProcess = process,
): void {
  let stopping = false;
  const stop = (origin: string, thrown: unknown) => {
    // A second fault while the first is being reported: the first line says what happened.
    if (stopping) return;
    stopping = true;
    try {
      log.fatal(
        { origin, err: describeThrown(thrown) },
        'pgferry stopped: an error nothing handled',
      );
    } finally {
      target.exit(EXIT_FAILURE);
    }
  };
  target.on('uncaughtException', (error, origin) => stop(origin, error));
  target.on('unhandledRejection', (reason) => stop('unhandledRejection', reason));
}

/**
 * An Error as is (pino's serializer: type, message, stack); a thrown string as bounded text; any
 * other value by its type and keys only, since its fields may hold anything (a password).
 */
function describeThrown(thrown: unknown): Error | { message: string } {
  if (thrown instanceof Error) return thrown;
  if (typeof thrown === 'string') return { message: thrown.slice(0, 2000) };
  if (thrown === null || typeof thrown !== 'object') {
    return { message: `a ${thrown === null ? 'null' : typeof thrown} was thrown` };
  }
  const keys = Object.keys(thrown).slice(0, 20).join(', ');
  return { message: `a non-Error object was thrown (keys: ${keys || 'none'})` };
}

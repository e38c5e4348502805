// What a PostgreSQL failure means for pgferry: retry (the server or network is in trouble), reject
// the row (the data cannot go in: dead-letter it), or stop the table (our schema or privileges).
export type PgFailureKind = 'retriable' | 'rejected-row' | 'table-error';

const RETRIABLE_NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** Serialization failure, deadlock, lock not available: retry; the session stays usable. */
const TRANSIENT_IN_SESSION = new Set(['40001', '40P01', '55P03']);

/** True when a retriable failure left the session usable (no reconnect needed). */
export function keepsSessionUsable(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && TRANSIENT_IN_SESSION.has(code);
}

export function classifyPgError(error: unknown): PgFailureKind {
  const e = error as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  if (RETRIABLE_NODE_CODES.has(code)) return 'retriable';
  if (/^(08|53|57|58)/.test(code)) return 'retriable'; // connection, resources, shutdown, system
  if (TRANSIENT_IN_SESSION.has(code)) return 'retriable';
  // A check violation without a constraint is a partitioned table with no partition for the row
  // (a partition the source has and the target lacks): the table's problem, not the row's; once
  // the partition exists the same rows go in.
  if (code === '23514' && (error as { constraint?: unknown })?.constraint === undefined) {
    return 'table-error';
  }
  if (/^(22|23)/.test(code) || code === '42804') return 'rejected-row'; // data exception, constraint
  if (code.length === 5) return 'table-error';
  // No SQLSTATE: the connection died under us (pg: "Connection terminated unexpectedly").
  const message = typeof e?.message === 'string' ? e.message : '';
  if (/connection|terminated|socket|closed/i.test(message)) return 'retriable';
  return 'table-error';
}

/**
 * The server refused the login (28P01 wrong password, 28000 no pg_hba entry or unknown role):
 * the settings are wrong, retrying the same credentials does not help.
 */
export function isAuthenticationFailure(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return code === '28P01' || code === '28000';
}

// What a PostgreSQL failure means for pgferry: retry, dead-letter the row, or stop the table.
// Decided by SQLSTATE (and node's socket codes), never by the error's text when a code exists.
import { describe, expect, it } from 'vitest';
import { classifyPgError } from '../../core/pg-errors.js';

const pgError = (code: string, message = 'boom') => Object.assign(new Error(message), { code });

describe('classifyPgError', () => {
  it.each([
    ['08006', 'connection_failure'],
    ['08001', 'sqlclient_unable_to_establish_sqlconnection'],
    ['08P01', 'protocol_violation'],
    ['40001', 'serialization_failure'],
    ['40P01', 'deadlock_detected'],
    ['55P03', 'lock_not_available'],
    ['53300', 'too_many_connections'],
    ['53100', 'disk_full'],
    ['57P01', 'admin_shutdown'],
    ['57P03', 'cannot_connect_now'],
    ['58030', 'io_error'],
  ])('SQLSTATE %s (%s) is retriable', (code) => {
    expect(classifyPgError(pgError(code))).toBe('retriable');
  });

  it.each([
    ['22P02', 'invalid_text_representation'],
    ['22003', 'numeric_value_out_of_range'],
    ['22001', 'string_data_right_truncation'],
    ['23505', 'unique_violation'],
    ['23502', 'not_null_violation'],
    ['23514', 'check_violation'],
    ['23503', 'foreign_key_violation'],
    ['42804', 'datatype_mismatch'],
  ])('SQLSTATE %s (%s) rejects the row', (code) => {
    // As the server reports them: a constraint violation names its constraint.
    const error = Object.assign(pgError(code), code.startsWith('23') ? { constraint: 'c' } : {});
    expect(classifyPgError(error)).toBe('rejected-row');
  });

  it('a check violation naming no constraint (no partition for the row) is a table error', () => {
    // PostgreSQL: 23514 "no partition of relation ... found for row", with the table, no constraint.
    const error = Object.assign(
      pgError('23514', 'no partition of relation "events" found for row'),
      { table: 'events' },
    );
    expect(classifyPgError(error)).toBe('table-error');
  });

  it.each([
    ['42501', 'insufficient_privilege'],
    ['42P01', 'undefined_table'],
    ['42703', 'undefined_column'],
    ['42601', 'syntax_error'],
    ['25P02', 'in_failed_sql_transaction'],
    ['40002', 'transaction_integrity_constraint_violation'],
  ])('SQLSTATE %s (%s) is a table error', (code) => {
    expect(classifyPgError(pgError(code))).toBe('table-error');
  });

  it.each([
    'ECONNREFUSED',
    'ECONNRESET',
    'ETIMEDOUT',
    'EPIPE',
    'ENOTFOUND',
    'EAI_AGAIN',
    'EHOSTUNREACH',
    'ENETUNREACH',
  ])('socket error %s is retriable', (code) => {
    expect(classifyPgError(pgError(code, `connect ${code} 127.0.0.1:5432`))).toBe('retriable');
  });

  it('treats a connection that died without a SQLSTATE as retriable', () => {
    expect(classifyPgError(new Error('Connection terminated unexpectedly'))).toBe('retriable');
    expect(classifyPgError(new Error('Client was closed and is not queryable'))).toBe('retriable');
  });

  it('decides by the SQLSTATE, not the text, when there is one', () => {
    expect(classifyPgError(pgError('42501', 'connection to table denied'))).toBe('table-error');
    expect(classifyPgError(pgError('22P02', 'socket closed'))).toBe('rejected-row');
  });

  it('calls anything else a table error', () => {
    expect(classifyPgError(new Error('something odd'))).toBe('table-error');
    expect(classifyPgError(undefined)).toBe('table-error');
    expect(classifyPgError(null)).toBe('table-error');
    expect(classifyPgError('a string')).toBe('table-error');
    expect(classifyPgError({ code: 42 })).toBe('table-error');
  });
});

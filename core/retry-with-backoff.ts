// Retries an operation on retriable PgferryErrors with capped exponential backoff until a
// deadline; the error's class decides, never its message.
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelayMs } from './backoff.js';
import { PgferryError } from './errors.js';

export interface RetryOptions {
  /** Absolute time (ms since epoch) after which the last error is thrown instead of retrying. */
  deadline: number;
  initialDelayMs?: number;
  maxDelayMs?: number;
  signal?: AbortSignal;
  onRetry?: (error: PgferryError, attempt: number, delayMs: number) => void;
}

export async function retryWithBackoff<T>(
  operation: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const initialDelayMs = options.initialDelayMs ?? 250;
  const maxDelayMs = options.maxDelayMs ?? 5_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (!(error instanceof PgferryError) || !error.retriable) throw error;
      const delayMs = backoffDelayMs(attempt, { initialMs: initialDelayMs, maxMs: maxDelayMs });
      if (Date.now() + delayMs >= options.deadline) throw error;
      options.onRetry?.(error, attempt, delayMs);
      await sleep(delayMs, undefined, options.signal ? { signal: options.signal } : undefined);
    }
  }
}

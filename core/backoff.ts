// The one backoff rule: capped exponential delays with jitter, so several pgferry processes do not
// hammer a recovering service in step. Every retry loop takes its delays from here.

export interface BackoffOptions {
  /** Delay of the first retry before jitter (default 200 ms). */
  initialMs?: number;
  /** Cap of the delay before jitter. */
  maxMs: number;
}

/** The delay before retry number `attempt` (1 = first retry): half to all of the ceiling. */
export function backoffDelayMs(attempt: number, options: BackoffOptions): number {
  const initial = options.initialMs ?? 200;
  const ceiling = Math.min(options.maxMs, initial * 2 ** Math.min(Math.max(attempt, 1) - 1, 30));
  return Math.round(ceiling * (0.5 + Math.random() * 0.5));
}

// When pgferry restarts the Debezium connector's FAILED tasks itself (CONNECTOR_AUTO_RESTART): a
// task fails for good on a registry or broker outage ("Tolerance exceeded in error handler": the
// Avro converter's error is not one Connect retries) and stays FAILED until someone restarts it.
// Restarting is safe (the connector resumes from its committed offsets and slot), so pgferry does
// it, with a growing pause between attempts and a bounded number of them; once the task has run
// for a while the count starts again. Pure: the monitor feeds it the states it reads.

export interface RestartPolicySettings {
  /** Attempts before giving up (until the task runs again for `stableMs`). */
  maxAttempts: number;
  /** Pause before the first attempt; doubled each attempt, up to `maxDelayMs`. */
  firstDelayMs: number;
  maxDelayMs: number;
  /** RUNNING this long after a restart: the outage is over, the attempts count from zero. */
  stableMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicySettings = {
  // 10 s, 20 s, 40 s ... 5 min: ten attempts ride out about half an hour of outage.
  maxAttempts: 10,
  firstDelayMs: 10_000,
  maxDelayMs: 300_000,
  stableMs: 600_000,
};

export type RestartDecision =
  | { kind: 'none' }
  | { kind: 'wait'; untilMs: number }
  | { kind: 'restart'; attempt: number }
  | { kind: 'give-up'; attempts: number };

export interface RestartPolicyState {
  attempts: number;
  /** When the failure was first seen (or the last attempt made): the pause counts from here. */
  failedSinceMs: number | null;
  lastAttemptMs: number | null;
  runningSinceMs: number | null;
  gaveUp: boolean;
}

export const initialRestartState = (): RestartPolicyState => ({
  attempts: 0,
  failedSinceMs: null,
  lastAttemptMs: null,
  runningSinceMs: null,
  gaveUp: false,
});

/** The delay before attempt `n` (1-based). */
export function restartDelayMs(attempt: number, settings: RestartPolicySettings): number {
  return Math.min(settings.maxDelayMs, settings.firstDelayMs * 2 ** Math.max(0, attempt - 1));
}

/**
 * Feeds one reading (some task FAILED or not) into the state and says what to do now. A
 * decision to restart counts as an attempt; the caller performs it.
 */
export function decideRestart(
  state: RestartPolicyState,
  reading: { failed: boolean; running: boolean },
  nowMs: number,
  settings: RestartPolicySettings,
): RestartDecision {
  if (!reading.failed) {
    state.failedSinceMs = null;
    if (reading.running) {
      state.runningSinceMs ??= nowMs;
      // Running again after pgferry gave up: someone fixed it; a new failure starts afresh.
      if (state.gaveUp || nowMs - state.runningSinceMs >= settings.stableMs) {
        state.attempts = 0;
        state.gaveUp = false;
      }
    } else state.runningSinceMs = null;
    return { kind: 'none' };
  }
  state.runningSinceMs = null;
  if (state.gaveUp) return { kind: 'none' };
  if (state.attempts >= settings.maxAttempts) {
    state.gaveUp = true;
    return { kind: 'give-up', attempts: state.attempts };
  }
  state.failedSinceMs ??= nowMs;
  const from = Math.max(state.failedSinceMs, state.lastAttemptMs ?? 0);
  const untilMs = from + restartDelayMs(state.attempts + 1, settings);
  if (nowMs < untilMs) return { kind: 'wait', untilMs };
  state.attempts += 1;
  state.lastAttemptMs = nowMs;
  return { kind: 'restart', attempt: state.attempts };
}

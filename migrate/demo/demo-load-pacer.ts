// Pacing of the demo load: how many rows are owed at a moment for a target rate, and how long to
// sleep when none are. Time is passed in, so the arithmetic is tested without clocks.

/** Above this rate, operations share transactions: a commit per row would not keep up. */
export const ROWS_PER_SECOND_PER_TRANSACTION = 500;

/** Never sleep longer than this, so a stop request or a rate change is seen quickly. */
export const MAX_SLEEP_MS = 100;

/**
 * Operations per transaction for a rate: 1 (every operation its own transaction, as an
 * application writes) up to ROWS_PER_SECOND_PER_TRANSACTION rows/s, then more, so that a
 * 2-core machine still holds thousands of rows per second with one connection.
 */
export function operationsPerTransaction(rowsPerSecond: number): number {
  return Math.max(1, Math.ceil(rowsPerSecond / ROWS_PER_SECOND_PER_TRANSACTION));
}

/**
 * Rows owed = what the rate asks for since the start minus the rows written. Operations write
 * several rows at once (an order with its items), so the balance may go negative for a while:
 * the pacer then sleeps until the rate catches up. A backlog of more than one second (a slow
 * source, a paused process) is forgiven rather than written in a burst.
 */
export class DemoLoadPacer {
  private baselineMs: number;
  private rows = 0;

  constructor(
    readonly rowsPerSecond: number,
    startMs: number,
  ) {
    if (!(rowsPerSecond > 0)) throw new RangeError('rows per second must be greater than 0');
    this.baselineMs = startMs;
  }

  /** The rows written so far (as recorded). */
  get written(): number {
    return this.rows;
  }

  /** Rows to write now to be on rate (<= 0: ahead of it). */
  owed(nowMs: number): number {
    const due = Math.floor((this.rowsPerSecond * (nowMs - this.baselineMs)) / 1000);
    const owed = due - this.rows;
    const maxBacklog = Math.max(1, Math.ceil(this.rowsPerSecond));
    if (owed > maxBacklog) {
      // Move the baseline so that exactly one second's worth is owed.
      this.baselineMs += ((owed - maxBacklog) * 1000) / this.rowsPerSecond;
      return maxBacklog;
    }
    return owed;
  }

  record(rows: number): void {
    this.rows += rows;
  }

  /** How long to sleep before the next row is due: at least 1 ms, at most MAX_SLEEP_MS. */
  delayMs(nowMs: number): number {
    const nextRowAtMs = this.baselineMs + ((this.rows + 1) * 1000) / this.rowsPerSecond;
    return Math.min(MAX_SLEEP_MS, Math.max(1, Math.ceil(nextRowAtMs - nowMs)));
  }
}

/** Rows per second over an elapsed time (0 before any time has passed). */
export function achievedRate(rows: number, elapsedMs: number): number {
  return elapsedMs > 0 ? (rows * 1000) / elapsedMs : 0;
}

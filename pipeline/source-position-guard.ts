// No change may claim a log position the source has not reached. Debezium only sends what the
// source's WAL already holds, so an event whose `source.lsn` is beyond the source's current WAL
// position was not written by the connector; applied, it would freeze its row (or, a truncate,
// its table): the merge's position guard would drop every real change after it, silently. Such an
// event is dead-lettered instead. The source's position is read rarely: an event at or below the
// last reading passes at once; one above it asks for a reading taken after its chunk was fetched
// (one at a time, shared, at most one per `minRefreshMs`), which is conclusive for the whole chunk.
// The gap is short on purpose: chunks are processed in order, so a caught-up partition's chunk
// waiting for the next allowed reading holds back every other partition's backlog behind it (a
// 1 s gap halved the drain of a 1M-row transaction while live changes streamed beside it).
import { setTimeout as sleep } from 'node:timers/promises';
import { PoisonMessageError } from '../core/errors.js';
import type { WalPositionReader, WalReading } from './ports.js';

/** The event's position is beyond anything the source has written. */
export class PositionBeyondSourceError extends PoisonMessageError {}

export interface SourcePositionGuardOptions {
  reader: WalPositionReader;
  /** Shortest time between two readings (default 25 ms: at most 40 cheap queries a second). */
  minRefreshMs?: number;
  /** How long to wait for a standby source to replay up to a position (default 30 s). */
  standbyWaitMs?: number;
  /** Pause between two readings while waiting for a standby to replay (default 500 ms). */
  standbyPollMs?: number;
  now?: () => number;
  wait?: (ms: number) => Promise<void>;
}

interface Reading extends WalReading {
  /** When the reading was asked for: every change in Kafka before then is at or below it. */
  startedAt: number;
}

/** Formats an LSN as PostgreSQL does (`16/B374D848`), for messages. */
export function formatLsn(position: bigint): string {
  if (position < 0n || position > 0xffff_ffff_ffff_ffffn) return position.toString();
  return `${(position >> 32n).toString(16).toUpperCase()}/${(position & 0xffff_ffffn).toString(16).toUpperCase()}`;
}

export class SourcePositionGuard {
  private reading: Reading | undefined;
  private pending: Promise<Reading> | undefined;
  private lastStartedAt = Number.NEGATIVE_INFINITY;
  private chunkStartedAt = Number.NEGATIVE_INFINITY;
  private readonly minRefreshMs: number;
  private readonly standbyWaitMs: number;
  private readonly standbyPollMs: number;
  private readonly now: () => number;
  private readonly wait: (ms: number) => Promise<void>;

  constructor(private readonly options: SourcePositionGuardOptions) {
    this.minRefreshMs = options.minRefreshMs ?? 25;
    this.standbyWaitMs = options.standbyWaitMs ?? 30_000;
    this.standbyPollMs = options.standbyPollMs ?? 500;
    this.now = options.now ?? Date.now;
    this.wait = options.wait ?? ((ms) => sleep(ms));
  }

  /** The last reading of the source's position, if any (for tests and logs). */
  get lastPosition(): bigint | undefined {
    return this.reading?.position;
  }

  /** A chunk starts: its records were all fetched before now. */
  startChunk(): void {
    this.chunkStartedAt = this.now();
  }

  /** Resolves (synchronously, below the last reading) or throws PositionBeyondSourceError. */
  check(position: bigint): undefined | Promise<void> {
    if (this.reading !== undefined && position <= this.reading.position) return undefined;
    return this.checkAgainstNewReading(position);
  }

  private async checkAgainstNewReading(position: bigint): Promise<void> {
    let reading = await this.readingAfterChunkStart();
    if (position <= reading.position) return;
    // A standby lags its primary: the event may be real and not yet replayed there.
    const deadline = this.now() + this.standbyWaitMs;
    while (reading.standby && position > reading.position && this.now() < deadline) {
      await this.wait(this.standbyPollMs);
      reading = await this.refresh();
    }
    if (position > reading.position) {
      throw new PositionBeyondSourceError(
        `the event's source.lsn ${formatLsn(position)} is beyond the source's current WAL position ${formatLsn(reading.position)}${reading.standby ? ' (a standby, waited for it to replay)' : ''}: the connector cannot have sent it, and applied it would hold back every later change of its row or table`,
      );
    }
  }

  /** A reading asked for after this chunk's records were fetched: conclusive for all of them. */
  private async readingAfterChunkStart(): Promise<Reading> {
    const current = this.reading;
    if (current !== undefined && current.startedAt >= this.chunkStartedAt) return current;
    if (this.pending !== undefined) {
      const awaited = await this.pending;
      if (awaited.startedAt >= this.chunkStartedAt) return awaited;
    }
    return this.refresh();
  }

  /** One reading at a time, at most one per minRefreshMs. */
  private refresh(): Promise<Reading> {
    if (this.pending !== undefined) return this.pending;
    const run = (async () => {
      const gap = this.lastStartedAt + this.minRefreshMs - this.now();
      if (gap > 0) await this.wait(gap);
      const startedAt = this.now();
      this.lastStartedAt = startedAt;
      const read = await this.options.reader.readWalPosition();
      const reading = { ...read, startedAt };
      this.reading = reading;
      return reading;
    })();
    this.pending = run;
    const clear = () => {
      if (this.pending === run) this.pending = undefined;
    };
    run.then(clear, clear);
    return run;
  }
}

// The position guard (pipeline/source-position-guard.ts) with a fake WAL position reader and a
// fake clock: positions at or below the last reading pass without a reading, one above asks for
// a reading taken after its chunk started (one per chunk at most, at most one per second), and
// a position still beyond it is dead-lettered; a standby source gets time to replay.
import { describe, expect, it } from 'vitest';
import { PoisonMessageError, RetriableError } from '../../core/errors.js';
import { parseLsn } from '../../core/source-wal-position.js';
import type { WalReading } from '../../pipeline/ports.js';
import { createPositionGuardProcessor } from '../../pipeline/processors/position-guard-processor.js';
import {
  formatLsn,
  PositionBeyondSourceError,
  SourcePositionGuard,
} from '../../pipeline/source-position-guard.js';

/** A source whose WAL position the test moves; counts the readings. */
class FakeSource {
  position = 1_000n;
  standby = false;
  readings = 0;
  fail: Error | undefined;
  constructor(private readonly clock: FakeClock) {}
  async readWalPosition(): Promise<WalReading> {
    this.readings++;
    this.clock.advance(5); // a round trip
    if (this.fail) throw this.fail;
    return { position: this.position, standby: this.standby };
  }
}

class FakeClock {
  ms = 10_000;
  waits: number[] = [];
  now = () => this.ms;
  advance(ms: number) {
    this.ms += ms;
  }
  wait = async (ms: number) => {
    this.waits.push(ms);
    this.ms += ms;
  };
}

function setUp(options: { standbyWaitMs?: number; minRefreshMs?: number } = {}) {
  const clock = new FakeClock();
  const source = new FakeSource(clock);
  const guard = new SourcePositionGuard({
    reader: source,
    now: clock.now,
    wait: clock.wait,
    ...options,
  });
  return { clock, source, guard };
}

describe('SourcePositionGuard', () => {
  it('reads the source once for a chunk, then passes what is at or below the reading at once', async () => {
    const { source, guard } = setUp();
    guard.startChunk();
    await guard.check(500n);
    expect(source.readings).toBe(1);
    expect(guard.lastPosition).toBe(1_000n);
    // Synchronous from now on: no promise, no reading.
    expect(guard.check(1_000n)).toBeUndefined();
    expect(guard.check(7n)).toBeUndefined();
    expect(source.readings).toBe(1);
  });

  it('dead-letters a position beyond a reading taken after the chunk started, one reading for the chunk', async () => {
    const { source, guard } = setUp();
    guard.startChunk();
    const beyond = guard.check(2n ** 63n - 1n);
    await expect(beyond).rejects.toBeInstanceOf(PositionBeyondSourceError);
    await expect(guard.check(2n ** 62n)).rejects.toBeInstanceOf(PoisonMessageError);
    await expect(guard.check(1_001n)).rejects.toThrow(
      "the event's source.lsn 0/3E9 is beyond the source's current WAL position 0/3E8",
    );
    expect(source.readings).toBe(1);
  });

  it('reads again for a later chunk whose changes are newer than the last reading', async () => {
    const { clock, source, guard } = setUp();
    guard.startChunk();
    await guard.check(900n);
    // The source moved on and Debezium sent newer changes; the next chunk starts later.
    source.position = 5_000n;
    clock.advance(3_000);
    guard.startChunk();
    await guard.check(4_000n);
    expect(source.readings).toBe(2);
    expect(clock.waits).toEqual([]);
  });

  it('reads at most once per minRefreshMs: a chunk soon after the last reading waits for the rest of it', async () => {
    const { clock, source, guard } = setUp({ minRefreshMs: 1_000 });
    guard.startChunk();
    await guard.check(900n);
    source.position = 2_000n;
    clock.advance(200);
    guard.startChunk();
    await guard.check(1_500n);
    expect(source.readings).toBe(2);
    expect(clock.waits).toHaveLength(1);
    expect(clock.waits[0]).toBeGreaterThan(700);
    expect(clock.waits[0]).toBeLessThanOrEqual(1_000);
  });

  it("by default a caught-up chunk does not wait: other partitions' backlogs queue behind it", async () => {
    const { clock, source, guard } = setUp();
    guard.startChunk();
    await guard.check(900n);
    source.position = 2_000n;
    clock.advance(100);
    guard.startChunk();
    await guard.check(1_500n);
    expect(source.readings).toBe(2);
    expect(clock.waits).toEqual([]);
  });

  it('shares one reading between checks waiting at the same time', async () => {
    const { source, guard } = setUp();
    guard.startChunk();
    await Promise.all([guard.check(10n), guard.check(20n), guard.check(30n)]);
    expect(source.readings).toBe(1);
  });

  it('gives a standby time to replay, then judges', async () => {
    const { clock, source, guard } = setUp({ standbyWaitMs: 5_000 });
    source.standby = true;
    guard.startChunk();
    // Replays up to the change after a few readings: it passes.
    let readingsBeforeCatchUp = 0;
    const reader = source.readWalPosition.bind(source);
    source.readWalPosition = async () => {
      const reading = await reader();
      if (++readingsBeforeCatchUp === 3) source.position = 1_200n;
      return reading;
    };
    await guard.check(1_200n);
    expect(source.readings).toBeGreaterThanOrEqual(3);
    // A forged position is never replayed: dead-lettered once the wait is over.
    const started = clock.ms;
    await expect(guard.check(2n ** 60n)).rejects.toThrow(/a standby, waited for it to replay/);
    expect(clock.ms - started).toBeGreaterThanOrEqual(5_000);
  });

  it('passes a reader failure on as it is (retriable: the chunk waits, nothing is applied)', async () => {
    const { source, guard } = setUp();
    source.fail = new RetriableError('cannot read the source');
    guard.startChunk();
    await expect(guard.check(1n)).rejects.toBeInstanceOf(RetriableError);
    source.fail = undefined;
    await guard.check(1n);
  });
});

describe('the position processor', () => {
  it('starts a chunk on reset and passes changes on', async () => {
    const { source, guard } = setUp();
    const processor = createPositionGuardProcessor(guard);
    processor.reset?.();
    const change = { position: 10n } as never;
    const ctx = {} as never;
    expect(await processor.process(change, ctx)).toEqual([change]);
    // Below the reading now: answered synchronously.
    expect(processor.process(change, ctx)).toEqual([change]);
    expect(source.readings).toBe(1);
  });
});

describe('LSN text', () => {
  it('parses and formats PostgreSQL’s X/Y', () => {
    expect(parseLsn('16/B374D848')).toBe(0x16b374d848n);
    expect(parseLsn('0/0')).toBe(0n);
    expect(formatLsn(0x16b374d848n)).toBe('16/B374D848');
    expect(() => parseLsn('nonsense')).toThrow(RetriableError);
  });
});

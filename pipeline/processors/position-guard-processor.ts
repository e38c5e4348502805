// Position guard: a change whose source.lsn is beyond the source's current WAL position is
// dead-lettered (PositionBeyondSourceError), never applied (source-position-guard.ts says why).
// Between transform and dedupe: dedupe would let such a change win over its row's real ones and
// fold them away. Reads the source (I/O): never wrap it in poisonUntypedErrors.
import type { RowChange } from '../row-change.js';
import type { SourcePositionGuard } from '../source-position-guard.js';
import type { Processor } from './processor.js';

export function createPositionGuardProcessor(
  guard: SourcePositionGuard,
): Processor<RowChange, RowChange> {
  return {
    name: 'position',
    // The topology resets every processor as a chunk starts: the chunk's records are all fetched.
    reset() {
      guard.startChunk();
    },
    process(change) {
      const checking = guard.check(change.position);
      return checking === undefined ? [change] : checking.then(() => [change]);
    },
  };
}

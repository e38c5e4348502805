// The ports of the stream core: what the runner needs from the outside world, as interfaces. The
// composition root (cli/run-pipeline.ts) plugs in the real ones (the Kafka source, the PostgreSQL
// sink, the dead-letter producer); unit tests plug in fakes. pipeline/ never imports sink/.
import type { RowChange } from './row-change.js';
import type { KafkaRecord } from './source/kafka-record.js';

/**
 * A chunk: records of one partition, in offset order, cut from one fetch to at most BATCH_SIZE
 * rows and BATCH_MAX_BYTES bytes. `P` is what the handler prepared from it ahead of time.
 */
export interface SourceChunk<P> {
  topic: string;
  partition: number;
  records: KafkaRecord[];
  /** The chunk processed ahead while the chunk before it was written; absent = process now. */
  prepared?: Promise<P>;
  /** Keeps the group membership alive during long work (retries, big merges). */
  heartbeat: () => Promise<void>;
  /** False once the consumer is stopping or lost the partition: abandon the chunk. */
  isActive: () => boolean;
}

/** Thrown by a chunk handler to give the chunk back uncommitted (rebalance, shutdown, stop). */
export class ChunkAbandonedError extends Error {}

/** What the source drives, chunk by chunk (the runner). */
export interface ChunkHandler<P> {
  /** Starts processing a chunk ahead (at most one ahead); must tolerate running beside apply. */
  prepare(records: KafkaRecord[]): Promise<P>;
  /** Applies a chunk; resolves once the target committed it (then the source commits Kafka). */
  apply(chunk: SourceChunk<P>): Promise<void>;
  /** Topics whose table is stopped: not fetched until restart. */
  isTopicStopped(topic: string): boolean;
}

/** Where records come from: a consumer group that hands chunks to one handler. */
export interface ChangeSource {
  readonly isJoined: boolean;
  /** True while a chunk is being applied and committed. */
  readonly isBusy: boolean;
  readonly topics: readonly string[];
  /** What it consumes, for the log line that says pgferry is running (e.g. the topic pattern). */
  describe(): Record<string, string>;
  /** Checks that the brokers answer (quick, so an outage is named at start). */
  probe(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Stops fetching; resolves when no chunk is in flight and the last Kafka commit has landed. */
  pause(): Promise<void>;
  resume(): void;
  /** Stops fetching one topic (its table is stopped). */
  pauseTopic(topic: string): void;
}

/** The changes of one chunk, for the sink: stored with the partition's next offset. */
export interface ChangeBatch {
  groupId: string;
  topic: string;
  partition: number;
  /** Offset after the last record of the chunk: stored as the partition's next offset. */
  nextOffset: string;
  /**
   * Offset of the chunk's first record, when known: a target whose stored offset is not past it
   * has none of the batch, and its changes need no one-by-one offset filter.
   */
  firstOffset?: string;
  changes: RowChange[];
}

export interface RejectedChange {
  change: RowChange;
  error: Error;
}

/** What a committed batch did, for metrics. */
export interface CommitResult {
  /** Changes handed to the merge (after the offset filter); the position guard may skip some. */
  applied: number;
  /** Rows affected per table and statement kind. */
  tables: { table: string; upserted: number; deleted: number }[];
  /** Milliseconds spent in COPY, the merge statements and COMMIT. */
  timingsMs: { copy: number; merge: number; commit: number };
}

/**
 * A batch written into an open target transaction, not yet visible. Exactly one of commit() or
 * abort() must follow; the sink's connection is reserved for this batch until then.
 */
export interface StagedBatch {
  /** True when the target already had this batch (replay after a crash or rebalance). */
  readonly alreadyApplied: boolean;
  /** Rows the target refused: dead-letter them before commit. */
  readonly rejected: readonly RejectedChange[];
  /** Commits rows, bookkeeping and the partition's offset in the one transaction. */
  commit(): Promise<CommitResult>;
  /** Rolls everything back (dead-lettering failed, or the chunk is abandoned). */
  abort(): Promise<void>;
}

/** Where changes go: the target database, one transaction per chunk. */
export interface ChangeSink {
  readonly isConnected: boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Writes a batch into an open transaction. `deadLetters`: how many records of the chunk will be
   * dead-lettered besides the rejected rows (the sink then settles its bookkeeping before the
   * letters are sent, so a failure there cannot make a retry send them twice).
   */
  stage(batch: ChangeBatch, options: { deadLetters: number }): Promise<StagedBatch>;
}

/** The next offsets applied in the target per partition: the truth a consumer seeks to. */
export interface OffsetStore {
  /** The target's applied offsets of these topics: topic -> partition -> next offset. */
  storedOffsets(
    groupId: string,
    topics: readonly string[],
  ): Promise<Map<string, Map<number, string>>>;
}

export interface DeadLetter {
  record: KafkaRecord;
  /** Where it failed: decode, transform, apply. */
  stage: string;
  error: Error;
}

/** Where records that cannot be applied go, with the reason (awaited, acknowledged by Kafka). */
export interface DeadLetterSink {
  start(): Promise<void>;
  stop(): Promise<void>;
  send(letters: readonly DeadLetter[]): Promise<void>;
  /** The dead-letter topic of a source topic (for logs). */
  topicFor(topic: string): string;
}

/** One reading of the source database's WAL position (see source-position-guard.ts). */
export interface WalReading {
  /** pg_current_wal_lsn() on a primary; on a standby, the position it has replayed. */
  position: bigint;
  /** A standby may still be replaying what its primary sent Debezium: allow it to catch up. */
  standby: boolean;
}

/** Reads the source's WAL position now (the composition root plugs in the source database). */
export interface WalPositionReader {
  readWalPosition(): Promise<WalReading>;
}

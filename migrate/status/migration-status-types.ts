// The shape of `pgferry status` (one part per thing read) and of the raw readings the parts are
// built from; the readers, the assembler and the text screen share these types.
import type { Logger } from '../../core/logger.js';
import type { CopyTableRow } from '../../sink/bookkeeping/copy-rows.js';

export interface ConnectorPart {
  name: string;
  /** Connect's connector state; null when Connect does not know the connector or was unreachable. */
  state: string | null;
  tasks: { id: number; state: string; trace?: string }[];
  /** Connect could not be read. */
  error?: string;
}

export interface SlotPart {
  name: string;
  exists: boolean;
  /** A walsender (Debezium) is attached. */
  active: boolean;
  /** pg_current_wal_lsn() − confirmed_flush_lsn: WAL not yet confirmed by the connector. */
  lagBytes: number | null;
  confirmedFlushLsn: string | null;
  currentLsn: string | null;
  /**
   * `pgferry run` saw this slot disappear (pgferry.slot_losses in the target): when, and which
   * process. Stays set, even if a slot of that name exists again, until `pgferry resnapshot`.
   */
  lost?: { at: string; by: string };
  /** The source could not be read, or is not configured (SOURCE_DB_*). */
  error?: string;
}

export interface PartitionLag {
  topic: string;
  partition: number;
  /** High watermark: the offset the next message will get. */
  endOffset: string;
  /** Next offset to apply, from pgferry.offsets in the target (committed with the rows). */
  appliedOffset: string | null;
  /** The group's committed Kafka offset (follows the target's; informational). */
  committedOffset: string | null;
  lag: number;
}

export interface ConsumerPart {
  groupId: string;
  totalLag: number;
  partitions: PartitionLag[];
  /** Kafka could not be read, or the applied offsets could not (then lag is from Kafka's commits). */
  error?: string;
}

export interface TableProgress {
  /** Target table, schema.name. */
  table: string;
  /** The Kafka topic it is replicated from; null when listed from the target alone. */
  topic: string | null;
  changesApplied: number;
  /** Source commit time of the newest change applied. */
  lastSourceTs: string | null;
  lastAppliedAt: string | null;
  /** Target's now − lastSourceTs: how old the newest applied change is (grows while idle). */
  endToEndLagSeconds: number | null;
  /** Messages in the table's own dead-letter topic (0 with a shared DLQ_TOPIC: see `dlq`). */
  dlqMessages: number;
}

/** One table of `pgferry copy` (the initial load), from pgferry.copy_tables/copy_chunks. */
export interface CopyTableStatus {
  /** Target table, schema.name. */
  table: string;
  /** Source table, schema.name. */
  source: string;
  state: 'copying' | 'done' | 'failed';
  chunksDone: number;
  chunksTotal: number;
  rowsCopied: number;
  bytesCopied: number;
  startedAt: string;
  finishedAt: string | null;
  /** When the newest chunk was committed (null before the first). */
  lastChunkAt: string | null;
  /** Rows copied / seconds from startedAt to lastChunkAt (or to now before the first chunk); null before the first chunk. */
  rowsPerSecond: number | null;
  /** The chunks left at the table's chunk rate (same span); 0 when done, null when unknown or failed. */
  etaSeconds: number | null;
  lastError: string | null;
  /** Not done: `pgferry run` holds back this table's changes until its copy is done. */
  streamWaiting: boolean;
  /** The consumer lag of the table's topic (changes held back while it waits); null without a topic. */
  queuedMessages: number | null;
}

/** `pgferry copy`'s progress; present only when the target has copy bookkeeping for this pipeline. */
export interface CopyPart {
  tables: CopyTableStatus[];
  tablesDone: number;
  /** The chunks left of the tables still copying at their summed chunk rate; null when unknown or a table failed. */
  etaSeconds: number | null;
  /** pgferry.copy_tables could not be read. */
  error?: string;
}

export interface DlqPart {
  /** DLQ_TOPIC when one dead-letter topic is shared by every table. */
  sharedTopic: string | null;
  /** Every dead-letter topic that exists, with its message count (high − low watermark). */
  topics: { topic: string; messages: number }[];
  total: number;
  error?: string;
}

export interface PgferryInstancePart {
  url: string;
  /** Runner state (starting, running, ...); 'unreachable' when the endpoint did not answer. */
  state: string;
  paused: boolean;
  /** Pause requested, batch in flight still committing. */
  pausing: boolean;
  error?: string;
}

export interface MigrationStatus {
  /** When the status was read (ISO time). */
  at: string;
  connector: ConnectorPart;
  slot: SlotPart;
  consumer: ConsumerPart;
  tables: TableProgress[];
  /** The target's pgferry.tables could not be read. */
  tablesError?: string;
  /** `pgferry copy`'s progress per table; absent when the target has no copy bookkeeping. */
  copy?: CopyPart;
  dlq: DlqPart;
  /** From the control endpoints, when given. */
  pgferry?: PgferryInstancePart[];
  /** See judgeCaughtUp for the exact rule. */
  caughtUp: boolean;
  /** Why not caught up, one line each; empty when caught up. */
  reasons: string[];
}

export interface ReadMigrationStatusOptions {
  /** Control endpoints of running pgferry processes (http://host:port). */
  controlUrls?: readonly string[];
  signal?: AbortSignal;
  log?: Logger;
  /** Each part gives up after this long (default 20 s). */
  partTimeoutMs?: number;
}

/** One part's outcome: its value, or the text of why it could not be read. */
export interface Settled<T> {
  value?: T;
  error?: string;
}

export interface TopicOffsets {
  topic: string;
  partitions: { partition: number; high: string; low: string }[];
}

/** What one Kafka admin connection reads: the pipeline's topics, the group's commits, the DLQs. */
export interface KafkaReading {
  topics: TopicOffsets[];
  /** topic -> partition -> committed offset (absent = none). */
  committed: Map<string, Map<number, string>>;
  /** Existing dead-letter topics with their message counts. */
  dlq: { topic: string; messages: number }[];
}

export interface TargetTableRow {
  table: string;
  changesApplied: number;
  lastSourceTs: string | null;
  lastAppliedAt: string | null;
  endToEndLagSeconds: number | null;
}

/** What one target connection reads from pgferry's bookkeeping. */
export interface TargetReading {
  /** `${topic}\u0000${partition}` -> next offset to apply. */
  applied: Map<string, string>;
  tables: TargetTableRow[];
  /** pgferry.slot_losses' row for the configured slot, if any. */
  slotLoss?: { at: string; by: string };
  /** pgferry.copy_tables' rows and the target's clock when read; absent when there are none. */
  copy?: { rows: CopyTableRow[]; now: Date };
  /** pgferry.copy_tables could not be read (the rest of the reading stands). */
  copyError?: string;
}

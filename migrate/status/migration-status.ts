// "How far behind are we?": the connector and its tasks (Connect REST), the source replication
// slot, the consumer group's lag per partition (Kafka end offsets against the offsets applied in
// the target), per-table progress and dead letters, and optionally running pgferry processes.
// Every part is read on its own and fails on its own: a down Connect never hides the slot lag.
// `pgferry status`, cutover and rollback all read it through readMigrationStatus.
import type { Admin } from 'kafkajs';
import type pg from 'pg';
import { pino } from 'pino';
import type { PgferryConfig } from '../../core/config.js';
import { ConnectClient } from '../../core/connect-client.js';
import { ControlClient } from '../../core/control-client.js';
import { createKafka } from '../../core/kafka-client.js';
import type { Logger } from '../../core/logger.js';
import { connectPg } from '../../core/pg-connection.js';
import {
  BOOKKEEPING_SCHEMA,
  offsetsTable,
  slotLossesTable,
  tablesTable,
} from '../../sink/bookkeeping.js';
import { dlqTopicFor } from '../../sink/dlq-producer.js';

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

/** Where the recovery from a lost slot is written down (status and `pgferry run` point at it). */
export const SLOT_LOST_RUNBOOK = 'docs/runbook.md, "If the replication slot was lost"';

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

const DEFAULT_PART_TIMEOUT_MS = 20_000;

/** lag = end − applied; nothing applied (or applied below the log start) counts from the log start. */
export function computePartitionLag(end: string, applied: string | null, low: string): number {
  const high = BigInt(end);
  const start = BigInt(low);
  const at = applied !== null && BigInt(applied) > start ? BigInt(applied) : start;
  return high > at ? Number(high - at) : 0;
}

/**
 * Caught up means all of:
 * - the connector is RUNNING with at least one task, and every task is RUNNING;
 * - the slot exists and is active (its byte lag is shown, not judged: confirmed_flush_lsn trails
 *   the current LSN by other databases' WAL and by idle periods, so it is rarely exactly 0);
 * - the consumer group was read (end offsets and applied offsets), at least one partition
 *   matches KAFKA_TOPIC_PATTERN, and the total lag (end − applied) is 0;
 * - every control endpoint given answered, runs, and is not paused.
 * Returns the reasons it is not; none = caught up.
 */
export function judgeCaughtUp(
  status: Pick<MigrationStatus, 'connector' | 'slot' | 'consumer' | 'pgferry'>,
): string[] {
  const reasons: string[] = [];
  const { connector, slot, consumer } = status;
  if (connector.error !== undefined) reasons.push(`connector: ${connector.error}`);
  else if (connector.state === null) reasons.push(`connector ${connector.name} not found`);
  else {
    if (connector.state !== 'RUNNING')
      reasons.push(`connector ${connector.name} is ${connector.state}`);
    if (connector.tasks.length === 0) reasons.push(`connector ${connector.name} has no tasks`);
    for (const task of connector.tasks) {
      if (task.state !== 'RUNNING') reasons.push(`connector task ${task.id} is ${task.state}`);
    }
  }
  if (slot.lost !== undefined) {
    reasons.push(
      `slot ${slot.name} was LOST (dropped on the source; seen by ${slot.lost.by} at ${slot.lost.at}): changes made while it was missing never reached Kafka; re-snapshot the target (${SLOT_LOST_RUNBOOK})`,
    );
  }
  if (slot.error !== undefined) reasons.push(`slot: ${slot.error}`);
  else if (isSlotLost(status) && slot.lost === undefined) {
    // The connector's task failed without its slot: the slot was dropped.
    reasons.push(
      `slot ${slot.name} does not exist and connector ${connector.name} has a FAILED task: the slot was lost, changes made since never reach Kafka; re-snapshot the target (${SLOT_LOST_RUNBOOK})`,
    );
  } else if (!slot.exists && slot.lost === undefined)
    reasons.push(`slot ${slot.name} does not exist`);
  else if (slot.exists && !slot.active)
    reasons.push(`slot ${slot.name} is not active (nothing reads it)`);
  if (consumer.error !== undefined) reasons.push(`consumer: ${consumer.error}`);
  if (consumer.error === undefined && consumer.partitions.length === 0) {
    reasons.push('no topic matches KAFKA_TOPIC_PATTERN');
  }
  if (consumer.totalLag > 0) {
    const n = consumer.totalLag;
    reasons.push(`group ${consumer.groupId} is ${n} message${n === 1 ? '' : 's'} behind`);
  }
  for (const p of status.pgferry ?? []) {
    if (p.error !== undefined) reasons.push(`pgferry ${p.url}: ${p.error}`);
    else if (p.paused || p.pausing) reasons.push(`pgferry ${p.url} is paused`);
    else if (p.state !== 'running') reasons.push(`pgferry ${p.url} is ${p.state}`);
  }
  return reasons;
}

/**
 * The slot is known lost: `pgferry run` recorded its loss, or it does not exist while a task of
 * the registered connector failed (Debezium fails its task when its slot is gone). A connector
 * just applied (slot not made yet) or stopped after cutover (its slot dropped on purpose) is not
 * a loss. Nothing but a re-snapshot repairs a loss.
 */
export function isSlotLost(status: Pick<MigrationStatus, 'connector' | 'slot'>): boolean {
  const { slot, connector } = status;
  if (slot.lost !== undefined) return true;
  return (
    slot.error === undefined &&
    !slot.exists &&
    connector.state !== null &&
    connector.tasks.some((t) => t.state === 'FAILED')
  );
}

/** No part could be read at all (every service unreachable): the status says nothing. */
export function isNothingRead(status: MigrationStatus): boolean {
  return (
    status.connector.error !== undefined &&
    status.slot.error !== undefined &&
    status.consumer.error !== undefined &&
    status.consumer.partitions.length === 0 &&
    status.tablesError !== undefined &&
    (status.pgferry ?? []).every((p) => p.error !== undefined)
  );
}

/** Source topic `<prefix>.<schema>.<table>` to its target table (TARGET_SCHEMA applied). */
export function tableOfTopic(topic: string, targetSchema?: string): string {
  const parts = topic.split('.');
  const name = parts[parts.length - 1] ?? topic;
  const schema =
    targetSchema ?? (parts.length >= 3 ? (parts[parts.length - 2] as string) : 'public');
  return `${schema}.${name}`;
}

export async function readMigrationStatus(
  config: PgferryConfig,
  options: ReadMigrationStatusOptions = {},
): Promise<MigrationStatus> {
  const at = new Date().toISOString();
  const timeoutMs = options.partTimeoutMs ?? DEFAULT_PART_TIMEOUT_MS;
  const log = options.log ?? pino({ level: 'silent' });
  const part = <T>(what: string, read: () => Promise<T>) =>
    settle(what, timeoutMs, options.signal, read);

  const [connector, slot, kafka, target, pgferry] = await Promise.all([
    part('Kafka Connect', () => readConnector(config, options.signal)),
    config.source === undefined
      ? Promise.resolve<Settled<SlotPart>>({
          error:
            'source database not configured (set SOURCE_DB_HOST, SOURCE_DB_NAME, SOURCE_DB_USER)',
        })
      : part('source database', () => readSlot(config)),
    part('Kafka', () => readKafka(config, log)),
    part('target database', () => readTarget(config)),
    options.controlUrls === undefined
      ? Promise.resolve(undefined)
      : Promise.all(options.controlUrls.map((url) => readPgferry(url, options.signal))),
  ]);
  options.signal?.throwIfAborted();

  const status: Omit<MigrationStatus, 'caughtUp' | 'reasons'> = {
    at,
    connector:
      connector.value ??
      ({
        name: config.connect.connectorName,
        state: null,
        tasks: [],
        error: connector.error,
      } as ConnectorPart),
    slot: {
      ...(slot.value ?? {
        name: config.replication.slotName,
        exists: false,
        active: false,
        lagBytes: null,
        confirmedFlushLsn: null,
        currentLsn: null,
        error: slot.error as string,
      }),
      ...(target.value?.slotLoss ? { lost: target.value.slotLoss } : {}),
    },
    consumer: buildConsumerPart(config.kafka.groupId, kafka, target),
    ...buildTables(config, kafka.value, target),
    dlq: buildDlqPart(config, kafka),
    ...(pgferry === undefined ? {} : { pgferry }),
  };
  const reasons = judgeCaughtUp(status);
  return { ...status, caughtUp: reasons.length === 0, reasons };
}

/**
 * Only the consumer group's lag (Kafka end offsets against the offsets applied in the target):
 * what cutover polls while it waits, without reading Connect, the slot and the DLQ each time.
 */
export async function readConsumerLag(
  config: PgferryConfig,
  options: Pick<ReadMigrationStatusOptions, 'signal' | 'log' | 'partTimeoutMs'> = {},
): Promise<ConsumerPart> {
  const timeoutMs = options.partTimeoutMs ?? DEFAULT_PART_TIMEOUT_MS;
  const log = options.log ?? pino({ level: 'silent' });
  const [kafka, target] = await Promise.all([
    settle('Kafka', timeoutMs, options.signal, () => readKafka(config, log)),
    settle('target database', timeoutMs, options.signal, () => readTarget(config)),
  ]);
  options.signal?.throwIfAborted();
  return buildConsumerPart(config.kafka.groupId, kafka, target);
}

// --- reading each part ---

interface Settled<T> {
  value?: T;
  error?: string;
}

/** Runs one part, turning a failure or a timeout into its error text (never throws). */
async function settle<T>(
  what: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  read: () => Promise<T>,
): Promise<Settled<T>> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: no answer within ${Math.round(timeoutMs / 1000)} s`)),
      timeoutMs,
    );
  });
  try {
    return { value: await Promise.race([read(), timedOut]) };
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    const message = error instanceof Error ? error.message : String(error);
    return { error: message.startsWith(what) ? message : `${what}: ${message}` };
  } finally {
    clearTimeout(timer);
  }
}

async function readConnector(config: PgferryConfig, signal?: AbortSignal): Promise<ConnectorPart> {
  const client = new ConnectClient({ baseUrl: config.connect.url, requestTimeoutMs: 10_000 });
  const name = config.connect.connectorName;
  const status = await client.getConnectorStatus(name, signal);
  if (status === undefined) return { name, state: null, tasks: [] };
  return {
    name,
    state: status.connector.state,
    tasks: status.tasks.map((t) => ({
      id: t.id,
      state: t.state,
      ...(t.trace ? { trace: t.trace } : {}),
    })),
  };
}

async function readSlot(config: PgferryConfig): Promise<SlotPart> {
  const client = await connectPg(
    config.source as NonNullable<PgferryConfig['source']>,
    'pgferry-status',
  );
  try {
    const name = config.replication.slotName;
    const result = await client.query<{
      current_lsn: string | null;
      exists: boolean;
      active: boolean | null;
      confirmed_flush_lsn: string | null;
      lag: string | null;
    }>(
      `SELECT c.lsn::text AS current_lsn, s.slot_name IS NOT NULL AS exists, s.active,
              s.confirmed_flush_lsn::text AS confirmed_flush_lsn,
              pg_wal_lsn_diff(c.lsn, s.confirmed_flush_lsn)::bigint AS lag
         FROM (SELECT pg_current_wal_lsn() AS lsn) c
         LEFT JOIN pg_replication_slots s ON s.slot_name = $1`,
      [name],
    );
    const row = result.rows[0];
    return {
      name,
      exists: row?.exists ?? false,
      active: row?.active ?? false,
      lagBytes: row?.lag == null ? null : Number(row.lag),
      confirmedFlushLsn: row?.confirmed_flush_lsn ?? null,
      currentLsn: row?.current_lsn ?? null,
    };
  } finally {
    await client.end().catch(() => undefined);
  }
}

interface TopicOffsets {
  topic: string;
  partitions: { partition: number; high: string; low: string }[];
}

interface KafkaReading {
  topics: TopicOffsets[];
  /** topic -> partition -> committed offset (absent = none). */
  committed: Map<string, Map<number, string>>;
  /** Existing dead-letter topics with their message counts. */
  dlq: { topic: string; messages: number }[];
}

async function readKafka(config: PgferryConfig, log: Logger): Promise<KafkaReading> {
  const kafka = createKafka(config.kafka, log, {
    retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 2_000 },
    connectionTimeout: 3_000,
    requestTimeout: 10_000,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const all = await admin.listTopics();
    const shared = config.dlq.topic;
    // The runner's rule: matching topics except dead-letter and internal ones.
    const names = all
      .filter((t) => config.kafka.topicPattern.test(t))
      .filter((t) => !t.endsWith('.dlq') && t !== shared && !t.startsWith('__'))
      .sort();
    const topics = await Promise.all(names.map((topic) => readTopicOffsets(admin, topic)));
    const committed = new Map<string, Map<number, string>>();
    if (names.length > 0) {
      const fetched = await admin.fetchOffsets({ groupId: config.kafka.groupId, topics: names });
      for (const t of fetched) {
        const byPartition = new Map<number, string>();
        for (const p of t.partitions)
          if (BigInt(p.offset) >= 0n) byPartition.set(p.partition, p.offset);
        committed.set(t.topic, byPartition);
      }
    }
    const existing = new Set(all);
    const dlqNames = shared !== undefined ? [shared] : names.map((t) => dlqTopicFor(t));
    const dlq = await Promise.all(
      dlqNames
        .filter((t) => existing.has(t))
        .map(async (topic) => {
          const offsets = await readTopicOffsets(admin, topic);
          const messages = offsets.partitions.reduce(
            (n, p) => n + computePartitionLag(p.high, null, p.low),
            0,
          );
          return { topic, messages };
        }),
    );
    return { topics, committed, dlq };
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

async function readTopicOffsets(admin: Admin, topic: string): Promise<TopicOffsets> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return {
    topic,
    partitions: offsets
      .map((o) => ({ partition: o.partition, high: o.high, low: o.low }))
      .sort((a, b) => a.partition - b.partition),
  };
}

interface TableRow {
  table: string;
  changesApplied: number;
  lastSourceTs: string | null;
  lastAppliedAt: string | null;
  endToEndLagSeconds: number | null;
}

interface TargetReading {
  /** `${topic}\u0000${partition}` -> next offset to apply. */
  applied: Map<string, string>;
  tables: TableRow[];
  /** pgferry.slot_losses' row for the configured slot, if any. */
  slotLoss?: { at: string; by: string };
}

async function readTarget(config: PgferryConfig): Promise<TargetReading> {
  const client = await connectPg(config.target, 'pgferry-status');
  try {
    if (!(await hasBookkeeping(client))) return { applied: new Map(), tables: [] };
    const offsets = await client.query<{ topic: string; partition: number; next_offset: string }>(
      `SELECT topic, partition, next_offset::text AS next_offset FROM ${offsetsTable()} WHERE group_id = $1`,
      [config.kafka.groupId],
    );
    const tables = await client.query<{
      table_schema: string;
      table_name: string;
      changes_applied: string;
      last_source_ts: Date | null;
      last_applied_at: Date | null;
      lag: number | null;
    }>(
      `SELECT table_schema, table_name, changes_applied, last_source_ts, last_applied_at,
              EXTRACT(EPOCH FROM (now() - last_source_ts))::float8 AS lag
         FROM ${tablesTable()} ORDER BY table_schema, table_name`,
    );
    const loss = await readSlotLoss(client, config.replication.slotName);
    return {
      ...(loss ? { slotLoss: loss } : {}),
      applied: new Map(
        offsets.rows.map((r) => [partitionKey(r.topic, r.partition), r.next_offset]),
      ),
      tables: tables.rows.map((r) => ({
        table: `${r.table_schema}.${r.table_name}`,
        changesApplied: Number(r.changes_applied),
        lastSourceTs: r.last_source_ts?.toISOString() ?? null,
        lastAppliedAt: r.last_applied_at?.toISOString() ?? null,
        endToEndLagSeconds: r.lag === null ? null : Math.max(0, r.lag),
      })),
    };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The slot's loss recorded by `pgferry run` (the table exists once a run created it). */
export async function readSlotLoss(
  client: pg.ClientBase,
  slot: string,
): Promise<{ at: string; by: string } | undefined> {
  const exists = await client.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [
    `"${BOOKKEEPING_SCHEMA}".slot_losses`,
  ]);
  if (exists.rows[0]?.t == null) return undefined;
  const result = await client.query<{ detected_at: Date; detected_by: string }>(
    `SELECT detected_at, detected_by FROM ${slotLossesTable()} WHERE slot_name = $1`,
    [slot],
  );
  const row = result.rows[0];
  return row ? { at: row.detected_at.toISOString(), by: row.detected_by } : undefined;
}

/** Before the first `pgferry run` the schema does not exist: nothing applied, not an error. */
async function hasBookkeeping(client: pg.ClientBase): Promise<boolean> {
  const result = await client.query<{ offsets: string | null; tables: string | null }>(
    'SELECT to_regclass($1) AS offsets, to_regclass($2) AS tables',
    [`"${BOOKKEEPING_SCHEMA}".offsets`, `"${BOOKKEEPING_SCHEMA}".tables`],
  );
  const row = result.rows[0];
  return row?.offsets != null && row.tables != null;
}

async function readPgferry(url: string, signal?: AbortSignal): Promise<PgferryInstancePart> {
  try {
    const health = await new ControlClient({ baseUrl: url, requestTimeoutMs: 5_000 }).health(
      signal,
    );
    return { url, state: health.state, paused: health.paused, pausing: health.pausing ?? false };
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    return {
      url,
      state: 'unreachable',
      paused: false,
      pausing: false,
      error: (error as Error).message,
    };
  }
}

// --- assembling ---

const partitionKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

function buildConsumerPart(
  groupId: string,
  kafka: Settled<KafkaReading>,
  target: Settled<TargetReading>,
): ConsumerPart {
  if (kafka.value === undefined) {
    return { groupId, totalLag: 0, partitions: [], error: kafka.error as string };
  }
  const applied = target.value?.applied;
  const partitions: PartitionLag[] = [];
  for (const t of kafka.value.topics) {
    for (const p of t.partitions) {
      const appliedOffset = applied?.get(partitionKey(t.topic, p.partition)) ?? null;
      const committedOffset = kafka.value.committed.get(t.topic)?.get(p.partition) ?? null;
      // Without the target, Kafka's committed offsets are the best estimate (they trail it).
      const at = applied === undefined ? committedOffset : appliedOffset;
      partitions.push({
        topic: t.topic,
        partition: p.partition,
        endOffset: p.high,
        appliedOffset,
        committedOffset,
        lag: computePartitionLag(p.high, at, p.low),
      });
    }
  }
  return {
    groupId,
    totalLag: partitions.reduce((n, p) => n + p.lag, 0),
    partitions,
    ...(target.error === undefined
      ? {}
      : {
          error: `applied offsets unreadable, lag from Kafka's committed offsets (${target.error})`,
        }),
  };
}

function buildTables(
  config: PgferryConfig,
  kafka: KafkaReading | undefined,
  target: Settled<TargetReading>,
): { tables: TableProgress[]; tablesError?: string } {
  const rows = new Map((target.value?.tables ?? []).map((r) => [r.table, r]));
  const dlqByTopic = new Map((kafka?.dlq ?? []).map((d) => [d.topic, d.messages]));
  const perTableDlq = (topic: string) =>
    config.dlq.topic === undefined ? (dlqByTopic.get(dlqTopicFor(topic)) ?? 0) : 0;
  const error = target.error === undefined ? {} : { tablesError: target.error };
  if (kafka === undefined) {
    // Which tables belong to this pipeline is known from its topics; without Kafka, list them all.
    return {
      tables: [...rows.values()].map((r) => ({ ...r, topic: null, dlqMessages: 0 })),
      ...error,
    };
  }
  const tables = kafka.topics.map(({ topic }) => {
    const table = tableOfTopic(topic, config.mapping.targetSchema);
    const row = rows.get(table);
    return {
      table,
      topic,
      changesApplied: row?.changesApplied ?? 0,
      lastSourceTs: row?.lastSourceTs ?? null,
      lastAppliedAt: row?.lastAppliedAt ?? null,
      endToEndLagSeconds: row?.endToEndLagSeconds ?? null,
      dlqMessages: perTableDlq(topic),
    };
  });
  return { tables, ...error };
}

function buildDlqPart(config: PgferryConfig, kafka: Settled<KafkaReading>): DlqPart {
  const topics = kafka.value?.dlq ?? [];
  return {
    sharedTopic: config.dlq.topic ?? null,
    topics,
    total: topics.reduce((n, t) => n + t.messages, 0),
    ...(kafka.error === undefined ? {} : { error: kafka.error }),
  };
}

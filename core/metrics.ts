// Every metric pgferry exports, in one place: dashboards and alert rules use only these names.
// Labels are bounded (table, topic, partition, op, stage, reason, cause): never keys or offsets.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'pgferry_' });
  const m = {
    registry,
    eventsConsumed: new Counter({
      name: 'pgferry_events_consumed_total',
      help: 'Kafka records consumed, by topic.',
      labelNames: ['topic'],
      registers: [registry],
    }),
    bytesConsumed: new Counter({
      name: 'pgferry_consumed_bytes_total',
      help: 'Key and value bytes consumed, by topic.',
      labelNames: ['topic'],
      registers: [registry],
    }),
    changesApplied: new Counter({
      name: 'pgferry_changes_applied_total',
      help: 'Row changes applied to the target (after dedupe), by table and op.',
      labelNames: ['table', 'op'],
      registers: [registry],
    }),
    batches: new Counter({
      name: 'pgferry_batches_total',
      help: 'Batches written, by outcome (applied, replayed, failed).',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    stageSeconds: new Histogram({
      name: 'pgferry_stage_duration_seconds',
      help: 'Time per batch in each stage: decode, transform, dedupe, copy, merge, commit, dlq.',
      labelNames: ['stage'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    batchApplySeconds: new Histogram({
      name: 'pgferry_batch_apply_duration_seconds',
      help: 'Time to write one batch to the target (copy, merge, dead letters, commit), per applied batch.',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    batchRows: new Histogram({
      name: 'pgferry_batch_rows',
      help: 'Records per batch applied (or replayed: already in the target).',
      buckets: [1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
      registers: [registry],
    }),
    dlqMessages: new Counter({
      name: 'pgferry_dlq_messages_total',
      help: 'Records sent to the dead-letter topic, by source topic and reason (error class).',
      labelNames: ['topic', 'reason'],
      registers: [registry],
    }),
    retries: new Counter({
      name: 'pgferry_retries_total',
      help: 'Retries of a batch after a transient fault, by cause.',
      labelNames: ['cause'],
      registers: [registry],
    }),
    tablesStopped: new Gauge({
      name: 'pgferry_table_stopped',
      help: '1 while a table is stopped by an error an operator must resolve (e.g. incompatible schema change).',
      labelNames: ['table'],
      registers: [registry],
    }),
    endToEndLag: new Gauge({
      name: 'pgferry_end_to_end_lag_seconds',
      help: 'Now minus the source commit time of the last change applied, by table.',
      labelNames: ['table'],
      registers: [registry],
    }),
    endToEndLagHistogram: new Histogram({
      name: 'pgferry_end_to_end_lag_distribution_seconds',
      help: 'Source commit to target commit, per applied batch (its newest change).',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
    lastAppliedSourceTs: new Gauge({
      name: 'pgferry_last_applied_source_timestamp_seconds',
      help: 'Source commit time (unix seconds) of the last change applied, by table.',
      labelNames: ['table'],
      registers: [registry],
    }),
    consumerLag: new Gauge({
      name: 'pgferry_consumer_lag_records',
      help: "Records in the partition not yet applied (high watermark minus the group's committed offset).",
      labelNames: ['topic', 'partition'],
      registers: [registry],
    }),
    slotLagBytes: new Gauge({
      name: 'pgferry_source_slot_lag_bytes',
      help: 'WAL the source retains for a logical replication slot (current LSN minus confirmed_flush_lsn).',
      labelNames: ['slot'],
      registers: [registry],
    }),
    slotActive: new Gauge({
      name: 'pgferry_source_slot_active',
      help: '1 while a consumer (Debezium) is attached to the replication slot.',
      labelNames: ['slot'],
      registers: [registry],
    }),
    slotLost: new Gauge({
      name: 'pgferry_source_slot_lost',
      help: '1 once the configured replication slot (SOURCE_SLOT_NAME) disappeared while this process ran: changes were lost, the target needs a re-snapshot.',
      labelNames: ['slot'],
      registers: [registry],
    }),
    connectorState: new Gauge({
      name: 'pgferry_connector_state',
      help: 'Debezium connector state from the Connect REST API: 1 for the current state, 0 for the others.',
      labelNames: ['connector', 'state'],
      registers: [registry],
    }),
    connectorTasks: new Gauge({
      name: 'pgferry_connector_tasks',
      help: 'Debezium connector tasks by state.',
      labelNames: ['connector', 'state'],
      registers: [registry],
    }),
    connectorRestarts: new Counter({
      name: 'pgferry_connector_restarts_total',
      help: "Restarts of the Debezium connector's FAILED tasks made by this process (CONNECTOR_AUTO_RESTART).",
      labelNames: ['connector'],
      registers: [registry],
    }),
    connectorRestartsExhausted: new Gauge({
      name: 'pgferry_connector_restarts_exhausted',
      help: "1 when this process gave up restarting the connector's FAILED tasks (CONNECTOR_AUTO_RESTART_MAX attempts): a human must look.",
      labelNames: ['connector'],
      registers: [registry],
    }),
    paused: new Gauge({
      name: 'pgferry_paused',
      help: '1 while an operator has paused this pgferry process (POST /pause), 0 otherwise.',
      registers: [registry],
    }),
    schemaChanges: new Counter({
      name: 'pgferry_schema_changes_total',
      help: 'DDL applied to the target to follow the source schema, by table and kind.',
      labelNames: ['table', 'kind'],
      registers: [registry],
    }),
  };
  return m;
}

export type PgferryMetrics = ReturnType<typeof createMetrics>;

/**
 * The metrics of `pgferry copy` (the initial load), served on COPY_METRICS_PORT while it runs.
 * Labelled by target table (schema.table); a stalled copy shows as chunks left with no bytes moving.
 */
export function createCopyMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'pgferry_copy_' });
  return {
    registry,
    rows: new Counter({
      name: 'pgferry_copy_rows_total',
      help: 'Rows copied to the target by pgferry copy (committed chunks), by table.',
      labelNames: ['table'],
      registers: [registry],
    }),
    bytes: new Counter({
      name: 'pgferry_copy_bytes_total',
      help: 'COPY bytes streamed from the source to the target (committed chunks), by table.',
      labelNames: ['table'],
      registers: [registry],
    }),
    chunksDone: new Gauge({
      name: 'pgferry_copy_chunks_done',
      help: 'Chunks of the table copied and committed (including those of an earlier, resumed run).',
      labelNames: ['table'],
      registers: [registry],
    }),
    chunksTotal: new Gauge({
      name: 'pgferry_copy_chunks_total',
      help: 'Chunks the table was split into.',
      labelNames: ['table'],
      registers: [registry],
    }),
    chunkSeconds: new Histogram({
      name: 'pgferry_copy_chunk_duration_seconds',
      help: 'Time to copy and commit one chunk.',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
    chunkRetries: new Counter({
      name: 'pgferry_copy_chunk_retries_total',
      help: 'Chunks retried after a transient fault (source or target unreachable).',
      registers: [registry],
    }),
    tablesFailed: new Gauge({
      name: 'pgferry_copy_table_failed',
      help: '1 when the copy of a table failed (e.g. a target column that cannot take the values).',
      labelNames: ['table'],
      registers: [registry],
    }),
    running: new Gauge({
      name: 'pgferry_copy_running',
      help: '1 while pgferry copy is copying, 0 once it finished or stopped.',
      registers: [registry],
    }),
    lastProgress: new Gauge({
      name: 'pgferry_copy_last_progress_timestamp_seconds',
      help: 'Unix time of the last chunk committed (or of the copy start).',
      registers: [registry],
    }),
  };
}

export type CopyMetrics = ReturnType<typeof createCopyMetrics>;

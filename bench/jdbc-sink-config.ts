// The Debezium JDBC sink configurations the race sweeps (BENCH_JDBC_CONFIGS): its defaults (with
// the batch size matched to pgferry's, as the bench always ran it) and tuned ones at several batch
// sizes. Tuned is what an operator who read the connector's documentation would set for this
// workload: the reduction buffer (one statement per row and batch: the last state wins, as in
// pgferry's dedupe), PgJDBC's batched-insert rewrite, tombstones dropped before the sink (the
// delete event already deletes the row; with delete.enabled the sink runs each tombstone as a
// second delete), and a per-partition fetch large enough to fill a batch. `unnest-<n>` adds the
// UNNEST insert of 3.6 (one statement a batch), which binds each column as an array of its
// Connect type: this topic's numerics are strings (decimal.handling.mode=string), a text[] that
// PostgreSQL will not put into a numeric column, so here it fails (and is reported so).

export interface JdbcSinkConfig {
  /** `default`, `default-<batch size>`, `tuned-<batch size>` or `unnest-<batch size>`. */
  name: string;
  /** batch.size and the consumer's max.poll.records. */
  batchSize: number;
  tuned: boolean;
  /** dialect.postgres.unnest.insert.enabled (on top of tuned). */
  unnest: boolean;
}

export const DEFAULT_JDBC_CONFIGS = 'default,tuned-500,tuned-2000,tuned-5000,unnest-2000';

/** BENCH_JDBC_CONFIGS; the default batch is BENCH_BATCH_SIZE (pgferry's BATCH_SIZE). */
export function readJdbcConfigs(raw: string | undefined, batchSize: number): JdbcSinkConfig[] {
  const list = raw === undefined || raw.trim() === '' ? DEFAULT_JDBC_CONFIGS : raw;
  return list.split(',').map((entry) => {
    const name = entry.trim();
    const match = /^(default|tuned|unnest)(?:-(\d+))?$/.exec(name);
    const size = match?.[2] === undefined ? batchSize : Number(match[2]);
    if (!match || !Number.isInteger(size) || size <= 0)
      throw new Error(
        `BENCH_JDBC_CONFIGS: ${name} is not default, default-<batch size>, tuned-<batch size> or unnest-<batch size>`,
      );
    const kind = match[1] as 'default' | 'tuned' | 'unnest';
    return {
      name: kind !== 'default' || match[2] !== undefined ? `${kind}-${size}` : 'default',
      batchSize: size,
      tuned: kind !== 'default',
      unnest: kind === 'unnest',
    };
  });
}

/** The settings a configuration adds to the connector's common ones (no credentials here). */
export function jdbcConfigSettings(config: JdbcSinkConfig): Record<string, string> {
  const batch = {
    'batch.size': String(config.batchSize),
    'consumer.override.max.poll.records': String(config.batchSize),
  };
  if (!config.tuned) return batch;
  return {
    ...batch,
    'use.reduction.buffer': 'true',
    ...(config.unnest ? { 'dialect.postgres.unnest.insert.enabled': 'true' } : {}),
    // 8 MiB per partition: a poll of 5,000 wide records fits (the default 1 MiB does not).
    'consumer.override.max.partition.fetch.bytes': String(8 * 1024 * 1024),
    predicates: 'isTombstone',
    'predicates.isTombstone.type':
      'org.apache.kafka.connect.transforms.predicates.RecordIsTombstone',
  };
}

/** The SMT chain: tuned configurations drop tombstones before routing. */
export function jdbcTransforms(config: JdbcSinkConfig): Record<string, string> {
  const route = {
    'transforms.route.type': 'org.apache.kafka.connect.transforms.RegexRouter',
    // <prefix>.public.<table> -> <table> (in the database's public schema).
    'transforms.route.regex': '[^.]+\\.public\\.(.+)',
    'transforms.route.replacement': '$1',
  };
  if (!config.tuned) return { transforms: 'route', ...route };
  return {
    transforms: 'dropTombstones,route',
    'transforms.dropTombstones.type': 'org.apache.kafka.connect.transforms.Filter',
    'transforms.dropTombstones.predicate': 'isTombstone',
    ...route,
  };
}

/**
 * Query parameters of the JDBC URL. Every configuration: `stringtype=unspecified`, since the
 * project's connector sends numerics as strings (decimal.handling.mode=string) and the sink binds
 * a string as varchar, which PostgreSQL refuses for a numeric column (it infers the type of an
 * unspecified one). Tuned: PgJDBC rewrites batched INSERTs into multi-row ones.
 */
export function jdbcUrlParameters(config: JdbcSinkConfig): string {
  return `?stringtype=unspecified${config.tuned ? '&reWriteBatchedInserts=true' : ''}`;
}

/** What the JSON says of a configuration: every setting it changes from the common ones. */
export function describeJdbcConfig(config: JdbcSinkConfig): Record<string, string> {
  return {
    ...jdbcConfigSettings(config),
    ...jdbcTransforms(config),
    'connection.url parameters': jdbcUrlParameters(config),
  };
}

// The rollback plan runs the same machinery in the other direction: the target becomes the
// source (read by a Debezium connector of its own) and the old source becomes the target (written
// by a pgferry in its own consumer group). This turns a config into that mirror image, so `run`,
// `status`, `verify` and the cutover gates work unchanged with `--reverse`.
import type { PgferryConfig } from '../core/config.js';
import { ConfigError } from '../core/errors.js';

export function reverseConfig(config: PgferryConfig): PgferryConfig {
  const problems = [];
  if (config.source === undefined) {
    problems.push({
      setting: 'SOURCE_DB_HOST',
      message: 'not set; reverse replication writes into the source database',
    });
  }
  if (config.reverse.sourceWriter === undefined) {
    problems.push({
      setting: 'ROLLBACK_DB_USER',
      message:
        'not set; the reverse pgferry needs a source role that can write (SOURCE_DB_USER is read-only)',
    });
  }
  const renamed = Object.entries(config.mapping.schemaMap ?? {}).filter(
    ([from, to]) => from !== to,
  );
  if (renamed.length > 0) {
    problems.push({
      setting: 'SCHEMA_MAP',
      message: `reverse replication maps tables back by name; it does not support renamed schemas (${renamed.map(([from, to]) => `${from}:${to}`).join(', ')})`,
    });
  }
  if (config.mapping.targetSchema !== undefined) {
    problems.push({
      setting: 'TARGET_SCHEMA',
      message: 'reverse replication maps tables back by name; it does not support TARGET_SCHEMA',
    });
  }
  if (config.source === undefined || config.reverse.sourceWriter === undefined || problems.length) {
    throw new ConfigError(problems);
  }
  const writer = config.reverse.sourceWriter;
  const { password: _readerPassword, ...sourceEndpoint } = config.source;
  // KAFKA_TOPIC_PREFIX names the forward connector's topics: the reverse prefix is read from
  // REVERSE_KAFKA_TOPIC_PATTERN. Table selection and names stay: reverse maps tables by name.
  const { topicPrefix: _forwardPrefix, ...mapping } = config.mapping;
  return {
    ...config,
    mapping,
    kafka: {
      ...config.kafka,
      groupId: config.reverse.groupId,
      topicPattern: config.reverse.topicPattern,
    },
    target: {
      ...sourceEndpoint,
      user: writer.user,
      ...(writer.password === undefined ? {} : { password: writer.password }),
    },
    source: config.target,
    connect: {
      ...config.connect,
      connectorName: config.reverse.connectorName,
      connectorConfigFile: config.reverse.connectorConfigFile,
    },
    replication: { publication: config.reverse.publication, slotName: config.reverse.slotName },
  };
}

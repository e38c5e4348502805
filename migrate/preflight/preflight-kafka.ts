// Preflight checks of Kafka: the brokers answer, the captured tables' topics exist or will be
// created (by the broker or by Connect), and they keep messages at least as long as the migration
// window: the topics are the replay log, a change deleted before pgferry applies it is lost.
import type { Admin } from 'kafkajs';
import { pino } from 'pino';
import type { ConnectorConfig } from '../../core/connect-client.js';
import { createKafka } from '../../core/kafka-client.js';
import { formatTopicName } from '../../pipeline/routing/debezium-topic-name.js';
import { resolveTopicPrefix as resolveRoutingPrefix } from '../../pipeline/routing/topic-prefix.js';
import type { MigrationTable } from '../migration-tables.js';
import {
  type Check,
  CheckSkipped,
  type CheckVerdict,
  type ConnectorConfigReading,
  describeError,
  fail,
  type PreflightContext,
  type PreflightSection,
  pass,
  runChecks,
  skip,
  warn,
  withTimeout,
} from './preflight-check.js';
import { judgeKafkaTransport } from './transport-checks.js';

// kafkajs' ConfigResourceTypes (a CommonJS export ESM cannot name).
const RESOURCE_TOPIC = 2;
const RESOURCE_BROKER = 4;

const HOUR_MS = 3_600_000;
/** Kafka's own default when no log.retention.* is set: 168 hours. */
const KAFKA_DEFAULT_RETENTION_MS = 168 * HOUR_MS;

// --- pure parts (unit-tested) ---

/**
 * The Debezium topic prefix: the connector's `topic.prefix`, else guessed from
 * KAFKA_TOPIC_PATTERN's literal head (`^cdc\.public\..*` -> cdc), else Debezium's usual `cdc`.
 */
export function resolveTopicPrefix(
  reading: ConnectorConfigReading,
  pattern: RegExp,
): { prefix: string; from: string } {
  const configured = reading.config?.['topic.prefix'];
  if (configured !== undefined && !configured.includes('${')) {
    return { prefix: configured, from: 'the connector’s topic.prefix' };
  }
  const head = /^\^((?:[A-Za-z0-9_-]|\\[.-])+)/.exec(pattern.source)?.[1];
  if (head !== undefined) {
    const segments = head.split('\\.').map((s) => s.replace(/\\-/g, '-'));
    // `prefix.schema.` ends with an empty segment after the schema's dot.
    if (segments[segments.length - 1] === '') segments.pop();
    const prefix = segments.length >= 2 ? segments.slice(0, -1).join('.') : segments[0];
    if (prefix) return { prefix, from: 'KAFKA_TOPIC_PATTERN' };
  }
  return { prefix: 'cdc', from: 'the default' };
}

/** Debezium's topic for a table (characters Kafka refuses become `_`), as `pgferry run` maps it. */
export const topicOf = (prefix: string, table: MigrationTable): string =>
  formatTopicName(prefix, table);

/**
 * Whether `pgferry run` maps topics with the prefix the connector writes: run binds each event to
 * the table its topic names, using KAFKA_TOPIC_PREFIX or the literal head of KAFKA_TOPIC_PATTERN;
 * a different prefix there would make it refuse every topic. Undefined when nothing to compare.
 */
export function judgeRoutingPrefix(
  connectorPrefix: string | undefined,
  explicit: string | undefined,
  pattern: RegExp,
): CheckVerdict | undefined {
  const routing = resolveRoutingPrefix(explicit, pattern);
  if (routing === undefined) {
    return fail(
      `pgferry run cannot tell the topic prefix from KAFKA_TOPIC_PATTERN ${pattern.source}: set KAFKA_TOPIC_PREFIX${connectorPrefix ? `=${connectorPrefix}` : ''}`,
    );
  }
  if (connectorPrefix !== undefined && routing.prefix !== connectorPrefix) {
    return fail(
      `the connector writes topics ${connectorPrefix}.<schema>.<table> but pgferry run maps them with the prefix ${routing.prefix} (from ${routing.from}): set KAFKA_TOPIC_PREFIX=${connectorPrefix}`,
    );
  }
  return undefined;
}

/** Connect creates a source connector's topics when its config has topic.creation.default.*. */
export const connectCreatesTopics = (config: ConnectorConfig | undefined): boolean =>
  Object.keys(config ?? {}).some((key) => key.startsWith('topic.creation.default.'));

export interface TopicsInput {
  expected: readonly string[];
  existing: ReadonlySet<string>;
  pattern: RegExp;
  /** Broker auto.create.topics.enable; undefined when it could not be read. */
  brokerAutoCreate: boolean | undefined;
  connectCreates: boolean;
}

export function judgeTopics(input: TopicsInput): CheckVerdict {
  const unmatched = input.expected.filter((t) => !input.pattern.test(t));
  if (unmatched.length > 0) {
    return fail(
      `${unmatched.length} topic(s) do not match KAFKA_TOPIC_PATTERN ${input.pattern.source}: pgferry run would not consume them; set KAFKA_TOPIC_PATTERN (or the connector's topic.prefix)`,
      unmatched,
    );
  }
  const missing = input.expected.filter((t) => !input.existing.has(t));
  const have = input.expected.length - missing.length;
  if (missing.length === 0) return pass(`all ${input.expected.length} topic(s) exist`);
  const head = `${have} of ${input.expected.length} topic(s) exist`;
  if (input.connectCreates) {
    return pass(
      `${head}; Connect creates the others (topic.creation.default.* in the connector config)`,
      missing.map((t) => `${t}: created by Connect`),
    );
  }
  if (input.brokerAutoCreate === true) {
    return pass(
      `${head}; the broker creates the others on first write (auto.create.topics.enable = true)`,
      missing.map((t) => `${t}: created by the broker`),
    );
  }
  const broker =
    input.brokerAutoCreate === false
      ? 'auto.create.topics.enable = false'
      : 'auto.create.topics.enable unknown';
  return fail(
    `${missing.length} topic(s) missing and nothing creates them (${broker}, no topic.creation.default.* in the connector config): create them, or set topic.creation.default.replication.factor and .partitions in the connector config`,
    missing,
  );
}

/** log.retention.ms, else .minutes, else .hours, else Kafka's default (168 h). */
export function brokerRetentionMs(configs: Readonly<Record<string, string | null | undefined>>): {
  ms: number;
  setting: string;
} {
  const read = (name: string): number | undefined => {
    const value = configs[name];
    return value === null || value === undefined || value === '' ? undefined : Number(value);
  };
  const ms = read('log.retention.ms');
  if (ms !== undefined) return { ms, setting: `log.retention.ms = ${ms}` };
  const minutes = read('log.retention.minutes');
  if (minutes !== undefined) {
    return { ms: minutes * 60_000, setting: `log.retention.minutes = ${minutes}` };
  }
  const hours = read('log.retention.hours');
  if (hours !== undefined)
    return { ms: hours * HOUR_MS, setting: `log.retention.hours = ${hours}` };
  return { ms: KAFKA_DEFAULT_RETENTION_MS, setting: 'Kafka’s default 168 hours' };
}

export function formatDuration(ms: number): string {
  if (ms < 0) return 'forever';
  const hours = ms / HOUR_MS;
  if (hours >= 48) return `${Math.round((hours / 24) * 10) / 10} days`;
  if (hours >= 1) return `${Math.round(hours * 10) / 10} h`;
  return `${Math.round(ms / 60_000)} min`;
}

export interface TopicRetention {
  topic: string;
  /** retention.ms; negative (-1) = forever. */
  retentionMs: number;
  /** retention.bytes per partition; negative (-1) = no size limit. */
  retentionBytes: number;
  /** Where the value comes from: the topic's config, or what a created topic will get. */
  source: string;
  exists: boolean;
  /** cleanup.policy includes compact (existing topics only). */
  compacted?: boolean;
}

/** A topic must keep messages at least the migration window; -1 (forever) always does. */
export const isRetentionShort = (retentionMs: number, windowHours: number): boolean =>
  retentionMs >= 0 && retentionMs < windowHours * HOUR_MS;

export function judgeRetention(
  topics: readonly TopicRetention[],
  windowHours: number,
): CheckVerdict {
  const window = `${windowHours} h`;
  if (topics.length === 0) return pass('no topics to check');
  const needMs = Math.ceil(windowHours * HOUR_MS);
  const short = topics.filter((t) => isRetentionShort(t.retentionMs, windowHours));
  if (short.length > 0) {
    return fail(
      `${short.length} topic(s) keep messages for less than the migration window (${window}, --migration-window): changes could be deleted before pgferry applies them; raise retention.ms to at least ${needMs} (or -1)`,
      short.map((t) =>
        t.exists
          ? `${t.topic}: retention.ms = ${t.retentionMs} (${formatDuration(t.retentionMs)}, ${t.source}): kafka-configs.sh --alter --entity-type topics --entity-name ${t.topic} --add-config retention.ms=${needMs}`
          : `${t.topic} (not created yet): would keep ${formatDuration(t.retentionMs)} (${t.source}): set topic.creation.default.retention.ms=${needMs} in the connector config, or create the topic first`,
      ),
    );
  }
  const compacted = topics.filter((t) => t.compacted);
  if (compacted.length > 0) {
    // Compaction keeps the newest record per key: a delete's event is superseded by its
    // tombstone, which itself goes after delete.retention.ms; a consumer further behind misses
    // the delete, and the target keeps the row.
    return warn(
      `${compacted.length} topic(s) are compacted (cleanup.policy = compact): a delete can vanish before pgferry reads it when it is far behind; use cleanup.policy=delete for CDC topics`,
      compacted.map(
        (t) =>
          `${t.topic}: kafka-configs.sh --alter --entity-type topics --entity-name ${t.topic} --add-config cleanup.policy=delete`,
      ),
    );
  }
  const sized = topics.filter((t) => t.retentionBytes >= 0);
  const finite = topics.filter((t) => t.retentionMs >= 0);
  const shortest = finite.reduce<TopicRetention | undefined>(
    (min, t) => (min === undefined || t.retentionMs < min.retentionMs ? t : min),
    undefined,
  );
  const summary =
    shortest === undefined
      ? `every topic keeps messages forever (retention.ms = -1), longer than the migration window (${window})`
      : `every topic keeps messages at least ${formatDuration(shortest.retentionMs)} (${shortest.topic}), the migration window is ${window}`;
  if (sized.length > 0) {
    return warn(
      `${summary}; but ${sized.length} topic(s) also have retention.bytes, which can delete messages sooner: make sure it holds the window's changes, or set retention.bytes = -1`,
      sized.map((t) => `${t.topic}: retention.bytes = ${t.retentionBytes} per partition`),
    );
  }
  return pass(summary);
}

// --- the checks ---

interface BrokerSettings {
  autoCreate: boolean | undefined;
  retention: { ms: number; setting: string };
  retentionBytes: number;
}

export async function checkKafka(context: PreflightContext): Promise<PreflightSection> {
  const { config, options } = context;
  const title = `Kafka (${config.kafka.brokers.join(', ')})`;
  const requestTimeout = Math.min(options.checkTimeoutMs, 10_000);
  const kafka = createKafka(config.kafka, pino({ level: 'silent' }), {
    retry: { retries: 1, initialRetryTime: 200, maxRetryTime: 1_000 },
    connectionTimeout: Math.min(options.checkTimeoutMs, 3_000),
    requestTimeout,
  });
  const admin = kafka.admin();
  let cluster: Awaited<ReturnType<Admin['describeCluster']>>;
  try {
    await withTimeout(admin.connect(), options.checkTimeoutMs, 'connect');
    cluster = await withTimeout(admin.describeCluster(), options.checkTimeoutMs, 'describeCluster');
  } catch (error) {
    await admin.disconnect().catch(() => undefined);
    return {
      name: 'kafka',
      title,
      checks: [
        {
          id: 'kafka.reachable',
          title: 'reachable',
          ...fail(`cannot reach the brokers: ${describeError(error)}: check KAFKA_BOOTSTRAP`),
        },
        { id: 'kafka.topics', title: 'topics', ...skip('not checked: Kafka is unreachable') },
        { id: 'kafka.retention', title: 'retention', ...skip('not checked: Kafka is unreachable') },
        { id: 'kafka.transport', title: 'encryption', ...judgeKafkaTransport(config.kafka) },
      ],
    };
  }
  let broker: Promise<BrokerSettings> | undefined;
  const readBroker = () => {
    broker ??= readBrokerSettings(admin, String(cluster.controller ?? cluster.brokers[0]?.nodeId));
    return broker;
  };
  let plan: Promise<TopicPlan> | undefined;
  const readPlan = () => {
    plan ??= planTopics(context);
    return plan;
  };
  const checks: Check[] = [
    {
      id: 'kafka.reachable',
      title: 'reachable',
      run: async () => pass(`${cluster.brokers.length} broker(s), cluster ${cluster.clusterId}`),
    },
    {
      id: 'kafka.transport',
      title: 'encryption',
      run: async () => judgeKafkaTransport(config.kafka),
    },
    {
      id: 'kafka.topics',
      title: 'topics',
      run: async () => {
        const { topics, prefix } = await readPlan();
        const existing = new Set(await admin.listTopics());
        const reading = await context.connector;
        const configured = reading.config?.['topic.prefix'];
        const routing = judgeRoutingPrefix(
          configured !== undefined && !configured.includes('${') ? configured : undefined,
          config.mapping.topicPrefix,
          config.kafka.topicPattern,
        );
        if (routing) return routing;
        const verdict = judgeTopics({
          expected: topics,
          existing,
          pattern: config.kafka.topicPattern,
          brokerAutoCreate: (await readBroker().catch(() => undefined))?.autoCreate,
          connectCreates: connectCreatesTopics(reading.config),
        });
        return {
          ...verdict,
          message: `prefix ${prefix.prefix} (from ${prefix.from}): ${verdict.message}`,
        };
      },
    },
    {
      id: 'kafka.retention',
      title: 'retention',
      run: async () => {
        const { topics } = await readPlan();
        const settings = await readBroker();
        const reading = await context.connector;
        const retention = await readRetention(admin, topics, settings, reading.config);
        return judgeRetention(retention, options.migrationWindowHours);
      },
    },
  ];
  try {
    return { name: 'kafka', title, checks: await runChecks(checks, options.checkTimeoutMs) };
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

interface TopicPlan {
  topics: string[];
  prefix: { prefix: string; from: string };
}

/** The captured tables' topics: tables from the source, else from --tables as given. */
async function planTopics(context: PreflightContext): Promise<TopicPlan> {
  const facts = await context.source.catch(() => undefined);
  const tables = facts?.tables ?? context.options.tables;
  if (tables === undefined) {
    throw new CheckSkipped(
      'not checked: the captured tables are unknown (the source could not tell; --tables names them)',
    );
  }
  const prefix = resolveTopicPrefix(await context.connector, context.config.kafka.topicPattern);
  return { topics: tables.map((t) => topicOf(prefix.prefix, t)), prefix };
}

async function readBrokerSettings(admin: Admin, brokerId: string): Promise<BrokerSettings> {
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [
      {
        type: RESOURCE_BROKER,
        name: brokerId,
        configNames: [
          'auto.create.topics.enable',
          'log.retention.ms',
          'log.retention.minutes',
          'log.retention.hours',
          'log.retention.bytes',
        ],
      },
    ],
  });
  const entries: Record<string, string | null> = {};
  for (const e of described.resources[0]?.configEntries ?? []) {
    entries[e.configName] = e.configValue;
  }
  const autoCreate = entries['auto.create.topics.enable'];
  return {
    autoCreate: autoCreate === null || autoCreate === undefined ? undefined : autoCreate === 'true',
    retention: brokerRetentionMs(entries),
    retentionBytes: Number(entries['log.retention.bytes'] ?? -1),
  };
}

async function readRetention(
  admin: Admin,
  topics: readonly string[],
  broker: BrokerSettings,
  connector: ConnectorConfig | undefined,
): Promise<TopicRetention[]> {
  const all = new Set(await admin.listTopics());
  const existing = topics.filter((t) => all.has(t));
  const found = new Map<string, Record<string, string | null>>();
  if (existing.length > 0) {
    // A topic that does not exist fails the whole request: ask only for the ones that do.
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: existing.map((name) => ({
        type: RESOURCE_TOPIC,
        name,
        configNames: ['retention.ms', 'retention.bytes', 'cleanup.policy'],
      })),
    });
    for (const r of described.resources) {
      const entries: Record<string, string | null> = {};
      for (const e of r.configEntries) entries[e.configName] = e.configValue;
      found.set(r.resourceName, entries);
    }
  }
  const byConnect = connectCreatesTopics(connector);
  const connectMs = connector?.['topic.creation.default.retention.ms'];
  const connectBytes = connector?.['topic.creation.default.retention.bytes'];
  return topics.map((topic) => {
    const entries = found.get(topic);
    if (entries !== undefined) {
      return {
        topic,
        retentionMs: Number(entries['retention.ms'] ?? broker.retention.ms),
        retentionBytes: Number(entries['retention.bytes'] ?? broker.retentionBytes),
        source: 'topic config',
        exists: true,
        compacted: (entries['cleanup.policy'] ?? '').includes('compact'),
      };
    }
    if (byConnect && connectMs !== undefined && !connectMs.includes('${')) {
      return {
        topic,
        retentionMs: Number(connectMs),
        retentionBytes: Number(connectBytes ?? broker.retentionBytes),
        source: 'the connector’s topic.creation.default.retention.ms',
        exists: false,
      };
    }
    return {
      topic,
      retentionMs: broker.retention.ms,
      retentionBytes: broker.retentionBytes,
      source: `broker ${broker.retention.setting}`,
      exists: false,
    };
  });
}

// "How far behind are we?": every part of the status read on its own and failing on its own (a
// down Connect never hides the slot lag), assembled for `pgferry status`, cutover and rollback.
import { pino } from 'pino';
import type { PgferryConfig } from '../../core/config.js';
import { judgeCaughtUp } from './caught-up-judgement.js';
import { readConnectorPart } from './connector-reading.js';
import { buildConsumerPart } from './consumer-lag-reading.js';
import { buildCopyPart } from './copy-progress-reading.js';
import { buildDlqPart } from './dlq-reading.js';
import { readKafka } from './kafka-reading.js';
import type {
  ConnectorPart,
  ConsumerPart,
  MigrationStatus,
  ReadMigrationStatusOptions,
  Settled,
  SlotPart,
} from './migration-status-types.js';
import { readPgferryInstance } from './process-reading.js';
import { buildSlotPart, readSlotPart, SOURCE_NOT_CONFIGURED } from './slot-reading.js';
import { buildTableProgress } from './table-progress-reading.js';
import { readTarget } from './target-reading.js';
import { readPipelineRouting } from './topic-routing.js';

const DEFAULT_PART_TIMEOUT_MS = 20_000;

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
    part('Kafka Connect', () => readConnectorPart(config, options.signal)),
    config.source === undefined
      ? Promise.resolve<Settled<SlotPart>>({ error: SOURCE_NOT_CONFIGURED })
      : part('source database', () => readSlotPart(config)),
    part('Kafka', () => readKafka(config, log)),
    part('target database', () => readTarget(config)),
    options.controlUrls === undefined
      ? Promise.resolve(undefined)
      : Promise.all(options.controlUrls.map((url) => readPgferryInstance(url, options.signal))),
  ]);
  options.signal?.throwIfAborted();

  const consumer = buildConsumerPart(config.kafka.groupId, kafka, target);
  const routing = readPipelineRouting(config);
  const copy = buildCopyPart(
    {
      topicPattern: config.kafka.topicPattern,
      ...(config.mapping.targetSchema ? { targetSchema: config.mapping.targetSchema } : {}),
      ...(kafka.value ? { topics: kafka.value.topics.map((t) => t.topic) } : {}),
      ...(routing ? { routing } : {}),
    },
    target,
    consumer,
  );
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
    slot: buildSlotPart(config, slot, target.value?.slotLoss),
    consumer,
    ...buildTableProgress(config, kafka.value, target),
    ...(copy === undefined ? {} : { copy }),
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

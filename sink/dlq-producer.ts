// Dead-letter producer: the original key and value bytes, the original headers, and the error in
// Kafka Connect's `__connect.errors.*` headers, so existing DLQ tooling reads them. Sends are
// awaited with acks from all in-sync replicas before the batch's offsets commit: a poison message
// is never dropped silently (at worst, after a crash, it is dead-lettered twice).
import type { Admin, Kafka, Producer } from 'kafkajs';
import { RetriableError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { redactUrlsInText } from '../core/redact-url.js';
import type { DeadLetter, DeadLetterSink } from '../pipeline/ports.js';

export interface DlqProducerOptions {
  kafka: Kafka;
  /** Fixed DLQ topic; undefined = `<topic>.dlq`. */
  topic?: string;
  groupId: string;
  log: Logger;
}

export const dlqTopicFor = (topic: string, fixed?: string): string => fixed ?? `${topic}.dlq`;

export function deadLetterHeaders(letter: DeadLetter, groupId: string): Record<string, string> {
  const r = letter.record;
  return {
    '__connect.errors.topic': r.topic,
    '__connect.errors.partition': String(r.partition),
    '__connect.errors.offset': r.offset,
    '__connect.errors.connector.name': 'pgferry',
    '__connect.errors.task.id': groupId,
    '__connect.errors.stage': letter.stage,
    '__connect.errors.class.name': letter.error.name,
    // DLQ readers are not trusted with credentials an error text may quote in a URL.
    '__connect.errors.exception.message': redactUrlsInText(letter.error.message).slice(0, 4000),
    '__connect.errors.exception.stacktrace': redactUrlsInText(letter.error.stack ?? '').slice(
      0,
      8000,
    ),
  };
}

export class DlqProducer implements DeadLetterSink {
  private producer: Producer | undefined;
  private admin: Admin | undefined;
  private readonly knownTopics = new Set<string>();

  constructor(private readonly options: DlqProducerOptions) {}

  async start(): Promise<void> {
    this.producer = this.options.kafka.producer({ allowAutoTopicCreation: true });
    this.admin = this.options.kafka.admin();
    await this.producer.connect();
    await this.admin.connect();
  }

  async stop(): Promise<void> {
    await this.producer?.disconnect().catch(() => undefined);
    await this.admin?.disconnect().catch(() => undefined);
    this.producer = undefined;
    this.admin = undefined;
  }

  topicFor(topic: string): string {
    return dlqTopicFor(topic, this.options.topic);
  }

  async send(letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    try {
      await this.sendAll(letters);
    } catch (error) {
      // A broker hiccup must delay the batch, not stop the table: the batch is retried whole.
      throw new RetriableError(`dead-letter produce failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  private async sendAll(letters: readonly DeadLetter[]): Promise<void> {
    const producer = this.producer;
    if (!producer) throw new Error('DLQ producer is not started');
    const byTopic = new Map<string, DeadLetter[]>();
    for (const letter of letters) {
      const topic = dlqTopicFor(letter.record.topic, this.options.topic);
      byTopic.set(topic, [...(byTopic.get(topic) ?? []), letter]);
    }
    for (const [topic, group] of byTopic) {
      await this.ensureTopic(topic);
      await producer.send({
        topic,
        acks: -1,
        messages: group.map((letter) => {
          const original: Record<string, Buffer | string> = {};
          for (const [k, v] of Object.entries(letter.record.headers))
            if (v !== undefined) original[k] = v;
          return {
            key: letter.record.key,
            value: letter.record.value,
            headers: { ...original, ...deadLetterHeaders(letter, this.options.groupId) },
          };
        }),
      });
      for (const letter of group) {
        this.options.log.warn(
          {
            topic: letter.record.topic,
            partition: letter.record.partition,
            offset: letter.record.offset,
            dlq: topic,
            stage: letter.stage,
            error: letter.error.name,
            reason: letter.error.message,
          },
          'record sent to the dead-letter topic',
        );
      }
    }
  }

  /** Brokers may not auto-create topics: create the DLQ topic on first use. */
  private async ensureTopic(topic: string): Promise<void> {
    if (this.knownTopics.has(topic) || !this.admin) return;
    const existing = await this.admin.listTopics();
    if (!existing.includes(topic)) {
      await this.admin
        .createTopics({ topics: [{ topic }], waitForLeaders: true })
        .catch((error: Error) => {
          // Another pgferry process may have created it in between.
          if (!/already exists/i.test(error.message)) throw error;
        });
    }
    this.knownTopics.add(topic);
  }
}

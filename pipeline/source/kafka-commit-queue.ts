// Kafka's committed offsets follow the target's, so standard lag tools see progress. Best effort
// (the target holds the truth) and in the background, so the next chunk does not wait: one request
// at a time carries every partition's newest offset; `settled` resolves when none is pending.
import type { Consumer } from 'kafkajs';
import type { Logger } from '../../core/logger.js';

interface PendingCommit {
  consumer: Consumer;
  topic: string;
  partition: number;
  offset: string;
}

export class KafkaCommitQueue {
  private readonly pending = new Map<string, PendingCommit>();
  private sending: Promise<void> | undefined;

  constructor(
    private readonly log: Logger,
    /** The consumer in use now: a failed commit of a replaced one is not worth a warning. */
    private readonly currentConsumer: () => Consumer | undefined,
  ) {}

  /** Queues a commit of `offset` (the next offset to read) for a partition. */
  commitSoon(consumer: Consumer, topic: string, partition: number, offset: string): void {
    this.pending.set(`${topic}\u0000${partition}`, { consumer, topic, partition, offset });
    this.sending ??= this.send();
  }

  /** Resolves once every queued commit has been sent (or refused). */
  async settled(): Promise<void> {
    await this.sending;
  }

  private async send(): Promise<void> {
    try {
      while (this.pending.size > 0) {
        const batch = [...this.pending.values()];
        this.pending.clear();
        for (const consumer of new Set(batch.map((c) => c.consumer))) {
          const offsets = batch
            .filter((c) => c.consumer === consumer)
            .map(({ topic, partition, offset }) => ({ topic, partition, offset }));
          await consumer.commitOffsets(offsets).catch((error: Error) => {
            // A consumer replaced meanwhile (rebalance, restart) is refused: its successor's
            // position comes from the target anyway.
            if (consumer === this.currentConsumer())
              this.log.warn({ err: error.message }, 'Kafka offset commit failed');
          });
        }
      }
    } finally {
      this.sending = undefined;
    }
  }
}

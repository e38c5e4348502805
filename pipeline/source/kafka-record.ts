// A record as consumed from Kafka, before decoding: what the DLQ gets back verbatim.
export interface KafkaRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | string | undefined>;
  timestamp: string;
}

/** Bytes a record holds in memory, for the in-flight byte bound. */
export const recordSize = (r: KafkaRecord): number =>
  (r.key?.length ?? 0) + (r.value?.length ?? 0) + r.topic.length + 64;

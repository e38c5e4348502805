// A fetch from Kafka (one partition's records of one fetch response) cut into chunks of at most
// BATCH_SIZE records and BATCH_MAX_BYTES bytes: the unit the runner processes and commits.
import type { IHeaders } from 'kafkajs';
import { type KafkaRecord, recordSize } from './kafka-record.js';

/** A message as kafkajs delivers it in a fetch. */
export interface FetchedMessage {
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers?: IHeaders;
  timestamp: string;
}

export interface ChunkLimits {
  maxRows: number;
  maxBytes: number;
}

/**
 * Bytes per fetch: a quarter of BATCH_MAX_BYTES, at least 1 MiB. A fetched response stays in
 * memory while any of its records is in use (the next chunk is prepared while one is written):
 * fetching the whole BATCH_MAX_BYTES at once took peak RSS from about 150 to 230 MiB in the bench
 * for at most a few percent of throughput. A record larger than this still comes (Kafka always
 * returns at least one record batch); a chunk is cut from one fetch, so it holds at most this.
 */
export function fetchBytes(maxBatchBytes: number): number {
  return Math.max(1024 * 1024, Math.floor(maxBatchBytes / 4));
}

/**
 * Bytes per partition in one fetch: the fetch's bytes shared among the partitions applied at once
 * (at least 1 MiB). Kafka fills a response partition by partition: with each partition allowed
 * the whole fetch, the first one fills it and the others wait for the next fetch, so partitions
 * would be applied one after another whatever APPLY_CONCURRENCY says.
 */
export function fetchBytesPerPartition(maxBatchBytes: number, concurrency: number): number {
  const fetch = fetchBytes(maxBatchBytes);
  return Math.min(fetch, Math.max(1024 * 1024, Math.floor(fetch / Math.max(1, concurrency))));
}

export function cutIntoChunks(
  topic: string,
  partition: number,
  messages: readonly FetchedMessage[],
  limits: ChunkLimits,
): KafkaRecord[][] {
  const chunks: KafkaRecord[][] = [];
  let chunk: KafkaRecord[] = [];
  let bytes = 0;
  for (const message of messages) {
    const record: KafkaRecord = {
      topic,
      partition,
      offset: message.offset,
      key: message.key,
      value: message.value,
      // Repeated header keys (arrays) go back to the DLQ as they came; kafkajs sends both forms.
      headers: (message.headers ?? {}) as KafkaRecord['headers'],
      timestamp: message.timestamp,
    };
    chunk.push(record);
    bytes += recordSize(record);
    if (chunk.length >= limits.maxRows || bytes >= limits.maxBytes) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/** The offset after a chunk's last record: the partition's next offset once it is applied. */
export function nextOffsetAfter(records: readonly KafkaRecord[]): string {
  const last = records[records.length - 1] as KafkaRecord;
  return (BigInt(last.offset) + 1n).toString();
}

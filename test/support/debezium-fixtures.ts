// Loads the real Debezium fixtures in schemas/examples (captured by capture-fixtures.ts from the
// local stack): registry schemas, raw Kafka records and the PostgreSQL text they must decode to.
import { readdirSync, readFileSync } from 'node:fs';
import type { AvroJson } from '../../pipeline/codec/avro-json.js';
import { InMemorySchemaLookup } from '../../pipeline/processors/topology-test-driver.js';
import { type PgRow, type PgValue, UNCHANGED_TOAST } from '../../pipeline/row-change.js';
import type { KafkaRecord } from '../../pipeline/source/kafka-record.js';

const examplesDir = new URL('../../schemas/examples/', import.meta.url);

export type FixtureTopic =
  | 'cdc.public.typeprobe'
  | 'cdc.public.fixture_composite'
  | 'cdc.public.fixture_varnum'
  | 'cdc.public.fixture_types'
  | 'cdc.public.fixture_weird_key'
  | 'cdc.public.fixture_named_ref'
  | 'cdc.fixture_precise.varnum'
  | 'cdc.fixture_precise.named_ref';

export type ExpectedValue = string | null | { unchangedToast: true };

export interface ExpectedChange {
  op: 'c' | 'r' | 'u' | 'd' | 't';
  key: Record<string, string>;
  after: Record<string, ExpectedValue> | null;
  lossy?: Record<string, string>;
}

export interface FixtureMessage {
  step: string;
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
  expected: ExpectedChange | 'tombstone';
}

export interface FixtureMessages {
  topic: FixtureTopic;
  table: string;
  schemaIds: { key: number | null; value: number | null };
  messages: FixtureMessage[];
}

const readJson = <T>(name: string): T =>
  JSON.parse(readFileSync(new URL(name, examplesDir), 'utf8')) as T;

export const loadSchema = (topic: FixtureTopic, part: 'key' | 'value'): AvroJson =>
  readJson<AvroJson>(`${topic}-${part}.avsc.json`);

export const loadMessages = (topic: FixtureTopic): FixtureMessages =>
  readJson<FixtureMessages>(`${topic}.messages.json`);

/** Every captured topic in schemas/examples: a new capture joins the tests that read them all. */
export const listFixtureTopics = (): FixtureTopic[] =>
  readdirSync(examplesDir)
    .filter((name) => name.endsWith('.messages.json'))
    .map((name) => name.slice(0, -'.messages.json'.length) as FixtureTopic)
    .sort();

/** A lookup holding the key and value schemas of the topics, under their registry ids. */
export function fixtureSchemaLookup(...topics: FixtureTopic[]): InMemorySchemaLookup {
  const lookup = new InMemorySchemaLookup();
  for (const topic of topics) {
    const { schemaIds } = loadMessages(topic);
    if (schemaIds.key !== null) lookup.register(schemaIds.key, loadSchema(topic, 'key'));
    if (schemaIds.value !== null) lookup.register(schemaIds.value, loadSchema(topic, 'value'));
  }
  return lookup;
}

export function toKafkaRecord(topic: string, message: FixtureMessage): KafkaRecord {
  return {
    topic,
    partition: message.partition,
    offset: message.offset,
    key: message.key === null ? null : Buffer.from(message.key, 'base64'),
    value: message.value === null ? null : Buffer.from(message.value, 'base64'),
    headers: {},
    timestamp: '0',
  };
}

export const fixtureRecords = (topic: FixtureTopic): KafkaRecord[] =>
  loadMessages(topic).messages.map((m) => toKafkaRecord(topic, m));

export function toPgRow(after: Record<string, ExpectedValue>): PgRow {
  const row: PgRow = {};
  for (const [column, value] of Object.entries(after)) {
    row[column] = (
      value !== null && typeof value === 'object' ? UNCHANGED_TOAST : value
    ) as PgValue;
  }
  return row;
}

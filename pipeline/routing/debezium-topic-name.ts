// The topic Debezium writes a table's changes to: `<topic.prefix>.<schema>.<table>` (its default
// topic naming strategy, `topic.delimiter` "."), made a legal Kafka topic name the way Debezium
// does it: every UTF-16 unit outside [A-Za-z0-9._-] becomes `_`, and the name is cut at 249
// units. So the name is not reversible (`my table` and `my_table` share a topic, and a dot may be
// the separator or part of a name): pgferry compares names in this direction only.
import type { TableRef } from '../row-change.js';

/** Kafka's longest topic name, which Debezium cuts to. */
const MAX_TOPIC_LENGTH = 249;

/** Debezium's sanitizing of a topic name (`TopicNamingStrategy.sanitizedTopicName`). */
export function sanitizeTopicName(name: string): string {
  const out = spellTopicCharacters(name);
  if (out.length > MAX_TOPIC_LENGTH) return out.slice(0, MAX_TOPIC_LENGTH);
  // Kafka refuses these two names; Debezium replaces their dots.
  if (out === '.') return '_';
  if (out === '..') return '__';
  return out;
}

/** Each character as a topic name spells it: itself if Kafka allows it, else `_`. */
export function spellTopicCharacters(text: string): string {
  let out = '';
  // By UTF-16 unit, as Java's charAt: a character outside the BMP becomes two underscores.
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const legal =
      c === 0x2e || // .
      c === 0x5f || // _
      c === 0x2d || // -
      (c >= 0x30 && c <= 0x39) ||
      (c >= 0x41 && c <= 0x5a) ||
      (c >= 0x61 && c <= 0x7a);
    out += legal ? text[i] : '_';
  }
  return out;
}

/** The topic of a source table's changes under Debezium's default naming. */
export function formatTopicName(prefix: string, table: TableRef): string {
  return sanitizeTopicName(`${prefix}.${table.schema}.${table.name}`);
}

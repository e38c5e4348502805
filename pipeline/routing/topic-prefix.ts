// Which Debezium topic.prefix the pipeline's topics carry: KAFKA_TOPIC_PREFIX when set, else the
// literal head of KAFKA_TOPIC_PATTERN, read as `<prefix>.<schema>.`: `^cdc\.public\..*` -> cdc,
// `^cdc\..*` -> cdc, `^cdc\.public\.(a|b)$` -> cdc. A prefix that itself has dots cannot be told
// from a schema by the pattern alone (`^my\.app\.` reads as prefix my, schema app): set it.

export interface TopicPrefix {
  prefix: string;
  /** Where it was read, for the log line at start and for errors. */
  from: 'KAFKA_TOPIC_PREFIX' | 'KAFKA_TOPIC_PATTERN';
}

/** The prefix, or undefined when the pattern does not start with one literally (`.*`, `^(a|b)\.`). */
export function resolveTopicPrefix(
  explicit: string | undefined,
  pattern: RegExp,
): TopicPrefix | undefined {
  if (explicit !== undefined) return { prefix: explicit, from: 'KAFKA_TOPIC_PREFIX' };
  const head = /^\^((?:[A-Za-z0-9_]|\\[.-]|-)+)/.exec(pattern.source)?.[1];
  if (head === undefined) return undefined;
  const segments = head.split('\\.').map((s) => s.replace(/\\-/g, '-'));
  // The text after the last dot is (part of) a name, not a segment the pattern completed.
  const complete = segments.slice(0, -1);
  if (complete.length === 0 || complete.some((s) => s === '')) return undefined;
  const prefixSegments = complete.length === 1 ? complete : complete.slice(0, -1);
  return { prefix: prefixSegments.join('.'), from: 'KAFKA_TOPIC_PATTERN' };
}

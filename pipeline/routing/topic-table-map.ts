// The one mapping from topics to tables: a topic `<prefix>.<schema>.<table>` (Debezium's naming)
// carries the changes of the source table it names, and those go to the target table
// mapTargetTable gives (SCHEMA_MAP / TARGET_SCHEMA). `run` binds every event to its topic with it (an event
// naming another table is refused), and `status` and `resnapshot` read topics with it. A topic is
// only ever compared with names spelled the Debezium way, never split and trusted: a dot may sit
// in a schema or table name, and Kafka spells some characters as `_`.
import { ConfigError } from '../../core/errors.js';
import type { TableRef } from '../row-change.js';
import { TableNotSelectedError, TopicTableMismatchError } from './binding-errors.js';
import { BOOKKEEPING_SCHEMA } from './bookkeeping-schema-name.js';
import { formatTopicName, spellTopicCharacters } from './debezium-topic-name.js';
import { SchemaMapping } from './schema-mapping.js';
import { TableSelection } from './table-selection.js';
import { formatTableRef, mapTargetTable } from './target-table-name.js';
import { resolveTopicPrefix, type TopicPrefix } from './topic-prefix.js';

/** The settings the mapping reads (a PgferryConfig is one). */
export interface TopicRoutingSettings {
  kafka: { topicPattern: RegExp };
  mapping: {
    topicPrefix?: string | undefined;
    targetSchema?: string | undefined;
    /** SOURCE_SCHEMAS and SCHEMA_MAP (schema-mapping.ts). */
    sourceSchemas?: readonly string[] | undefined;
    schemaMap?: Readonly<Record<string, string>> | undefined;
    /** TABLES_INCLUDE / TABLES_EXCLUDE: pattern texts (core/table-pattern.ts). */
    include?: readonly string[] | undefined;
    exclude?: readonly string[] | undefined;
  };
}

export class TopicTableMap {
  readonly schemas: SchemaMapping;

  constructor(
    readonly topicPrefix: TopicPrefix,
    schemas: SchemaMapping | string | undefined,
    readonly selection: TableSelection = TableSelection.all(),
  ) {
    this.schemas = schemas instanceof SchemaMapping ? schemas : SchemaMapping.single(schemas);
    if (this.schemas.singleTarget === BOOKKEEPING_SCHEMA) {
      throw new ConfigError([
        {
          setting: 'TARGET_SCHEMA',
          message: `"${BOOKKEEPING_SCHEMA}" is pgferry's own bookkeeping schema: choose another`,
        },
      ]);
    }
  }

  /** The mapping of a config; a ConfigError when the topic prefix cannot be told. */
  static fromConfig(config: TopicRoutingSettings): TopicTableMap {
    const prefix = resolveTopicPrefix(config.mapping.topicPrefix, config.kafka.topicPattern);
    if (prefix === undefined) {
      throw new ConfigError([
        {
          setting: 'KAFKA_TOPIC_PREFIX',
          message: `not set, and KAFKA_TOPIC_PATTERN (${config.kafka.topicPattern.source}) does not begin with a topic prefix literally (like ^cdc\\.public\\.): set KAFKA_TOPIC_PREFIX to the connector's topic.prefix`,
        },
      ]);
    }
    return new TopicTableMap(
      prefix,
      SchemaMapping.fromSettings(config.mapping),
      TableSelection.fromSettings(config.mapping),
    );
  }

  get prefix(): string {
    return this.topicPrefix.prefix;
  }

  /** The topic Debezium writes `source`'s changes to. */
  topicOf(source: TableRef): string {
    return formatTopicName(this.prefix, source);
  }

  /** The target table of `source` (ReservedSchemaError for pgferry's bookkeeping schema). */
  targetOf(source: TableRef): TableRef {
    return mapTargetTable(source, this.schemas);
  }

  /**
   * The target table an event on `topic` that names `source` writes; throws the poison error
   * that says why it may not (another table's topic, not selected, the bookkeeping schema).
   */
  bind(topic: string, source: TableRef): TableRef {
    const own = this.topicOf(source);
    if (own !== topic) {
      throw new TopicTableMismatchError(
        `the event names table ${formatTableRef(source)} (topic ${own}) but came on topic ${topic}: an event writes only the table its topic names`,
      );
    }
    const excluded = this.selection.exclusionOf(source);
    if (excluded !== undefined) {
      throw new TableNotSelectedError(
        `table ${formatTableRef(source)} is ${excluded}: pgferry run does not write it`,
      );
    }
    return this.targetOf(source);
  }

  /**
   * The source tables `topic` may carry, as the topic spells them: every split of its name after
   * the prefix into a schema and a table (one, unless a name has a dot).
   */
  spellingsOf(topic: string): TableRef[] {
    const head = `${this.prefix}.`;
    if (!topic.startsWith(head)) return [];
    const rest = topic.slice(head.length);
    const spellings: TableRef[] = [];
    for (let dot = rest.indexOf('.'); dot >= 0; dot = rest.indexOf('.', dot + 1)) {
      const schema = rest.slice(0, dot);
      const name = rest.slice(dot + 1);
      if (schema !== '' && name !== '') spellings.push({ schema, name });
    }
    return spellings;
  }

  /** Why `pgferry run` leaves `topic` alone (never consumed), or undefined when it consumes it. */
  refusalOf(topic: string): string | undefined {
    const spellings = this.spellingsOf(topic);
    if (spellings.length === 0) {
      return `its name is not ${this.prefix}.<schema>.<table> (topic prefix ${this.prefix}, from ${this.topicPrefix.from})`;
    }
    const reasons: string[] = [];
    for (const spelled of spellings) {
      if (this.schemas.targetSchemaOf(spelled.schema) === BOOKKEEPING_SCHEMA) {
        reasons.push(
          `${formatTableRef(spelled)} would be written to pgferry's bookkeeping schema "${BOOKKEEPING_SCHEMA}"`,
        );
        continue;
      }
      const excluded = this.selection.exclusionOfSpelling(spelled);
      if (excluded === undefined) return undefined;
      reasons.push(`${formatTableRef(spelled)} is ${excluded}`);
    }
    return [...new Set(reasons)].join('; ');
  }

  /**
   * Could `target` receive `topic`'s changes? The target's schema is the target of some source
   * schemas (itself, or SCHEMA_MAP's), and the topic must be one of theirs; with TARGET_SCHEMA the
   * source schema is not in the target's name, so any schema between the prefix and the table's
   * name will do.
   */
  mayCarry(topic: string, target: TableRef): boolean {
    const sources = this.schemas.sourcesOf(target.schema);
    if (sources !== 'any') {
      return sources.some((schema) => this.topicOf({ schema, name: target.name }) === topic);
    }
    const head = `${this.prefix}.`;
    const tail = `.${spellTopicCharacters(target.name)}`;
    return (
      topic.startsWith(head) && topic.endsWith(tail) && topic.length > head.length + tail.length
    );
  }

  /**
   * The target tables `topic`'s changes go to, for commands that act on topics (status,
   * resnapshot): those of `known` (e.g. the tables pgferry registered) that may carry it, else
   * one per spelling of the topic (so usually one). None for a topic `run` does not consume.
   */
  targetsOfTopic(topic: string, known: readonly TableRef[] = []): TableRef[] {
    if (this.refusalOf(topic) !== undefined) return [];
    const carried = known.filter((t) => this.mayCarry(topic, t));
    if (carried.length > 0) return carried;
    const targets: TableRef[] = [];
    for (const spelled of this.spellingsOf(topic)) {
      if (this.selection.exclusionOf(spelled) !== undefined) continue;
      if (this.schemas.targetSchemaOf(spelled.schema) === BOOKKEEPING_SCHEMA) continue;
      targets.push(this.targetOf(spelled));
    }
    return targets;
  }
}

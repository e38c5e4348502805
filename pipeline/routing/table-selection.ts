// The tables `pgferry run` may write (SOURCE_SCHEMAS, TABLES_INCLUDE / TABLES_EXCLUDE): only tables
// of the source schemas when SOURCE_SCHEMAS is set, with an include list only the tables it
// matches, never one the exclude list matches; unset = every table. Matched against
// source tables (schema and name as in the source catalog). A topic spells a name the Kafka way
// (debezium-topic-name.ts), so a topic is judged by what its table could be called.
import {
  compileGlob,
  matchesTablePattern,
  parseTablePatterns,
  type TablePattern,
} from '../../core/table-pattern.js';
import type { TableRef } from '../row-change.js';
import { spellTopicCharacters } from './debezium-topic-name.js';

export class TableSelection {
  private readonly includeInTopics: readonly { schema: RegExp; table: RegExp }[] | undefined;
  private readonly schemasInTopics: ReadonlySet<string> | undefined;

  constructor(
    private readonly include: readonly TablePattern[] | undefined,
    private readonly exclude: readonly TablePattern[] | undefined,
    /** SOURCE_SCHEMAS: only tables of these schemas; undefined = any schema. */
    private readonly schemas?: readonly string[] | undefined,
  ) {
    this.schemasInTopics = schemas && new Set(schemas.map(spellTopicCharacters));
    // A name's characters that Kafka refuses are `_` in its topic, one `?` one or two of them.
    this.includeInTopics = include?.map((p) => ({
      schema: compileGlob(p.schema, { literal: spellTopicCharacters, one: '[^]{1,2}' }),
      table: compileGlob(p.table, { literal: spellTopicCharacters, one: '[^]{1,2}' }),
    }));
  }

  /** From the settings' pattern texts (each checked when the config was loaded). */
  static fromPatterns(
    include: readonly string[] | undefined,
    exclude: readonly string[] | undefined,
    schemas?: readonly string[] | undefined,
  ): TableSelection {
    const parse = (texts: readonly string[] | undefined) =>
      texts?.flatMap((text) => parseTablePatterns(text));
    return new TableSelection(parse(include), parse(exclude), schemas);
  }

  /** From a config's `mapping` (SOURCE_SCHEMAS, TABLES_INCLUDE, TABLES_EXCLUDE). */
  static fromSettings(mapping: TableSelectionSettings): TableSelection {
    return TableSelection.fromPatterns(mapping.include, mapping.exclude, mapping.sourceSchemas);
  }

  /** Every table. */
  static all(): TableSelection {
    return new TableSelection(undefined, undefined);
  }

  get isEverything(): boolean {
    return (
      this.schemas === undefined &&
      (this.include?.length ?? 0) === 0 &&
      (this.exclude?.length ?? 0) === 0
    );
  }

  /** Why `table` is not written, or undefined when it is selected. */
  exclusionOf(table: TableRef): string | undefined {
    if (this.schemas !== undefined && !this.schemas.includes(table.schema)) {
      return this.outsideSchemas(table.schema);
    }
    if (this.include && this.include.length > 0) {
      if (!this.include.some((p) => matchesTablePattern(p, table)))
        return `not in TABLES_INCLUDE (${this.include.map((p) => p.text).join(', ')})`;
    }
    const excluded = this.exclude?.find((p) => matchesTablePattern(p, table));
    return excluded ? `in TABLES_EXCLUDE (${excluded.text})` : undefined;
  }

  /**
   * Why no table a topic spells as `spelled` can be selected, or undefined when one may be. The
   * include list is matched in the topic's spelling (a table `my table` is `my_table` there); the
   * exclude list only as spelled, so a renamed spelling leaves the decision to each event.
   */
  exclusionOfSpelling(spelled: TableRef): string | undefined {
    if (this.schemasInTopics !== undefined && !this.schemasInTopics.has(spelled.schema)) {
      return this.outsideSchemas(spelled.schema);
    }
    if (this.include && this.include.length > 0) {
      const may = (this.includeInTopics ?? []).some(
        (p) => p.schema.test(spelled.schema) && p.table.test(spelled.name),
      );
      if (!may) return `not in TABLES_INCLUDE (${this.include.map((p) => p.text).join(', ')})`;
    }
    const excluded = this.exclude?.find((p) => matchesTablePattern(p, spelled));
    return excluded ? `in TABLES_EXCLUDE (${excluded.text})` : undefined;
  }

  private outsideSchemas(schema: string): string {
    return `in schema ${schema}, not in SOURCE_SCHEMAS (${(this.schemas ?? []).join(', ')})`;
  }
}

/** The selection settings (a PgferryConfig's `mapping` is one). */
export interface TableSelectionSettings {
  sourceSchemas?: readonly string[] | undefined;
  include?: readonly string[] | undefined;
  exclude?: readonly string[] | undefined;
}

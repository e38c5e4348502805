// Settings of the topic -> table mapping (pipeline/routing/): Debezium's topic prefix and the
// tables `pgferry run` may write. Part of the settings table (settings-table.ts), beside
// TARGET_SCHEMA, whose `mapping` object they share.
import { z } from 'zod';
import { parseTablePatterns, TablePatternError } from '../table-pattern.js';
import { parseSchemaList, parseSchemaMap } from './schema-mapping-settings.js';
import { defineSetting } from './setting-definition.js';
import { type EnvSchema, parseTopicName } from './setting-parsers.js';

/**
 * A comma-separated list of table patterns (core/table-pattern.ts), checked here and kept as the
 * text of each pattern: the config stays plain data (printed by `config check`, cloned to redact).
 */
export function parseTablePatternList(): EnvSchema<readonly string[]> {
  return z.string().transform((raw, ctx) => {
    try {
      const patterns = parseTablePatterns(raw);
      if (patterns.length > 0) return patterns.map((p) => p.text);
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'expected at least one pattern' });
    } catch (error) {
      if (!(error instanceof TablePatternError)) throw error;
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: error.message });
    }
    return z.NEVER;
  });
}

export function defineTableRoutingSettings() {
  const patterns =
    'Comma-separated schema.table patterns: names, globs (* any run, ? one character) or "quoted names" (public.*, sales.order_?, "My Schema"."a.b"), matched against the source tables.';
  return {
    SOURCE_SCHEMAS: defineSetting(
      {
        key: 'mapping.sourceSchemas',
        description:
          "Source schemas to migrate, comma-separated exact names (public,sales). Drives the connector's schema.include.list (pgferry connector apply), the publication check (preflight), the default KAFKA_TOPIC_PATTERN, and the tables run, schema-sync, copy, verify, status, cutover and resnapshot work on: a table in another schema is never written. Unset: public, and run writes whatever schema KAFKA_TOPIC_PATTERN admits (as before).",
      },
      parseSchemaList(),
    ),
    SCHEMA_MAP: defineSetting(
      {
        key: 'mapping.schemaMap',
        description:
          'Target schema of each source schema, comma-separated source:target pairs (sales:sales_copy). Unmapped schemas keep their name. Two source schemas may not share a target schema; not with TARGET_SCHEMA.',
      },
      parseSchemaMap(),
    ),
    KAFKA_TOPIC_PREFIX: defineSetting(
      {
        key: 'mapping.topicPrefix',
        description:
          "Debezium's topic.prefix: topics are <prefix>.<schema>.<table>, and an event writes only the table its topic names. Unset: read from KAFKA_TOPIC_PATTERN's literal head (^cdc\\.public\\. -> cdc); set it when the prefix has a dot.",
      },
      parseTopicName(),
    ),
    TABLES_INCLUDE: defineSetting(
      {
        key: 'mapping.include',
        description: `Only these tables are written by pgferry run; topics of other tables are not consumed (one log line each). ${patterns} Unset: every table.`,
      },
      parseTablePatternList(),
    ),
    TABLES_EXCLUDE: defineSetting(
      {
        key: 'mapping.exclude',
        description: `Tables pgferry run never writes, even when TABLES_INCLUDE matches them; their topics are not consumed. ${patterns}`,
      },
      parseTablePatternList(),
    ),
  };
}

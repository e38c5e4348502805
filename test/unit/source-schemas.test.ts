// Several source schemas and one table selection (issue 18, item 4): SOURCE_SCHEMAS and SCHEMA_MAP
// parsed and checked together, the derived topic pattern, the topic -> table routing of two
// schemas holding a same-named table, the migration commands' tables, and the connector's
// Debezium include/exclude lists (odd names with dots, quotes and commas).
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config.js';
import { ConfigError } from '../../core/errors.js';
import {
  applyTableSelection,
  formatSchemaIncludeList,
  formatTableList,
  quoteJavaRegex,
} from '../../migrate/connector/connector-selection.js';
import { buildReverseConnectorConfig } from '../../migrate/cutover/reverse-replication.js';
import { resolveMigrationTables } from '../../migrate/migration-tables.js';
import { reverseConfig } from '../../migrate/reverse-config.js';
import { TableNotSelectedError } from '../../pipeline/routing/binding-errors.js';
import { SchemaMapping } from '../../pipeline/routing/schema-mapping.js';
import { mapTargetTable } from '../../pipeline/routing/target-table-name.js';
import { selectConsumedTopics } from '../../pipeline/routing/topic-admission.js';
import { TopicTableMap } from '../../pipeline/routing/topic-table-map.js';
import { runPgferryCli } from '../support/cli-run.js';

function configProblems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError)
      return error.problems.map((p) => `${p.setting}: ${p.message}`);
    throw error;
  }
  return [];
}

describe('SOURCE_SCHEMAS and SCHEMA_MAP', () => {
  it('default to public, mapped to itself, and the topic pattern of before', () => {
    const config = loadConfig({});
    expect(config.mapping.sourceSchemas).toBeUndefined();
    expect(config.kafka.topicPattern.source).toBe('^cdc\\.public\\..*');
    expect(SchemaMapping.fromSettings(config.mapping).pairs()).toEqual([
      { source: 'public', target: 'public' },
    ]);
  });

  it('parse a schema list and source:target pairs', () => {
    const config = loadConfig({
      SOURCE_SCHEMAS: ' sales , hr,My.Schema ',
      SCHEMA_MAP: 'sales:sales_copy, hr:people',
    });
    expect(config.mapping.sourceSchemas).toEqual(['sales', 'hr', 'My.Schema']);
    expect(config.mapping.schemaMap).toEqual({ sales: 'sales_copy', hr: 'people' });
    expect(SchemaMapping.fromSettings(config.mapping).pairs()).toEqual([
      { source: 'sales', target: 'sales_copy' },
      { source: 'hr', target: 'people' },
      { source: 'My.Schema', target: 'My.Schema' },
    ]);
  });

  it('derive the topic pattern from the prefix and the schemas, as Debezium spells them', () => {
    const pattern = loadConfig({ SOURCE_SCHEMAS: 'h4_a,h4 b', KAFKA_TOPIC_PREFIX: 'app' }).kafka
      .topicPattern;
    expect(pattern.source).toBe('^app\\.(?:h4_a|h4_b)\\..*');
    expect(pattern.test('app.h4_a.items')).toBe(true);
    expect(pattern.test('app.h4_b.items')).toBe(true);
    expect(pattern.test('app.public.items')).toBe(false);
    expect(pattern.test('cdc.h4_a.items')).toBe(false);
    // An explicit pattern keeps working as written.
    const explicit = loadConfig({ SOURCE_SCHEMAS: 'h4_a', KAFKA_TOPIC_PATTERN: '^x\\.y\\..*' });
    expect(explicit.kafka.topicPattern.source).toBe('^x\\.y\\..*');
    // The prefix is read back off the derived pattern when KAFKA_TOPIC_PREFIX is unset.
    const derived = loadConfig({ SOURCE_SCHEMAS: 'h4_a,h4_b' });
    expect(TopicTableMap.fromConfig(derived).prefix).toBe('cdc');
  });

  it('give the reverse pipeline the same schemas: its pattern, its connector’s lists', async () => {
    const env = { SOURCE_SCHEMAS: 'h4_a,h4_b', TABLES_EXCLUDE: 'h4_a.secret' };
    const config = loadConfig(env);
    expect(config.reverse.topicPattern.source).toBe('^rev\\.(?:h4_a|h4_b)\\..*');
    expect(loadConfig({}).reverse.topicPattern.source).toBe('^rev\\.public\\..*');
    const reverse = await buildReverseConnectorConfig(config);
    expect(reverse['topic.prefix']).toBe('rev');
    expect(reverse['schema.include.list']).toBe('(?s-i)h4_a,(?s-i)h4_b');
    expect(reverse['table.exclude.list']).toBe('(?s-i)h4_a\\u002esecret');
    // Reverse replication keeps names: a renamed schema is refused there.
    expect(() =>
      reverseConfig(
        loadConfig({
          ...env,
          SCHEMA_MAP: 'h4_b:h4_b_copy',
          ROLLBACK_DB_USER: 'rb',
          SOURCE_DB_HOST: 'localhost',
          SOURCE_DB_NAME: 's',
          SOURCE_DB_USER: 'u',
        }),
      ),
    ).toThrow(/SCHEMA_MAP: reverse replication .* renamed schemas \(h4_b:h4_b_copy\)/);
  });

  it('are shown by config check as written, with the derived topic patterns', async () => {
    const shown = await runPgferryCli(['config', 'check'], {
      SOURCE_SCHEMAS: 'sales,hr',
      SCHEMA_MAP: 'hr:people',
    });
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^SOURCE_SCHEMAS\s+sales,hr\s+env$/m);
    expect(shown.stdout).toMatch(/^SCHEMA_MAP\s+hr:people\s+env$/m);
    expect(shown.stdout).toMatch(/^KAFKA_TOPIC_PATTERN\s+\^cdc\\\.\(\?:sales\|hr\)\\\.\.\*\s/m);
    const refused = await runPgferryCli(['config', 'check'], {
      SOURCE_SCHEMAS: 'sales,hr',
      SCHEMA_MAP: 'hr:sales',
    });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('"sales" and "hr" both map to target schema "sales"');
  });

  it('refuse malformed values with the setting named', () => {
    expect(configProblems({ SOURCE_SCHEMAS: 'a,,b' })).toEqual([
      expect.stringMatching(/^SOURCE_SCHEMAS: .*none empty/),
    ]);
    expect(configProblems({ SOURCE_SCHEMAS: 'a,b,a' })).toEqual([
      expect.stringMatching(/^SOURCE_SCHEMAS: .*"a" is listed twice/),
    ]);
    expect(configProblems({ SCHEMA_MAP: 'public' })).toEqual([
      expect.stringMatching(/^SCHEMA_MAP: .*expected source:target pairs/),
    ]);
    expect(configProblems({ SCHEMA_MAP: 'public:x,public:y' })).toEqual([
      expect.stringMatching(/^SCHEMA_MAP: .*"public" is mapped twice/),
    ]);
  });

  it('refuse two source schemas sharing a target schema, in every spelling of it', () => {
    // Both mapped to one schema.
    expect(configProblems({ SOURCE_SCHEMAS: 'a,b', SCHEMA_MAP: 'a:x,b:x' })).toEqual([
      'SCHEMA_MAP: source schemas "a" and "b" both map to target schema "x": their same-named tables would write one table; give each its own target schema',
    ]);
    // One mapped onto the other, which keeps its name.
    expect(configProblems({ SOURCE_SCHEMAS: 'a,b', SCHEMA_MAP: 'a:b' })).toEqual([
      expect.stringContaining('"a" and "b" both map to target schema "b"'),
    ]);
    // A swap is one-to-one: allowed.
    expect(configProblems({ SOURCE_SCHEMAS: 'a,b', SCHEMA_MAP: 'a:b,b:a' })).toEqual([]);
    // TARGET_SCHEMA would merge several schemas.
    expect(configProblems({ SOURCE_SCHEMAS: 'a,b', TARGET_SCHEMA: 'x' })).toEqual([
      expect.stringMatching(/^TARGET_SCHEMA: one target schema for 2 source schemas .*SCHEMA_MAP/),
    ]);
    // TARGET_SCHEMA keeps its meaning for one schema.
    expect(configProblems({ SOURCE_SCHEMAS: 'a', TARGET_SCHEMA: 'x' })).toEqual([]);
  });

  it('refuse a map of an uncaptured schema, with TARGET_SCHEMA, or into pgferry', () => {
    expect(configProblems({ SCHEMA_MAP: 'sales:s2' })).toEqual([
      'SCHEMA_MAP: maps schema "sales", which is not in SOURCE_SCHEMAS (public)',
    ]);
    expect(configProblems({ SCHEMA_MAP: 'public:p2', TARGET_SCHEMA: 'x' })).toEqual([
      expect.stringMatching(/^SCHEMA_MAP: set together with TARGET_SCHEMA/),
    ]);
    expect(configProblems({ SOURCE_SCHEMAS: 'a', SCHEMA_MAP: 'a:pgferry' })).toEqual([
      expect.stringMatching(/^SCHEMA_MAP: "pgferry" is pgferry's own bookkeeping schema/),
    ]);
  });
});

describe('routing two schemas with a same-named table', () => {
  const config = loadConfig({
    SOURCE_SCHEMAS: 'h4_a,h4_b',
    SCHEMA_MAP: 'h4_b:h4_b_copy',
    TABLES_EXCLUDE: 'h4_a.secret,h4_b."my.odd""name",h4_a.tmp_*',
  });
  const map = TopicTableMap.fromConfig(config);

  it('binds each topic to its own schema’s target table', () => {
    expect(map.bind('cdc.h4_a.items', { schema: 'h4_a', name: 'items' })).toEqual({
      schema: 'h4_a',
      name: 'items',
    });
    expect(map.bind('cdc.h4_b.items', { schema: 'h4_b', name: 'items' })).toEqual({
      schema: 'h4_b_copy',
      name: 'items',
    });
    expect(mapTargetTable({ schema: 'h4_b', name: 'x' }, map.schemas)).toEqual({
      schema: 'h4_b_copy',
      name: 'x',
    });
  });

  it('never writes an excluded table, a table of another schema, or consumes their topics', () => {
    expect(() => map.bind('cdc.h4_a.secret', { schema: 'h4_a', name: 'secret' })).toThrow(
      TableNotSelectedError,
    );
    expect(() => map.bind('cdc.h4_b.my.odd_name', { schema: 'h4_b', name: 'my.odd"name' })).toThrow(
      TableNotSelectedError,
    );
    expect(() => map.bind('cdc.public.items', { schema: 'public', name: 'items' })).toThrow(
      /in schema public, not in SOURCE_SCHEMAS \(h4_a, h4_b\)/,
    );
    const topics = [
      'cdc.h4_a.items',
      'cdc.h4_b.items',
      'cdc.h4_a.secret',
      'cdc.h4_a.tmp_1',
      'cdc.public.items',
      'cdc.h4_c.items',
      'cdc.h4_b.later',
    ];
    expect(selectConsumedTopics(topics, map, undefined)).toEqual([
      'cdc.h4_a.items',
      'cdc.h4_b.items',
      'cdc.h4_b.later',
    ]);
  });

  it('reads each target back to its topic (status, resnapshot)', () => {
    const known = [
      { schema: 'h4_a', name: 'items' },
      { schema: 'h4_b_copy', name: 'items' },
    ];
    expect(map.targetsOfTopic('cdc.h4_a.items', known)).toEqual([known[0]]);
    expect(map.targetsOfTopic('cdc.h4_b.items', known)).toEqual([known[1]]);
    // h4_b keeps no table under its own name: h4_b.items is not h4_b's target.
    expect(map.mayCarry('cdc.h4_b.items', { schema: 'h4_b', name: 'items' })).toBe(false);
    expect(map.targetsOfTopic('cdc.h4_a.secret', known)).toEqual([]);
  });

  it('keeps the single-schema behaviour when SOURCE_SCHEMAS is unset', () => {
    const legacy = TopicTableMap.fromConfig(loadConfig({ KAFKA_TOPIC_PATTERN: '^cdc\\..*' }));
    expect(legacy.bind('cdc.other.t', { schema: 'other', name: 't' })).toEqual({
      schema: 'other',
      name: 't',
    });
    const moved = TopicTableMap.fromConfig(loadConfig({ TARGET_SCHEMA: 'moved' }));
    expect(moved.bind('cdc.public.t', { schema: 'public', name: 't' })).toEqual({
      schema: 'moved',
      name: 't',
    });
  });
});

describe('the migration commands’ tables', () => {
  function fakeSource(published: { schema: string; name: string }[] | undefined): {
    client: pg.ClientBase;
    asked: unknown[][];
  } {
    const asked: unknown[][] = [];
    const query = async (text: string, values?: unknown[]) => {
      asked.push(values ?? []);
      if (text.includes('FROM pg_publication_tables'))
        return { rows: published ?? [], rowCount: published?.length ?? 0 };
      if (text.includes('FROM pg_publication WHERE'))
        return { rows: published ? [{}] : [], rowCount: published ? 1 : 0 };
      if (text.includes('nspname = ANY($1')) {
        const schemas = (values as [string[]])[0];
        const all = [
          { schema: 'h4_a', name: 'items' },
          { schema: 'public', name: 'items' },
        ];
        const rows = all.filter((t) => schemas.includes(t.schema));
        return { rows, rowCount: rows.length };
      }
      throw new Error(`unexpected query: ${text}`);
    };
    return { client: { query } as unknown as pg.ClientBase, asked };
  }

  it('are the publication’s tables of the source schemas, less the excluded ones', async () => {
    const { client } = fakeSource([
      { schema: 'h4_b', name: 'items' },
      { schema: 'h4_a', name: 'secret' },
      { schema: 'public', name: 'orders' },
      { schema: 'h4_a', name: 'items' },
    ]);
    const tables = await resolveMigrationTables(client, {
      publication: 'pub',
      selection: { sourceSchemas: ['h4_a', 'h4_b'], exclude: ['h4_a.secret'] },
    });
    expect(tables).toEqual([
      { schema: 'h4_a', name: 'items' },
      { schema: 'h4_b', name: 'items' },
    ]);
  });

  it('without a publication, every table of the source schemas', async () => {
    const { client } = fakeSource(undefined);
    const tables = await resolveMigrationTables(client, {
      publication: 'none',
      selection: { sourceSchemas: ['h4_a'] },
    });
    expect(tables).toEqual([{ schema: 'h4_a', name: 'items' }]);
    const legacy = await resolveMigrationTables(fakeSource(undefined).client, {
      publication: 'none',
    });
    expect(legacy).toEqual([{ schema: 'public', name: 'items' }]);
  });
});

describe('the connector’s Debezium lists', () => {
  it('quotes every character but letters, digits and _ as \\uXXXX (no comma or dot survives)', () => {
    expect(quoteJavaRegex('h4_a')).toBe('h4_a');
    expect(quoteJavaRegex('a.b,"c" d\\')).toBe('a\\u002eb\\u002c\\u0022c\\u0022\\u0020d\\u005c');
    expect(quoteJavaRegex('ü😀')).toBe('\\u00fc\\ud83d\\ude00');
  });

  it('writes case-sensitive entries for schemas and table patterns', () => {
    expect(formatSchemaIncludeList(['h4_a', 'My.Schema'])).toBe('(?s-i)h4_a,(?s-i)My\\u002eSchema');
    expect(formatTableList(['h4_a.secret', 'h4_b."my.odd""name", h4_a.tmp_*', 'x.a?c'])).toBe(
      [
        '(?s-i)h4_a\\u002esecret',
        '(?s-i)h4_b\\u002emy\\u002eodd\\u0022name',
        '(?s-i)h4_a\\u002etmp_.*',
        '(?s-i)x\\u002ea.c',
      ].join(','),
    );
    // What Java reads: the same name matches, a case variant and a longer name do not.
    const asJs = (entry: string) =>
      new RegExp(
        `^${entry.replace('(?s-i)', '').replace(/\\u([0-9a-f]{4})/g, (_, h) => `\\u${h}`)}$`,
        's',
      );
    const secret = asJs(formatTableList(['h4_a.secret']));
    expect(secret.test('h4_a.secret')).toBe(true);
    expect(secret.test('h4_a.SECRET')).toBe(false);
    expect(secret.test('h4_aXsecret')).toBe(false);
    expect(asJs(formatTableList(['h4_b."my.odd""name"'])).test('h4_b.my.odd"name')).toBe(true);
  });

  it('replaces the file’s lists only for the settings that are set', () => {
    const file = { 'schema.include.list': 'public', 'table.include.list': 'public\\.x' };
    expect(applyTableSelection(file, {})).toEqual({ config: file, setKeys: [] });
    const both = applyTableSelection(file, {
      sourceSchemas: ['h4_a', 'h4_b'],
      exclude: ['h4_a.secret'],
    });
    expect(both.setKeys).toEqual(['schema.include.list', 'table.exclude.list']);
    expect(both.config).toEqual({
      'schema.include.list': '(?s-i)h4_a,(?s-i)h4_b',
      'table.exclude.list': '(?s-i)h4_a\\u002esecret',
    });
    // Debezium refuses both table lists: the include list wins, pgferry's routing excludes.
    const include = applyTableSelection(
      { 'table.exclude.list': 'x' },
      { include: ['h4_a.*'], exclude: ['h4_a.secret'] },
    );
    expect(include.config).toEqual({ 'table.include.list': '(?s-i)h4_a\\u002e.*' });
  });
});

// TABLES_INCLUDE / TABLES_EXCLUDE patterns (core/table-pattern.ts) and the selection they make
// (pipeline/routing/table-selection.ts), checked when the config loads.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config.js';
import { ConfigError } from '../../core/errors.js';
import {
  matchesTablePattern,
  parseTablePatterns,
  TablePatternError,
} from '../../core/table-pattern.js';
import { TableSelection } from '../../pipeline/routing/table-selection.js';

const matches = (pattern: string, schema: string, name: string) => {
  const [parsed] = parseTablePatterns(pattern);
  if (!parsed) throw new Error(`no pattern in ${pattern}`);
  return matchesTablePattern(parsed, { schema, name });
};

describe('table patterns', () => {
  it('match names exactly, * and ? as globs, per part', () => {
    expect(matches('public.orders', 'public', 'orders')).toBe(true);
    expect(matches('public.orders', 'public', 'orders2')).toBe(false);
    expect(matches('public.orders', 'Public', 'orders')).toBe(false);
    expect(matches('public.*', 'public', 'anything')).toBe(true);
    expect(matches('public.*', 'sales', 'anything')).toBe(false);
    expect(matches('*.orders', 'sales', 'orders')).toBe(true);
    expect(matches('sales.order_?', 'sales', 'order_1')).toBe(true);
    expect(matches('sales.order_?', 'sales', 'order_12')).toBe(false);
    // Regex characters are plain text.
    expect(matches('public.a+b', 'public', 'a+b')).toBe(true);
    expect(matches('public.a+b', 'public', 'aab')).toBe(false);
  });

  it('take the first unquoted dot as the separator; quotes keep dots, commas and quotes', () => {
    expect(matches('public.my.table', 'public', 'my.table')).toBe(true);
    expect(matches('public.my.table', 'public.my', 'table')).toBe(false);
    expect(matches('"public.my".table', 'public.my', 'table')).toBe(true);
    expect(matches('"public.my".table', 'public', 'my.table')).toBe(false);
    expect(matches('public."a,b"', 'public', 'a,b')).toBe(true);
    expect(matches('public."say ""hi"""', 'public', 'say "hi"')).toBe(true);
    // `*` inside quotes is a star.
    expect(matches('public."*"', 'public', '*')).toBe(true);
    expect(matches('public."*"', 'public', 'x')).toBe(false);
    // `*` matches dots too: public.* covers dotted table names.
    expect(matches('public.*', 'public', 'my.table')).toBe(true);
  });

  it('parse a comma-separated list, spaces around entries ignored', () => {
    expect(
      parseTablePatterns(' public.* , sales.orders,"My Schema"."a,b" ').map((p) => p.text),
    ).toEqual(['public.*', 'sales.orders', '"My Schema"."a,b"']);
    expect(parseTablePatterns('public.a,,public.b').map((p) => p.text)).toEqual([
      'public.a',
      'public.b',
    ]);
  });

  it('refuse what is not schema.table, with what is expected', () => {
    for (const bad of ['orders', 'public.', '.orders', '"open.orders', 'public."x"y', '"".t']) {
      expect(() => parseTablePatterns(bad), bad).toThrow(TablePatternError);
    }
    expect(() => parseTablePatterns('orders')).toThrow(/expected schema\.table/);
  });
});

describe('table selection', () => {
  const selection = (include?: string, exclude?: string) =>
    TableSelection.fromPatterns(
      include === undefined ? undefined : [include],
      exclude === undefined ? undefined : [exclude],
    );

  it('selects every table when unset', () => {
    expect(TableSelection.all().exclusionOf({ schema: 'x', name: 'y' })).toBeUndefined();
    expect(TableSelection.all().isEverything).toBe(true);
  });

  it('keeps only included tables, and never an excluded one (exclude wins)', () => {
    const s = selection('public.*,sales.orders', 'public.tmp_*');
    expect(s.exclusionOf({ schema: 'public', name: 'users' })).toBeUndefined();
    expect(s.exclusionOf({ schema: 'sales', name: 'orders' })).toBeUndefined();
    expect(s.exclusionOf({ schema: 'sales', name: 'items' })).toBe(
      'not in TABLES_INCLUDE (public.*, sales.orders)',
    );
    expect(s.exclusionOf({ schema: 'public', name: 'tmp_1' })).toBe(
      'in TABLES_EXCLUDE (public.tmp_*)',
    );
    expect(selection(undefined, 'public.audit').exclusionOf({ schema: 'x', name: 'y' })).toBe(
      undefined,
    );
  });

  it('judges a topic’s spelling of a name by what the name could be', () => {
    const s = selection('public."my table",public.caf?');
    expect(s.exclusionOfSpelling({ schema: 'public', name: 'my_table' })).toBeUndefined();
    // café is caf_ in a topic; ? may stand for it.
    expect(s.exclusionOfSpelling({ schema: 'public', name: 'caf_' })).toBeUndefined();
    expect(s.exclusionOfSpelling({ schema: 'public', name: 'other' })).toBeDefined();
  });
});

describe('TABLES_INCLUDE / TABLES_EXCLUDE / KAFKA_TOPIC_PREFIX settings', () => {
  it('load as pattern texts, checked', () => {
    const config = loadConfig({
      TABLES_INCLUDE: 'public.*, "Sales".orders',
      TABLES_EXCLUDE: 'public.tmp_*',
      KAFKA_TOPIC_PREFIX: 'my.app',
    });
    expect(config.mapping.include).toEqual(['public.*', '"Sales".orders']);
    expect(config.mapping.exclude).toEqual(['public.tmp_*']);
    expect(config.mapping.topicPrefix).toBe('my.app');
    expect(loadConfig({}).mapping.include).toBeUndefined();
  });

  it('refuse a bad pattern or prefix with a ConfigError naming the setting', () => {
    let error: unknown;
    try {
      loadConfig({ TABLES_INCLUDE: 'orders', KAFKA_TOPIC_PREFIX: 'bad prefix' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const settings = (error as ConfigError).problems.map((p) => p.setting);
    expect(settings).toEqual(expect.arrayContaining(['TABLES_INCLUDE', 'KAFKA_TOPIC_PREFIX']));
  });
});

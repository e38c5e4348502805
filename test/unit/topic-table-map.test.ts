// The topic -> table mapping (pipeline/routing/): Debezium's topic names, the topic prefix, an
// event bound to the table its topic names, pgferry's bookkeeping schema refused, and the topics
// `run` consumes under TABLES_INCLUDE / TABLES_EXCLUDE.
import { describe, expect, it } from 'vitest';
import { ConfigError, PoisonMessageError } from '../../core/errors.js';
import {
  ReservedSchemaError,
  TableNotSelectedError,
  TopicTableMismatchError,
} from '../../pipeline/routing/binding-errors.js';
import { formatTopicName, sanitizeTopicName } from '../../pipeline/routing/debezium-topic-name.js';
import { mapTargetTable } from '../../pipeline/routing/target-table-name.js';
import { selectConsumedTopics } from '../../pipeline/routing/topic-admission.js';
import { resolveTopicPrefix } from '../../pipeline/routing/topic-prefix.js';
import {
  type TopicRoutingSettings,
  TopicTableMap,
} from '../../pipeline/routing/topic-table-map.js';

const routing = (pattern: RegExp, mapping: TopicRoutingSettings['mapping'] = {}): TopicTableMap =>
  TopicTableMap.fromConfig({ kafka: { topicPattern: pattern }, mapping });

const cdc = routing(/^cdc\.public\..*/);

describe('Debezium topic names', () => {
  it('is <prefix>.<schema>.<table>, dots in names kept', () => {
    expect(formatTopicName('cdc', { schema: 'public', name: 'orders' })).toBe('cdc.public.orders');
    expect(formatTopicName('cdc', { schema: 'public', name: 'my.table' })).toBe(
      'cdc.public.my.table',
    );
    expect(formatTopicName('my.app', { schema: 'sales', name: 'orders' })).toBe(
      'my.app.sales.orders',
    );
  });

  it('spells characters Kafka refuses as _, by UTF-16 unit as Debezium does, and cuts at 249', () => {
    expect(sanitizeTopicName('cdc.public.my table$x-1')).toBe('cdc.public.my_table_x-1');
    expect(sanitizeTopicName('cdc.public.häuser')).toBe('cdc.public.h_user');
    // A character outside the BMP is two UTF-16 units: two underscores.
    expect(sanitizeTopicName('cdc.public.t😀')).toBe('cdc.public.t__');
    expect(sanitizeTopicName(`cdc.public.${'x'.repeat(300)}`)).toHaveLength(249);
    expect(sanitizeTopicName('.')).toBe('_');
  });
});

describe('the topic prefix', () => {
  it('is KAFKA_TOPIC_PREFIX when set', () => {
    expect(resolveTopicPrefix('my.app', /.*/)).toEqual({
      prefix: 'my.app',
      from: 'KAFKA_TOPIC_PREFIX',
    });
  });

  it('else the literal head of KAFKA_TOPIC_PATTERN, read as <prefix>.<schema>.', () => {
    const prefixOf = (pattern: RegExp) => resolveTopicPrefix(undefined, pattern)?.prefix;
    expect(prefixOf(/^cdc\.public\..*/)).toBe('cdc');
    expect(prefixOf(/^cdc\..*/)).toBe('cdc');
    expect(prefixOf(/^fb_x1\.public\.sp_.*_x1$/)).toBe('fb_x1');
    expect(prefixOf(/^cdc\.public\.(orders|users)$/)).toBe('cdc');
    expect(prefixOf(/^cdc\.public\.orders$/)).toBe('cdc');
    expect(prefixOf(/^my-app\.public\..*/)).toBe('my-app');
  });

  it('is unknown without a literal head: run refuses with a ConfigError naming the setting', () => {
    expect(resolveTopicPrefix(undefined, /.*/)).toBeUndefined();
    expect(resolveTopicPrefix(undefined, /^(cdc|app)\.public\..*/)).toBeUndefined();
    expect(resolveTopicPrefix(undefined, /^cdc.*/)).toBeUndefined();
    expect(() => routing(/.*/)).toThrow(ConfigError);
    expect(() => routing(/.*/)).toThrow(/KAFKA_TOPIC_PREFIX/);
  });
});

describe('binding an event to its topic', () => {
  it('gives the target table of an event that names its topic’s table', () => {
    expect(cdc.bind('cdc.public.orders', { schema: 'public', name: 'orders' })).toEqual({
      schema: 'public',
      name: 'orders',
    });
    const mirrored = routing(/^cdc\.public\..*/, { targetSchema: 'mirror' });
    expect(mirrored.bind('cdc.public.orders', { schema: 'public', name: 'orders' })).toEqual({
      schema: 'mirror',
      name: 'orders',
    });
  });

  it('refuses an event that names another table (poison, with both names)', () => {
    const bind = () => cdc.bind('cdc.public.orders', { schema: 'public', name: 'users' });
    expect(bind).toThrow(TopicTableMismatchError);
    expect(bind).toThrow(PoisonMessageError);
    expect(bind).toThrow(
      'the event names table public.users (topic cdc.public.users) but came on topic cdc.public.orders',
    );
    // Another schema, another prefix: the topic decides.
    expect(() => cdc.bind('cdc.public.orders', { schema: 'sales', name: 'orders' })).toThrow(
      TopicTableMismatchError,
    );
    expect(() => cdc.bind('other.public.orders', { schema: 'public', name: 'orders' })).toThrow(
      TopicTableMismatchError,
    );
  });

  it('binds dotted names exactly: the topic is compared, never split', () => {
    const topic = 'cdc.public.my.table';
    expect(cdc.bind(topic, { schema: 'public', name: 'my.table' })).toEqual({
      schema: 'public',
      name: 'my.table',
    });
    // The other reading of the same topic is the same topic name: Debezium itself sends both
    // tables there, so both bind (documented); a third table does not.
    expect(cdc.bind(topic, { schema: 'public.my', name: 'table' })).toEqual({
      schema: 'public.my',
      name: 'table',
    });
    expect(() => cdc.bind(topic, { schema: 'public', name: 'my' })).toThrow(
      TopicTableMismatchError,
    );
  });

  it('with a prefix that has dots', () => {
    const app = routing(/^my\.app\..*/, { topicPrefix: 'my.app' });
    expect(app.bind('my.app.sales.orders', { schema: 'sales', name: 'orders' })).toEqual({
      schema: 'sales',
      name: 'orders',
    });
    expect(() => app.bind('my.app.sales.orders', { schema: 'app.sales', name: 'orders' })).toThrow(
      TopicTableMismatchError,
    );
  });

  it('binds a name Kafka spells differently by the topic Debezium gives it', () => {
    expect(cdc.bind('cdc.public.my_table', { schema: 'public', name: 'my table' })).toEqual({
      schema: 'public',
      name: 'my table',
    });
  });

  it('never maps into pgferry’s bookkeeping schema', () => {
    const bind = () => cdc.bind('cdc.pgferry.offsets', { schema: 'pgferry', name: 'offsets' });
    expect(bind).toThrow(ReservedSchemaError);
    expect(bind).toThrow(/pgferry's own bookkeeping schema/);
    expect(() => mapTargetTable({ schema: 'pgferry', name: 'tables' }, undefined)).toThrow(
      ReservedSchemaError,
    );
    expect(() => routing(/^cdc\.public\..*/, { targetSchema: 'pgferry' })).toThrow(ConfigError);
    expect(() => routing(/^cdc\.public\..*/, { targetSchema: 'pgferry' })).toThrow(/TARGET_SCHEMA/);
  });

  it('refuses a table outside TABLES_INCLUDE or inside TABLES_EXCLUDE', () => {
    const selected = routing(/^cdc\..*/, { include: ['public.*'], exclude: ['public.tmp_*'] });
    expect(selected.bind('cdc.public.orders', { schema: 'public', name: 'orders' })).toEqual({
      schema: 'public',
      name: 'orders',
    });
    expect(() => selected.bind('cdc.sales.orders', { schema: 'sales', name: 'orders' })).toThrow(
      TableNotSelectedError,
    );
    expect(() => selected.bind('cdc.public.tmp_1', { schema: 'public', name: 'tmp_1' })).toThrow(
      'table public.tmp_1 is in TABLES_EXCLUDE (public.tmp_*): pgferry run does not write it',
    );
  });
});

describe('reading a topic', () => {
  it('spells every split of the name after the prefix', () => {
    expect(cdc.spellingsOf('cdc.public.orders')).toEqual([{ schema: 'public', name: 'orders' }]);
    expect(cdc.spellingsOf('cdc.public.my.table')).toEqual([
      { schema: 'public', name: 'my.table' },
      { schema: 'public.my', name: 'table' },
    ]);
    expect(cdc.spellingsOf('cdc.orders')).toEqual([]);
    expect(cdc.spellingsOf('other.public.orders')).toEqual([]);
  });

  it('gives the target tables of a topic: known tables first, else each spelling', () => {
    expect(cdc.targetsOfTopic('cdc.public.orders')).toEqual([{ schema: 'public', name: 'orders' }]);
    // A table `my table` is `my_table` in its topic: only the known name finds it.
    expect(
      cdc.targetsOfTopic('cdc.public.my_table', [
        { schema: 'public', name: 'my table' },
        { schema: 'public', name: 'orders' },
      ]),
    ).toEqual([{ schema: 'public', name: 'my table' }]);
    // The fix of resnapshot: my.table is one table, not "my"."table".
    expect(
      cdc.targetsOfTopic('cdc.public.my.table', [{ schema: 'public', name: 'my.table' }]),
    ).toEqual([{ schema: 'public', name: 'my.table' }]);
    expect(cdc.targetsOfTopic('cdc.pgferry.offsets')).toEqual([]);
  });

  it('with TARGET_SCHEMA, a known target carries any source schema’s topic of its name', () => {
    const mirrored = routing(/^cdc\..*/, { targetSchema: 'mirror' });
    const known = [
      { schema: 'mirror', name: 'orders' },
      { schema: 'public', name: 'orders' },
    ];
    expect(mirrored.targetsOfTopic('cdc.sales.orders', known)).toEqual([
      { schema: 'mirror', name: 'orders' },
    ]);
    expect(mirrored.mayCarry('cdc.sales.orders', { schema: 'mirror', name: 'orders' })).toBe(true);
    expect(mirrored.mayCarry('cdc.orders', { schema: 'mirror', name: 'orders' })).toBe(false);
  });

  it('refuses topics it cannot map, into the bookkeeping schema, or of tables left out', () => {
    const selected = routing(/^cdc\..*/, { include: ['public.*'], exclude: ['public.tmp_*'] });
    expect(selected.refusalOf('cdc.public.orders')).toBeUndefined();
    expect(selected.refusalOf('cdc.public.tmp_1')).toBe(
      'public.tmp_1 is in TABLES_EXCLUDE (public.tmp_*)',
    );
    expect(selected.refusalOf('cdc.sales.orders')).toBe(
      'sales.orders is not in TABLES_INCLUDE (public.*)',
    );
    expect(selected.refusalOf('cdc.pgferry.offsets')).toMatch(/bookkeeping schema "pgferry"/);
    expect(selected.refusalOf('cdc.orders')).toMatch(/not cdc.<schema>.<table>/);
    // One selected reading of a dotted name is enough to consume the topic.
    const dotted = routing(/^cdc\..*/, { include: ['public.my.*'] });
    expect(dotted.refusalOf('cdc.public.my.table')).toBeUndefined();
  });

  it('includes a table whose name Kafka spells differently (my table -> my_table)', () => {
    const selected = routing(/^cdc\..*/, { include: ['public."my table"'] });
    expect(selected.refusalOf('cdc.public.my_table')).toBeUndefined();
    expect(selected.refusalOf('cdc.public.other')).toBeDefined();
  });

  it('selects the consumed topics (the runner’s rule, also for status and resnapshot)', () => {
    const selected = routing(/^cdc\..*/, { exclude: ['public.audit'] });
    expect(
      selectConsumedTopics(
        [
          'cdc.public.orders',
          'cdc.public.orders.dlq',
          'cdc.public.audit',
          '__debezium-heartbeat.cdc',
          'cdc.pgferry.tables',
          'shared-dlq',
        ],
        selected,
        'shared-dlq',
      ),
    ).toEqual(['cdc.public.orders']);
  });
});

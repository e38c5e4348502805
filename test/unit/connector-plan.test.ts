import { describe, expect, it } from 'vitest';
import { PgferryError } from '../../core/errors.js';
import { parseConnectorDefinition } from '../../migrate/connector/connector-definition.js';
import { planConnectorChange } from '../../migrate/connector/connector-plan.js';

const desired = {
  'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
  'database.password': '${env:SOURCE_DB_PASSWORD}',
  'tasks.max': '1',
};

describe('planConnectorChange', () => {
  it('creates when Connect has no such connector', () => {
    expect(planConnectorChange(undefined, { ...desired, name: 'x' })).toEqual({
      action: 'create',
      config: desired,
    });
  });

  it('is unchanged when only the name key differs', () => {
    expect(planConnectorChange({ ...desired, name: 'pgferry-source' }, desired)).toEqual({
      action: 'unchanged',
    });
  });

  it('updates and lists changed, added and removed keys', () => {
    const current = { ...desired, name: 'pgferry-source', 'tasks.max': '2', 'slot.name': 'old' };
    const wanted = { ...desired, 'table.include.list': 'public.orders' };
    expect(planConnectorChange(current, wanted)).toEqual({
      action: 'update',
      config: wanted,
      changedKeys: ['slot.name', 'table.include.list', 'tasks.max'],
    });
  });

  it('compares ${env:...} placeholders as raw strings, never expanded', () => {
    const current = { ...desired, 'database.password': 'resolved-secret' };
    const change = planConnectorChange(current, desired);
    expect(change).toMatchObject({ action: 'update', changedKeys: ['database.password'] });
    expect(change.action === 'update' && change.config['database.password']).toBe(
      '${env:SOURCE_DB_PASSWORD}',
    );
  });
});

describe('parseConnectorDefinition', () => {
  it('reads the Connect REST shape and stringifies scalars', () => {
    expect(
      parseConnectorDefinition('f.json', {
        name: 'src',
        config: { 'tasks.max': 1, 'include.schema.changes': false, 'topic.prefix': 'cdc' },
      }),
    ).toEqual({
      name: 'src',
      config: { 'tasks.max': '1', 'include.schema.changes': 'false', 'topic.prefix': 'cdc' },
    });
  });

  it('accepts a bare config map', () => {
    expect(parseConnectorDefinition('f.json', { 'topic.prefix': 'cdc' })).toEqual({
      name: undefined,
      config: { 'topic.prefix': 'cdc' },
    });
  });

  it.each([
    ['an array', []],
    ['nested objects in config', { config: { a: { b: 1 } } }],
    ['null values', { config: { a: null } }],
    ['an empty config', { name: 'x', config: {} }],
    ['a non-string name', { name: 3, config: { a: 'b' } }],
  ])('rejects %s with a non-retriable error', (_label, json) => {
    let caught: unknown;
    try {
      parseConnectorDefinition('f.json', json);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(PgferryError);
    expect((caught as PgferryError).retriable).toBe(false);
    expect((caught as PgferryError).message).toMatch(/^connector file f\.json: /);
  });
});

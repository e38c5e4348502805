// resolveMigrationTables: the publication's tables less what TABLES_INCLUDE / TABLES_EXCLUDE leave
// out of `pgferry run`; tables named with --tables are taken as given.
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { resolveMigrationTables } from '../../migrate/migration-tables.js';

/** A client answering the publication queries with these tables (and named lookups as found). */
function fakeSource(tables: { schema: string; name: string }[]): pg.ClientBase {
  const query = async (text: string, values?: unknown[]) => {
    if (text.includes('FROM pg_publication_tables'))
      return { rows: tables, rowCount: tables.length };
    if (text.includes('FROM pg_publication WHERE')) return { rows: [{}], rowCount: 1 };
    if (text.includes('unnest(')) {
      const [schemas, names] = values as [string[], string[]];
      return { rows: schemas.map((schema, i) => ({ schema, name: names[i] })), rowCount: 1 };
    }
    throw new Error(`unexpected query: ${text}`);
  };
  return { query } as unknown as pg.ClientBase;
}

const PUBLISHED = [
  { schema: 'public', name: 'users' },
  { schema: 'public', name: 'orders' },
  { schema: 'public', name: 'audit_log' },
  { schema: 'billing', name: 'invoices' },
];

describe('resolveMigrationTables', () => {
  it('leaves out what TABLES_INCLUDE / TABLES_EXCLUDE leave out of pgferry run', async () => {
    const names = async (include?: string[], exclude?: string[]) =>
      (
        await resolveMigrationTables(fakeSource(PUBLISHED), {
          publication: 'pub',
          selection: { include, exclude },
        })
      ).map((t) => `${t.schema}.${t.name}`);
    expect(await names()).toEqual([
      'billing.invoices',
      'public.audit_log',
      'public.orders',
      'public.users',
    ]);
    expect(await names(['public.*'], ['public.audit_*'])).toEqual([
      'public.orders',
      'public.users',
    ]);
    expect(await names(undefined, ['billing.*'])).toEqual([
      'public.audit_log',
      'public.orders',
      'public.users',
    ]);
  });

  it('takes tables named with --tables as given', async () => {
    const tables = await resolveMigrationTables(fakeSource(PUBLISHED), {
      tables: [{ schema: 'public', name: 'audit_log' }],
      publication: 'pub',
      selection: { exclude: ['public.audit_*'] },
    });
    expect(tables).toEqual([{ schema: 'public', name: 'audit_log' }]);
  });
});

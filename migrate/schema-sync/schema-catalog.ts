// Reads tables, enum and domain types and sequences from a PostgreSQL catalog into a typed model,
// the same way for the source and the target so `schema-sync` can compare like with like.
// Expressions come from pg_get_expr/pg_get_constraintdef/pg_get_indexdef under search_path =
// pg_catalog, so every reference to a user object is schema-qualified and can be remapped.
import type pg from 'pg';
import {
  type CatalogRequest,
  catalogKeyOf,
  type QualifiedName,
  type SchemaCatalog,
  type SequenceOwner,
  type TableDefinition,
} from './schema-catalog-types.js';
import { readSchemaObjects } from './schema-object-reader.js';
import { readCatalogSequences } from './sequence-catalog-reader.js';
import { readCatalogTable } from './table-catalog-reader.js';
import { readCatalogTypes } from './type-catalog-reader.js';

/**
 * Reads the requested objects that exist (missing ones are simply absent from the result). Runs
 * in a read-only transaction of its own unless `inTransaction` says the caller already has one
 * (the target side reads under schema-sync's lock, in the transaction that applies the DDL).
 */
export async function readSchemaCatalog(
  client: pg.ClientBase,
  request: CatalogRequest,
  options: { inTransaction?: boolean } = {},
): Promise<SchemaCatalog> {
  if (!options.inTransaction) await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    // Every user object in expressions and type names comes out schema-qualified.
    await client.query('SET LOCAL search_path = pg_catalog');
    const catalog = await readObjects(client, request);
    if (!options.inTransaction) await client.query('COMMIT');
    return catalog;
  } catch (error) {
    if (!options.inTransaction) await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

async function readObjects(client: pg.ClientBase, request: CatalogRequest): Promise<SchemaCatalog> {
  const schemas = request.schemas?.length
    ? (
        await client.query<{ nspname: string }>(
          'SELECT nspname FROM pg_namespace WHERE nspname = ANY($1::text[]) ORDER BY nspname',
          [request.schemas],
        )
      ).rows.map((r) => r.nspname)
    : [];
  const tables: TableDefinition[] = [];
  const sequenceOids = new Set<string>();
  const ownedBy = new Map<string, SequenceOwner>();
  for (const ref of request.tables) {
    const found = await readCatalogTable(client, ref);
    if (!found) continue;
    tables.push(found.table);
    for (const oid of found.sequenceOids) sequenceOids.add(oid);
    for (const [oid, owner] of found.ownedBy) ownedBy.set(oid, owner);
  }

  const sequences = await readCatalogSequences(client, [...sequenceOids], request.sequences ?? []);
  for (const s of sequences) {
    const owner = ownedBy.get(s.regclassText);
    if (owner) s.ownedBy = owner;
  }
  const objectSchemas =
    request.objectSchemas ??
    (request.followDependencies ? [...new Set(request.tables.map((t) => t.schema))] : undefined);
  const objects =
    objectSchemas === undefined
      ? undefined
      : await readSchemaObjects(
          client,
          objectSchemas,
          tables,
          request.availableExtensions ? { availableExtensions: true } : {},
        );

  const typeRefs = new Map<string, QualifiedName>();
  for (const t of request.types ?? []) typeRefs.set(catalogKeyOf(t), t);
  if (request.followDependencies) {
    for (const table of tables)
      for (const c of table.columns)
        if (c.type.user) typeRefs.set(catalogKeyOf(c.type.user), c.type.user);
    // The types functions take or return: CREATE FUNCTION needs them.
    for (const f of objects?.functions ?? [])
      for (const t of f.types ?? []) typeRefs.set(catalogKeyOf(t), t);
  }
  const types = await readCatalogTypes(client, [...typeRefs.values()], request.followDependencies);
  return { schemas, tables, ...types, sequences, ...(objects ? { objects } : {}) };
}

// Reads sequence definitions from the catalog, by oid (those the tables use) or by name.
import type pg from 'pg';
import type { QualifiedName, SequenceDefinition } from './schema-catalog-types.js';

export async function readCatalogSequences(
  client: pg.ClientBase,
  oids: string[],
  names: readonly QualifiedName[],
): Promise<SequenceDefinition[]> {
  if (oids.length === 0 && names.length === 0) return [];
  const found = await client.query<{
    schema: string;
    name: string;
    regclass_text: string;
    data_type: string;
    start: string;
    increment: string;
    min: string;
    max: string;
    cache: string;
    cycle: boolean;
  }>(
    `SELECT n.nspname AS schema, c.relname AS name, c.oid::regclass::text AS regclass_text,
            format_type(s.seqtypid, NULL) AS data_type, s.seqstart::text AS start,
            s.seqincrement::text AS increment, s.seqmin::text AS min, s.seqmax::text AS max,
            s.seqcache::text AS cache, s.seqcycle AS cycle
       FROM pg_sequence s
       JOIN pg_class c ON c.oid = s.seqrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE s.seqrelid = ANY($1::oid[])
         OR (n.nspname, c.relname) IN (SELECT * FROM unnest($2::text[], $3::text[]))
      ORDER BY n.nspname, c.relname`,
    [oids, names.map((n) => n.schema), names.map((n) => n.name)],
  );
  return found.rows.map((r) => ({
    schema: r.schema,
    name: r.name,
    regclassText: r.regclass_text,
    dataType: r.data_type,
    start: r.start,
    increment: r.increment,
    min: r.min,
    max: r.max,
    cache: r.cache,
    cycle: r.cycle,
  }));
}

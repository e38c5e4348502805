// Which target table a source table's rows go to: the same name, in its schema's target schema
// (schema-mapping.ts: SCHEMA_MAP, TARGET_SCHEMA, else the same schema). Never pgferry's bookkeeping schema: a table that would land there is refused
// (its events dead-lettered), whatever the source calls its schemas.
import type { TableRef } from '../row-change.js';
import { ReservedSchemaError } from './binding-errors.js';
import { BOOKKEEPING_SCHEMA } from './bookkeeping-schema-name.js';
import { resolveTargetSchema, type TargetSchemaChoice } from './schema-mapping.js';

export const formatTableRef = (table: TableRef): string => `${table.schema}.${table.name}`;

/**
 * The target of `source` under `schemas` (a SchemaMapping, or TARGET_SCHEMA alone); throws
 * ReservedSchemaError for the bookkeeping schema.
 */
export function mapTargetTable(source: TableRef, schemas: TargetSchemaChoice): TableRef {
  const target = { schema: resolveTargetSchema(schemas, source.schema), name: source.name };
  if (target.schema === BOOKKEEPING_SCHEMA) {
    throw new ReservedSchemaError(
      `table ${formatTableRef(source)} would be written to ${formatTableRef(target)}, in pgferry's own bookkeeping schema "${BOOKKEEPING_SCHEMA}", which no replicated table may enter`,
    );
  }
  return target;
}

// Which target table a source table's rows go to: the same schema and name, or every table in
// TARGET_SCHEMA. Never pgferry's bookkeeping schema: a table that would land there is refused
// (its events dead-lettered), whatever the source calls its schemas.
import type { TableRef } from '../row-change.js';
import { ReservedSchemaError } from './binding-errors.js';
import { BOOKKEEPING_SCHEMA } from './bookkeeping-schema-name.js';

export const formatTableRef = (table: TableRef): string => `${table.schema}.${table.name}`;

/** The target of `source`; throws ReservedSchemaError for the bookkeeping schema. */
export function mapTargetTable(source: TableRef, targetSchema: string | undefined): TableRef {
  const target = { schema: targetSchema ?? source.schema, name: source.name };
  if (target.schema === BOOKKEEPING_SCHEMA) {
    throw new ReservedSchemaError(
      `table ${formatTableRef(source)} would be written to ${formatTableRef(target)}, in pgferry's own bookkeeping schema "${BOOKKEEPING_SCHEMA}", which no replicated table may enter`,
    );
  }
  return target;
}

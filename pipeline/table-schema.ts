// A table as described by a Debezium value schema: its columns with PostgreSQL types and its
// primary key. Built once per schema id and shared by every change of that schema version.

export interface ColumnSchema {
  /** Column name in the source (and target) table. */
  name: string;
  /** PostgreSQL type for DDL, e.g. `numeric(12,2)`, `timestamp(6) with time zone`, `integer[]`. */
  pgType: string;
  nullable: boolean;
  /** The source's constant default as PostgreSQL text input (Debezium propagates it), if any. */
  defaultValue?: string;
}

export interface TableSchema {
  /** Stable id of this shape (schema registry id of the value schema), for caches. */
  id: string;
  columns: ColumnSchema[];
  /** Primary-key column names in key order; never empty for tables we replicate. */
  primaryKey: string[];
}

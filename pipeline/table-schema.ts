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
  /**
   * Key columns in key order (the Kafka key's): the primary key, or the REPLICA IDENTITY USING
   * INDEX columns (Debezium 3 keys such a table by its identity index). Empty for a keyless
   * table (REPLICA IDENTITY FULL, no key): its changes apply one by one by full-row match.
   */
  primaryKey: string[];
}

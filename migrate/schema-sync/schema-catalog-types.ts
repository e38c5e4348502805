// The typed model of a PostgreSQL catalog that schema-sync reads from both sides: tables, enum
// and domain types, sequences, and the request naming what to read.
import type { SchemaObjects } from './schema-object-types.js';

export interface QualifiedName {
  schema: string;
  name: string;
}

export const formatQualifiedName = (n: QualifiedName): string => `${n.schema}.${n.name}`;

/** A column's type: built-in types as format_type() spells them; user types by name. */
export interface ColumnType {
  /** format_type() under search_path = pg_catalog, e.g. `numeric(12,2)`, `public.mood[]`. */
  sql: string;
  /** Set when the (element) type lives outside pg_catalog: an enum, a domain or another type. */
  user?: QualifiedName & { kind: 'enum' | 'domain' | 'composite' | 'range' | 'other' };
  array: boolean;
}

export interface ColumnDefinition {
  name: string;
  type: ColumnType;
  /** `pg_catalog."C"` when the column's collation differs from its type's. */
  collation?: string;
  notNull: boolean;
  /** Default expression (not for identity or generated columns). */
  default?: string;
  identity?: 'always' | 'by-default';
  /** The identity column's sequence. */
  identitySequence?: QualifiedName;
  /** Expression of a stored generated column. */
  generated?: string;
}

export interface ConstraintDefinition {
  name: string;
  /** pg_get_constraintdef(), e.g. `UNIQUE (a, b)`, `CHECK ((qty > 0))`. */
  definition: string;
}

export interface IndexDefinition {
  name: string;
  unique: boolean;
  /** pg_get_indexdef() after `... ON <table> USING `, e.g. `btree (lower(email)) WHERE ...`. */
  method: string;
}

/** A partition of a partitioned table (at any depth), as `CREATE TABLE ... PARTITION OF` needs it. */
export interface PartitionDefinition extends QualifiedName {
  /** The table it is a partition of: the root or a sub-partitioned partition. */
  parent: QualifiedName;
  /** pg_get_expr(relpartbound): `FOR VALUES FROM (1) TO (10)`, `FOR VALUES IN ('a')`, `DEFAULT`. */
  bound: string;
  /** pg_get_partkeydef() when it is partitioned itself (sub-partitions), e.g. `HASH (id)`. */
  partitionKey?: string;
  /** A foreign table or another kind schema-sync does not create (relkind). */
  foreign: boolean;
}

export interface TableDefinition extends QualifiedName {
  partitioned: boolean;
  /** pg_get_partkeydef() of a partitioned table, e.g. `RANGE (created_at)`. */
  partitionKey?: string;
  /** Its partitions at every depth, parents before their children, defaults after siblings. */
  partitions?: PartitionDefinition[];
  /** Set when the table is itself a partition: its parent. */
  partitionOf?: QualifiedName;
  columns: ColumnDefinition[];
  primaryKey?: ConstraintDefinition & { columns: string[] };
  /** Unique, exclusion and check constraints. */
  constraints: (ConstraintDefinition & { kind: 'unique' | 'exclude' | 'check' })[];
  /** Indexes that back no constraint. */
  indexes: IndexDefinition[];
  foreignKeys: ConstraintDefinition[];
  triggers: string[];
}

export interface EnumDefinition extends QualifiedName {
  labels: string[];
}

export interface DomainDefinition extends QualifiedName {
  baseType: ColumnType;
  collation?: string;
  notNull: boolean;
  default?: string;
  checks: ConstraintDefinition[];
}

/** A standalone composite type (CREATE TYPE ... AS (...)). */
export interface CompositeDefinition extends QualifiedName {
  attributes: { name: string; type: ColumnType; collation?: string }[];
}

/** A range type (CREATE TYPE ... AS RANGE): its subtype and the options schema-sync carries. */
export interface RangeDefinition extends QualifiedName {
  subtype: ColumnType;
  collation?: string;
  /** A pg_catalog function (a user one is not carried: it would come after the types). */
  subtypeDiff?: string;
  multirange: string;
}

export interface SequenceDefinition extends QualifiedName {
  /** How a default names it: `'<regclassText>'::regclass` (search_path = pg_catalog). */
  regclassText: string;
  dataType: string;
  start: string;
  increment: string;
  min: string;
  max: string;
  cache: string;
  cycle: boolean;
  /** The column that owns it: a serial column, or an identity column (then `identity`). */
  ownedBy?: SequenceOwner;
}

export interface SequenceOwner {
  table: QualifiedName;
  column: string;
  identity: boolean;
}

export interface SchemaCatalog {
  /** The requested schemas that exist. */
  schemas: string[];
  tables: TableDefinition[];
  enums: EnumDefinition[];
  domains: DomainDefinition[];
  /** Requested types that exist and are neither enums nor domains (extension types...). */
  otherTypes: QualifiedName[];
  composites?: CompositeDefinition[];
  ranges?: RangeDefinition[];
  sequences: SequenceDefinition[];
  /** Extensions, functions, views, triggers (schema-object-types.ts), when requested. */
  objects?: SchemaObjects;
}

export interface CatalogRequest {
  schemas?: readonly string[];
  tables: readonly QualifiedName[];
  types?: readonly QualifiedName[];
  sequences?: readonly QualifiedName[];
  /**
   * Also read the user types and sequences the tables use (the source side), and the schema
   * objects (extensions, functions, views, triggers) of the tables' schemas.
   */
  followDependencies?: boolean;
  /** Read the schema objects of these schemas (the target side: the mapped schemas). */
  objectSchemas?: readonly string[];
  /** Also list the extensions the server could create (the target side). */
  availableExtensions?: boolean;
}

/** A map key for a qualified name (schema and name cannot hold NUL). */
export const catalogKeyOf = (n: QualifiedName): string => `${n.schema}\u0000${n.name}`;

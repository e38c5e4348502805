// The shape of a schema-sync plan: the options it is made with and what it returns (DDL, objects,
// mismatches, skipped tables, what is left for cutover). Types only, shared by every planning step.

export interface SchemaSyncOptions {
  /** TARGET_SCHEMA: every table (and the types and sequences it uses) goes into this schema. */
  targetSchema?: string;
  /**
   * SCHEMA_MAP: the target schema of each source schema it names (objects of other schemas keep
   * their schema). Not with targetSchema; the config check keeps two sources from sharing one.
   */
  schemaMap?: Readonly<Record<string, string>>;
  /**
   * Leave unique and exclusion constraints and unique indexes for cutover, like foreign keys: a
   * value that moves from one row to another can reach the target in the other order (rows are
   * applied per partition and batch), and a unique check would then reject a valid row.
   */
  deferUnique?: boolean;
  /**
   * Leave the indexes that back no constraint out of the target tables (recorded in pgferry's
   * bookkeeping): `pgferry copy` builds each once its table is copied, which is faster than
   * maintaining it row by row during the copy. Unique ones deferred by deferUnique stay for cutover.
   */
  deferIndexes?: boolean;
}

export type ObjectStatus = 'create' | 'alter' | 'up-to-date' | 'mismatch' | 'skipped';

export interface ObjectPlan {
  kind: 'table' | 'enum' | 'domain' | 'sequence';
  source: string;
  target: string;
  status: ObjectStatus;
  /** What the statements do, in words ("add column note"). */
  actions: string[];
  /** Differences schema-sync reports but does not change and that do not fail the check. */
  notes: string[];
}

export interface SchemaMismatch {
  object: string;
  message: string;
}

export interface SkippedTable {
  table: string;
  reason: string;
}

/** Left for cutover: shown (and commented out in --dry-run), never applied by schema-sync. */
export interface DeferredChange {
  object: string;
  kind: 'foreign-key' | 'identity-always' | 'unique';
  reason: string;
  statements: string[];
}

/** An index left for `pgferry copy` to build after its table's rows (--defer-indexes). */
export interface IndexAfterCopy {
  /** The target table. */
  schema: string;
  table: string;
  index: string;
  /** CREATE [UNIQUE] INDEX IF NOT EXISTS ..., target names mapped and quoted. */
  statement: string;
}

export interface NotCopied {
  object: string;
  kind: 'trigger';
  reason: string;
}

export interface SchemaSyncPlan {
  objects: ObjectPlan[];
  /** DDL in execution order, without the trailing semicolon. */
  statements: string[];
  mismatches: SchemaMismatch[];
  skipped: SkippedTable[];
  deferred: DeferredChange[];
  /** Recorded in pgferry.deferred_indexes when applied; built by `pgferry copy`. */
  indexesAfterCopy: IndexAfterCopy[];
  notCopied: NotCopied[];
}

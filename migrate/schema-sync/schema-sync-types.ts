// The shape of a schema-sync plan: the options it is made with and what it returns (DDL, objects,
// mismatches, skipped tables, what is left for cutover). Types only, shared by every planning step.
import type { QualifiedName } from './schema-catalog-types.js';

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
  /**
   * Target triggers (`schema\0table\0trigger`) cutover already enabled (pgferry.cutover_triggers):
   * a schema-sync run after cutover leaves them enabled.
   */
  triggersEnabledAtCutover?: readonly string[];
  /**
   * --role-map: source role -> target role, for the roles policies (and grants) name; a role
   * neither mapped nor on the target is reported, and what names it is not created.
   */
  roleMap?: Readonly<Record<string, string>>;
  /**
   * --grants: also carry the source's explicit privileges (GRANT) and list the owners for cutover
   * (ALTER ... OWNER TO), roles mapped by roleMap; a role the target lacks is reported.
   */
  grants?: boolean;
}

export type ObjectStatus = 'create' | 'alter' | 'up-to-date' | 'mismatch' | 'skipped';

export type ObjectKind =
  | 'table'
  | 'enum'
  | 'domain'
  | 'sequence'
  | 'extension'
  | 'function'
  | 'procedure'
  | 'view'
  | 'materialized-view'
  | 'trigger'
  | 'policy'
  | 'composite'
  | 'range'
  | 'collation';

export interface ObjectPlan {
  kind: ObjectKind;
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

/**
 * Left for cutover: shown (and commented out in --dry-run), never applied by schema-sync. The
 * ones with `table` are recorded (pgferry.cutover_statements) and applied by cutover's gate 4.
 */
export interface DeferredChange {
  object: string;
  kind: 'foreign-key' | 'identity-always' | 'unique' | 'row-security' | 'owner';
  reason: string;
  statements: string[];
  /** The target table the statements change, when cutover applies them itself. */
  table?: QualifiedName;
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
  kind: string;
  reason: string;
}

/**
 * Done by cutover once replication has stopped (recorded by schema-sync): triggers created (or
 * found) enabled are disabled until then, materialized views created WITH NO DATA are refreshed.
 */
export type CutoverAction =
  | {
      kind: 'enable-trigger';
      /** `schema.table trigger` on the target. */
      object: string;
      schema: string;
      table: string;
      name: string;
      /** The state to restore (tgenabled): O origin, A always, R replica. */
      state: 'O' | 'A' | 'R';
      reason: string;
    }
  | {
      kind: 'refresh-materialized-view';
      object: string;
      schema: string;
      name: string;
      reason: string;
    };

/** The DDL by section, as pgcopydb orders a migration. */
export interface PlanSections {
  /** What replication needs before the data: schemas, extensions, types, functions, sequences,
   * tables with their keys and checks, views, materialized views (no data), triggers (disabled). */
  beforeData: string[];
  /** Indexes that back no constraint (empty with --defer-indexes: see indexesAfterCopy). */
  indexes: string[];
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
  /** What cutover does to the objects (enable triggers, refresh materialized views). */
  atCutover: CutoverAction[];
  /** The statements by section (the same as `statements`, in that order). */
  sections: PlanSections;
  /** Why nothing may be applied (an extension the target cannot create): the check fails. */
  blocked: string[];
}

// The typed model of the schema objects beyond tables that schema-sync carries: extensions,
// functions and procedures, views and materialized views, triggers. Definitions are read with
// search_path set to the object's own schema, so names in that schema come out unqualified and
// mean the target schema once executed there (see schema-object-reader.ts).

/** schema-catalog-types' QualifiedName (that module imports this one: no circle). */
interface QualifiedName {
  schema: string;
  name: string;
}

export interface ExtensionDefinition {
  name: string;
  /** The schema it is installed in. */
  schema: string;
  version: string;
  /** The types it provides (hstore, citext...): present once it is created. */
  types: QualifiedName[];
}

export interface FunctionDefinition extends QualifiedName {
  kind: 'function' | 'procedure';
  /** pg_get_function_identity_arguments(): the part of its identity after the name. */
  identity: string;
  /**
   * pg_get_functiondef() from the `(` after the name on: arguments, return type, language,
   * options and body. Types in the function's own schema are unqualified; the body is a string.
   */
  definition: string;
  /**
   * A SQL-standard body (BEGIN ATOMIC / RETURN) that reads tables or views: it is parsed when
   * created, so it comes after them (other functions come before the tables, whose defaults and
   * checks may call them).
   */
  readsRelations: boolean;
  /** The tables and views such a body reads. */
  uses?: QualifiedName[];
  /** User types its arguments and result use (element types of arrays): created before it. */
  types?: QualifiedName[];
}

export interface ViewDefinition extends QualifiedName {
  materialized: boolean;
  /** pg_get_viewdef() without its trailing semicolon. */
  query: string;
  /** reloptions, e.g. `security_barrier=true`, `check_option=local`. */
  options: string[];
  /** Relations (tables, views) its query reads, schema-qualified. */
  uses: QualifiedName[];
  /** A materialized view's contents are current (the target's: refreshed since created). */
  populated: boolean;
  /** A materialized view's indexes: pg_get_indexdef(oid, 0, true), the view unqualified. */
  indexes?: { name: string; definition: string }[];
}

/** tgenabled: O fires in origin/local sessions, A always, R only in replica sessions, D never. */
export type TriggerState = 'O' | 'A' | 'R' | 'D';

export interface TriggerDefinition {
  /** The table it is on. */
  table: QualifiedName;
  name: string;
  /** pg_get_triggerdef(oid, true): the table and function unqualified when in its schema. */
  definition: string;
  state: TriggerState;
  /**
   * The function it executes when schema-sync does not carry it (another schema, not an
   * extension's): `schema.name`, for the plan to say why the trigger is left out.
   */
  foreignFunction?: string;
}

/** A row-level security policy (pg_policy); expressions unqualified in the table's schema. */
export interface PolicyDefinition {
  table: QualifiedName;
  name: string;
  permissive: boolean;
  /** ALL, SELECT, INSERT, UPDATE or DELETE. */
  command: string;
  /** Role names, or PUBLIC. */
  roles: string[];
  using?: string;
  check?: string;
}

/** ENABLE / FORCE ROW LEVEL SECURITY of a table. */
export interface RowSecurity {
  table: QualifiedName;
  enabled: boolean;
  forced: boolean;
}

/** A COMMENT ON an object of the schema (pg_description). */
export interface CommentDefinition {
  /** COMMENT ON's object kind: TABLE, COLUMN, VIEW, MATERIALIZED VIEW, SEQUENCE, FUNCTION,
   * PROCEDURE, TYPE, DOMAIN, TRIGGER, POLICY. */
  kind: string;
  schema: string;
  /** The object's name (a column's, trigger's, policy's: its relation's). */
  name: string;
  /** A column's name, a function's identity arguments, a trigger's or policy's own name. */
  sub?: string;
  comment: string;
}

/** A collation (CREATE COLLATION) of a selected schema. */
export interface CollationDefinition extends QualifiedName {
  provider: 'icu' | 'libc';
  deterministic: boolean;
  /** icu: the locale; libc: lc_collate and lc_ctype. */
  locale?: string;
  lcCollate?: string;
  lcCtype?: string;
  /** icu rules (PostgreSQL 16+). */
  rules?: string;
}

/** An object's owner and explicit privileges (aclexplode of its ACL; none when it has the defaults). */
export interface GrantDefinition {
  /** GRANT's object kind: TABLE (views and sequences too), SEQUENCE, FUNCTION, PROCEDURE. */
  kind: string;
  schema: string;
  name: string;
  /** A function's identity arguments. */
  sub?: string;
  owner: string;
  /** Explicit privileges, the owner's own left out; PUBLIC as grantee `PUBLIC`. */
  privileges: { grantee: string; privilege: string; grantable: boolean }[];
}

/** What the catalog reader adds per schema read (source: the selected schemas; target: theirs). */
export interface SchemaObjects {
  extensions: ExtensionDefinition[];
  functions: FunctionDefinition[];
  views: ViewDefinition[];
  triggers: TriggerDefinition[];
  /** INSTEAD OF (and other) triggers on the schema's views: replication never writes a view. */
  viewTriggers: TriggerDefinition[];
  policies: PolicyDefinition[];
  grants: GrantDefinition[];
  collations: CollationDefinition[];
  comments: CommentDefinition[];
  /** The tables read (the synced ones) whose row security is enabled or forced. */
  rowSecurity: RowSecurity[];
  /** Target only: the roles that exist there (policies and grants name them). */
  roles: string[];
  /** The tables of the schemas (not partitions), for `--check`'s extras. */
  tables: QualifiedName[];
  /** Target only: extensions that can be created there (pg_available_extensions). */
  availableExtensions: string[];
  /** Objects of a kind schema-sync does not carry (aggregates...), with why. */
  notCarried: { object: string; kind: string; reason: string }[];
}

export const emptySchemaObjects = (): SchemaObjects => ({
  extensions: [],
  functions: [],
  views: [],
  triggers: [],
  viewTriggers: [],
  policies: [],
  grants: [],
  collations: [],
  comments: [],
  rowSecurity: [],
  roles: [],
  tables: [],
  availableExtensions: [],
  notCarried: [],
});

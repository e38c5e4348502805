// A schema-sync plan while it is being made: the target's objects by name, the DDL collected per
// execution phase, and the findings; each planning step reads it and appends to it.
import { quoteIdent } from '../../core/sql-identifier.js';
import { keyOf, NameMapping } from './name-mapping.js';
import {
  type DomainDefinition,
  type EnumDefinition,
  formatQualifiedName,
  type QualifiedName,
  type SchemaCatalog,
  type SequenceDefinition,
  type TableDefinition,
} from './schema-catalog-types.js';
import type { ObjectPlan, SchemaSyncOptions, SchemaSyncPlan } from './schema-sync-types.js';

/** DDL by phase; the plan runs the phases in this order (schemas first, indexes last). */
export interface PhasedStatements {
  schemas: string[];
  extensions: string[];
  collations: string[];
  types: string[];
  functions: string[];
  sequences: string[];
  tables: string[];
  owners: string[];
  /** Functions whose SQL-standard bodies read tables: after them, before the views. */
  functionsAfterTables: string[];
  views: string[];
  /** Functions whose SQL-standard bodies read views. */
  functionsAfterViews: string[];
  policies: string[];
  triggers: string[];
  comments: string[];
  grants: string[];
  indexes: string[];
}

/** One kept table being planned: the source's, the target's of the mapped name, its plan entry. */
export interface TableDraft {
  table: TableDefinition;
  existing: TableDefinition | undefined;
  object: ObjectPlan;
  /** The target table's (mapped) name. */
  target: QualifiedName;
  /** The target table's quoted, schema-qualified name. */
  sql: string;
}

export class SchemaSyncDraft {
  readonly mapping: NameMapping;
  readonly plan: SchemaSyncPlan = {
    objects: [],
    statements: [],
    mismatches: [],
    skipped: [],
    deferred: [],
    indexesAfterCopy: [],
    notCopied: [],
    atCutover: [],
    sections: { beforeData: [], indexes: [] },
    blocked: [],
  };
  readonly statements: PhasedStatements = {
    schemas: [],
    extensions: [],
    collations: [],
    types: [],
    functions: [],
    sequences: [],
    tables: [],
    owners: [],
    functionsAfterTables: [],
    views: [],
    functionsAfterViews: [],
    policies: [],
    triggers: [],
    comments: [],
    grants: [],
    indexes: [],
  };
  /** The search_path a phase's statements last set (schema-object-plan.ts). */
  readonly searchPathOf = new Map<string[], string>();
  /** Why nothing may be applied (plan.blocked). */
  get blocked(): string[] {
    return this.plan.blocked;
  }
  readonly targetTables: Map<string, TableDefinition>;
  readonly targetEnums: Map<string, EnumDefinition>;
  readonly targetDomains: Map<string, DomainDefinition>;
  /** Extension and other types the target has (looked up, never created). */
  readonly targetTypes: Set<string>;
  readonly targetSequences: Map<string, SequenceDefinition>;
  private readonly targetSchemas: Set<string>;

  constructor(
    readonly source: SchemaCatalog,
    readonly target: SchemaCatalog,
    readonly options: SchemaSyncOptions,
  ) {
    this.mapping = new NameMapping(source, options);
    this.targetTables = new Map(target.tables.map((t) => [keyOf(t), t]));
    this.targetEnums = new Map(target.enums.map((e) => [keyOf(e), e]));
    this.targetDomains = new Map(target.domains.map((d) => [keyOf(d), d]));
    this.targetTypes = new Set(target.otherTypes.map(keyOf));
    // Table plans look an extension type up by its source name: one found under its mapped name
    // counts as present.
    for (const t of target.otherTypes) {
      for (const [from, to] of this.mapping.renames) {
        if (to === t.schema) this.targetTypes.add(keyOf({ schema: from, name: t.name }));
      }
    }
    this.targetSequences = new Map(target.sequences.map((s) => [keyOf(s), s]));
    this.targetSchemas = new Set(target.schemas);
  }

  /** Adds an object to the plan, up to date until a step finds otherwise. */
  addObject(kind: ObjectPlan['kind'], source: QualifiedName, target: QualifiedName): ObjectPlan {
    const object: ObjectPlan = {
      kind,
      source: formatQualifiedName(source),
      target: formatQualifiedName(target),
      status: 'up-to-date',
      actions: [],
      notes: [],
    };
    this.plan.objects.push(object);
    return object;
  }

  /** A difference schema-sync does not change: the object is a mismatch and the check fails. */
  reportMismatch(object: ObjectPlan, message: string): void {
    object.status = 'mismatch';
    this.plan.mismatches.push({ object: object.target, message });
  }

  /** Creates the schema of something created, once, unless the target has it. */
  ensureSchema(schema: string): void {
    if (this.targetSchemas.has(schema)) return;
    this.targetSchemas.add(schema);
    this.statements.schemas.push(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
  }

  /** The plan, with the DDL of all phases in execution order. */
  finish(): SchemaSyncPlan {
    const s = this.statements;
    // Functions before the tables whose defaults and checks call them (their bodies are not
    // checked until called: check_function_bodies is off), views after the tables they read,
    // triggers after the functions they call.
    const beforeData = [
      ...s.schemas,
      ...s.extensions,
      ...s.collations,
      ...s.types,
      ...s.functions,
      ...s.sequences,
      ...s.tables,
      ...s.owners,
      ...s.functionsAfterTables,
      ...s.views,
      ...s.functionsAfterViews,
      ...s.policies,
      ...s.triggers,
      ...s.comments,
      ...s.grants,
    ];
    this.plan.sections = { beforeData, indexes: [...s.indexes] };
    this.plan.statements = [...beforeData, ...s.indexes];
    return this.plan;
  }
}

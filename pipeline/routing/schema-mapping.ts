// Which source schemas are replicated and where each lands: SOURCE_SCHEMAS, SCHEMA_MAP, and
// TARGET_SCHEMA (one target for a single source schema, as before). The config check refuses two
// source schemas sharing a target schema, so (source schema, table) -> target table is one-to-one.
import { DEFAULT_SOURCE_SCHEMA } from '../../core/config.js';

/** The mapping settings (a PgferryConfig's `mapping` is one). */
export interface SchemaMappingSettings {
  sourceSchemas?: readonly string[] | undefined;
  schemaMap?: Readonly<Record<string, string>> | undefined;
  targetSchema?: string | undefined;
}

/** One source schema and the target schema its tables go to. */
export interface SchemaPair {
  source: string;
  target: string;
}

/** A SchemaMapping, or TARGET_SCHEMA alone (undefined: every schema keeps its name). */
export type TargetSchemaChoice = SchemaMapping | string | undefined;

/** The target schema of `sourceSchema` under `schemas`. */
export function resolveTargetSchema(schemas: TargetSchemaChoice, sourceSchema: string): string {
  if (schemas instanceof SchemaMapping) return schemas.targetSchemaOf(sourceSchema);
  return schemas ?? sourceSchema;
}

export class SchemaMapping {
  private readonly map: ReadonlyMap<string, string>;

  constructor(private readonly settings: SchemaMappingSettings = {}) {
    this.map = new Map(Object.entries(settings.schemaMap ?? {}));
  }

  static fromSettings(settings: SchemaMappingSettings): SchemaMapping {
    return new SchemaMapping(settings);
  }

  /** Only TARGET_SCHEMA or nothing: the mapping as it was before SCHEMA_MAP. */
  static single(targetSchema: string | undefined): SchemaMapping {
    return new SchemaMapping(targetSchema === undefined ? {} : { targetSchema });
  }

  /** The source schemas to migrate: SOURCE_SCHEMAS, else public. */
  get sourceSchemas(): readonly string[] {
    return this.settings.sourceSchemas ?? [DEFAULT_SOURCE_SCHEMA];
  }

  /** TARGET_SCHEMA (one target for every table), if set. */
  get singleTarget(): string | undefined {
    return this.settings.targetSchema;
  }

  /** Whether tables of `schema` are replicated at all. */
  isSourceSchema(schema: string): boolean {
    return (
      this.settings.sourceSchemas === undefined || this.settings.sourceSchemas.includes(schema)
    );
  }

  /** The target schema of a source schema. */
  targetSchemaOf(sourceSchema: string): string {
    return this.map.get(sourceSchema) ?? this.settings.targetSchema ?? sourceSchema;
  }

  /** Every (source schema -> target schema) pair of the migration. */
  pairs(): SchemaPair[] {
    return this.sourceSchemas.map((source) => ({ source, target: this.targetSchemaOf(source) }));
  }

  /**
   * The source schemas whose tables go to `targetSchema`: a list, or 'any' when TARGET_SCHEMA
   * takes every schema not mapped (the source schema is then not in the target's name).
   */
  sourcesOf(targetSchema: string): readonly string[] | 'any' {
    if (this.settings.targetSchema === targetSchema) return 'any';
    const mapped = [...this.map].filter(([, to]) => to === targetSchema).map(([from]) => from);
    const identity =
      this.settings.targetSchema === undefined && !this.map.has(targetSchema) ? [targetSchema] : [];
    return [...mapped, ...identity].filter((s) => this.isSourceSchema(s));
  }
}

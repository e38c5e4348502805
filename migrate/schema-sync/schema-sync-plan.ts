// What `pgferry schema-sync` must do to the target: the source catalog compared with the target's,
// step by step (types, sequences, tables) in execution order, into DDL, mismatches, skipped tables
// and what is left for cutover. Pure; the exported API of schema-sync's planning.
import { planComments } from './comment-plan.js';
import { planGrants } from './grant-plan.js';
import { NameMapping } from './name-mapping.js';
import { planPolicies } from './policy-plan.js';
import type { CatalogRequest, SchemaCatalog } from './schema-catalog-types.js';
import {
  planCollations,
  planExtensions,
  planFunctions,
  planTriggers,
  planViews,
  planViewTriggers,
} from './schema-object-plan.js';
import { SchemaSyncDraft } from './schema-sync-draft.js';
import type { SchemaSyncOptions, SchemaSyncPlan } from './schema-sync-types.js';
import { planSequences } from './sequence-plan.js';
import { planTable, selectTables } from './table-plan.js';
import {
  collectUsedTypes,
  planComposites,
  planDomains,
  planEnums,
  planRanges,
} from './type-plan.js';

/** The DDL to read from the target: the mapped names of everything the source tables use. */
export function targetCatalogRequest(
  source: SchemaCatalog,
  options: SchemaSyncOptions,
): CatalogRequest {
  const mapping = new NameMapping(source, options);
  const types = [
    ...source.enums.map((e) => mapping.name(e)),
    ...source.domains.map((d) => mapping.name(d)),
    ...(source.composites ?? []).map((c) => mapping.name(c)),
    ...(source.ranges ?? []).map((r) => mapping.name(r)),
    // Extension and other types are used where they are, not created: look them up as named.
    ...source.otherTypes.map((t) => mapping.otherTypeName(t)),
  ];
  const schemas = [...new Set(mapping.renames.values())];
  return {
    schemas,
    tables: source.tables.map((t) => mapping.name(t)),
    types,
    sequences: source.sequences.map((s) => mapping.name(s)),
    // Functions, views and triggers of the mapped schemas, and the extensions it can create.
    ...(source.objects ? { objectSchemas: schemas, availableExtensions: true } : {}),
  };
}

export function planSchemaSync(
  source: SchemaCatalog,
  target: SchemaCatalog,
  options: SchemaSyncOptions = {},
): SchemaSyncPlan {
  const draft = new SchemaSyncDraft(source, target, options);
  const kept = selectTables(draft, source.tables);
  const types = collectUsedTypes(
    source,
    kept,
    (source.objects?.functions ?? []).flatMap((f) => f.types ?? []),
  );
  planExtensions(draft);
  planCollations(draft);
  planEnums(draft, types.enums);
  planDomains(draft, types.domains);
  planComposites(draft, types.composites);
  planRanges(draft, types.ranges);
  planFunctions(draft, kept);
  const identitySequences = planSequences(draft, source.sequences, kept);
  for (const table of kept) planTable(draft, table, identitySequences);
  planViews(draft, kept);
  planPolicies(draft, kept);
  planTriggers(draft, kept);
  planViewTriggers(draft);
  planComments(draft);
  planGrants(draft);
  return draft.finish();
}

/** Nothing to apply and nothing wrong: the target already has the source's schema. */
export const isUpToDate = (plan: SchemaSyncPlan): boolean =>
  plan.statements.length === 0 &&
  plan.mismatches.length === 0 &&
  plan.skipped.length === 0 &&
  plan.blocked.length === 0;

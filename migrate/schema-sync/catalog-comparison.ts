// `schema-sync --check`: the target's catalog against the source's, object by object (kind and
// definition, normalised for the schema mapping), from the same plan schema-sync would apply:
// missing on the target, different, extra (on the target only), and what waits for cutover
// (foreign keys, triggers to enable, materialized views to refresh). Pure.
import { keyOf, NameMapping } from './name-mapping.js';
import type { QualifiedName, SchemaCatalog } from './schema-catalog-types.js';
import type { SchemaSyncOptions, SchemaSyncPlan } from './schema-sync-types.js';

export type DifferenceStatus = 'missing' | 'different' | 'extra' | 'not-carried' | 'at-cutover';

export interface CatalogDifference {
  kind: string;
  /** The target's name (the source's for what is not carried). */
  object: string;
  status: DifferenceStatus;
  detail: string;
}

export interface CatalogComparison {
  /** No object missing, different or extra (what waits for cutover does not count). */
  match: boolean;
  /** Objects compared per kind (source side). */
  compared: Record<string, number>;
  differences: CatalogDifference[];
}

const name = (n: QualifiedName): string => `${n.schema}.${n.name}`;

export function compareCatalogs(
  source: SchemaCatalog,
  target: SchemaCatalog,
  plan: SchemaSyncPlan,
  options: SchemaSyncOptions = {},
): CatalogComparison {
  const differences: CatalogDifference[] = [];
  const compared: Record<string, number> = {};
  for (const o of plan.objects) {
    // A trigger only on the target is an extra (findExtras).
    if (o.source === '(target only)') continue;
    compared[o.kind] = (compared[o.kind] ?? 0) + 1;
    const mismatches = plan.mismatches.filter((m) => m.object === o.target).map((m) => m.message);
    if (o.status === 'create') {
      differences.push({
        kind: o.kind,
        object: o.target,
        status: 'missing',
        detail: o.actions.join(', '),
      });
    } else if (o.status === 'alter') {
      differences.push({
        kind: o.kind,
        object: o.target,
        status: 'different',
        detail: o.actions.join(', '),
      });
    } else if (o.status === 'mismatch') {
      differences.push({
        kind: o.kind,
        object: o.target,
        status: 'different',
        detail: mismatches.join('; '),
      });
    } else if (o.status === 'skipped') {
      differences.push({
        kind: o.kind,
        object: o.source,
        status: 'not-carried',
        detail: o.notes.join('; '),
      });
    }
  }
  for (const n of plan.notCopied) {
    if (differences.some((d) => d.status === 'not-carried' && d.object === n.object)) continue;
    differences.push({ kind: n.kind, object: n.object, status: 'not-carried', detail: n.reason });
  }
  for (const d of plan.deferred) {
    differences.push({ kind: d.kind, object: d.object, status: 'at-cutover', detail: d.reason });
  }
  for (const a of plan.atCutover) {
    differences.push({
      kind: a.kind === 'enable-trigger' ? 'trigger' : 'materialized-view',
      object: a.object,
      status: 'at-cutover',
      detail:
        a.kind === 'enable-trigger'
          ? 'disabled until cutover enables it'
          : 'not refreshed until cutover',
    });
  }
  differences.push(...findExtras(source, target, options));
  return {
    match: !differences.some((d) => ['missing', 'different', 'extra'].includes(d.status)),
    compared,
    differences,
  };
}

/** Objects of the mapped target schemas that no source object maps to. */
function findExtras(
  source: SchemaCatalog,
  target: SchemaCatalog,
  options: SchemaSyncOptions,
): CatalogDifference[] {
  const mapping = new NameMapping(source, options);
  const extras: CatalogDifference[] = [];
  const have = (list: QualifiedName[]) => new Set(list.map((n) => keyOf(mapping.name(n))));
  const src = source.objects;
  const tgt = target.objects;
  if (!src || !tgt) return extras;
  const tables = have(source.tables);
  for (const t of tgt.tables) {
    if (!tables.has(keyOf(t))) {
      extras.push({
        kind: 'table',
        object: name(t),
        status: 'extra',
        detail: 'only on the target',
      });
    }
  }
  const functions = new Set(src.functions.map((f) => `${keyOf(mapping.name(f))}\u0000${f.name}`));
  for (const f of tgt.functions) {
    if (!functions.has(`${keyOf(f)}\u0000${f.name}`)) {
      extras.push({
        kind: f.kind,
        object: `${name(f)}(${f.identity})`,
        status: 'extra',
        detail: 'only on the target',
      });
    }
  }
  const views = have(src.views);
  for (const v of tgt.views) {
    if (!views.has(keyOf(v))) {
      extras.push({
        kind: v.materialized ? 'materialized-view' : 'view',
        object: name(v),
        status: 'extra',
        detail: 'only on the target',
      });
    }
  }
  const triggers = new Set(
    src.triggers.map((t) => `${keyOf(mapping.name(t.table))}\u0000${t.name}`),
  );
  for (const t of tgt.triggers) {
    if (!triggers.has(`${keyOf(t.table)}\u0000${t.name}`)) {
      extras.push({
        kind: 'trigger',
        object: `${name(t.table)} ${t.name}`,
        status: 'extra',
        detail: `only on the target (${t.state === 'D' ? 'disabled' : 'enabled'})`,
      });
    }
  }
  return extras;
}

/** The text report: per kind, what was compared and each difference. */
export function formatCatalogComparison(c: CatalogComparison): string {
  const lines: string[] = [];
  const kinds = Object.keys(c.compared).sort();
  lines.push(`compared: ${kinds.map((k) => `${c.compared[k]} ${k}`).join(', ') || 'nothing'}`);
  const order: DifferenceStatus[] = ['missing', 'different', 'extra', 'not-carried', 'at-cutover'];
  for (const status of order) {
    const of = c.differences.filter((d) => d.status === status);
    if (of.length === 0) continue;
    lines.push(`${status}:`);
    for (const d of of) lines.push(`  ${d.kind} ${d.object}: ${d.detail}`);
  }
  lines.push(
    c.match
      ? 'the target matches the source (what waits for cutover and what is not carried is listed above)'
      : `the target differs from the source: ${order
          .slice(0, 3)
          .map((s) => `${c.differences.filter((d) => d.status === s).length} ${s}`)
          .join(', ')}`,
  );
  return `${lines.join('\n')}\n`;
}

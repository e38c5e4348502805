// The enum and domain types the synced tables use: created when the target lacks them, enum
// labels added in the source's order, anything else that differs reported as a mismatch.
import { quoteIdent, quoteLiteral } from '../../core/sql-identifier.js';
import { keyOf, qualified } from './name-mapping.js';
import type {
  ColumnType,
  CompositeDefinition,
  DomainDefinition,
  EnumDefinition,
  QualifiedName,
  RangeDefinition,
  SchemaCatalog,
  TableDefinition,
} from './schema-catalog-types.js';
import type { SchemaSyncDraft } from './schema-sync-draft.js';

export interface UsedTypes {
  enums: EnumDefinition[];
  /** Each after the domains its base type needs: CREATE DOMAIN needs the base type. */
  domains: DomainDefinition[];
  /** Composite and range types, each after the user types it is made of. */
  composites: CompositeDefinition[];
  ranges: RangeDefinition[];
}

/** The source's enums and domains that the tables' columns use (domains pull in their base types). */
export function collectUsedTypes(
  source: SchemaCatalog,
  tables: TableDefinition[],
  /** Types used elsewhere (functions' arguments and results). */
  also: readonly QualifiedName[] = [],
): UsedTypes {
  const enums = new Map(source.enums.map((e) => [keyOf(e), e]));
  const domains = new Map(source.domains.map((d) => [keyOf(d), d]));
  const composites = new Map((source.composites ?? []).map((c) => [keyOf(c), c]));
  const ranges = new Map((source.ranges ?? []).map((r) => [keyOf(r), r]));
  const used: UsedTypes = { enums: [], domains: [], composites: [], ranges: [] };
  const seen = new Set<string>();
  const useType = (type: ColumnType) => {
    const user = type.user;
    if (!user || user.kind === 'other' || seen.has(keyOf(user))) return;
    seen.add(keyOf(user));
    const e = enums.get(keyOf(user));
    if (e) used.enums.push(e);
    const d = domains.get(keyOf(user));
    if (d) {
      useType(d.baseType);
      // After its base type: CREATE DOMAIN needs it.
      used.domains.push(d);
    }
    const c = composites.get(keyOf(user));
    if (c) {
      for (const a of c.attributes) useType(a.type);
      used.composites.push(c);
    }
    const r = ranges.get(keyOf(user));
    if (r) {
      useType(r.subtype);
      used.ranges.push(r);
    }
  };
  for (const table of tables) for (const c of table.columns) useType(c.type);
  for (const t of also) {
    // Resolve the kind from the source's definitions (a name alone: look it up).
    const kind = enums.has(keyOf(t))
      ? 'enum'
      : domains.has(keyOf(t))
        ? 'domain'
        : composites.has(keyOf(t))
          ? 'composite'
          : ranges.has(keyOf(t))
            ? 'range'
            : undefined;
    if (kind) useType({ sql: `${t.schema}.${t.name}`, user: { ...t, kind }, array: false });
  }
  return used;
}

/** Enum labels to add (in source order, each placed next to a label the target has) or why not. */
function planEnumLabels(
  source: readonly string[],
  target: readonly string[],
): { add: { label: string; position: string }[] } | { conflict: string } {
  const extra = target.filter((l) => !source.includes(l));
  if (extra.length > 0) {
    return {
      conflict: `labels only on the target: ${extra.map((l) => quoteLiteral(l)).join(', ')}`,
    };
  }
  const order = target.map((l) => source.indexOf(l));
  if (order.some((v, i) => i > 0 && v < (order[i - 1] as number))) {
    return {
      conflict: `label order differs: target (${target.join(', ')}), source (${source.join(', ')})`,
    };
  }
  const have = new Set(target);
  const add: { label: string; position: string }[] = [];
  source.forEach((label, i) => {
    if (have.has(label)) return;
    const before = source
      .slice(0, i)
      .reverse()
      .find((l) => have.has(l));
    const after = source.slice(i + 1).find((l) => have.has(l));
    const position =
      before !== undefined
        ? ` AFTER ${quoteLiteral(before)}`
        : after !== undefined
          ? ` BEFORE ${quoteLiteral(after)}`
          : '';
    add.push({ label, position });
    have.add(label);
  });
  return { add };
}

export function planEnums(draft: SchemaSyncDraft, enums: EnumDefinition[]): void {
  const { mapping, statements } = draft;
  for (const e of enums) {
    const to = mapping.name(e);
    const existing = draft.targetEnums.get(keyOf(to));
    const object = draft.addObject('enum', e, to);
    if (!existing) {
      if (draft.targetDomains.has(keyOf(to)) || draft.targetTypes.has(keyOf(to))) {
        draft.reportMismatch(object, 'a type of this name exists on the target and is not an enum');
        continue;
      }
      draft.ensureSchema(to.schema);
      statements.types.push(
        `CREATE TYPE ${qualified(to)} AS ENUM (${e.labels.map((l) => quoteLiteral(l)).join(', ')})`,
      );
      object.status = 'create';
      object.actions.push('create type');
      continue;
    }
    const labels = planEnumLabels(e.labels, existing.labels);
    if ('conflict' in labels) {
      draft.reportMismatch(object, `enum ${labels.conflict} (not changed)`);
      continue;
    }
    for (const { label, position } of labels.add) {
      statements.types.push(
        `ALTER TYPE ${qualified(to)} ADD VALUE ${quoteLiteral(label)}${position}`,
      );
      object.actions.push(`add value ${quoteLiteral(label)}${position.toLowerCase()}`);
    }
    if (object.actions.length > 0) object.status = 'alter';
  }
}

export function planDomains(draft: SchemaSyncDraft, domains: DomainDefinition[]): void {
  const { mapping, statements } = draft;
  for (const d of domains) {
    const to = mapping.name(d);
    const existing = draft.targetDomains.get(keyOf(to));
    const object = draft.addObject('domain', d, to);
    if (existing) {
      if (!mapping.sameType(d.baseType, existing.baseType)) {
        draft.reportMismatch(
          object,
          `domain over ${existing.baseType.sql} on the target, over ${d.baseType.sql} on the source (not changed)`,
        );
      }
      continue;
    }
    if (draft.targetEnums.has(keyOf(to)) || draft.targetTypes.has(keyOf(to))) {
      draft.reportMismatch(object, 'a type of this name exists on the target and is not a domain');
      continue;
    }
    draft.ensureSchema(to.schema);
    const parts = [`CREATE DOMAIN ${qualified(to)} AS ${mapping.typeSql(d.baseType)}`];
    if (d.collation) parts.push(`COLLATE ${mapping.collation(d.collation)}`);
    if (d.default !== undefined) parts.push(`DEFAULT ${mapping.expression(d.default)}`);
    if (d.notNull) parts.push('NOT NULL');
    for (const check of d.checks) {
      parts.push(`CONSTRAINT ${quoteIdent(check.name)} ${mapping.expression(check.definition)}`);
    }
    statements.types.push(parts.join(' '));
    object.status = 'create';
    object.actions.push('create domain');
  }
}

/** Composite types: created when missing, a different attribute list reported. */
export function planComposites(draft: SchemaSyncDraft, composites: CompositeDefinition[]): void {
  const { mapping, statements } = draft;
  const target = new Map((draft.target.composites ?? []).map((c) => [keyOf(c), c]));
  for (const c of composites) {
    const to = mapping.name(c);
    const object = draft.addObject('composite', c, to);
    const attribute = (a: CompositeDefinition['attributes'][number], type: string) =>
      `${quoteIdent(a.name)} ${type}${a.collation ? ` COLLATE ${mapping.collation(a.collation)}` : ''}`;
    const have = target.get(keyOf(to));
    if (have) {
      const same =
        have.attributes.length === c.attributes.length &&
        c.attributes.every((a, i) => {
          const h = have.attributes[i];
          return h !== undefined && h.name === a.name && mapping.sameType(a.type, h.type);
        });
      if (!same)
        draft.reportMismatch(
          object,
          'composite type attributes differ on the target (not changed)',
        );
      continue;
    }
    if (draft.targetEnums.has(keyOf(to)) || draft.targetDomains.has(keyOf(to))) {
      draft.reportMismatch(
        object,
        'a type of this name exists on the target and is not a composite',
      );
      continue;
    }
    draft.ensureSchema(to.schema);
    statements.types.push(
      `CREATE TYPE ${qualified(to)} AS (${c.attributes.map((a) => attribute(a, mapping.typeSql(a.type))).join(', ')})`,
    );
    object.status = 'create';
    object.actions.push('create type');
  }
}

/** Range types: created when missing (subtype, collation, a built-in subtype_diff, multirange name). */
export function planRanges(draft: SchemaSyncDraft, ranges: RangeDefinition[]): void {
  const { mapping, statements } = draft;
  const target = new Map((draft.target.ranges ?? []).map((r) => [keyOf(r), r]));
  for (const r of ranges) {
    const to = mapping.name(r);
    const object = draft.addObject('range', r, to);
    const have = target.get(keyOf(to));
    if (have) {
      if (!mapping.sameType(r.subtype, have.subtype)) {
        draft.reportMismatch(
          object,
          `range over ${have.subtype.sql} on the target, over ${r.subtype.sql} on the source (not changed)`,
        );
      }
      continue;
    }
    draft.ensureSchema(to.schema);
    const options = [
      `SUBTYPE = ${mapping.typeSql(r.subtype)}`,
      ...(r.collation ? [`COLLATION = ${r.collation}`] : []),
      ...(r.subtypeDiff ? [`SUBTYPE_DIFF = ${r.subtypeDiff}`] : []),
      `MULTIRANGE_TYPE_NAME = ${qualified({ schema: to.schema, name: r.multirange })}`,
    ];
    statements.types.push(`CREATE TYPE ${qualified(to)} AS RANGE (${options.join(', ')})`);
    object.status = 'create';
    object.actions.push('create type');
  }
}

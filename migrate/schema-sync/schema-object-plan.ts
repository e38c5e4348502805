// Extensions, functions and procedures, views, materialized views and triggers on the target:
// created when missing (each executed with search_path = its target schema, so the names the
// source's deparser printed unqualified mean the target's objects), differences reported, and
// what waits for cutover: triggers are created DISABLED (and triggers already enabled on the
// target are disabled) so replicated writes never fire them, materialized views are created
// WITH NO DATA; cutover enables the one and refreshes the other.
import { quoteIdent, quoteLiteral } from '../../core/sql-identifier.js';
import { keyOf, qualified, rewriteSchemaReferences } from './name-mapping.js';
import type { QualifiedName, TableDefinition } from './schema-catalog-types.js';
import type {
  CollationDefinition,
  TriggerDefinition,
  TriggerState,
  ViewDefinition,
} from './schema-object-types.js';
import type { SchemaSyncDraft } from './schema-sync-draft.js';

export const TRIGGER_DISABLED_REASON =
  'created DISABLED: a trigger would fire again on replicated rows (e.g. overwrite a last_updated the source set); cutover enables it';
export const TRIGGER_FOUND_ENABLED_REASON =
  'enabled on the target: it would fire on replicated rows; disabled now, cutover enables it again';
export const MATVIEW_REASON =
  'created WITH NO DATA: its contents come from the replicated tables once they are final; cutover refreshes it';

/** A source definition for the target: qualified names of renamed schemas rewritten. */
const mapText = (draft: SchemaSyncDraft, sql: string): string =>
  rewriteSchemaReferences(sql, draft.mapping.renames);
const UNQUALIFIED = '\u0001';
/**
 * A definition for comparison: qualifiers naming a target schema dropped. A definition is read
 * with search_path = its schema, but a reader without USAGE on it gets every name qualified; both
 * spellings mean the same object once run with search_path = the target schema.
 */
const comparable = (draft: SchemaSyncDraft, sql: string): string => {
  const drop = new Map([...draft.mapping.targetCanon.keys()].map((s) => [s, UNQUALIFIED]));
  return rewriteSchemaReferences(sql, drop).split(`"${UNQUALIFIED}".`).join('');
};
/** A target definition and a mapped source definition compare equal when they mean the same. */
const sameText = (draft: SchemaSyncDraft, target: string, mappedSource: string): boolean =>
  comparable(draft, target) === comparable(draft, mappedSource);

/**
 * A function definition for the target: the header (arguments, return type, options) mapped like
 * any expression, `SET search_path` values naming a source schema mapped, the body left as is —
 * a quoted body is a string PostgreSQL does not parse here, and names in it are not rewritten.
 */
export function mapFunctionDefinition(
  renames: ReadonlyMap<string, string>,
  definition: string,
): string {
  const at = definition.search(/\n(AS |BEGIN ATOMIC|RETURN )/);
  const head = at < 0 ? definition : definition.slice(0, at);
  const body = at < 0 ? '' : definition.slice(at);
  const mappedHead = head
    .split('\n')
    .map((line) =>
      /^ SET search_path (TO|=) /.test(line)
        ? line.replace(/'((?:[^']|'')*)'/g, (whole, inner: string) => {
            const schema = inner.replace(/''/g, "'").replace(/^"(.*)"$/, '$1');
            const to = renames.get(schema);
            return to === undefined ? whole : quoteLiteral(quoteIdent(to));
          })
        : rewriteSchemaReferences(line, renames),
    )
    .join('\n');
  // A BEGIN ATOMIC / RETURN body is parsed SQL, printed like a view: map it too.
  const quoted = /^\nAS /.test(body);
  return mappedHead + (quoted ? body : rewriteSchemaReferences(body, renames));
}

/** Statements of one object, run with search_path = its target schema (set when it changes). */
export function pushInSchema(
  draft: SchemaSyncDraft,
  phase: string[],
  schema: string,
  sql: string[],
) {
  const last = draft.searchPathOf.get(phase);
  if (last !== schema) {
    phase.push(`SET LOCAL search_path TO ${quoteIdent(schema)}`);
    draft.searchPathOf.set(phase, schema);
  }
  phase.push(...sql);
}

export function planExtensions(draft: SchemaSyncDraft): void {
  const source = draft.source.objects;
  if (!source) return;
  const installed = new Map((draft.target.objects?.extensions ?? []).map((e) => [e.name, e]));
  const available = new Set(draft.target.objects?.availableExtensions ?? []);
  for (const e of source.extensions) {
    const schema = draft.mapping.renames.has(e.schema) ? draft.mapping.schema(e.schema) : e.schema;
    const object = draft.addObject(
      'extension',
      { schema: e.schema, name: e.name },
      { schema, name: e.name },
    );
    const have = installed.get(e.name);
    if (have) {
      if (have.schema !== schema) {
        object.notes.push(`installed in schema ${have.schema} on the target, ${schema} expected`);
      }
      continue;
    }
    if (!available.has(e.name)) {
      draft.reportMismatch(
        object,
        `extension ${e.name} (${e.version} on the source) is not available on the target server: install the package that provides it there (its ${e.name}.control must be in the server's extension directory), then run schema-sync again`,
      );
      draft.blocked.push(`extension ${e.name} is not available on the target`);
      continue;
    }
    // Its types exist for the tables created after it, in the same transaction.
    for (const t of e.types) draft.targetTypes.add(keyOf(t));
    draft.ensureSchema(schema);
    draft.statements.extensions.push(
      `CREATE EXTENSION IF NOT EXISTS ${quoteIdent(e.name)} WITH SCHEMA ${quoteIdent(schema)}`,
    );
    object.status = 'create';
    object.actions.push('create extension');
  }
}

const functionKey = (f: QualifiedName & { identity: string }): string =>
  `${keyOf(f)}\u0000${f.identity}`;

/** The kept tables, and the views schema-sync can create over them (by source name). */
function carriedRelations(draft: SchemaSyncDraft, kept: TableDefinition[]) {
  const tables = new Set(kept.map(keyOf));
  const views = new Set<string>();
  const readable = (n: QualifiedName) => tables.has(keyOf(n)) || views.has(keyOf(n));
  for (const v of orderViews(draft.source.objects?.views ?? [])) {
    if (v.uses.every(readable)) views.add(keyOf(v));
  }
  return { tables, views };
}

export function planFunctions(draft: SchemaSyncDraft, kept: TableDefinition[]): void {
  const source = draft.source.objects;
  if (!source) return;
  const { mapping } = draft;
  const carried = carriedRelations(draft, kept);
  const target = new Map(
    (draft.target.objects?.functions ?? []).map((f) => [
      functionKey({ ...f, identity: comparable(draft, f.identity) }),
      f,
    ]),
  );
  let first = true;
  for (const f of source.functions) {
    const to = mapping.name(f);
    const identity = mapText(draft, f.identity);
    const object = draft.addObject(
      f.kind,
      { schema: f.schema, name: `${f.name}(${f.identity})` },
      { schema: to.schema, name: `${f.name}(${identity})` },
    );
    // A SQL-standard body is checked when created: what it reads must be there.
    const missing = (f.uses ?? []).filter(
      (u) => !carried.tables.has(keyOf(u)) && !carried.views.has(keyOf(u)),
    );
    if (missing.length > 0) {
      const what = missing.map((u) => `${u.schema}.${u.name}`).join(', ');
      object.status = 'skipped';
      object.notes.push(`not created: its body reads ${what}`);
      draft.plan.notCopied.push({
        object: object.source,
        kind: f.kind,
        reason: `its body reads ${what}, which schema-sync does not create`,
      });
      continue;
    }
    const want = mapFunctionDefinition(mapping.renames, f.definition);
    const have = target.get(functionKey({ ...to, identity: comparable(draft, identity) }));
    if (have) {
      if (!sameText(draft, have.definition, want)) {
        draft.reportMismatch(object, `${f.kind} definition differs on the target (not changed)`);
      }
      continue;
    }
    if (first) {
      // As pg_dump does: a quoted body may use tables created later in this transaction.
      draft.statements.functions.push('SET LOCAL check_function_bodies = off');
      first = false;
    }
    draft.ensureSchema(to.schema);
    const phase = (f.uses ?? []).some((u) => carried.views.has(keyOf(u)))
      ? draft.statements.functionsAfterViews
      : f.readsRelations
        ? draft.statements.functionsAfterTables
        : draft.statements.functions;
    pushInSchema(draft, phase, to.schema, [
      `CREATE ${f.kind.toUpperCase()} ${qualified(to)}${want}`,
    ]);
    object.status = 'create';
    object.actions.push(`create ${f.kind}`);
    const renamed = [...mapping.renames].filter(([s, t]) => s !== t).map(([s]) => s);
    const named = renamed.filter((s) => new RegExp(`\\b${escapeRegExp(s)}\\.`).test(f.definition));
    if (named.length > 0) {
      object.notes.push(
        `its body names schema ${named.join(', ')}: bodies are strings and are not rewritten; check it on the target`,
      );
    }
  }
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Views in an order where each comes after the views it reads. */
function orderViews(views: ViewDefinition[]): ViewDefinition[] {
  const byKey = new Map(views.map((v) => [keyOf(v), v]));
  const done = new Set<string>();
  const out: ViewDefinition[] = [];
  const visit = (v: ViewDefinition, path: Set<string>) => {
    const k = keyOf(v);
    if (done.has(k) || path.has(k)) return;
    path.add(k);
    for (const u of v.uses) {
      const dep = byKey.get(keyOf(u));
      if (dep) visit(dep, path);
    }
    done.add(k);
    out.push(v);
  };
  for (const v of views) visit(v, new Set());
  return out;
}

const viewSql = (to: QualifiedName, v: ViewDefinition, query: string): string =>
  `CREATE ${v.materialized ? 'MATERIALIZED VIEW' : 'VIEW'} ${qualified(to)}${
    v.options.length > 0 ? ` WITH (${v.options.join(', ')})` : ''
  } AS\n${query}${v.materialized ? '\n  WITH NO DATA' : ''}`;

export function planViews(draft: SchemaSyncDraft, kept: TableDefinition[]): void {
  const source = draft.source.objects;
  if (!source) return;
  const { mapping } = draft;
  const target = new Map((draft.target.objects?.views ?? []).map((v) => [keyOf(v), v]));
  // Relations a view may read: kept tables and the views that are (or will be) on the target.
  const readable = new Set(kept.map(keyOf));
  const sourceViews = new Set(source.views.map(keyOf));
  for (const v of orderViews(source.views)) {
    const to = mapping.name(v);
    const kind = v.materialized ? 'materialized-view' : 'view';
    const object = draft.addObject(kind, v, to);
    const missing = v.uses.filter((u) => !readable.has(keyOf(u)));
    if (missing.length > 0) {
      object.status = 'skipped';
      const what = missing
        .map(
          (u) =>
            `${u.schema}.${u.name}${sourceViews.has(keyOf(u)) ? ' (a view not created)' : ' (not a synced table)'}`,
        )
        .join(', ');
      object.notes.push(`not created: it reads ${what}`);
      draft.plan.notCopied.push({
        object: object.source,
        kind,
        reason: `it reads ${what}, which schema-sync does not create`,
      });
      continue;
    }
    readable.add(keyOf(v));
    const query = mapText(draft, v.query);
    const have = target.get(keyOf(to));
    if (have) {
      if (
        have.materialized !== v.materialized ||
        !sameText(draft, have.query, query) ||
        have.options.join(',') !== v.options.join(',')
      ) {
        draft.reportMismatch(object, `${kind} definition differs on the target (not changed)`);
      }
    } else {
      draft.ensureSchema(to.schema);
      pushInSchema(draft, draft.statements.views, to.schema, [viewSql(to, v, query)]);
      object.status = 'create';
      object.actions.push(`create ${kind.replace('-', ' ')}`);
    }
    // Its indexes (REFRESH ... CONCURRENTLY needs a unique one), with the other indexes.
    const haveIndexes = new Map((have?.indexes ?? []).map((i) => [i.name, i.definition]));
    for (const index of v.indexes ?? []) {
      const want = mapText(draft, index.definition);
      const existing = haveIndexes.get(index.name);
      if (existing === undefined) {
        pushInSchema(draft, draft.statements.indexes, to.schema, [want]);
        object.actions.push(`create index ${index.name}`);
        if (object.status === 'up-to-date') object.status = 'alter';
      } else if (!sameText(draft, existing, want)) {
        draft.reportMismatch(object, `index ${index.name} differs on the target (not changed)`);
      }
    }
    if (v.materialized && !(have?.populated ?? false)) {
      draft.plan.atCutover.push({
        kind: 'refresh-materialized-view',
        object: object.target,
        schema: to.schema,
        name: to.name,
        reason: MATVIEW_REASON,
      });
    }
  }
}

const triggerKey = (t: { table: QualifiedName; name: string }): string =>
  `${keyOf(t.table)}\u0000${t.name}`;

/**
 * Triggers of the kept tables: created and then disabled in the same transaction, so no
 * replicated write ever fires them; target triggers found enabled are disabled. Each is recorded
 * (pgferry.cutover_triggers) with the state cutover restores — unless cutover already did.
 */
export function planTriggers(draft: SchemaSyncDraft, kept: TableDefinition[]): void {
  const source = draft.source.objects;
  if (!source) return;
  const { mapping } = draft;
  const keptKeys = new Set(kept.map(keyOf));
  const target = new Map((draft.target.objects?.triggers ?? []).map((t) => [triggerKey(t), t]));
  const enabledAtCutover = new Set(draft.options.triggersEnabledAtCutover ?? []);
  const planned = new Set<string>();
  const disable = (t: TriggerDefinition, to: QualifiedName, state: TriggerState, why: string) => {
    draft.statements.triggers.push(
      `ALTER TABLE ${qualified(to)} DISABLE TRIGGER ${quoteIdent(t.name)}`,
    );
    if (state !== 'D') {
      draft.plan.atCutover.push({
        kind: 'enable-trigger',
        object: `${to.schema}.${to.name} ${t.name}`,
        schema: to.schema,
        table: to.name,
        name: t.name,
        state,
        reason: why,
      });
    }
  };
  for (const t of source.triggers) {
    if (!keptKeys.has(keyOf(t.table))) continue;
    const toTable = mapping.name(t.table);
    const key = triggerKey({ table: toTable, name: t.name });
    planned.add(key);
    const object = draft.addObject(
      'trigger',
      { schema: t.table.schema, name: `${t.table.name} ${t.name}` },
      { schema: toTable.schema, name: `${toTable.name} ${t.name}` },
    );
    const want = mapText(draft, t.definition);
    const have = target.get(key);
    if (!have && t.foreignFunction !== undefined) {
      // CREATE TRIGGER would fail the whole transaction if the target lacks the function.
      object.status = 'skipped';
      object.notes.push(`not created: it executes ${t.foreignFunction}`);
      draft.plan.notCopied.push({
        object: object.source,
        kind: 'trigger',
        reason: `it executes ${t.foreignFunction}, in a schema schema-sync does not carry: sync that schema too (SOURCE_SCHEMAS), or create the trigger on the target by hand, disabled until cutover`,
      });
      continue;
    }
    if (!have) {
      pushInSchema(draft, draft.statements.triggers, toTable.schema, [want]);
      disable(t, toTable, t.state, TRIGGER_DISABLED_REASON);
      object.status = 'create';
      object.actions.push('create trigger (disabled until cutover)');
      continue;
    }
    if (!sameText(draft, have.definition, want)) {
      draft.reportMismatch(object, 'trigger definition differs on the target (not changed)');
    }
    if (enabledAtCutover.has(key)) continue;
    if (have.state !== 'D') {
      disable(t, toTable, t.state, TRIGGER_FOUND_ENABLED_REASON);
      if (object.status !== 'mismatch') object.status = 'alter';
      object.actions.push('disable trigger (enabled on the target; cutover enables it)');
    } else if (t.state !== 'D') {
      // Disabled by an earlier run: still enabled at cutover (the record is kept as it is).
      draft.plan.atCutover.push({
        kind: 'enable-trigger',
        object: `${toTable.schema}.${toTable.name} ${t.name}`,
        schema: toTable.schema,
        table: toTable.name,
        name: t.name,
        state: t.state,
        reason: TRIGGER_DISABLED_REASON,
      });
    }
  }
  // Triggers made on the target by hand fire on replicated rows just the same.
  for (const have of draft.target.objects?.triggers ?? []) {
    const key = triggerKey(have);
    if (planned.has(key) || have.state === 'D' || enabledAtCutover.has(key)) continue;
    const object = draft.addObject('trigger', have.table, {
      schema: have.table.schema,
      name: `${have.table.name} ${have.name}`,
    });
    object.source = '(target only)';
    disable(have, have.table, have.state, TRIGGER_FOUND_ENABLED_REASON);
    object.status = 'alter';
    object.actions.push('disable trigger (only on the target, enabled; cutover enables it)');
  }
}

/** Collations of the selected schemas: created when missing, a different definition reported. */
export function planCollations(draft: SchemaSyncDraft): void {
  const source = draft.source.objects;
  if (!source) return;
  const target = new Map((draft.target.objects?.collations ?? []).map((c) => [keyOf(c), c]));
  const describe = (c: CollationDefinition) =>
    [
      `provider = ${c.provider}`,
      ...(c.provider === 'icu' && c.locale !== undefined
        ? [`locale = ${quoteLiteral(c.locale)}`]
        : []),
      ...(c.provider === 'libc' && c.lcCollate !== undefined
        ? [`lc_collate = ${quoteLiteral(c.lcCollate)}`]
        : []),
      ...(c.provider === 'libc' && c.lcCtype !== undefined
        ? [`lc_ctype = ${quoteLiteral(c.lcCtype)}`]
        : []),
      ...(c.rules !== undefined ? [`rules = ${quoteLiteral(c.rules)}`] : []),
      `deterministic = ${c.deterministic}`,
    ].join(', ');
  for (const c of source.collations) {
    const to = draft.mapping.name(c);
    const object = draft.addObject('collation', c, to);
    const have = target.get(keyOf(to));
    if (have) {
      if (describe(have) !== describe(c)) {
        draft.reportMismatch(
          object,
          `collation differs on the target: ${describe(have)} (not changed)`,
        );
      }
      continue;
    }
    draft.ensureSchema(to.schema);
    draft.statements.collations.push(`CREATE COLLATION ${qualified(to)} (${describe(c)})`);
    object.status = 'create';
    object.actions.push('create collation');
  }
}

/**
 * Triggers on the carried views (INSTEAD OF ...): created as the source has them — replication
 * writes tables, never views, so they need not wait for cutover.
 */
export function planViewTriggers(draft: SchemaSyncDraft): void {
  const source = draft.source.objects;
  if (!source) return;
  const { mapping } = draft;
  const carried = new Set(
    draft.plan.objects
      .filter((o) => o.kind === 'view' && o.status !== 'skipped')
      .map((o) => o.target),
  );
  const target = new Map((draft.target.objects?.viewTriggers ?? []).map((t) => [triggerKey(t), t]));
  for (const t of source.viewTriggers) {
    const toView = mapping.name(t.table);
    if (!carried.has(`${toView.schema}.${toView.name}`)) continue;
    const object = draft.addObject(
      'trigger',
      { schema: t.table.schema, name: `${t.table.name} ${t.name}` },
      { schema: toView.schema, name: `${toView.name} ${t.name}` },
    );
    const want = mapText(draft, t.definition);
    const have = target.get(triggerKey({ table: toView, name: t.name }));
    if (have) {
      if (!sameText(draft, have.definition, want)) {
        draft.reportMismatch(object, 'trigger definition differs on the target (not changed)');
      }
      continue;
    }
    if (t.state === 'D') object.notes.push('disabled on the source, created enabled');
    pushInSchema(draft, draft.statements.triggers, toView.schema, [want]);
    object.status = 'create';
    object.actions.push('create trigger');
  }
}

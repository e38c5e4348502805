// Row-level security of the synced tables: ENABLE ROW LEVEL SECURITY and the policies created with
// the tables (the apply role owns them, and an owner is not subject to its tables' policies), but
// FORCE ROW LEVEL SECURITY left for cutover: it would apply the policies to that owner, and a
// replicated write a policy rejects would stop the table. Roles the policies name are mapped
// (--role-map) and must exist on the target: a missing one is reported and its policy not created.
import { quoteIdent } from '../../core/sql-identifier.js';
import { keyOf, qualified, rewriteSchemaReferences } from './name-mapping.js';
import type { QualifiedName, TableDefinition } from './schema-catalog-types.js';
import { pushInSchema } from './schema-object-plan.js';
import type { PolicyDefinition } from './schema-object-types.js';
import type { SchemaSyncDraft } from './schema-sync-draft.js';

const FORCE_REASON =
  'FORCE ROW LEVEL SECURITY applies the policies to the table owner, the role replication writes with: forced at cutover';

/** A source role's name on the target (--role-map), PUBLIC as is. */
export const mapRole = (draft: SchemaSyncDraft, role: string): string =>
  role === 'PUBLIC' ? role : (draft.options.roleMap?.[role] ?? role);

/** The roles of `roles` (mapped) the target lacks; none when the target's roles are unknown. */
export function missingRoles(draft: SchemaSyncDraft, roles: readonly string[]): string[] {
  const have = draft.target.objects?.roles;
  if (!have || have.length === 0) return [];
  const set = new Set(have);
  return roles.map((r) => mapRole(draft, r)).filter((r) => r !== 'PUBLIC' && !set.has(r));
}

const policyKey = (table: QualifiedName, name: string) => `${keyOf(table)}\u0000${name}`;

function policySql(
  draft: SchemaSyncDraft,
  to: QualifiedName,
  p: PolicyDefinition,
  sourceRoles = true,
): string {
  const map = (sql: string) => rewriteSchemaReferences(sql, draft.mapping.renames);
  const roles = p.roles
    .map((r) => (sourceRoles ? mapRole(draft, r) : r))
    .map((r) => (r === 'PUBLIC' ? r : quoteIdent(r)))
    .join(', ');
  return [
    `CREATE POLICY ${quoteIdent(p.name)} ON ${qualified(to)}`,
    `AS ${p.permissive ? 'PERMISSIVE' : 'RESTRICTIVE'} FOR ${p.command} TO ${roles}`,
    ...(p.using !== undefined ? [`USING (${map(p.using)})`] : []),
    ...(p.check !== undefined ? [`WITH CHECK (${map(p.check)})`] : []),
  ].join(' ');
}

export function planPolicies(draft: SchemaSyncDraft, kept: TableDefinition[]): void {
  const source = draft.source.objects;
  if (!source) return;
  const { mapping } = draft;
  const keptKeys = new Set(kept.map(keyOf));
  const targetSecurity = new Map(
    (draft.target.objects?.rowSecurity ?? []).map((r) => [keyOf(r.table), r]),
  );
  for (const r of source.rowSecurity) {
    if (!keptKeys.has(keyOf(r.table))) continue;
    const to = mapping.name(r.table);
    const have = targetSecurity.get(keyOf(to));
    if (r.enabled && !have?.enabled) {
      draft.statements.policies.push(`ALTER TABLE ${qualified(to)} ENABLE ROW LEVEL SECURITY`);
    }
    if (r.forced && !have?.forced) {
      draft.plan.deferred.push({
        object: `${to.schema}.${to.name}`,
        kind: 'row-security',
        reason: FORCE_REASON,
        table: to,
        statements: [`ALTER TABLE ${qualified(to)} FORCE ROW LEVEL SECURITY`],
      });
    }
  }
  const target = new Map(
    (draft.target.objects?.policies ?? []).map((p) => [policyKey(p.table, p.name), p]),
  );
  for (const p of source.policies) {
    if (!keptKeys.has(keyOf(p.table))) continue;
    const to = mapping.name(p.table);
    const object = draft.addObject(
      'policy',
      { schema: p.table.schema, name: `${p.table.name} ${p.name}` },
      { schema: to.schema, name: `${to.name} ${p.name}` },
    );
    const want = policySql(draft, to, p);
    const have = target.get(policyKey(to, p.name));
    if (have) {
      if (policySql(draft, to, have, false) !== want) {
        draft.reportMismatch(object, 'policy definition differs on the target (not changed)');
      }
      continue;
    }
    const missing = missingRoles(draft, p.roles);
    if (missing.length > 0) {
      draft.reportMismatch(
        object,
        `role ${missing.join(', ')} does not exist on the target: create it, or map it with --role-map <source role>:<target role> (policy not created)`,
      );
      continue;
    }
    pushInSchema(draft, draft.statements.policies, to.schema, [want]);
    object.status = 'create';
    object.actions.push('create policy');
  }
}

// Privileges and ownership of the carried objects (tables, views, materialized views, sequences,
// functions, procedures), with --role-map: the source's explicit grants the target's object lacks
// are granted (a role neither mapped nor on the target reported, its grants not made); the owner
// is left for cutover — pgferry's role owns the target objects while it replicates into them
// (schema evolution, disabling triggers) — as ALTER ... OWNER TO statements listed, not applied.
import { quoteIdent } from '../../core/sql-identifier.js';
import { qualified, rewriteSchemaReferences } from './name-mapping.js';
import { mapRole, missingRoles } from './policy-plan.js';
import { pushInSchema } from './schema-object-plan.js';
import type { GrantDefinition } from './schema-object-types.js';
import type { SchemaSyncDraft } from './schema-sync-draft.js';
import type { ObjectPlan } from './schema-sync-types.js';

const OWNER_REASON =
  "pgferry's role owns the target objects while it replicates into them (it changes and disables things on them): hand them to the application's owner at cutover (the role running it must be a member of that role)";

const grantKey = (g: Pick<GrantDefinition, 'kind' | 'name' | 'sub'>, schema: string) =>
  [g.kind === 'SEQUENCE' ? 'TABLE' : g.kind, schema, g.name, g.sub ?? ''].join('\u0000');

/** The plan object a grant belongs to (its kinds, target name as the plan spells it). */
function planObjectKeys(draft: SchemaSyncDraft, g: GrantDefinition, schema: string): string[] {
  const name = `${schema}.${g.name}`;
  if (g.kind === 'FUNCTION' || g.kind === 'PROCEDURE') {
    const sub = rewriteSchemaReferences(g.sub ?? '', draft.mapping.renames);
    return [`${g.kind.toLowerCase()}\u0000${name}(${sub})`];
  }
  if (g.kind === 'SEQUENCE') return [`sequence\u0000${name}`];
  return ['table', 'view', 'materialized-view'].map((k) => `${k}\u0000${name}`);
}

function objectSql(draft: SchemaSyncDraft, g: GrantDefinition, schema: string): string {
  const rel = qualified({ schema, name: g.name });
  if (g.kind === 'FUNCTION' || g.kind === 'PROCEDURE') {
    return `${g.kind} ${rel}(${rewriteSchemaReferences(g.sub ?? '', draft.mapping.renames)})`;
  }
  return `${g.kind} ${rel}`;
}

export function planGrants(draft: SchemaSyncDraft): void {
  const source = draft.source.objects;
  if (!source || draft.options.grants !== true) return;
  const target = new Map(
    (draft.target.objects?.grants ?? []).map((g) => [grantKey(g, g.schema), g]),
  );
  const objects = new Map<string, ObjectPlan>();
  for (const o of draft.plan.objects) objects.set(`${o.kind}\u0000${o.target}`, o);
  for (const g of source.grants) {
    const schema = draft.mapping.schema(g.schema);
    const object = planObjectKeys(draft, g, schema)
      .map((k) => objects.get(k))
      .find(Boolean);
    if (!object || !['create', 'alter', 'up-to-date'].includes(object.status)) continue;
    const have = target.get(grantKey(g, schema));
    const held = new Set(
      (have?.privileges ?? []).map((p) => `${p.grantee}\u0000${p.privilege}\u0000${p.grantable}`),
    );
    const what = objectSql(draft, g, schema);
    const missing = missingRoles(draft, [
      ...new Set([g.owner, ...g.privileges.map((p) => p.grantee)]),
    ]);
    // Reported, not failed: grants to roles the target does not need (the source's replication
    // roles) are common; the user maps or creates the ones the application needs.
    for (const role of missing) {
      draft.plan.notCopied.push({
        object: `${object.target} to ${role}`,
        kind: role === mapRole(draft, g.owner) ? 'owner' : 'grant',
        reason: `role ${role} does not exist on the target: create it, or map it with --role-map <source role>:<target role>`,
      });
    }
    const absent = new Set(missing);
    // One GRANT per grantee and grant option, the privileges the target lacks.
    const byGrantee = new Map<string, string[]>();
    for (const p of g.privileges) {
      const grantee = mapRole(draft, p.grantee);
      if (absent.has(grantee)) continue;
      if (held.has(`${grantee}\u0000${p.privilege}\u0000${p.grantable}`)) continue;
      const key = `${grantee}\u0000${p.grantable}`;
      byGrantee.set(key, [...(byGrantee.get(key) ?? []), p.privilege]);
    }
    const statements: string[] = [];
    for (const [key, privileges] of byGrantee) {
      const [grantee, grantable] = key.split('\u0000') as [string, string];
      statements.push(
        `GRANT ${privileges.join(', ')} ON ${what} TO ${grantee === 'PUBLIC' ? grantee : quoteIdent(grantee)}${grantable === 'true' ? ' WITH GRANT OPTION' : ''}`,
      );
    }
    if (statements.length > 0) {
      pushInSchema(draft, draft.statements.grants, schema, statements);
      object.actions.push(
        `grant to ${[...byGrantee.keys()].map((k) => k.split('\u0000')[0]).join(', ')}`,
      );
      if (object.status === 'up-to-date') object.status = 'alter';
    }
    const owner = mapRole(draft, g.owner);
    if (
      !absent.has(owner) &&
      have?.owner !== owner &&
      !(have === undefined && object.status !== 'create')
    ) {
      const alter =
        g.kind === 'FUNCTION' || g.kind === 'PROCEDURE'
          ? g.kind
          : object.kind === 'view'
            ? 'VIEW'
            : object.kind === 'materialized-view'
              ? 'MATERIALIZED VIEW'
              : g.kind;
      draft.plan.deferred.push({
        object: object.target,
        kind: 'owner',
        reason: `owned by ${g.owner} on the source: ${OWNER_REASON}`,
        statements: [`ALTER ${alter} ${what.replace(/^\S+ /, '')} OWNER TO ${quoteIdent(owner)}`],
      });
    }
  }
}

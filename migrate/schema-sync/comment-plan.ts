// COMMENT ON the carried objects (tables and their columns, views, sequences, functions,
// procedures, enums, domains, triggers, policies): set when the target's object has none, a
// different one noted (not changed). Only objects schema-sync creates or finds in step get one:
// a COMMENT ON an object that is not there would fail the whole transaction.
import { quoteIdent, quoteLiteral } from '../../core/sql-identifier.js';
import { qualified, rewriteSchemaReferences } from './name-mapping.js';
import { pushInSchema } from './schema-object-plan.js';
import type { CommentDefinition } from './schema-object-types.js';
import type { SchemaSyncDraft } from './schema-sync-draft.js';
import type { ObjectPlan } from './schema-sync-types.js';

/** The plan object a comment belongs to: its kind and target name as the plan spells them. */
function planObjectOf(
  draft: SchemaSyncDraft,
  c: CommentDefinition,
  schema: string,
): [string[], string] {
  switch (c.kind) {
    case 'TABLE':
    case 'COLUMN':
      return [['table'], `${schema}.${c.name}`];
    case 'VIEW':
      return [['view'], `${schema}.${c.name}`];
    case 'MATERIALIZED VIEW':
      return [['materialized-view'], `${schema}.${c.name}`];
    case 'SEQUENCE':
      return [['sequence'], `${schema}.${c.name}`];
    case 'FUNCTION':
    case 'PROCEDURE':
      return [
        ['function', 'procedure'],
        `${schema}.${c.name}(${rewriteSchemaReferences(c.sub ?? '', draft.mapping.renames)})`,
      ];
    case 'TYPE':
      return [['enum'], `${schema}.${c.name}`];
    case 'DOMAIN':
      return [['domain'], `${schema}.${c.name}`];
    default:
      // TRIGGER, POLICY: `<schema>.<table> <name>`.
      return [[c.kind.toLowerCase()], `${schema}.${c.name} ${c.sub}`];
  }
}

/** COMMENT ON's object, target names, quoted. */
function commentTarget(draft: SchemaSyncDraft, c: CommentDefinition, schema: string): string {
  const rel = qualified({ schema, name: c.name });
  switch (c.kind) {
    case 'COLUMN':
      return `COLUMN ${rel}.${quoteIdent(c.sub ?? '')}`;
    case 'FUNCTION':
    case 'PROCEDURE':
      return `${c.kind} ${rel}(${rewriteSchemaReferences(c.sub ?? '', draft.mapping.renames)})`;
    case 'TRIGGER':
    case 'POLICY':
      return `${c.kind} ${quoteIdent(c.sub ?? '')} ON ${rel}`;
    default:
      return `${c.kind} ${rel}`;
  }
}

const commentKey = (c: Pick<CommentDefinition, 'kind' | 'name' | 'sub'>, schema: string) =>
  [c.kind, schema, c.name, c.sub ?? ''].join('\u0000');

export function planComments(draft: SchemaSyncDraft): void {
  const source = draft.source.objects;
  if (!source) return;
  const target = new Map(
    (draft.target.objects?.comments ?? []).map((c) => [commentKey(c, c.schema), c.comment]),
  );
  const objects = new Map<string, ObjectPlan>();
  for (const o of draft.plan.objects) objects.set(`${o.kind}\u0000${o.target}`, o);
  for (const c of source.comments) {
    const schema = draft.mapping.schema(c.schema);
    const [kinds, name] = planObjectOf(draft, c, schema);
    const object = kinds.map((k) => objects.get(`${k}\u0000${name}`)).find(Boolean);
    // Not carried, or not created (a mismatch): no COMMENT ON it.
    if (!object || !['create', 'alter', 'up-to-date'].includes(object.status)) continue;
    if (object.source === '(target only)') continue;
    const have = target.get(commentKey(c, schema));
    if (have === c.comment) continue;
    const what = c.kind === 'COLUMN' ? `column ${c.sub}` : c.kind.toLowerCase();
    if (have !== undefined) {
      object.notes.push(`comment on ${what} differs on the target (not changed)`);
      continue;
    }
    pushInSchema(draft, draft.statements.comments, schema, [
      `COMMENT ON ${commentTarget(draft, c, schema)} IS ${quoteLiteral(c.comment)}`,
    ]);
    object.actions.push(`comment on ${what}`);
    if (object.status === 'up-to-date') object.status = 'alter';
  }
}

// The sequences the synced tables' defaults use: created (and owned by their column) when the
// target lacks them. Identity sequences are not created here; they come with their column.
import { quoteIdent, quoteLiteral } from '../../core/sql-identifier.js';
import { keyOf, qualified } from './name-mapping.js';
import type { QualifiedName, SequenceDefinition, TableDefinition } from './schema-catalog-types.js';
import type { SchemaSyncDraft } from './schema-sync-draft.js';

/** Identity sequences by their column (see identitySequenceKey). */
export type IdentitySequences = Map<string, SequenceDefinition>;

export const identitySequenceKey = (table: QualifiedName, column: string): string =>
  `${keyOf(table)}\u0000${column}`;

/** The options of CREATE SEQUENCE, also those of an identity column's sequence. */
export function sequenceOptions(s: SequenceDefinition): string {
  return `INCREMENT BY ${s.increment} MINVALUE ${s.min} MAXVALUE ${s.max} START WITH ${s.start} CACHE ${s.cache} ${s.cycle ? 'CYCLE' : 'NO CYCLE'}`;
}

/**
 * Plans the sequences that the kept tables own or name in a default; returns the identity
 * sequences, for the columns that create them.
 */
export function planSequences(
  draft: SchemaSyncDraft,
  sequences: SequenceDefinition[],
  kept: TableDefinition[],
): IdentitySequences {
  const { mapping, statements } = draft;
  const keptKeys = new Set(kept.map(keyOf));
  const identity: IdentitySequences = new Map();
  for (const s of sequences) {
    const owner = s.ownedBy;
    if (owner?.identity) {
      identity.set(identitySequenceKey(owner.table, owner.column), s);
      continue;
    }
    const usedByKept =
      (owner !== undefined && keptKeys.has(keyOf(owner.table))) ||
      kept.some((t) =>
        t.columns.some((c) => c.default?.includes(`${quoteLiteral(s.regclassText)}::regclass`)),
      );
    if (!usedByKept) continue;
    const to = mapping.name(s);
    const object = draft.addObject('sequence', s, to);
    if (draft.targetSequences.has(keyOf(to))) continue;
    draft.ensureSchema(to.schema);
    statements.sequences.push(
      `CREATE SEQUENCE ${qualified(to)} AS ${s.dataType} ${sequenceOptions(s)}`,
    );
    object.status = 'create';
    object.actions.push('create sequence');
    if (owner && keptKeys.has(keyOf(owner.table))) {
      statements.owners.push(
        `ALTER SEQUENCE ${qualified(to)} OWNED BY ${qualified(mapping.name(owner.table))}.${quoteIdent(owner.column)}`,
      );
    }
  }
  return identity;
}

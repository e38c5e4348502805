// Preflight checks of the captured tables on the source: that they resolve, and that each has a
// key pgferry can apply by: a primary key, a REPLICA IDENTITY USING INDEX index, or (no key at
// all) REPLICA IDENTITY FULL, whose changes apply by full-row match.
import { formatTableName } from '../migration-tables.js';
import {
  type CheckVerdict,
  fail,
  listNames,
  pass,
  type SourceFacts,
  warn,
} from './preflight-check.js';
import { qualifyTable, requireCapturedTables, toTableArrays } from './source-facts.js';

export type ReplicaIdentityVerdict = 'ok' | 'index-key' | 'keyless' | 'no-key' | 'nothing';

/**
 * pg_class.relreplident: d = default (the primary key), f = full, i = an index, n = nothing.
 * Without a primary key a default identity has no key at all: UPDATE and DELETE on a table in
 * the publication then fail on the source, and pgferry refuses it. USING INDEX: Debezium keys
 * the table by the index (index-key). FULL: no key, applied by full-row match (keyless).
 */
export function judgeReplicaIdentity(table: {
  hasPrimaryKey: boolean;
  identity: string;
}): ReplicaIdentityVerdict {
  if (table.identity === 'n') return 'nothing';
  if (table.hasPrimaryKey) return 'ok';
  if (table.identity === 'i') return 'index-key';
  if (table.identity === 'f') return 'keyless';
  return 'no-key';
}

export async function checkCapturedTables(facts: SourceFacts): Promise<CheckVerdict> {
  if (facts.tables === undefined) {
    return fail(`${facts.tablesError ?? 'unknown error'}: fix --tables or SOURCE_PUBLICATION`);
  }
  if (facts.tables.length === 0) {
    return warn(
      `no tables to capture (from ${facts.tablesFrom}): add tables to the publication, or name them with --tables`,
    );
  }
  const names = facts.tables.map(formatTableName);
  return pass(`${names.length} from ${facts.tablesFrom}: ${listNames(names)}`);
}

export async function checkKeys(facts: SourceFacts): Promise<CheckVerdict> {
  const tables = requireCapturedTables(facts);
  const result = await facts.client.query<{
    schema: string;
    name: string;
    identity: string;
    has_pk: boolean;
  }>(
    `SELECT t.schema, t.name, c.relreplident AS identity,
            EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p') AS has_pk
       FROM unnest($1::text[], $2::text[]) AS t(schema, name)
       JOIN pg_namespace n ON n.nspname = t.schema
       JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.name
      ORDER BY t.schema, t.name`,
    toTableArrays(tables),
  );
  const failures: string[] = [];
  const warnings: string[] = [];
  for (const row of result.rows) {
    const name = formatTableName(row);
    const alter = `ALTER TABLE ${qualifyTable(row)}`;
    switch (judgeReplicaIdentity({ hasPrimaryKey: row.has_pk, identity: row.identity })) {
      case 'ok':
        break;
      case 'nothing':
        failures.push(
          `${name}: REPLICA IDENTITY NOTHING, so UPDATE and DELETE fail on the source once it is published: ${alter} REPLICA IDENTITY DEFAULT`,
        );
        break;
      case 'no-key':
        failures.push(
          `${name}: no primary key and no replica identity: pgferry refuses it. Add a primary key, or ${alter} REPLICA IDENTITY FULL (applied by full-row match) or REPLICA IDENTITY USING INDEX <a unique index on NOT NULL columns>`,
        );
        break;
      case 'index-key':
        break; // Debezium keys it by the identity index; the target needs that unique index.
      case 'keyless':
        warnings.push(
          `${name}: no primary key, REPLICA IDENTITY FULL: replicated by full-row match (every update and delete finds its row by all columns: slow on a large table; a primary key is better), through a one-partition topic (\`pgferry connector apply\` makes it); \`pgferry copy\` does not load it: use Debezium's snapshot for it (\`pgferry connector apply --snapshot-keyless\`)`,
        );
        break;
    }
  }
  if (failures.length > 0) {
    return fail(
      `${failures.length} table(s) without a primary key or replica identity: add a primary key, or ALTER TABLE ... REPLICA IDENTITY FULL; pgferry refuses them as they are`,
      [...failures, ...warnings],
    );
  }
  if (warnings.length > 0) {
    return warn(
      `${warnings.length} table(s) without a key (REPLICA IDENTITY FULL): applied by full-row match, loaded by Debezium's snapshot`,
      warnings,
    );
  }
  return pass(
    `all ${tables.length} captured table(s) have a primary key or a REPLICA IDENTITY USING INDEX key`,
  );
}

// Preflight check of the target tables for `pgferry copy`: each is empty, or has copy bookkeeping
// (a copy to resume, or done). A table with rows and no copy bookkeeping, or one `pgferry run`
// already replicates, is one pgferry copy refuses (it never doubles nor silently empties rows):
// a WARN, since Debezium's own snapshot path (snapshot.mode=initial, no copy) fills tables itself.
// The privileges copy needs on the target (INSERT; TRUNCATE for --restart) are part of the
// privileges check (target-role-checks.ts).

import type pg from 'pg';
import { qualifiedName } from '../../core/sql-identifier.js';
import {
  resolveTargetSchema,
  type TargetSchemaChoice,
} from '../../pipeline/routing/schema-mapping.js';
import { hasBookkeepingTable } from '../../sink/bookkeeping/bookkeeping-schema.js';
import { type CopyState, readCopyTables } from '../../sink/bookkeeping/copy-rows.js';
import { readTableProgress } from '../../sink/bookkeeping/table-rows.js';
import { formatTableName, type MigrationTable } from '../migration-tables.js';
import { CheckSkipped, type CheckVerdict, describeError, pass, warn } from './preflight-check.js';

export interface CopyTargetFacts {
  /** The target table, schema.name (TARGET_SCHEMA applied). */
  table: string;
  exists: boolean;
  /** The table holds a row; undefined when not read (missing, bookkept, registered, unreadable). */
  hasRows?: boolean;
  /** Why emptiness could not be read. */
  readError?: string;
  /** Its row in pgferry.copy_tables. */
  copy?: { state: CopyState; chunksDone: number; chunksTotal: number; lastError: string | null };
  /** Registered in pgferry.tables: `pgferry run` prepared it for the stream. */
  registered: boolean;
}

const SNAPSHOT_PATH = "fine if you use Debezium's snapshot path";

export function judgeCopyTargets(tables: readonly CopyTargetFacts[]): CheckVerdict {
  let missing = 0;
  let empty = 0;
  let done = 0;
  let resumable = 0;
  const problems: string[] = [];
  for (const t of tables) {
    if (!t.exists) missing++;
    else if (t.copy?.state === 'done') done++;
    else if (t.copy !== undefined) {
      resumable++;
      if (t.copy.state === 'failed') {
        const why = t.copy.lastError?.trim().split('\n')[0];
        problems.push(
          `${t.table}: its copy failed at ${t.copy.chunksDone}/${t.copy.chunksTotal} chunks${why ? ` (${why})` : ''}: pgferry copy resumes it once the cause is fixed`,
        );
      }
    } else if (t.registered) {
      problems.push(
        `${t.table}: pgferry run already replicates it and it has no copy bookkeeping: pgferry copy would refuse it; ${SNAPSHOT_PATH}`,
      );
    } else if (t.readError !== undefined) {
      problems.push(`${t.table}: cannot tell whether it is empty (${t.readError})`);
    } else if (t.hasRows) {
      problems.push(
        `${t.table}: has rows but no copy bookkeeping: pgferry copy would refuse it (empty it, or pgferry copy --restart); ${SNAPSHOT_PATH}`,
      );
    } else empty++;
  }
  const counts = [
    `${empty} empty`,
    ...(done > 0 ? [`${done} copied`] : []),
    ...(resumable > 0 ? [`${resumable} with a copy to resume`] : []),
    ...(missing > 0
      ? [`${missing} not created yet (schema-sync creates them before the copy)`]
      : []),
  ].join(', ');
  const summary = `${tables.length} target table(s): ${counts}`;
  if (problems.length > 0) {
    return warn(`${summary}; ${problems.length} need attention before pgferry copy`, problems);
  }
  return pass(summary);
}

export async function checkCopyTargets(
  client: pg.ClientBase,
  captured: readonly MigrationTable[] | undefined,
  targetSchema: TargetSchemaChoice,
): Promise<CheckVerdict> {
  if (captured === undefined) {
    throw new CheckSkipped('not checked: the captured tables are unknown (see the source section)');
  }
  const tables = captured.map((t) => ({
    schema: resolveTargetSchema(targetSchema, t.schema),
    name: t.name,
  }));
  const existing = await client.query<{ schema: string; name: string }>(
    `SELECT t.schema, t.name FROM unnest($1::text[], $2::text[]) AS t(schema, name)
      WHERE to_regclass(format('%I.%I', t.schema, t.name)) IS NOT NULL`,
    [tables.map((t) => t.schema), tables.map((t) => t.name)],
  );
  const exists = new Set(existing.rows.map(formatTableName));
  const copies = new Map((await readCopyTables(client)).map((r) => [formatTableName(r), r]));
  const registered = new Set(
    (await hasBookkeepingTable(client, 'tables'))
      ? (await readTableProgress(client)).map(formatTableName)
      : [],
  );
  const facts: CopyTargetFacts[] = [];
  for (const t of tables) {
    const table = formatTableName(t);
    const copy = copies.get(table);
    const fact: CopyTargetFacts = {
      table,
      exists: exists.has(table),
      registered: registered.has(table),
      ...(copy === undefined
        ? {}
        : {
            copy: {
              state: copy.state,
              chunksDone: copy.chunksDone,
              chunksTotal: copy.chunksTotal,
              lastError: copy.lastError,
            },
          }),
    };
    if (fact.exists && copy === undefined && !fact.registered) {
      try {
        const row = await client.query(`SELECT 1 FROM ${qualifiedName(t.schema, t.name)} LIMIT 1`);
        fact.hasRows = (row.rowCount ?? 0) > 0;
      } catch (error) {
        fact.readError = describeError(error);
      }
    }
    facts.push(fact);
  }
  return judgeCopyTargets(facts);
}

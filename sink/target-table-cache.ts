// Which target table each source table's changes go to, read or prepared once per schema version:
// the first change of a new version creates or evolves the target table (DDL in its own short
// transaction); later batches of the same version find it here.
import type pg from 'pg';
import { PgferryError, SchemaIncompatibleError, TableStoppedError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { classifyPgError } from '../core/pg-errors.js';
import { BOOKKEEPING_SCHEMA } from '../pipeline/routing/bookkeeping-schema-name.js';
import { type RowChange, type TableRef, tableKey } from '../pipeline/row-change.js';
import {
  ensureTargetTable,
  loadTargetTable,
  type SchemaChangeListener,
  type TargetTable,
} from './target-table.js';

/** The source table's replica identity (pg_class.relreplident), undefined when it is gone. */
export type ReplicaIdentityLookup = (source: TableRef) => Promise<string | undefined>;

export class TargetTableCache {
  private readonly tables = new Map<string, TargetTable>();
  private readonly ensuredSchemas = new Set<string>();

  constructor(
    private readonly log: Logger,
    private readonly onSchemaChange?: SchemaChangeListener,
    private readonly replicaIdentityOf?: ReplicaIdentityLookup,
  ) {}

  private async requireFullIdentity(name: string, source: TableRef): Promise<void> {
    if (!this.replicaIdentityOf) {
      if (!this.warnedNoLookup.has(name)) {
        this.warnedNoLookup.add(name);
        this.log.warn(
          { table: name },
          'table without a primary key: SOURCE_DB_* not set, so its REPLICA IDENTITY FULL is not checked (updates and deletes need it)',
        );
      }
      return;
    }
    await requireFullIdentityOf(this.replicaIdentityOf, name, source);
  }

  private readonly warnedNoLookup = new Set<string>();

  /**
   * The target table for these changes of one source table (already mapped to its target name),
   * fit for every schema version among them; undefined when only truncates arrive for a table
   * the target does not have. Throws TableStoppedError when the target cannot follow.
   */
  async targetFor(
    client: pg.Client,
    ref: TableRef,
    changes: readonly RowChange[],
  ): Promise<TargetTable | undefined> {
    const target = await this.prepare(client, ref, changes);
    // Every batch of a keyless table (truncates too), not only its first: a topic may gain
    // partitions, and the sticky partitioner may keep to one for a while.
    if (target !== undefined && target.primaryKey.length === 0) {
      requireSinglePartition(tableKey(ref), changes);
    }
    return target;
  }

  private async prepare(
    client: pg.Client,
    ref: TableRef,
    changes: readonly RowChange[],
  ): Promise<TargetTable | undefined> {
    const name = tableKey(ref);
    // The routing refuses such events already; the sink, the bookkeeping's only writer, holds too.
    if (ref.schema === BOOKKEEPING_SCHEMA) {
      throw new TableStoppedError(
        name,
        `refusing to write ${name}: "${BOOKKEEPING_SCHEMA}" is pgferry's bookkeeping schema`,
      );
    }
    // Every schema version in the batch must fit the target (older versions are subsets).
    // Truncate events carry no key schema: they only need the table as it is.
    const versions = schemaVersionsOf(changes);
    let target = this.tables.get(name);
    if (versions.size === 0) {
      if (target) return target;
      target = await stopOnIncompatible(name, () => loadTargetTable(client, ref, this.log));
      if (target) this.tables.set(name, target);
      return target;
    }
    for (const [id, schema] of versions) {
      if (target && this.ensuredSchemas.has(`${name}\u0000${id}`)) continue;
      if (schema.primaryKey.length === 0) {
        await this.requireFullIdentity(name, (changes[0] as RowChange).table);
        requireSinglePartition(name, changes);
      }
      target = await stopOnIncompatible(name, async () => {
        try {
          return await ensureTargetTable(client, ref, schema, this.log, this.onSchemaChange);
        } catch (error) {
          if (classifyPgError(error) === 'retriable' || error instanceof PgferryError) throw error;
          throw new TableStoppedError(
            name,
            `cannot prepare target table ${name}: ${(error as Error).message}`,
            { cause: error },
          );
        }
      });
      this.tables.set(name, target);
      this.ensuredSchemas.add(`${name}\u0000${id}`);
    }
    if (!target) throw new TableStoppedError(name, `no schema for ${name}`);
    return target;
  }
}

/** The schema versions of a batch's row changes (truncates carry none), by schema id. */
function schemaVersionsOf(changes: readonly RowChange[]): Map<string, RowChange['schema']> {
  const versions = new Map<string, RowChange['schema']>();
  let last: RowChange['schema'] | undefined;
  for (const c of changes) {
    // Consecutive changes mostly share one schema object: one map write per run of them.
    if (c.op === 't' || c.schema === last) continue;
    last = c.schema;
    if (!versions.has(c.schema.id)) versions.set(c.schema.id, c.schema);
  }
  return versions;
}

/**
 * A keyless table is applied only when the source logs whole old rows (REPLICA IDENTITY FULL):
 * with DEFAULT or NOTHING and no primary key, the source refuses its updates and deletes while
 * they are published, or (a publication without them) changes it silently behind the stream.
 */
async function requireFullIdentityOf(
  lookup: ReplicaIdentityLookup,
  name: string,
  source: TableRef,
): Promise<void> {
  const identity = await lookup(source);
  if (identity === 'f' || identity === undefined) return; // undefined: the table is gone
  const kind = { d: 'DEFAULT', i: 'USING INDEX', n: 'NOTHING' }[identity];
  const table = `${source.schema}.${source.name}`;
  throw new TableStoppedError(
    name,
    `table ${table} has no primary key and REPLICA IDENTITY ${kind}: pgferry applies a table without a key by full-row match, which needs the source's whole old rows. Give it a primary key, or ALTER TABLE ${table} REPLICA IDENTITY FULL on the source (see README, "Tables without a primary key")`,
  );
}

/**
 * Debezium sends a keyless table's changes with a null Kafka key, spread over the partitions of
 * its topic: their order holds only in a single-partition topic. A change on any partition but 0
 * means more than one, and the table stops before anything of it applies out of order.
 */
function requireSinglePartition(name: string, changes: readonly RowChange[]): void {
  const stray = changes.find((c) => c.origin.partition !== 0);
  if (!stray) return;
  const table = `${stray.table.schema}.${stray.table.name}`;
  throw new TableStoppedError(
    name,
    `table ${table} has no primary key and its topic ${stray.origin.topic} has more than one partition (a change arrived on partition ${stray.origin.partition}): Debezium sends a keyless table's changes without a Kafka key, so their order holds only in a single-partition topic. Delete the topic and reload the table with a one-partition topic (\`pgferry connector apply\` has Connect create keyless tables' topics so), or give the table a primary key`,
  );
}

async function stopOnIncompatible<T>(table: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof SchemaIncompatibleError) {
      throw new TableStoppedError(table, error.message, { cause: error });
    }
    throw error;
  }
}

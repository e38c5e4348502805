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

export class TargetTableCache {
  private readonly tables = new Map<string, TargetTable>();
  private readonly ensuredSchemas = new Set<string>();

  constructor(
    private readonly log: Logger,
    private readonly onSchemaChange?: SchemaChangeListener,
  ) {}

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
    const versions = new Map(
      changes.filter((c) => c.op !== 't').map((c) => [c.schema.id, c.schema]),
    );
    let target = this.tables.get(name);
    if (versions.size === 0) {
      if (target) return target;
      target = await stopOnIncompatible(name, () => loadTargetTable(client, ref, this.log));
      if (target) this.tables.set(name, target);
      return target;
    }
    for (const [id, schema] of versions) {
      if (target && this.ensuredSchemas.has(`${name}\u0000${id}`)) continue;
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

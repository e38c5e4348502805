// The PostgreSQL sink (the pipeline's ChangeSink and OffsetStore). `stage` writes one chunk of one
// partition into an open target transaction: DDL first (target-table-cache.ts), then per table
// COPY + guarded merge (table-apply.ts); the StagedBatch it returns commits the rows together with
// the partition's offset and the tables' progress, so a crash anywhere leaves all of it or none.
import type pg from 'pg';
import type { PostgresSettings } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import type {
  ChangeBatch,
  ChangeSink,
  CommitResult,
  OffsetStore,
  RejectedChange,
  StagedBatch,
} from '../pipeline/ports.js';
import { type RowChange, type TableRef, tableKey } from '../pipeline/row-change.js';
import { type ApplySession, ApplySessionPool } from './apply-session-pool.js';
import {
  advanceOffsetsSql,
  beginAndLockOffsetsSql,
  highestPosition,
  tableProgressSql,
} from './bookkeeping/batch-bookkeeping-sql.js';
import { ensureBookkeeping } from './bookkeeping/bookkeeping-schema.js';
import { readStoredOffsets } from './bookkeeping/offset-rows.js';
import { type ApplyTimings, applyTableChanges, ROW_SAVEPOINT } from './table-apply.js';
import { recordTruncateOnly, type SchemaChangeListener, type TargetTable } from './target-table.js';
import { type ReplicaIdentityLookup, TargetTableCache } from './target-table-cache.js';

export interface PostgresSinkOptions {
  settings: PostgresSettings;
  log: Logger;
  /** Map a source table to its target table (default: same schema and name). */
  mapTable?: (source: TableRef) => TableRef;
  /** Told of every DDL the sink applies to the target (for metrics). */
  onSchemaChange?: SchemaChangeListener;
  /** The source's replica identity of a table, to refuse keyless tables that are not FULL. */
  replicaIdentityOf?: ReplicaIdentityLookup;
  /** Batches staged at once, each on its own target session (APPLY_CONCURRENCY); default 1. */
  concurrency?: number;
}

/** A committed batch as `writeBatch` reports it. */
export interface SinkResult extends CommitResult {
  rejected: RejectedChange[];
  alreadyApplied: boolean;
}

export class PostgresSink implements ChangeSink, OffsetStore {
  private readonly sessions: ApplySessionPool;
  private readonly targets: TargetTableCache;
  private readonly mapTable: (source: TableRef) => TableRef;
  /** Target tables are prepared (DDL) one batch at a time, whichever session it runs on. */
  private preparing: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: PostgresSinkOptions) {
    this.mapTable = options.mapTable ?? ((t) => t);
    this.sessions = new ApplySessionPool(options.concurrency ?? 1, options.settings, options.log);
    this.targets = new TargetTableCache(
      options.log,
      options.onSchemaChange,
      options.replicaIdentityOf,
    );
  }

  /** True while the sink holds a live target connection (dropped on connection errors). */
  get isConnected(): boolean {
    return this.sessions.isConnected;
  }

  /** Batches that may be staged at once (APPLY_CONCURRENCY). */
  get concurrency(): number {
    return this.sessions.size;
  }

  async start(): Promise<void> {
    await this.sessions.start();
  }

  async stop(): Promise<void> {
    await this.sessions.close();
  }

  /** Offsets the target holds for topics (topic -> partition -> next offset), to seek on assignment. */
  async storedOffsets(
    groupId: string,
    topics: readonly string[],
  ): Promise<Map<string, Map<number, string>>> {
    // Its own short connection: this runs on rebalance, possibly while a batch transaction is
    // open on the sink's connection, and must not interleave with it.
    const client = await this.sessions.connect('pgferry-offsets');
    try {
      await ensureBookkeeping(client);
      return await readStoredOffsets(client, groupId, topics);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async stage(batch: ChangeBatch, options: { deadLetters: number }): Promise<StagedBatch> {
    const session = await this.sessions.acquire();
    try {
      return await this.stageOn(session, batch, options);
    } catch (error) {
      this.sessions.release(session);
      throw error;
    }
  }

  /** Stages on `session`, which the returned batch releases when it commits or aborts. */
  private async stageOn(
    session: ApplySession,
    batch: ChangeBatch,
    options: { deadLetters: number },
  ): Promise<StagedBatch> {
    const { connection } = session;
    let client: pg.Client;
    try {
      client = await connection.session();
    } catch (error) {
      throw connection.classify(error);
    }
    const timings: ApplyTimings = { copy: 0, merge: 0, commit: 0 };
    const byTable = groupByTable(batch.changes);
    const targets = await this.prepareTargets(session, client, byTable);
    // The first table's row savepoint goes with BEGIN when nothing runs before its rows (a keyed
    // table without truncates): one round trip less per batch, most of a small batch's cost.
    const [firstKey, firstGroup] = byTable.entries().next().value ?? [];
    const savepointWithBegin =
      firstKey !== undefined &&
      (targets.get(firstKey)?.primaryKey.length ?? 0) > 0 &&
      !firstGroup?.changes.some((c) => c.op === 't');
    try {
      const opened = (await client.query(
        `${beginAndLockOffsetsSql(batch)}${savepointWithBegin ? `;\nSAVEPOINT ${ROW_SAVEPOINT}` : ''}`,
      )) as unknown as pg.QueryResult<{ next_offset: string }>[];
      const storedNext = BigInt(opened[1]?.rows[0]?.next_offset ?? '0');
      if (storedNext >= BigInt(batch.nextOffset)) {
        await client.query('COMMIT');
        this.sessions.release(session);
        return alreadyApplied(timings);
      }
      const rejected: RejectedChange[] = [];
      const ctx = {
        client,
        log: this.options.log,
        stagingTables: session.stagingTables,
        timings,
        rejected,
        savepointOpen: savepointWithBegin,
      };
      const tables: CommitResult['tables'] = [];
      const bookkeeping: string[] = [];
      let applied = 0;
      for (const [k, group] of byTable) {
        // Only the first table may use the savepoint opened with BEGIN: anything run after it
        // (another table's rows, a truncate) would be undone by a rejected row's rollback to it.
        if (k !== firstKey) ctx.savepointOpen = false;
        // A replayed chunk whose first part the target has already: only the rest applies.
        const fresh =
          batch.firstOffset !== undefined && BigInt(batch.firstOffset) >= storedNext
            ? group.changes
            : group.changes.filter((c) => BigInt(c.origin.offset) >= storedNext);
        if (fresh.length === 0) continue;
        const target = targets.get(k);
        if (!target) {
          // Only truncates, for a table the target does not have: nothing to delete, but
          // rows older than the truncate that arrive later must still be skipped.
          await recordTruncateOnly(client, this.mapTable(group.source), highestPosition(fresh));
          continue;
        }
        tables.push({ table: k, ...(await applyTableChanges(ctx, target, fresh)) });
        applied += fresh.length;
        bookkeeping.push(tableProgressSql(target.ref, batch, fresh));
      }
      bookkeeping.push(advanceOffsetsSql(batch));
      // Dead letters to produce: the bookkeeping first, so that its failure (a lock wait, a
      // deadlock with another process on the table's row) comes before they are sent and a
      // retry does not send them twice. Otherwise it goes with COMMIT in one round trip.
      const settledEarly = rejected.length > 0 || options.deadLetters > 0;
      if (settledEarly) await client.query(bookkeeping.join(';\n'));
      const finish = settledEarly ? 'COMMIT' : `${bookkeeping.join(';\n')};\nCOMMIT`;
      return this.openBatch(
        session,
        client,
        finish,
        { applied, tables, timingsMs: timings },
        rejected,
      );
    } catch (error) {
      await rollback(session, client);
      throw connection.classify(error);
    }
  }

  /**
   * The target table of each table in the batch, DDL first, each in its own short transaction
   * (creating or evolving target tables). One batch at a time: two sessions preparing the same
   * new table would both create it.
   */
  private prepareTargets(
    session: ApplySession,
    client: pg.Client,
    byTable: Map<string, { source: TableRef; changes: RowChange[] }>,
  ): Promise<Map<string, TargetTable | undefined>> {
    const prepared = this.preparing.then(async () => {
      const targets = new Map<string, TargetTable | undefined>();
      try {
        for (const [k, group] of byTable) {
          targets.set(
            k,
            await this.targets.targetFor(client, this.mapTable(group.source), group.changes),
          );
        }
      } catch (error) {
        throw session.connection.classify(error);
      }
      return targets;
    });
    this.preparing = prepared.catch(() => undefined);
    return prepared;
  }

  /**
   * Stage and commit in one call, for callers with nothing to dead-letter between the two (the
   * bench's sink replay, tests); `beforeCommit` sees the rejected rows before the commit.
   */
  async writeBatch(
    batch: ChangeBatch,
    hooks: {
      beforeCommit?: (rejected: RejectedChange[]) => Promise<void>;
      deadLetters?: number;
    } = {},
  ): Promise<SinkResult> {
    const staged = await this.stage(batch, { deadLetters: hooks.deadLetters ?? 0 });
    const rejected = [...staged.rejected];
    try {
      // A batch the target already had commits nothing: there is nothing to hand on.
      if (!staged.alreadyApplied) await hooks.beforeCommit?.(rejected);
    } catch (error) {
      await staged.abort();
      throw error;
    }
    const committed = await staged.commit();
    return { ...committed, rejected, alreadyApplied: staged.alreadyApplied };
  }

  private openBatch(
    session: ApplySession,
    client: pg.Client,
    finish: string,
    result: CommitResult,
    rejected: RejectedChange[],
  ): StagedBatch {
    let settled = false;
    const settle = () => {
      if (settled) throw new Error('staged batch already committed or aborted');
      settled = true;
    };
    return {
      alreadyApplied: false,
      rejected,
      commit: async () => {
        settle();
        const commitStart = performance.now();
        try {
          // An error in a bookkeeping update ends the query before COMMIT: roll back.
          await client.query(finish);
        } catch (error) {
          await rollback(session, client);
          throw session.connection.classify(error);
        } finally {
          this.sessions.release(session);
        }
        result.timingsMs.commit += performance.now() - commitStart;
        return result;
      },
      abort: async () => {
        settle();
        try {
          await rollback(session, client);
        } finally {
          this.sessions.release(session);
        }
      },
    };
  }
}

async function rollback(session: ApplySession, client: pg.Client): Promise<void> {
  await client.query('ROLLBACK').catch(() => undefined);
  // Staging tables created in this transaction are gone with it: create them again.
  session.stagingTables.clear();
}

function groupByTable(
  changes: readonly RowChange[],
): Map<string, { source: TableRef; changes: RowChange[] }> {
  const byTable = new Map<string, { source: TableRef; changes: RowChange[] }>();
  const first = changes[0];
  if (first === undefined) return byTable;
  // A topic names one table: a batch is nearly always one table's, kept as it is.
  const { schema, name } = first.table;
  // Transform gives consecutive changes of one table the same TableRef: compared by identity first.
  if (
    changes.every(
      (c) => c.table === first.table || (c.table.name === name && c.table.schema === schema),
    )
  ) {
    byTable.set(tableKey(first.table), { source: first.table, changes: changes as RowChange[] });
    return byTable;
  }
  for (const change of changes) {
    const k = tableKey(change.table);
    let group = byTable.get(k);
    if (!group) {
      group = { source: change.table, changes: [] };
      byTable.set(k, group);
    }
    group.changes.push(change);
  }
  return byTable;
}

function alreadyApplied(timings: ApplyTimings): StagedBatch {
  return {
    alreadyApplied: true,
    rejected: [],
    commit: async () => ({ applied: 0, tables: [], timingsMs: timings }),
    abort: async () => undefined,
  };
}

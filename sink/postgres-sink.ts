// The PostgreSQL sink. `writeBatch` applies one batch of one partition and records its Kafka
// offset in the same target transaction, so a crash anywhere leaves either all of it or none.
// Per table: COPY into a session staging table, then the guarded merge (merge-sql.ts). Rows the
// target rejects are isolated by bisection under savepoints and handed back for the DLQ before
// the commit; the rest of the batch still applies.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { PostgresSettings } from '../core/config.js';
import { PgferryError, RetriableError, SchemaIncompatibleError } from '../core/errors.js';
import { faultPoint, faultPointArmed } from '../core/fault-points.js';
import type { Logger } from '../core/logger.js';
import { connectPg } from '../core/pg-connection.js';
import { classifyPgError, isAuthenticationFailure } from '../core/pg-errors.js';
import { quoteLiteral } from '../core/sql-identifier.js';
import {
  type RowChange,
  type TableRef,
  tableKey,
  UNCHANGED_TOAST,
} from '../pipeline/row-change.js';
import { ensureBookkeeping, offsetsTable, readStoredOffsets, tablesTable } from './bookkeeping.js';
import { encodeCopyRow, inChunks } from './copy-text.js';
import {
  copyIntoStagingSql,
  createStagingTableSql,
  mergeSql,
  type StagingTable,
  truncateSql,
} from './merge-sql.js';
import {
  ensureTargetTable,
  loadTargetTable,
  recordTruncateOnly,
  type SchemaChangeListener,
  type TargetTable,
} from './target-table.js';

export interface SinkBatch {
  groupId: string;
  topic: string;
  partition: number;
  /** Offset after the last record of the batch: stored as the partition's next offset. */
  nextOffset: string;
  changes: RowChange[];
}

export interface RejectedChange {
  change: RowChange;
  error: Error;
}

export interface SinkResult {
  /** Changes handed to the merge (after the offset filter); the position guard may skip some. */
  applied: number;
  rejected: RejectedChange[];
  /** True when the target already had this batch (replay after a crash or rebalance). */
  alreadyApplied: boolean;
  /** Rows affected per table and statement kind, for metrics. */
  tables: { table: string; upserted: number; deleted: number }[];
  /** Milliseconds spent in COPY, the merge statements and COMMIT, for stage metrics. */
  timingsMs: { copy: number; merge: number; commit: number };
}

export interface WriteBatchHooks {
  /** Runs inside the transaction just before COMMIT (the DLQ produce goes here). */
  beforeCommit?: (rejected: RejectedChange[]) => Promise<void>;
  /** Poison records beforeCommit dead-letters besides the rejected rows (from processing). */
  deadLetters?: number;
}

/** The target cannot take this table's changes until an operator acts; other tables continue. */
export class TableStoppedError extends PgferryError {
  constructor(
    readonly table: string,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, { retriable: false, cause: options.cause });
  }
}

export interface PostgresSinkOptions {
  settings: PostgresSettings;
  log: Logger;
  /** Map a source table to its target table (default: same schema and name). */
  mapTable?: (source: TableRef) => TableRef;
  /** Told of every DDL the sink applies to the target (for metrics). */
  onSchemaChange?: SchemaChangeListener;
}

class RejectedRowError extends Error {}

function highestPosition(changes: readonly RowChange[]): bigint {
  let highest = 0n;
  for (const c of changes) if (c.position > highest) highest = c.position;
  return highest;
}

export class PostgresSink {
  private client: pg.Client | undefined;
  private readonly tables = new Map<string, TargetTable>();
  private readonly ensuredSchemas = new Set<string>();
  private readonly stagingTables = new Set<string>();
  private readonly mapTable: (source: TableRef) => TableRef;
  private timings = { copy: 0, merge: 0, commit: 0 };
  private connecting: Promise<pg.Client> | undefined;
  /** Once a login succeeded, a refused one (a rotated password) is retried like an outage. */
  private loggedInOnce = false;

  constructor(private readonly options: PostgresSinkOptions) {
    this.mapTable = options.mapTable ?? ((t) => t);
  }

  /** True while the sink holds a live target connection (dropped on connection errors). */
  get isConnected(): boolean {
    return this.client !== undefined;
  }

  async start(): Promise<void> {
    await this.connection();
  }

  async stop(): Promise<void> {
    // A connect still in flight would otherwise leave a client (and the process) alive.
    const pending = await this.connecting?.catch(() => undefined);
    const client = this.client ?? pending;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  /** Offsets the target holds for a topic (partition -> next offset), to seek on assignment. */
  async storedOffsets(groupId: string, topic: string): Promise<Map<number, string>> {
    // Its own short connection: this runs on rebalance, possibly while a batch transaction is
    // open on the sink's connection, and must not interleave with it.
    const client = await this.connectTarget('pgferry-offsets');
    try {
      await ensureBookkeeping(client);
      return await readStoredOffsets(client, groupId, topic);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async writeBatch(batch: SinkBatch, hooks: WriteBatchHooks = {}): Promise<SinkResult> {
    return this.withRetriable(async (client) => {
      this.timings = { copy: 0, merge: 0, commit: 0 };
      const byTable = new Map<string, { source: TableRef; changes: RowChange[] }>();
      for (const change of batch.changes) {
        const k = tableKey(change.table);
        let group = byTable.get(k);
        if (!group) {
          group = { source: change.table, changes: [] };
          byTable.set(k, group);
        }
        group.changes.push(change);
      }
      // DDL first, each in its own short transaction (creating or evolving target tables).
      const targets = new Map<string, TargetTable | undefined>();
      for (const [k, group] of byTable)
        targets.set(k, await this.targetFor(client, group.source, group.changes));

      // One round trip: open the transaction, make sure the partition has its offsets row, and
      // lock it (ON CONFLICT DO UPDATE locks the existing row like FOR UPDATE) while reading it.
      const partitionMatch = `group_id = ${quoteLiteral(batch.groupId)} AND topic = ${quoteLiteral(batch.topic)} AND partition = ${safeInteger(batch.partition)}`;
      try {
        const opened = (await client.query(
          `BEGIN; INSERT INTO ${offsetsTable()} AS o (group_id, topic, partition, next_offset) VALUES (${quoteLiteral(batch.groupId)}, ${quoteLiteral(batch.topic)}, ${safeInteger(batch.partition)}, 0) ON CONFLICT (group_id, topic, partition) DO UPDATE SET next_offset = o.next_offset RETURNING next_offset`,
        )) as unknown as pg.QueryResult<{ next_offset: string }>[];
        const stored = opened[1] as pg.QueryResult<{ next_offset: string }>;
        const storedNext = BigInt(stored.rows[0]?.next_offset ?? '0');
        if (storedNext >= BigInt(batch.nextOffset)) {
          await client.query('COMMIT');
          return {
            applied: 0,
            rejected: [],
            alreadyApplied: true,
            tables: [],
            timingsMs: this.timings,
          };
        }
        const rejected: RejectedChange[] = [];
        const tableStats: SinkResult['tables'] = [];
        const bookkeeping: string[] = [];
        let applied = 0;
        for (const [k, group] of byTable) {
          const fresh = group.changes.filter((c) => BigInt(c.origin.offset) >= storedNext);
          if (fresh.length === 0) continue;
          const target = targets.get(k);
          if (!target) {
            // Only truncates, for a table the target does not have: nothing to delete, but
            // rows older than the truncate that arrive later must still be skipped.
            await recordTruncateOnly(client, this.mapTable(group.source), highestPosition(fresh));
            continue;
          }
          const stats = await this.applyTable(client, target, fresh, rejected);
          applied += fresh.length;
          tableStats.push({ table: k, ...stats });
          const maxPosition = highestPosition(fresh);
          const maxTs = Math.trunc(fresh.reduce((m, c) => Math.max(m, c.sourceTsMs), 0)) || 0;
          bookkeeping.push(
            `UPDATE ${tablesTable()} SET last_position = GREATEST(COALESCE(last_position, 0), ${maxPosition.toString()}),
               last_source_ts = GREATEST(last_source_ts, to_timestamp(${safeInteger(maxTs)}::double precision / 1000)),
               last_applied_at = now(), changes_applied = changes_applied + ${fresh.length}
             WHERE table_schema = ${quoteLiteral(target.ref.schema)} AND table_name = ${quoteLiteral(target.ref.name)}`,
          );
        }
        bookkeeping.push(
          `UPDATE ${offsetsTable()} SET next_offset = GREATEST(next_offset, ${BigInt(batch.nextOffset).toString()}), updated_at = now() WHERE ${partitionMatch}`,
        );
        if (rejected.length > 0 || (hooks.deadLetters ?? 0) > 0) {
          // Dead letters to produce: the bookkeeping first, so that its failure (a lock wait, a
          // deadlock with another process on the table's row) comes before they are sent and a
          // retry does not send them twice.
          await client.query(bookkeeping.join(';\n'));
          await hooks.beforeCommit?.(rejected);
          const commitStart = performance.now();
          await client.query('COMMIT');
          this.timings.commit += performance.now() - commitStart;
        } else {
          await hooks.beforeCommit?.(rejected);
          // The bookkeeping and the commit in one round trip: an error in an update ends the
          // query before COMMIT, and the catch below rolls back.
          const commitStart = performance.now();
          await client.query(`${bookkeeping.join(';\n')};\nCOMMIT`);
          this.timings.commit += performance.now() - commitStart;
        }
        return {
          applied,
          rejected,
          alreadyApplied: false,
          tables: tableStats,
          timingsMs: this.timings,
        };
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        // Staging tables created in this transaction are gone with it: create them again.
        this.stagingTables.clear();
        throw error;
      }
    });
  }

  private async targetFor(
    client: pg.Client,
    source: TableRef,
    changes: RowChange[],
  ): Promise<TargetTable | undefined> {
    const ref = this.mapTable(source);
    const name = tableKey(ref);
    // Every schema version in the batch must fit the target (older versions are subsets).
    // Truncate events carry no key schema: they only need the table as it is.
    const versions = new Map(
      changes.filter((c) => c.op !== 't').map((c) => [c.schema.id, c.schema]),
    );
    let target = this.tables.get(name);
    if (versions.size === 0) {
      if (target) return target;
      try {
        target = await loadTargetTable(client, ref, this.options.log);
      } catch (error) {
        if (error instanceof SchemaIncompatibleError) {
          throw new TableStoppedError(name, error.message, { cause: error });
        }
        throw error;
      }
      if (target) this.tables.set(name, target);
      return target;
    }
    for (const [id, schema] of versions) {
      if (target && this.ensuredSchemas.has(`${name}\u0000${id}`)) continue;
      try {
        target = await ensureTargetTable(
          client,
          ref,
          schema,
          this.options.log,
          this.options.onSchemaChange,
        );
      } catch (error) {
        if (error instanceof SchemaIncompatibleError) {
          throw new TableStoppedError(name, error.message, { cause: error });
        }
        if (classifyPgError(error) === 'retriable' || error instanceof PgferryError) throw error;
        throw new TableStoppedError(
          name,
          `cannot prepare target table ${name}: ${(error as Error).message}`,
          {
            cause: error,
          },
        );
      }
      this.tables.set(name, target);
      this.ensuredSchemas.add(`${name}\u0000${id}`);
    }
    if (!target) throw new TableStoppedError(name, `no schema for ${name}`);
    return target;
  }

  private async applyTable(
    client: pg.Client,
    target: TargetTable,
    changes: RowChange[],
    rejected: RejectedChange[],
  ): Promise<{ upserted: number; deleted: number }> {
    const mergeTarget = {
      schema: target.ref.schema,
      name: target.ref.name,
      positionTable: target.positionTable,
      primaryKey: target.primaryKey,
    };
    const truncates = changes.filter((c) => c.op === 't');
    const rows = changes.filter((c) => c.op !== 't');
    if (truncates.length > 0) {
      const position = highestPosition(truncates);
      for (const sql of truncateSql(mergeTarget, position)) await client.query(sql);
      this.options.log.info(
        { table: tableKey(target.ref), position: position.toString() },
        'applied truncate',
      );
    }
    if (rows.length === 0) return { upserted: 0, deleted: 0 };

    // Stage every target column some change in the batch carries (key columns first). Generated
    // columns are computed by the target (a snapshot still carries their source values).
    const carried = new Set<string>(target.primaryKey);
    for (const c of rows)
      for (const col of c.schema.columns)
        if (target.columns.get(col.name)?.generated === false) carried.add(col.name);
    const stageColumns = [...carried].map((name) => ({
      name,
      type: target.columns.get(name)?.type ?? 'text',
    }));
    const signature = createHash('sha256')
      .update(
        `${tableKey(target.ref)}\u0000${stageColumns.map((c) => `${c.name}:${c.type}`).join('\u0000')}`,
      )
      .digest('hex')
      .slice(0, 16);
    const stage: StagingTable = { name: `pgferry_stage_${signature}`, columns: stageColumns };
    if (!this.stagingTables.has(stage.name)) {
      await client.query(createStagingTableSql(stage));
      this.stagingTables.add(stage.name);
    }

    const stats = { upserted: 0, deleted: 0 };
    const attempt = async (subset: RowChange[]): Promise<void> => {
      await client.query('SAVEPOINT pgferry_rows');
      try {
        // Released by the merge's own round trip.
        const result = await this.stageAndMerge(client, mergeTarget, stage, subset);
        stats.upserted += result.upserted;
        stats.deleted += result.deleted;
      } catch (error) {
        if (classifyPgError(error) !== 'rejected-row') throw error;
        await client.query('ROLLBACK TO SAVEPOINT pgferry_rows');
        await client.query('RELEASE SAVEPOINT pgferry_rows');
        if (subset.length === 1) {
          const change = subset[0] as RowChange;
          rejected.push({ change, error: new RejectedRowError((error as Error).message) });
          return;
        }
        const middle = Math.ceil(subset.length / 2);
        await attempt(subset.slice(0, middle));
        await attempt(subset.slice(middle));
      }
    };
    await attempt(rows);
    return stats;
  }

  private async stageAndMerge(
    client: pg.Client,
    target: Parameters<typeof mergeSql>[0],
    stage: StagingTable,
    rows: RowChange[],
  ): Promise<{ upserted: number; deleted: number }> {
    const keepPatterns = new Set<string>();
    const keySet = new Set(target.primaryKey);
    const isKey = stage.columns.map((col) => keySet.has(col.name));
    // The columns a schema version carries, computed once per version rather than per row.
    const carriedBy = new Map<RowChange['schema'], Set<string>>();
    function* lines(): Generator<string> {
      const width = stage.columns.length;
      for (const change of rows) {
        let carried = carriedBy.get(change.schema);
        if (!carried) {
          carried = new Set(change.schema.columns.map((c) => c.name));
          carriedBy.set(change.schema, carried);
        }
        const values: (string | null)[] = [change.op, change.position.toString(), ''];
        let pattern = '';
        for (let i = 0; i < width; i++) {
          const name = (stage.columns[i] as { name: string }).name;
          if (change.op === 'd') {
            values.push(isKey[i] ? (change.key[name] ?? null) : null);
            continue;
          }
          const v = change.after?.[name];
          if (v === UNCHANGED_TOAST || (!isKey[i] && !carried.has(name))) {
            pattern = pattern === '' ? String(i) : `${pattern},${i}`;
            values.push(null);
          } else {
            values.push(v === undefined ? null : v);
          }
        }
        values[2] = pattern;
        if (change.op !== 'd') keepPatterns.add(pattern);
        yield encodeCopyRow(values);
      }
    }
    const copyStart = performance.now();
    const copyLines = faultPointArmed('staging-copy')
      ? holdHalfway(lines(), rows.length)
      : inChunks(lines());
    await pipeline(Readable.from(copyLines), client.query(copyFrom(copyIntoStagingSql(stage))));
    const mergeStart = performance.now();
    this.timings.copy += mergeStart - copyStart;
    const statements = mergeSql(target, stage, [...keepPatterns].sort());
    const merging = client
      .query(`${statements.join(';\n')};\nRELEASE SAVEPOINT pgferry_rows`)
      .finally(() => {
        this.timings.merge += performance.now() - mergeStart;
      });
    if (faultPointArmed('merge')) {
      // The merge is on the server now, uncommitted: a SIGKILL here interrupts it.
      merging.catch(() => undefined);
      await faultPoint('merge');
    }
    const results = (await merging) as unknown as pg.QueryResult[] | pg.QueryResult;
    const list = Array.isArray(results) ? results : [results];
    // Statement order: positions upsert + guard, delete, upserts...
    const deleted = list[1]?.rowCount ?? 0;
    const upserted = list.slice(2, statements.length).reduce((n, r) => n + (r.rowCount ?? 0), 0);
    return { upserted, deleted };
  }

  private connection(): Promise<pg.Client> {
    if (this.client) return Promise.resolve(this.client);
    // One connect at a time: concurrent callers share it (a second client would leak).
    this.connecting ??= this.openConnection().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  /**
   * A new target connection; failing to connect is a transient fault, never a data problem,
   * except a refused first login: wrong settings, which no retry fixes (pgferry run exits).
   */
  private async connectTarget(applicationName: string): Promise<pg.Client> {
    const { host, port, database, user } = this.options.settings;
    const where = `target PostgreSQL ${host}:${port}/${database}`;
    try {
      const client = await connectPg(this.options.settings, applicationName);
      this.loggedInOnce = true;
      return client;
    } catch (error) {
      const reason = (error as Error).message;
      if (isAuthenticationFailure(error) && !this.loggedInOnce) {
        throw new PgferryError(
          `${where} refused the login of ${user}: ${reason}; check TARGET_DB_USER and TARGET_DB_PASSWORD`,
          { retriable: false, cause: error },
        );
      }
      throw new RetriableError(`${where} unreachable: ${reason}`, { cause: error });
    }
  }

  private async openConnection(): Promise<pg.Client> {
    const client = await this.connectTarget('pgferry-sink');
    client.on('error', (error) => {
      this.options.log.warn(
        { err: error.message },
        'target connection error; reconnecting on next batch',
      );
      if (this.client === client) this.dropConnection();
    });
    try {
      await ensureBookkeeping(client);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    this.client = client;
    return client;
  }

  private dropConnection(): void {
    const client = this.client;
    this.client = undefined;
    // Session state goes with the connection: staging tables are temporary.
    this.stagingTables.clear();
    client?.end().catch(() => undefined);
  }

  /** Runs an operation on the connection; connection-level and transient failures -> RetriableError. */
  private async withRetriable<T>(operation: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = await this.connection();
    try {
      return await operation(client);
    } catch (error) {
      if (error instanceof PgferryError) throw error;
      if (classifyPgError(error) === 'retriable') {
        const code = (error as { code?: string }).code ?? '';
        // Serialization failures and deadlocks leave the session usable; anything else may not.
        if (code !== '40001' && code !== '40P01' && code !== '55P03') this.dropConnection();
        throw new RetriableError(`target PostgreSQL: ${(error as Error).message}`, {
          cause: error,
        });
      }
      throw error;
    }
  }
}

/** An integer spliced into SQL text: refused unless it is one (never a string from outside). */
function safeInteger(value: number): string {
  if (!Number.isSafeInteger(value)) throw new RangeError(`not an integer: ${value}`);
  return String(value);
}

/** The COPY rows, with the staging-copy fault point halfway through (the COPY is then open). */
async function* holdHalfway(lines: Iterable<string>, total: number): AsyncGenerator<string> {
  let sent = 0;
  for (const line of lines) {
    if (sent === Math.floor(total / 2)) await faultPoint('staging-copy');
    yield line;
    sent += 1;
  }
}

// The final-rows COPY floor (kept beside the apply floor, apply-floor.ts): the final rows, read from
// the source ahead of time, COPYed into a staging table and merged with the identical statements
// pgferry runs (sink/merge-sql.ts, rows encoded by sink/copy-text.ts), one transaction per batch of
// the same size, in key order, all inserts; no intermediate versions, updates, deletes, offsets
// row or bookkeeping. Only COPY + merge + COMMIT is timed.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { createLogger } from '../core/logger.js';
import { quoteIdent } from '../core/sql-identifier.js';
import { ensureBookkeeping } from '../sink/bookkeeping/bookkeeping-schema.js';
import { encodeCopyRow, inChunks } from '../sink/copy-text.js';
import {
  copyIntoStagingSql,
  createStagingTableSql,
  type MergeTarget,
  mergeSql,
  type StagingTable,
} from '../sink/merge-sql.js';
import { loadTargetTable } from '../sink/target-table.js';
import type { BenchSettings } from './bench-settings.js';
import type { BenchTable } from './source-workload.js';
import { readTargetBackendCpu } from './target-backend-cpu.js';
import { createTargetDatabase } from './target-database.js';

export interface FloorResult {
  database: string;
  targetUrl: string;
  rows: number;
  batches: number;
  /** COPY + merge + COMMIT only. */
  seconds: number;
  copySeconds: number;
  mergeSeconds: number;
  /** This process's CPU in the timed parts (streaming the COPY lines, the driver). */
  cpuSeconds: number;
  /** CPU seconds of the target backend (the whole phase, reading pages in between included). */
  targetCpuSeconds: number;
}

const rawText = { getTypeParser: () => (value: string) => value };

export async function runMergeFloor(
  settings: BenchSettings,
  tables: readonly BenchTable[],
): Promise<FloorResult> {
  const { stack } = settings;
  const database = `${settings.runId}_floor`;
  const targetUrl = await createTargetDatabase(stack, database, tables);
  const source = new pg.Client({ connectionString: stack.sourceDatabaseUrl });
  const target = new pg.Client({ connectionString: targetUrl });
  await source.connect();
  await target.connect();
  const result: FloorResult = {
    database,
    targetUrl,
    rows: 0,
    batches: 0,
    seconds: 0,
    copySeconds: 0,
    mergeSeconds: 0,
    cpuSeconds: 0,
    targetCpuSeconds: 0,
  };
  try {
    await ensureBookkeeping(target);
    let position = 0n;
    for (const table of tables) {
      const loaded = await loadTargetTable(
        target,
        { schema: 'public', name: table.name },
        createLogger('silent'),
      );
      if (!loaded) throw new Error(`floor: no target table ${table.name}`);
      const mergeTarget: MergeTarget = {
        schema: 'public',
        name: table.name,
        positionTable: loaded.positionTable,
        primaryKey: loaded.primaryKey,
      };
      const stage: StagingTable = {
        name: `pgferry_stage_floor_${tables.indexOf(table)}`,
        columns: [...loaded.columns.values()].map((c) => ({ name: c.name, type: c.type })),
      };
      await target.query(createStagingTableSql(stage));
      const statements = mergeSql(mergeTarget, stage, ['']).join(';\n');
      const columnList = stage.columns.map((c) => quoteIdent(c.name)).join(', ');
      const key = quoteIdent(table.orderBy);
      let after: string | null = null;
      for (;;) {
        // Untimed: reading the final rows (as PostgreSQL text) and encoding the COPY lines.
        const page: pg.QueryResult<Record<string, string | null>> = await source.query({
          text: `SELECT ${columnList} FROM public.${quoteIdent(table.name)} ${after === null ? '' : `WHERE ${key} > $2`} ORDER BY ${key} LIMIT $1`,
          values: after === null ? [settings.batchSize] : [settings.batchSize, after],
          types: rawText,
        });
        if (page.rows.length === 0) break;
        const lines = page.rows.map((row) => {
          position += 1n;
          return encodeCopyRow([
            'c',
            position.toString(),
            '',
            ...stage.columns.map((c) => row[c.name] ?? null),
          ]);
        });
        after = page.rows.at(-1)?.[table.orderBy] ?? null;
        // Timed: the apply path.
        const t0 = performance.now();
        const cpu = process.cpuUsage();
        await target.query('BEGIN');
        await pipeline(
          Readable.from(inChunks(lines)),
          target.query(copyFrom(copyIntoStagingSql(stage))),
        );
        const t1 = performance.now();
        await target.query(statements);
        await target.query('COMMIT');
        const t2 = performance.now();
        const used = process.cpuUsage(cpu);
        result.cpuSeconds += (used.user + used.system) / 1e6;
        result.copySeconds += (t1 - t0) / 1000;
        result.mergeSeconds += (t2 - t1) / 1000;
        result.rows += page.rows.length;
        result.batches += 1;
      }
    }
    result.seconds = result.copySeconds + result.mergeSeconds;
    result.targetCpuSeconds = await readTargetBackendCpu(stack, database);
    return result;
  } finally {
    await source.end();
    await target.end();
  }
}

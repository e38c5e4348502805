// The copy part of `pgferry status`: each table `pgferry copy` planned for this pipeline with its
// chunks, rows and bytes copied, its rate and ETA, and whether its stream waits for it. Pure: the
// rows come from target-reading.ts, measured against the target's clock.
import type { TopicTableMap } from '../../pipeline/routing/topic-table-map.js';
import type { CopyTableRow } from '../../sink/bookkeeping/copy-rows.js';
import type {
  ConsumerPart,
  CopyPart,
  CopyTableStatus,
  Settled,
  TargetReading,
} from './migration-status-types.js';
import { tableOfTopic } from './topic-routing.js';

/** What tells this pipeline's tables from another pipeline's on the same target. */
export interface CopyScope {
  /** KAFKA_TOPIC_PATTERN. */
  topicPattern: RegExp;
  /** TARGET_SCHEMA, when set. */
  targetSchema?: string;
  /** The pipeline's topics, when Kafka could be read. */
  topics?: readonly string[];
  /** `run`'s topic -> table mapping, when its topic prefix can be told. */
  routing?: TopicTableMap;
}

/**
 * The copy part, or undefined when the target has no copy bookkeeping for this pipeline (then the
 * status says nothing about a copy, as before `pgferry copy` existed).
 */
export function buildCopyPart(
  scope: CopyScope,
  target: Settled<TargetReading>,
  consumer: ConsumerPart,
): CopyPart | undefined {
  const reading = target.value;
  if (reading?.copyError !== undefined) {
    return { tables: [], tablesDone: 0, etaSeconds: null, error: reading.copyError };
  }
  if (reading?.copy === undefined) return undefined;
  const rows = copyRowsOfPipeline(reading.copy.rows, scope);
  if (rows.length === 0) return undefined;
  const known = rows.map((row) => ({ schema: row.schema, name: row.name }));
  const topicOf = new Map(
    (scope.topics ?? []).map((topic) => [
      tableOfTopic(topic, scope.routing, { targetSchema: scope.targetSchema, known }),
      topic,
    ]),
  );
  const lagOf = new Map<string, number>();
  for (const p of consumer.partitions) lagOf.set(p.topic, (lagOf.get(p.topic) ?? 0) + p.lag);
  const now = reading.copy.now;
  const tables = rows.map((row) => {
    const topic = topicOf.get(`${row.schema}.${row.name}`);
    return copyTableStatus(row, now, topic === undefined ? null : (lagOf.get(topic) ?? 0));
  });
  return {
    tables,
    tablesDone: tables.filter((t) => t.state === 'done').length,
    etaSeconds: overallEtaSeconds(tables, now),
  };
}

/**
 * The copy rows of this pipeline: a row's target table is one of the pipeline's topics' tables,
 * or its source table's topic `<prefix>.<schema>.<table>` matches KAFKA_TOPIC_PATTERN (prefixes:
 * those of the pipeline's topics and the pattern's literal head). Tables are copied before their
 * first change makes a topic, hence the second rule. When no prefix can be told, every row. Rows
 * do not say which connector they belong to: two pipelines into one target whose patterns match
 * the same schema and table names share their copy rows.
 */
export function copyRowsOfPipeline(
  rows: readonly CopyTableRow[],
  scope: CopyScope,
): CopyTableRow[] {
  const topics = scope.topics ?? [];
  const known = rows.map((row) => ({ schema: row.schema, name: row.name }));
  const tables = new Set(
    topics.map((topic) =>
      tableOfTopic(topic, scope.routing, { targetSchema: scope.targetSchema, known }),
    ),
  );
  const routing = scope.routing;
  if (routing !== undefined) {
    // The mapping knows the prefix: a row is ours if `run` would consume its source's topic.
    return rows.filter((row) => {
      if (tables.has(`${row.schema}.${row.name}`)) return true;
      const topic = routing.topicOf({ schema: row.sourceSchema, name: row.sourceName });
      return scope.topicPattern.test(topic) && routing.refusalOf(topic) === undefined;
    });
  }
  const prefixes = new Set(
    topics.map((topic) => topic.split('.').slice(0, -2).join('.')).filter((p) => p !== ''),
  );
  for (const prefix of topicPrefixesOfPattern(scope.topicPattern)) prefixes.add(prefix);
  if (prefixes.size === 0) return [...rows];
  return rows.filter(
    (row) =>
      tables.has(`${row.schema}.${row.name}`) ||
      [...prefixes].some((prefix) =>
        scope.topicPattern.test(`${prefix}.${row.sourceSchema}.${row.sourceName}`),
      ),
  );
}

/**
 * The topic prefixes a pattern's literal head may spell out: `^cdc\.public\..*` -> cdc (the
 * head ends at the schema), `^cdc\.public\.orders$` -> cdc.public or cdc (it may end at a
 * table); none when its head is not literal (`.*`, `^(x|y)\.`).
 */
export function topicPrefixesOfPattern(pattern: RegExp): string[] {
  const head = /^\^((?:[A-Za-z0-9_-]|\\[.-])+)/.exec(pattern.source)?.[1];
  if (head === undefined) return [];
  const segments = head.split('\\.').map((s) => s.replace(/\\-/g, '-'));
  // `prefix.schema.` ends with an empty segment after the schema's dot.
  if (segments[segments.length - 1] === '') segments.pop();
  if (segments.length === 1) return segments[0] ? [segments[0]] : [];
  return [segments.slice(0, -1).join('.'), segments.slice(0, -2).join('.')].filter((p) => p !== '');
}

/**
 * One table: the rate is rows copied over the seconds from the plan (startedAt) to the newest
 * chunk (or now before the first one); the ETA is the chunks left at the same chunk rate.
 */
export function copyTableStatus(
  row: CopyTableRow,
  now: Date,
  queuedMessages: number | null,
): CopyTableStatus {
  const seconds = elapsedSeconds(row, now);
  const measured = row.chunksDone > 0 && seconds > 0;
  let etaSeconds: number | null = null;
  if (row.state === 'done') etaSeconds = 0;
  else if (row.state === 'copying' && measured) {
    etaSeconds = ((row.chunksTotal - row.chunksDone) * seconds) / row.chunksDone;
  }
  return {
    table: `${row.schema}.${row.name}`,
    source: `${row.sourceSchema}.${row.sourceName}`,
    state: row.state,
    chunksDone: row.chunksDone,
    chunksTotal: row.chunksTotal,
    rowsCopied: row.rowsCopied,
    bytesCopied: row.bytesCopied,
    startedAt: row.startedAt.toISOString(),
    finishedAt: row.finishedAt?.toISOString() ?? null,
    lastChunkAt: row.lastChunkAt?.toISOString() ?? null,
    rowsPerSecond: measured ? row.rowsCopied / seconds : null,
    etaSeconds,
    lastError: row.lastError,
    streamWaiting: row.state !== 'done',
    queuedMessages,
  };
}

function elapsedSeconds(
  row: Pick<CopyTableRow, 'startedAt' | 'lastChunkAt' | 'finishedAt' | 'state'>,
  now: Date,
): number {
  const end = row.lastChunkAt ?? (row.state === 'done' ? row.finishedAt : null) ?? now;
  return (end.getTime() - row.startedAt.getTime()) / 1000;
}

/**
 * The whole copy's ETA: the chunks left over the chunk rate of the run in progress (the chunks
 * done since the earliest plan still copying, over the time from it to the newest chunk). One
 * pgferry copy works through its tables' chunks from one queue, so a table's own rate undercounts
 * tables that waited in the queue; the run's rate does not. 0 when every table is done; null
 * when a table failed (it waits for the next `pgferry copy`) or nothing is measured yet.
 */
export function overallEtaSeconds(tables: readonly CopyTableStatus[], now: Date): number | null {
  if (tables.some((t) => t.state === 'failed')) return null;
  const copying = tables.filter((t) => t.state === 'copying');
  if (copying.length === 0) return 0;
  const since = Math.min(...copying.map((t) => Date.parse(t.startedAt)));
  const run = tables.filter(
    (t) => t.state === 'copying' || (t.finishedAt !== null && Date.parse(t.finishedAt) >= since),
  );
  const chunks = run.reduce((n, t) => n + t.chunksDone, 0);
  const last = Math.max(
    ...run.map((t) => (t.lastChunkAt === null ? 0 : Date.parse(t.lastChunkAt))),
  );
  const seconds = ((last > 0 ? last : now.getTime()) - since) / 1000;
  if (chunks === 0 || seconds <= 0) return null;
  const left = copying.reduce((n, t) => n + t.chunksTotal - t.chunksDone, 0);
  return (left * seconds) / chunks;
}

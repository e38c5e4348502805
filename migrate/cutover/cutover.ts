// The gated cutover, step by step, stopping at the first gate that fails with its reason:
//   1. writes stopped   the migrated tables took no writes for a quiet window
//   2. caught up        every table's initial copy (pgferry copy) done, the slot confirmed a
//                       watermark written after the quiet window, lag 0
//   3. verified         chunked checksums equal on both sides
//   4. sequences        target sequences set past the source's values (skipped in a dry run)
//   5. report           no write surfaced since the window began (late statistics included),
//                       then the Markdown + JSON report (not written in a dry run)
// `rollback` runs the same gates on the mirrored config (target -> source).
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import type { PgferryConfig } from '../../core/config.js';
import { connectPg } from '../../core/pg-connection.js';
import { SchemaMapping } from '../../pipeline/routing/schema-mapping.js';
import { mapTargetTable } from '../../pipeline/routing/target-table-name.js';
import { readCopyTables } from '../../sink/bookkeeping/copy-rows.js';
import { readDeferredIndexes } from '../../sink/bookkeeping/deferred-indexes.js';
import { readSlotLoss } from '../../sink/bookkeeping/slot-losses.js';
import { requireSource } from '../command-context.js';
import {
  formatTableName,
  type MigrationTable,
  resolveMigrationTables,
} from '../migration-tables.js';
import { copyNotDoneReasons } from '../status/caught-up-judgement.js';
import {
  applyCutoverObjects,
  type CutoverObjectsPlan,
  describeCutoverObjects,
  planCutoverObjects,
} from './cutover-objects.js';
import { writeCutoverReport } from './cutover-report.js';
import type {
  ConsumerLagReading,
  CutoverResult,
  GateName,
  GateResult,
  VerifyReading,
} from './cutover-result.js';
import { applySequenceSync, planSequenceSync, type SequenceSyncStep } from './sequence-sync.js';
import {
  findWritesSince,
  STATS_SETTLE_MS,
  type WriteActivityReport,
  watchWriteActivity,
} from './write-activity.js';

export interface CutoverDependencies {
  readConsumerLag: (config: PgferryConfig) => Promise<ConsumerLagReading>;
  /** The connector's slot.name as Connect has it (undefined: unknown or not registered). */
  readConnectorSlotName?: (config: PgferryConfig) => Promise<string | undefined>;
  verify: (
    source: pg.ClientBase,
    target: pg.ClientBase,
    pairs: { source: MigrationTable; target: MigrationTable }[],
  ) => Promise<VerifyReading>;
}

export interface CutoverOptions {
  direction: 'cutover' | 'rollback';
  dryRun: boolean;
  tables?: MigrationTable[];
  quietSeconds: number;
  lagTimeoutSeconds: number;
  sequenceMargin: bigint;
  reportDir: string;
  signal?: AbortSignal;
  onGate?: (gate: GateResult) => void;
}

const describeEndpoint = (s: { host: string; port: number; database: string }) =>
  `${s.host}:${s.port}/${s.database}`;

export async function runCutover(
  config: PgferryConfig,
  options: CutoverOptions,
  deps: CutoverDependencies,
): Promise<CutoverResult> {
  const sourceSettings = requireSource(config, options.direction);
  const started = new Date();
  const result: CutoverResult = {
    direction: options.direction,
    ok: false,
    dryRun: options.dryRun,
    startedAt: started.toISOString(),
    finishedAt: started.toISOString(),
    source: describeEndpoint(sourceSettings),
    target: describeEndpoint(config.target),
    tables: [],
    gates: [],
    reportFiles: [],
  };
  const source = await connectPg(sourceSettings, `pgferry-${options.direction}`);
  let target: pg.Client | undefined;
  try {
    target = await connectPg(config.target, `pgferry-${options.direction}`);
    const tables = await resolveMigrationTables(source, {
      ...(options.tables ? { tables: options.tables } : {}),
      publication: config.replication.publication,
      selection: config.mapping,
    });
    result.tables = tables.map(formatTableName);
    const schemas = SchemaMapping.fromSettings(config.mapping);
    const pairs = tables.map((t) => ({
      source: t,
      target: mapTargetTable(t, schemas),
    }));
    const record = (gate: GateResult) => {
      result.gates.push(gate);
      options.onGate?.(gate);
      return gate.status !== 'failed';
    };
    const timed = async (
      gate: GateName,
      run: () => Promise<Omit<GateResult, 'gate' | 'seconds'>>,
    ) => {
      const t0 = Date.now();
      const outcome = await run();
      return record({ gate, seconds: Math.round((Date.now() - t0) / 100) / 10, ...outcome });
    };

    if (tables.length === 0) {
      record({
        gate: 'writes-stopped',
        status: 'failed',
        seconds: 0,
        summary: `no tables to cut over (publication ${config.replication.publication} is empty or missing; name them with --tables)`,
      });
      return result;
    }

    // Gate 1: the source takes no more writes.
    let activity: WriteActivityReport | undefined;
    const quiet = await timed('writes-stopped', async () => {
      activity = await watchWriteActivity(source, tables, {
        quietSeconds: options.quietSeconds,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      const flag = activity.readOnlyDefault
        ? ' (database default_transaction_read_only = on)'
        : ' (note: the database is not set read-only; ALTER DATABASE ... SET default_transaction_read_only = on keeps new sessions from writing)';
      return activity.quiet
        ? {
            status: 'passed',
            summary: `no writes to ${tables.length} table(s) for ${activity.watchedSeconds}s${flag}`,
            details: activity,
          }
        : {
            status: 'failed',
            summary: `the source is still taking writes: ${activity.evidence[0]}${activity.evidence.length > 1 ? ` (+${activity.evidence.length - 1} more)` : ''}; stop the application's writes first`,
            details: activity,
          };
    });
    if (!quiet || activity?.quietLsn == null) return result;

    // Gate 2: everything written before the quiet point is in the target.
    const caughtUp = await timed('caught-up', () =>
      waitForCatchUp(
        config,
        source,
        target as pg.Client,
        pairs.map((p) => p.target),
        activity?.quietLsn as string,
        options,
        deps,
      ),
    );
    if (!caughtUp) return result;

    // Gate 3: the data is equal.
    let verification: VerifyReading | undefined;
    const verified = await timed('verified', async () => {
      verification = await deps.verify(source, target as pg.Client, pairs);
      const bad = verification.tables.filter((t) => !t.match);
      return verification.match
        ? {
            status: 'passed',
            summary: `${verification.tables.length} table(s) equal (${verification.tables.reduce((n, t) => n + t.sourceRows, 0)} rows)`,
            details: verification,
          }
        : {
            status: 'failed',
            summary: `${bad.length} table(s) differ: ${bad
              .slice(0, 5)
              .map(
                (t) =>
                  `${t.target} (${t.error ?? `${t.differences.length} key(s), e.g. ${describeKey(t.differences[0]?.key)}`})`,
              )
              .join(', ')}; run pgferry verify for the full list`,
            details: verification,
          };
    });
    if (!verified) return result;

    // Gate 4: sequences.
    let sequenceSteps: SequenceSyncStep[] = [];
    const sequenced = await timed('sequences', async () => {
      sequenceSteps = await planSequenceSync(source, target as pg.Client, pairs, {
        margin: options.sequenceMargin,
      });
      // Triggers schema-sync left disabled and materialized views left empty (cutover only: a
      // rollback's new side is the original source, which has them as they were).
      const objects: CutoverObjectsPlan =
        options.direction === 'cutover'
          ? await planCutoverObjects(
              target as pg.Client,
              pairs.map((p) => p.target),
            )
          : { statements: [], triggers: [], materializedViews: [] };
      const objectsText = `; ${describeCutoverObjects(objects, false)}`;
      const problems = sequenceSteps.filter((s) => s.problem !== undefined);
      const changes = sequenceSteps.filter((s) => s.setTo !== null);
      if (problems.length > 0) {
        return {
          status: 'failed',
          summary: `${problems.length} sequence(s) cannot be synced: ${problems.map((p) => `${p.table}.${p.column}: ${p.problem}`).join('; ')}`,
          details: sequenceSteps,
        };
      }
      if (options.dryRun) {
        return {
          status: 'skipped',
          summary: `dry run: would raise ${changes.length} of ${sequenceSteps.length} sequence(s)${changes.length ? `: ${changes.map((c) => `${c.table}.${c.column} -> ${c.setTo}`).join(', ')}` : ''}; would ${describeCutoverObjects(objects, true)}`,
          details: sequenceSteps,
        };
      }
      await applySequenceSync(target as pg.Client, sequenceSteps);
      await applyCutoverObjects(target as pg.Client, objects);
      return {
        status: 'passed',
        summary: `raised ${changes.length} of ${sequenceSteps.length} sequence(s) past the source's values${objectsText}`,
        details: sequenceSteps,
      };
    });
    if (!sequenced) return result;

    // Gate 5: the source must still be frozen, counting writes whose statistics arrived late;
    // then the report.
    const settle =
      Date.parse((activity as WriteActivityReport).closedAt) + STATS_SETTLE_MS - Date.now();
    if (settle > 0) {
      await sleep(settle, undefined, options.signal ? { signal: options.signal } : undefined);
    }
    const late = await findWritesSince(source, tables, activity as WriteActivityReport);
    if (late.length > 0) {
      record({
        gate: 'report',
        status: 'failed',
        seconds: 0,
        summary: `writes reached the source during the cutover: ${late[0]}${late.length > 1 ? ` (+${late.length - 1} more)` : ''}; it is not frozen: stop the writes and run it again`,
        details: late,
      });
      return result;
    }
    result.ok = true;
    result.finishedAt = new Date().toISOString();
    if (options.dryRun) {
      record({
        gate: 'report',
        status: 'skipped',
        seconds: 0,
        summary: 'dry run: no report written, nothing changed; every gate passed',
      });
      return result;
    }
    await timed('report', async () => {
      result.reportFiles = await writeCutoverReport(result, options.reportDir);
      return { status: 'passed', summary: `report written: ${result.reportFiles.join(', ')}` };
    });
    return result;
  } finally {
    result.finishedAt = new Date().toISOString();
    await source.end().catch(() => undefined);
    await target?.end().catch(() => undefined);
  }
}

function describeKey(key: Record<string, string | null> | undefined): string {
  if (key === undefined) return '?';
  return Object.entries(key)
    .map(([k, v]) => `${k}=${v ?? 'NULL'}`)
    .join(',');
}

/**
 * Why the initial copy of the cut-over tables is not done (pgferry.copy_tables), one reason per
 * table, and each index `schema-sync --defer-indexes` left that the copy has not built yet; none
 * without copy bookkeeping (Debezium's snapshot path) or once every copy is done.
 */
export async function findCopiesNotDone(
  target: pg.ClientBase,
  tables: readonly MigrationTable[],
): Promise<string[]> {
  const names = new Set(tables.map(formatTableName));
  const rows = (await readCopyTables(target)).filter((r) => names.has(formatTableName(r)));
  const indexes = (await readDeferredIndexes(target, tables)).filter((i) => i.builtAt === null);
  return [
    ...copyNotDoneReasons(rows.map((r) => ({ ...r, table: formatTableName(r) }))),
    ...indexes.map(
      (i) =>
        `${i.schema}.${i.table}: index ${i.index} not built yet (schema-sync --defer-indexes; pgferry copy builds it${i.lastError ? `; last try: ${i.lastError}` : ''})`,
    ),
  ];
}

async function waitForCatchUp(
  config: PgferryConfig,
  source: pg.ClientBase,
  target: pg.ClientBase,
  tables: readonly MigrationTable[],
  quietLsn: string,
  options: CutoverOptions,
  deps: CutoverDependencies,
): Promise<Omit<GateResult, 'gate' | 'seconds'>> {
  const deadline = Date.now() + options.lagTimeoutSeconds * 1000;
  // A slot lost once (recorded by `pgferry run`) lost changes for good, even if a slot of that
  // name exists again: only a re-snapshot makes the target trustworthy.
  const loss = await readSlotLoss(target, config.replication.slotName);
  if (loss) {
    return {
      status: 'failed',
      summary: `replication slot ${config.replication.slotName} was lost (seen by ${loss.by} at ${loss.at}): changes made while it was missing never reached the target; run \`pgferry resnapshot\` (runbook: "If the replication slot was lost") before cutting over`,
    };
  }
  // A table whose initial copy is not done has its changes held back by `pgferry run`: the lag
  // says nothing about it, and the copy may take hours more. Refuse now, naming the tables.
  const copies = await findCopiesNotDone(target, tables);
  if (copies.length > 0) {
    return {
      status: 'failed',
      summary: `the initial copy is not done: ${copies.slice(0, 3).join('; ')}${copies.length > 3 ? ` (+${copies.length - 3} more)` : ''}`,
      details: { copy: copies },
    };
  }
  // Watching another slot than the connector's would wait on the wrong thing (or pass on it).
  const connectorSlot = await deps.readConnectorSlotName?.(config).catch(() => undefined);
  if (
    connectorSlot !== undefined &&
    !connectorSlot.includes('${') &&
    connectorSlot !== config.replication.slotName
  ) {
    return {
      status: 'failed',
      summary: `the connector ${config.connect.connectorName} reads slot ${connectorSlot}, but SOURCE_SLOT_NAME is ${config.replication.slotName}: set SOURCE_SLOT_NAME=${connectorSlot}`,
    };
  }
  // An idle database gives Debezium nothing to confirm, so its slot would stay short of any WAL
  // position we picked. A logical decoding message is a watermark it must read and confirm: once
  // the slot is past it, every change committed before it is in Kafka. Non-transactional, so it
  // needs no table write and works on a source frozen read-only.
  const mark = await source.query<{ lsn: string }>(
    `SELECT pg_logical_emit_message(false, 'pgferry-cutover', $1)::text AS lsn`,
    [JSON.stringify({ quietLsn, at: new Date().toISOString() })],
  );
  const watermark = mark.rows[0]?.lsn ?? quietLsn;
  let last = '';
  let details: unknown;
  for (;;) {
    const slot = await source.query<{
      active: boolean;
      confirmed: string | null;
      behind: string | null;
      lag: string | null;
    }>(
      `SELECT active, confirmed_flush_lsn::text AS confirmed,
              pg_wal_lsn_diff($2::pg_lsn, confirmed_flush_lsn)::text AS behind,
              pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::text AS lag
         FROM pg_replication_slots WHERE slot_name = $1`,
      [config.replication.slotName, watermark],
    );
    const s = slot.rows[0];
    if (s === undefined) {
      return {
        status: 'failed',
        summary: `replication slot ${config.replication.slotName} does not exist on the source: changes may be lost; re-snapshot (see the runbook) before cutting over`,
      };
    }
    // The slot's confirmed position reaching the watermark means Debezium has read every change
    // made before it and Kafka holds them (Connect commits offsets only after the broker acks).
    const slotDone = s.confirmed !== null && Number(s.behind ?? '1') <= 0;
    let lag: ConsumerLagReading | undefined;
    if (slotDone) lag = await deps.readConsumerLag(config);
    details = {
      slot: {
        name: config.replication.slotName,
        active: s.active,
        confirmedFlushLsn: s.confirmed,
        quietLsn,
        watermarkLsn: watermark,
        lagBytes: Number(s.lag ?? 0),
      },
      consumer: lag ?? null,
    };
    const noTopics = lag !== undefined && lag.error === undefined && lag.partitions.length === 0;
    if (noTopics) {
      return {
        status: 'failed',
        summary: `no topic matches KAFKA_TOPIC_PATTERN (${config.kafka.topicPattern.source}): nothing says the target has the changes; check the pattern against the connector's topic.prefix`,
        details,
      };
    }
    if (slotDone && lag !== undefined && lag.error === undefined && lag.totalLag === 0) {
      return {
        status: 'passed',
        summary: `slot ${config.replication.slotName} confirmed the watermark ${watermark} written after the quiet window, consumer lag 0`,
        details,
      };
    }
    last = !slotDone
      ? `slot ${config.replication.slotName} (${s.active ? 'active' : 'INACTIVE: is the connector running?'}) has confirmed ${s.confirmed ?? 'nothing'}, ${s.behind} bytes short of the watermark ${watermark}`
      : lag?.error !== undefined
        ? `consumer lag unreadable: ${lag.error}`
        : `consumer lag ${lag?.totalLag} message(s) (${(lag?.partitions ?? [])
            .filter((p) => p.lag > 0)
            .slice(0, 3)
            .map((p) => `${p.topic}[${p.partition}]=${p.lag}`)
            .join(', ')}) — is pgferry running?`;
    if (Date.now() >= deadline) {
      return {
        status: 'failed',
        summary: `not caught up after ${options.lagTimeoutSeconds}s: ${last}`,
        details,
      };
    }
    await sleep(1000, undefined, options.signal ? { signal: options.signal } : undefined);
  }
}

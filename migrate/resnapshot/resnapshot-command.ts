// `pgferry resnapshot`: the recovery from a lost replication slot (docs/runbook.md, "If the
// replication slot was lost"). Changes made while the slot was missing never reached Kafka, so the
// target is rebuilt from a new Debezium snapshot: this command stops the connector, empties the
// target tables (rows, row positions, copy bookkeeping), moves the group's offsets (target and
// Kafka) past every message already in the topics, then deletes the connector with its Connect
// offsets and clears the slot-loss mark; it prints that plan first and acts only when confirmed.
// Then `connector apply` starts a fresh connector: a new slot and a full snapshot.
import type { Admin } from 'kafkajs';
import type { PgferryConfig } from '../../core/config.js';
import { loadConfig } from '../../core/config.js';
import { ConnectClient } from '../../core/connect-client.js';
import { PgferryError } from '../../core/errors.js';
import { createKafka } from '../../core/kafka-client.js';
import { createLogger, type Logger } from '../../core/logger.js';
import { connectPg } from '../../core/pg-connection.js';
import { qualifiedName } from '../../core/sql-identifier.js';
import { formatTableRef } from '../../pipeline/routing/target-table-name.js';
import { TopicTableMap } from '../../pipeline/routing/topic-table-map.js';
import type { TableRef } from '../../pipeline/row-change.js';
import { ensureBookkeeping } from '../../sink/bookkeeping/bookkeeping-schema.js';
import { deleteCopyPlan } from '../../sink/bookkeeping/copy-rows.js';
import { moveOffsetsForward } from '../../sink/bookkeeping/offset-rows.js';
import { clearSlotLoss, readSlotLoss } from '../../sink/bookkeeping/slot-losses.js';
import { readWrittenTables, resetTablePositions } from '../../sink/bookkeeping/table-rows.js';
import {
  EXIT_CHECK_FAILED,
  EXIT_OK,
  EXIT_USAGE,
  parseTimeoutOption,
  type RegisterCommand,
} from '../command-context.js';
import { confirmDestructive } from '../confirm-destructive.js';
import { selectPipelineTopics } from '../status/kafka-reading.js';
import { planResnapshot } from './resnapshot-plan.js';

interface ResnapshotOptions {
  yes?: boolean;
  force?: boolean;
  timeout: number;
  json?: boolean;
}

export const registerResnapshotCommand: RegisterCommand = (program, { env, io, setExitCode }) => {
  program
    .command('resnapshot')
    .description(
      'after a lost replication slot: empty the target tables, skip the old messages, then remove the connector and its offsets; then `connector apply` re-snapshots',
    )
    .option(
      '--yes',
      'do it without asking (without: print the plan, then ask on a terminal or change nothing)',
    )
    .option(
      '--force',
      'also without evidence of a lost slot (no loss recorded by `pgferry run`, no connector task failed on it)',
    )
    .option(
      '--timeout <seconds>',
      'wait this long for the connector to stop',
      parseTimeoutOption,
      60,
    )
    .option('--json', 'print the plan and what was done as JSON')
    .addHelpText(
      'after',
      `
Stop every \`pgferry run\` of this pipeline first: it refuses (exit 3) while the consumer group
(KAFKA_GROUP_ID) has members. Every table of the pipeline (the topics matching
KAFKA_TOPIC_PATTERN) is rebuilt: a new connector snapshots all its tables anyway, and a table
kept as it was would keep the rows deleted on the source while the slot was missing.

It prints its plan first (every table, the connector, the group, the topics, the slot) and acts
only with --yes, or when you type the target database's name at the prompt on a terminal. The
order: stop the connector, reset the target (tables, row positions, copy bookkeeping, offsets),
move the Kafka offsets, and only then delete the connector's offsets and the connector.

Exit codes: 0 done; 2 not confirmed (the plan is printed, nothing changed) or bad configuration;
3 refused (pgferry still running, the pipeline already cut over (reverse connector registered),
or no evidence of a lost slot without --force); 1 something could not be reached or a step
failed (the message says which; every step is safe to run again).`,
    )
    .action(async (options: ResnapshotOptions) => {
      const config = loadConfig(env);
      // The mapping `run` uses: a topic empties only the tables it names, never by splitting dots.
      const routing = TopicTableMap.fromConfig(config);
      const log = createLogger(
        config.log.level === 'debug' ? 'debug' : 'silent',
        io.logDestination,
      );
      // With --json stdout holds only the JSON answer; the progress lines go to stderr.
      const say = options.json ? io.stderr : io.stdout;
      const connect = new ConnectClient({
        baseUrl: config.connect.url,
        auth: config.connect.auth,
        tls: config.connect.tls,
      });
      const name = config.connect.connectorName;
      const kafka = createKafka(config.kafka, log);
      const admin = kafka.admin();
      await admin.connect();
      try {
        const members = await groupMembers(admin, config.kafka.groupId);
        if (members > 0) {
          io.stderr(
            `refused: pgferry is running: consumer group ${config.kafka.groupId} has ${members} member${members === 1 ? '' : 's'}. Stop every \`pgferry run\` of this pipeline, then run this again.\n`,
          );
          setExitCode(EXIT_CHECK_FAILED);
          return;
        }
        const connector = await connect.getConnectorStatus(name);
        // After cutover the target is the live database: emptying it would destroy production
        // data. `rollback prepare` registers the reverse connector, so its presence says so.
        const reverse = await connect
          .getConnectorStatus(config.reverse.connectorName)
          .catch(() => undefined);
        if (reverse !== undefined) {
          io.stderr(
            `refused: the reverse connector ${config.reverse.connectorName} is registered, so this pipeline has been cut over and the target is live; resnapshot would empty it. A slot dropped after cutover needs no re-snapshot.\n`,
          );
          setExitCode(EXIT_CHECK_FAILED);
          return;
        }
        const evidence = await lossEvidence(config, connector);
        if (evidence === undefined && !options.force) {
          io.stderr(
            `refused: no evidence that slot ${config.replication.slotName} was lost (no loss recorded by \`pgferry run\`, no task of ${name} failed on it). Re-snapshotting empties the target tables; if you mean it, add --force.\n`,
          );
          setExitCode(EXIT_CHECK_FAILED);
          return;
        }
        const planned = await readPipeline(admin, config, routing);
        const plan = planResnapshot({
          connectUrl: config.connect.url,
          connectorName: name,
          connectorState: connector && describeConnectorState(connector),
          target: config.target,
          tables: planned.tables,
          groupId: config.kafka.groupId,
          topics: planned.topics.map((t) => t.topic),
          brokers: config.kafka.brokers,
          slotName: config.replication.slotName,
          source: config.source,
          slotExists: await readSlotExists(config, log),
        });
        const confirmation = await confirmDestructive(plan, options, io);
        // --json: the plan, how it was confirmed, whether it was carried out, and what was done.
        const answer = (applied: boolean, fields: Record<string, unknown> = {}) => {
          if (options.json) {
            io.stdout(
              `${JSON.stringify({ plan, confirmation: confirmation.by, applied, ...fields }, null, 2)}\n`,
            );
          }
        };
        if (!confirmation.confirmed) {
          answer(false);
          setExitCode(EXIT_USAGE);
          return;
        }
        const done = await applyResnapshot(
          { config, connect, admin, planned, connector, timeoutMs: options.timeout * 1000 },
          say,
        );
        if (done.refused !== undefined) {
          io.stderr(`${done.refused}\n`);
          answer(false, { refused: done.refused });
          setExitCode(EXIT_CHECK_FAILED);
          return;
        }
        say(
          'Next: `npx pgferry connector apply` (new slot, full snapshot), then `npx pgferry run`; `npx pgferry status` exits 0 once the snapshot is applied.\n',
        );
        answer(true, { emptied: done.emptied, topics: done.topics });
        setExitCode(EXIT_OK);
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
    });
};

interface ResnapshotRun {
  config: PgferryConfig;
  connect: ConnectClient;
  admin: Admin;
  /** What the plan named: the tables to empty are exactly these. */
  planned: PipelineReading;
  connector: Awaited<ReturnType<ConnectClient['getConnectorStatus']>>;
  timeoutMs: number;
}

/**
 * The plan's steps, in its order. Up to the Kafka offsets everything can be undone or redone: a
 * stopped connector keeps its Connect offsets (a resume undoes the stop), the target reset is one
 * transaction (it happens whole or not at all) that the new snapshot refills, and the group's
 * offsets are only moved. Deleting the connector's offsets cannot be undone, so it comes only
 * once the target is reset: if the reset fails, the old connector is still there to resume and
 * nothing is lost. The slot-loss mark goes last, so that until every step is done status and
 * cutover keep refusing and a second run still finds its evidence. Each step is safe to repeat.
 */
async function applyResnapshot(
  run: ResnapshotRun,
  say: (text: string) => void,
): Promise<{ refused?: string; emptied: string[]; topics: string[] }> {
  const { config, connect, admin } = run;
  const name = config.connect.connectorName;
  const done: string[] = [];
  const step = async <T>(what: string, act: () => Promise<T>): Promise<T> => {
    try {
      const result = await act();
      done.push(what);
      return result;
    } catch (error) {
      throw new PgferryError(
        `resnapshot stopped at "${what}": ${(error as Error).message}. Done before it: ${done.join('; ') || 'nothing'}. Every step is safe to repeat: fix the cause and run \`pgferry resnapshot --yes\` again.`,
        { retriable: true, cause: error },
      );
    }
  };
  if (run.connector !== undefined) {
    await step(`stop connector ${name}`, () => stopConnector(connect, name, run.timeoutMs));
    say(`connector ${name}: stopped (its offsets are kept until the target is reset)\n`);
  }
  // A `pgferry run` started meanwhile would apply old messages over the emptied tables.
  const lateMembers = await groupMembers(admin, config.kafka.groupId);
  if (lateMembers > 0) {
    return {
      refused: `refused: a pgferry of group ${config.kafka.groupId} started meanwhile (${lateMembers} member${lateMembers === 1 ? '' : 's'}); the target is untouched and connector ${name} is only stopped (resume it, or stop that pgferry and run this again).`,
      emptied: [],
      topics: [],
    };
  }
  // Read after the connector stopped: nothing is appended to the topics any more. The tables
  // are the plan's: a table that appeared since was not confirmed.
  const ends = await step('read the topic ends', () =>
    readTopicEnds(
      admin,
      run.planned.topics.map((t) => t.topic),
    ),
  );
  const emptied = await step('reset the target', () =>
    resetTarget(config, run.planned.tables, ends),
  );
  say(`target: emptied ${emptied.join(', ') || 'no table'}\n`);
  await step(`move group ${config.kafka.groupId}'s Kafka offsets`, async () => {
    for (const t of ends) {
      await admin.setOffsets({
        groupId: config.kafka.groupId,
        topic: t.topic,
        partitions: t.partitions.map((p) => ({ partition: p.partition, offset: p.high })),
      });
    }
  });
  say(
    `group ${config.kafka.groupId}: offsets at the end of ${ends.length} topic${ends.length === 1 ? '' : 's'}\n`,
  );
  if (run.connector !== undefined) {
    await step(`delete connector ${name} and its offsets`, async () => {
      await connect.deleteConnectorOffsets(name);
      await connect.deleteConnector(name);
    });
    say(`connector ${name}: offsets deleted, removed\n`);
  }
  await step('clear the slot-loss mark', () => clearLossMark(config));
  say(`slot-loss mark of ${config.replication.slotName}: cleared\n`);
  return { emptied, topics: ends.map((t) => t.topic) };
}

/** "RUNNING", or "RUNNING, task 0 FAILED": a connector stays RUNNING when its task fails. */
function describeConnectorState(
  status: NonNullable<Awaited<ReturnType<ConnectClient['getConnectorStatus']>>>,
): string {
  const tasks = status.tasks.filter((t) => t.state !== 'RUNNING');
  return [status.connector.state, ...tasks.map((t) => `task ${t.id} ${t.state}`)].join(', ');
}

async function groupMembers(admin: Admin, groupId: string): Promise<number> {
  const { groups } = await admin.describeGroups([groupId]);
  return groups[0]?.members.length ?? 0;
}

interface PipelineReading {
  /**
   * The pipeline's topics (the runner's rule: matching, minus DLQs, internal ones and those of
   * tables `run` does not write).
   */
  topics: { topic: string }[];
  /** Every target table to empty, once, in name order. */
  tables: TableRef[];
}

/**
 * The pipeline's topics and the target tables they fill (TopicTableMap), among those pgferry
 * registered or copied: a table pgferry never wrote holds nothing of the stream, and is never
 * emptied. Only an existing topic says a table is this pipeline's: pgferry.copy_tables does not
 * record which pipeline copied a table, and a topic pattern may match another pipeline's tables
 * in a shared target.
 */
async function readPipeline(
  admin: Admin,
  config: PgferryConfig,
  routing: TopicTableMap,
): Promise<PipelineReading> {
  const topics = selectPipelineTopics(await admin.listTopics(), config);
  const written = await readTargetTablesWritten(config);
  const isWritten = (t: TableRef) =>
    written.some((w) => w.schema === t.schema && w.name === t.name);
  const tables = new Map<string, TableRef>();
  for (const topic of topics) {
    for (const t of routing.targetsOfTopic(topic, written).filter(isWritten)) {
      tables.set(formatTableRef(t), t);
    }
  }
  return {
    topics: topics.map((topic) => ({ topic })),
    tables: [...tables.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, t]) => t),
  };
}

async function readTargetTablesWritten(config: PgferryConfig): Promise<TableRef[]> {
  const client = await connectPg(config.target, 'pgferry-resnapshot');
  try {
    return await readWrittenTables(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

interface TopicEnd {
  topic: string;
  partitions: { partition: number; high: string }[];
}

async function readTopicEnds(admin: Admin, topics: readonly string[]): Promise<TopicEnd[]> {
  return Promise.all(
    topics.map(async (topic) => ({
      topic,
      partitions: (await admin.fetchTopicOffsets(topic)).map((o) => ({
        partition: o.partition,
        high: o.high,
      })),
    })),
  );
}

/** PUT /stop and wait for STOPPED: the connector keeps its offsets and could be resumed. */
async function stopConnector(
  connect: ConnectClient,
  name: string,
  timeoutMs: number,
): Promise<void> {
  await connect.stopConnector(name);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await connect.getConnectorStatus(name);
    if (status === undefined || status.connector.state === 'STOPPED') return;
    if (Date.now() > deadline) {
      throw new PgferryError(
        `connector ${name} is still ${status.connector.state} after ${timeoutMs / 1000} s`,
        { retriable: true },
      );
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Why the slot counts as lost: the mark `pgferry run` recorded, or a task failed on it. */
async function lossEvidence(
  config: PgferryConfig,
  connector: Awaited<ReturnType<ConnectClient['getConnectorStatus']>>,
): Promise<string | undefined> {
  const failed = connector?.tasks.find(
    (t) => t.state === 'FAILED' && /no longer available on the server/.test(t.trace ?? ''),
  );
  if (failed) return `task ${failed.id} of ${config.connect.connectorName} failed on the slot`;
  const client = await connectPg(config.target, 'pgferry-resnapshot');
  try {
    const loss = await readSlotLoss(client, config.replication.slotName);
    return loss ? `loss recorded by ${loss.by} at ${loss.at}` : undefined;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * One target transaction: every table, its row positions and its copy bookkeeping emptied (a
 * fresh snapshot starts without them, and a copy left half done would hold the table's stream
 * back for ever), the group's stored offsets raised to the topic ends. Returns the tables emptied.
 */
async function resetTarget(
  config: PgferryConfig,
  tables: readonly TableRef[],
  ends: readonly TopicEnd[],
): Promise<string[]> {
  const client = await connectPg(config.target, 'pgferry-resnapshot');
  try {
    await ensureBookkeeping(client);
    await client.query('BEGIN');
    const emptied: string[] = [];
    for (const { schema, name } of tables) {
      const exists = await client.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [
        qualifiedName(schema, name),
      ]);
      if (exists.rows[0]?.t != null) {
        await client.query(`TRUNCATE ${qualifiedName(schema, name)}`);
        emptied.push(formatTableRef({ schema, name }));
      }
      await resetTablePositions(client, schema, name);
      await deleteCopyPlan(client, { schema, name });
    }
    for (const t of ends) {
      await moveOffsetsForward(
        client,
        config.kafka.groupId,
        t.topic,
        t.partitions.map((p) => ({ partition: p.partition, nextOffset: p.high })),
      );
    }
    await client.query('COMMIT');
    return emptied;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The last step: the target is rebuilt, status and cutover may trust it again. */
async function clearLossMark(config: PgferryConfig): Promise<void> {
  const client = await connectPg(config.target, 'pgferry-resnapshot');
  try {
    await ensureBookkeeping(client);
    await clearSlotLoss(client, config.replication.slotName);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * The slot exists on the source (one that survived or was re-created would be reused by the new
 * connector: the plan says to drop it); undefined without a source or when it cannot be read.
 */
async function readSlotExists(config: PgferryConfig, log: Logger): Promise<boolean | undefined> {
  if (config.source === undefined) return undefined;
  try {
    const client = await connectPg(config.source, 'pgferry-resnapshot');
    try {
      const result = await client.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [
        config.replication.slotName,
      ]);
      return (result.rowCount ?? 0) > 0;
    } finally {
      await client.end().catch(() => undefined);
    }
  } catch (error) {
    log.debug({ err: (error as Error).message }, 'could not check the source slot');
    return undefined;
  }
}

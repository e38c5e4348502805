// `pgferry resnapshot`: the recovery from a lost replication slot (docs/runbook.md, "If the
// replication slot was lost"). Changes made while the slot was missing never reached Kafka, so the
// target is rebuilt from a new Debezium snapshot: this command removes the connector with its
// Connect offsets, empties the target tables and their row positions, moves the group's offsets
// (target and Kafka) past every message already in the topics, and clears the slot-loss mark.
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
import { selectPipelineTopics } from '../status/kafka-reading.js';

interface ResnapshotOptions {
  yes?: boolean;
  force?: boolean;
  timeout: number;
}

interface TopicEnd {
  topic: string;
  /**
   * The target tables the topic fills (TopicTableMap: usually one), among those pgferry wrote: a
   * table pgferry never wrote holds nothing of the stream, and is never emptied.
   */
  tables: TableRef[];
  partitions: { partition: number; high: string }[];
}

export const registerResnapshotCommand: RegisterCommand = (program, { env, io, setExitCode }) => {
  program
    .command('resnapshot')
    .description(
      'after a lost replication slot: remove the connector and its offsets, empty the target tables, skip the old messages; then `connector apply` re-snapshots',
    )
    .option('--yes', 'do it (without: print what it would do and change nothing)')
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
    .addHelpText(
      'after',
      `
Stop every \`pgferry run\` of this pipeline first: it refuses (exit 3) while the consumer group
(KAFKA_GROUP_ID) has members. Every table of the pipeline (the topics matching
KAFKA_TOPIC_PATTERN) is rebuilt: a new connector snapshots all its tables anyway, and a table
kept as it was would keep the rows deleted on the source while the slot was missing.

Exit codes: 0 done; 2 without --yes (the plan is printed, nothing changed) or bad configuration;
3 refused (pgferry still running, the pipeline already cut over (reverse connector registered),
or no evidence of a lost slot without --force); 1 something could not be reached.`,
    )
    .action(async (options: ResnapshotOptions) => {
      const config = loadConfig(env);
      // The mapping `run` uses: a topic empties only the tables it names, never by splitting dots.
      const routing = TopicTableMap.fromConfig(config);
      const log = createLogger(
        config.log.level === 'debug' ? 'debug' : 'silent',
        io.logDestination,
      );
      const connect = new ConnectClient({ baseUrl: config.connect.url, auth: config.connect.auth });
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
        const topics = await readTopicEnds(admin, config, routing);
        const plan = [
          connector === undefined
            ? `connector ${name}: not registered (nothing to remove)`
            : `connector ${name} (${connector.connector.state}): stop it, delete its Connect offsets, delete it`,
          `target tables to empty (TRUNCATE, and their row positions): ${topics.flatMap((t) => t.tables.map(formatTableRef)).join(', ') || 'none'}`,
          `group ${config.kafka.groupId}: offsets (pgferry.offsets and Kafka) moved to the end of ${topics.length} topic${topics.length === 1 ? '' : 's'}, so old messages are skipped`,
          `slot-loss mark of ${config.replication.slotName} cleared`,
        ];
        if (!options.yes) {
          io.stdout(
            `pgferry resnapshot would:\n${plan.map((p) => `  - ${p}`).join('\n')}\nNothing changed: add --yes to do it.\n`,
          );
          setExitCode(EXIT_USAGE);
          return;
        }
        if (connector !== undefined) {
          await removeConnector(connect, name, options.timeout * 1000);
          io.stdout(`connector ${name}: stopped, offsets deleted, removed\n`);
        }
        // A `pgferry run` started meanwhile would apply old messages over the emptied tables.
        const lateMembers = await groupMembers(admin, config.kafka.groupId);
        if (lateMembers > 0) {
          io.stderr(
            `refused: a pgferry of group ${config.kafka.groupId} started meanwhile (${lateMembers} member${lateMembers === 1 ? '' : 's'}); the connector is removed but the target is untouched. Stop it and run this again.\n`,
          );
          setExitCode(EXIT_CHECK_FAILED);
          return;
        }
        // Read after the connector stopped: nothing is appended to the topics any more.
        const ends = await readTopicEnds(admin, config, routing);
        const emptied = await resetTarget(config, ends);
        io.stdout(`target: emptied ${emptied.join(', ') || 'no table'}\n`);
        for (const t of ends) {
          await admin.setOffsets({
            groupId: config.kafka.groupId,
            topic: t.topic,
            partitions: t.partitions.map((p) => ({ partition: p.partition, offset: p.high })),
          });
        }
        io.stdout(
          `group ${config.kafka.groupId}: offsets at the end of ${ends.length} topic${ends.length === 1 ? '' : 's'}\n`,
        );
        const slotNote = await describeLeftoverSlot(config, log);
        if (slotNote) io.stdout(`${slotNote}\n`);
        io.stdout(
          'Next: `npx pgferry connector apply` (new slot, full snapshot), then `npx pgferry run`; `npx pgferry status` exits 0 once the snapshot is applied.\n',
        );
        setExitCode(EXIT_OK);
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
    });
};

async function groupMembers(admin: Admin, groupId: string): Promise<number> {
  const { groups } = await admin.describeGroups([groupId]);
  return groups[0]?.members.length ?? 0;
}

/**
 * The pipeline's topics (the runner's rule: matching, minus DLQs, internal ones and those of
 * tables `run` does not write), each with the tables pgferry wrote that it fills.
 */
async function readTopicEnds(
  admin: Admin,
  config: PgferryConfig,
  routing: TopicTableMap,
): Promise<TopicEnd[]> {
  const names = selectPipelineTopics(await admin.listTopics(), config);
  const written = await readTargetTablesWritten(config);
  const isWritten = (t: TableRef) =>
    written.some((w) => w.schema === t.schema && w.name === t.name);
  return Promise.all(
    names.map(async (topic) => ({
      topic,
      tables: routing.targetsOfTopic(topic, written).filter(isWritten),
      partitions: (await admin.fetchTopicOffsets(topic)).map((o) => ({
        partition: o.partition,
        high: o.high,
      })),
    })),
  );
}

async function readTargetTablesWritten(config: PgferryConfig): Promise<TableRef[]> {
  const client = await connectPg(config.target, 'pgferry-resnapshot');
  try {
    return await readWrittenTables(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** PUT /stop, wait for STOPPED, DELETE /offsets, DELETE the connector. */
async function removeConnector(
  connect: ConnectClient,
  name: string,
  timeoutMs: number,
): Promise<void> {
  await connect.stopConnector(name);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await connect.getConnectorStatus(name);
    if (status === undefined || status.connector.state === 'STOPPED') break;
    if (Date.now() > deadline) {
      throw new PgferryError(
        `connector ${name} is still ${status.connector.state} after ${timeoutMs / 1000} s; nothing else was changed`,
        { retriable: true },
      );
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  await connect.deleteConnectorOffsets(name);
  await connect.deleteConnector(name);
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
 * One target transaction: every table and its position table truncated, the group's offsets
 * raised to the topic ends, the slot-loss mark removed. Returns the tables emptied.
 */
async function resetTarget(config: PgferryConfig, ends: readonly TopicEnd[]): Promise<string[]> {
  const client = await connectPg(config.target, 'pgferry-resnapshot');
  try {
    await ensureBookkeeping(client);
    await client.query('BEGIN');
    const emptied: string[] = [];
    for (const t of ends) {
      for (const { schema, name } of t.tables) {
        const exists = await client.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [
          qualifiedName(schema, name),
        ]);
        if (exists.rows[0]?.t != null) {
          await client.query(`TRUNCATE ${qualifiedName(schema, name)}`);
          emptied.push(formatTableRef({ schema, name }));
        }
        // A fresh snapshot starts without the old row positions (deleted rows included).
        await resetTablePositions(client, schema, name);
      }
      await moveOffsetsForward(
        client,
        config.kafka.groupId,
        t.topic,
        t.partitions.map((p) => ({ partition: p.partition, nextOffset: p.high })),
      );
    }
    await clearSlotLoss(client, config.replication.slotName);
    await client.query('COMMIT');
    return emptied;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A slot that survived the connector (slot.drop.on.stop off) would be reused: say so. */
async function describeLeftoverSlot(config: PgferryConfig, log: Logger): Promise<string> {
  if (config.source === undefined) return '';
  const slot = config.replication.slotName;
  try {
    const client = await connectPg(config.source, 'pgferry-resnapshot');
    try {
      const result = await client.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [
        slot,
      ]);
      if (result.rowCount === 0) return '';
      return `note: slot ${slot} still exists on the source; for a clean start drop it before \`connector apply\`: SELECT pg_drop_replication_slot('${slot}') (as a role with REPLICATION)`;
    } finally {
      await client.end().catch(() => undefined);
    }
  } catch (error) {
    log.debug({ err: (error as Error).message }, 'could not check the source slot');
    return '';
  }
}

// What `pgferry resnapshot` will do, in the order it does it (resnapshot-command.ts runs it): the
// plan printed before it acts and held in its --json output. The order is the point: everything
// that can be undone or redone comes first (stopping the connector, resetting the target), what
// cannot (the connector's Connect offsets) comes after, and the slot-loss mark goes last.

import type { TableRef } from '../../pipeline/row-change.js';
import {
  type DestructivePlan,
  describeConnect,
  describeDatabase,
  describeTable,
  type PlannedStep,
} from '../destructive-plan.js';

interface Database {
  host: string;
  port: number;
  database: string;
}

/** What resnapshot found before it acts: the plan is made of these and nothing else. */
export interface ResnapshotFacts {
  connectUrl: string;
  connectorName: string;
  /** The connector's state (RUNNING, FAILED, ...); undefined: not registered. */
  connectorState: string | undefined;
  target: Database;
  /** The target tables to empty: the pipeline's, among those pgferry wrote or copied. */
  tables: readonly TableRef[];
  groupId: string;
  /** The pipeline's topics whose end the group's offsets move to. */
  topics: readonly string[];
  brokers: readonly string[];
  slotName: string;
  /** The source, when configured: where the slot lives. */
  source: Database | undefined;
  /** The slot exists on the source now; undefined: could not be checked. */
  slotExists: boolean | undefined;
}

export function planResnapshot(facts: ResnapshotFacts): DestructivePlan {
  const connect = describeConnect(facts.connectUrl);
  const target = `target ${describeDatabase(facts.target)}`;
  const registered = facts.connectorState !== undefined;
  const steps: PlannedStep[] = [];
  if (registered) {
    steps.push({
      action: 'stop the connector; it keeps its offsets and could still be resumed',
      where: connect,
      objects: [`${facts.connectorName} (now ${facts.connectorState})`],
    });
  }
  steps.push({
    action:
      "in one transaction: TRUNCATE these tables, clear their row positions and their copy bookkeeping (pgferry.copy_tables, copy_chunks), move the group's stored offsets (pgferry.offsets) to the end of the topics",
    where: target,
    objects:
      facts.tables.length > 0
        ? facts.tables.map(describeTable)
        : ["no table: pgferry has written none of this pipeline's tables"],
  });
  steps.push({
    action: `move consumer group ${facts.groupId}'s offsets to the end of these topics, so the old messages are skipped`,
    where: `Kafka ${facts.brokers.join(',')}`,
    objects: facts.topics.length > 0 ? [...facts.topics] : ['no topic'],
  });
  if (registered) {
    steps.push({
      action:
        'delete the connector and its Connect offsets; from here only a new snapshot fills the target',
      where: connect,
      objects: [facts.connectorName],
    });
  }
  steps.push({
    action: 'clear the slot-loss mark (status and cutover stop refusing)',
    where: target,
    objects: [`slot ${facts.slotName}`],
  });
  const where = facts.source ? ` on the source ${describeDatabase(facts.source)}` : '';
  const notes = [
    !registered
      ? `connector ${facts.connectorName} is not registered at ${connect}: nothing to stop or delete there`
      : undefined,
    facts.slotExists === true
      ? `slot ${facts.slotName} still exists${where}; resnapshot does not drop it (that needs a role with REPLICATION): drop it before \`connector apply\` so the new connector starts clean: SELECT pg_drop_replication_slot('${facts.slotName}')`
      : facts.slotExists === false
        ? `slot ${facts.slotName} does not exist${where}; \`connector apply\` creates a new one`
        : `slot ${facts.slotName}${where} could not be checked`,
    'then: `pgferry connector apply` (a new slot and a full snapshot) and `pgferry run`',
  ].filter((n): n is string => n !== undefined);
  return {
    command: 'pgferry resnapshot',
    steps,
    notes,
    confirmWord: facts.target.database,
  };
}

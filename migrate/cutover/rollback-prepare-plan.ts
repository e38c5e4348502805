// What `pgferry rollback prepare` will change, made from its own dry run (reverse-replication.ts
// with dryRun: the same reads, no change): the publication on the target, the forward connector
// stopped, the reverse connector registered and the slot it creates. Printed before it acts.
// It removes nothing: the stopped connector keeps its offsets and its slot, so a resume undoes it.
import type { PgferryConfig } from '../../core/config.js';
import { redactUrl } from '../../core/redact-url.js';
import {
  type DestructivePlan,
  describeConnect,
  describeDatabase,
  type PlannedStep,
} from '../destructive-plan.js';
import type { PrepareResult } from './reverse-replication.js';

export function buildRollbackPreparePlan(
  config: PgferryConfig,
  checked: PrepareResult,
): DestructivePlan {
  const target = `target ${describeDatabase(config.target)}`;
  const connect = describeConnect(config.connect.url);
  const forward = config.connect.connectorName;
  const publication = config.reverse.publication;
  const steps: PlannedStep[] = [];
  const notes: string[] = [];
  if (checked.publicationSql !== null) {
    steps.push({
      action: checked.publicationSql.startsWith('CREATE')
        ? `create publication ${publication} of these tables`
        : `set the tables of publication ${publication} to exactly these (ALTER PUBLICATION ... SET TABLE)`,
      where: target,
      objects: [...checked.tables],
    });
  } else {
    notes.push(
      `publication ${publication} on the target already has the ${checked.tables.length} table(s): unchanged`,
    );
  }
  if (checked.forwardState !== null) {
    steps.push({
      action: `stop the forward connector, so the reverse pgferry's writes to the source are not sent back (it keeps its offsets and its slot ${config.replication.slotName}; PUT ${redactUrl(config.connect.url)}/connectors/${forward}/resume undoes it)`,
      where: connect,
      objects: [`${forward} (now ${checked.forwardState})`],
    });
  } else {
    notes.push(`forward connector ${forward} is not registered: nothing to stop`);
  }
  steps.push({
    action: `register (or update) the reverse Debezium connector from ${config.connect.connectorConfigFile} + ${config.reverse.connectorConfigFile}`,
    where: connect,
    objects: [config.reverse.connectorName],
  });
  steps.push({
    action:
      'the reverse connector creates this replication slot: from then on every write on the target is captured (the slot keeps the target’s WAL until it is dropped)',
    where: target,
    objects: [config.reverse.slotName],
  });
  const source = config.source ? ` on the source ${describeDatabase(config.source)}` : '';
  notes.push(
    `the forward slot ${config.replication.slotName}${source} is kept (and keeps WAL): drop it once the migration is final`,
    'then: `pgferry run --reverse` applies the target’s writes to the source',
  );
  return {
    command: 'pgferry rollback prepare',
    steps,
    notes,
    confirmWord: config.target.database,
  };
}

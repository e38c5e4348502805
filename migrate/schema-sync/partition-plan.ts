// Declarative partitioning on the target: a partitioned source table is created `PARTITION BY` its
// key, and each partition (sub-partitions and default partitions included) `PARTITION OF` its
// mapped parent with the source's bound. On an existing target table the missing partitions are
// created and a different key or bound is reported, never changed.
import { quoteIdent, quoteLiteral } from '../../core/sql-identifier.js';
import { keyOf, qualified } from './name-mapping.js';
import {
  formatQualifiedName,
  type PartitionDefinition,
  type QualifiedName,
  type TableDefinition,
} from './schema-catalog-types.js';
import type { SchemaSyncDraft, TableDraft } from './schema-sync-draft.js';

/** Why a table is not synced as itself: it is a partition, synced with its root. */
export function partitionSkipReason(table: TableDefinition): string | undefined {
  if (!table.partitionOf) return undefined;
  return `a partition of ${formatQualifiedName(table.partitionOf)}: schema-sync creates it with its partitioned table, and with publish_via_partition_root its changes are the root's (select the root, not its partitions)`;
}

/** The ` PARTITION BY ...` clause of a new partitioned table ('' for any other table). */
export function partitionByClause(draft: SchemaSyncDraft, table: TableDefinition): string {
  return table.partitionKey === undefined
    ? ''
    : ` PARTITION BY ${draft.mapping.expression(table.partitionKey)}`;
}

/** CREATE TABLE ... PARTITION OF for one partition, its names mapped. */
function createPartitionSql(draft: SchemaSyncDraft, partition: PartitionDefinition): string {
  const { mapping } = draft;
  const by =
    partition.partitionKey === undefined
      ? ''
      : ` PARTITION BY ${mapping.expression(partition.partitionKey)}`;
  return `CREATE TABLE ${qualified(mapping.name(partition))} PARTITION OF ${qualified(mapping.name(partition.parent))} ${mapping.expression(partition.bound)}${by}`;
}

/** Plans the partitions of a partitioned table after its CREATE TABLE or against the target's. */
export function planPartitions(draft: SchemaSyncDraft, tableDraft: TableDraft): void {
  const { table, existing, object } = tableDraft;
  if (!table.partitioned) return;
  const { mapping } = draft;
  const partitions = table.partitions ?? [];

  if (existing !== undefined) {
    if (!existing.partitioned) {
      object.notes.push(
        `partitioned on the source (${table.partitionKey ?? '?'}), not on the target: its rows are kept in one table (partitions not synced)`,
      );
      return;
    }
    const sourceKey = mapping.expression(table.partitionKey ?? '');
    if (existing.partitionKey !== sourceKey) {
      object.notes.push(
        `partitioned by ${existing.partitionKey ?? '?'} on the target, ${sourceKey} on the source: partitions not synced (the target routes rows to its own partitions)`,
      );
      return;
    }
  }

  const have = new Map((existing?.partitions ?? []).map((p) => [keyOf(p), p]));
  // Parents the target has or this plan creates: a partition is created only under one of them.
  const parents = new Set<string>([keyOf(tableDraft.target)]);
  for (const p of existing?.partitions ?? [])
    if (p.partitionKey !== undefined) parents.add(keyOf(p));
  const sourceNames = new Set<string>();
  // A target default partition may already hold rows of a partition created now (they arrived
  // before it existed), and PostgreSQL refuses the partition then: the default is detached, the
  // partitions created, those rows moved into them, and the default attached again.
  const defaults = new Map<string, PartitionDefinition>();
  for (const p of existing?.partitions ?? [])
    if (p.bound === 'DEFAULT') defaults.set(keyOf(p.parent), p);
  const detached = new Set<string>();
  const moves: string[] = [];

  for (const partition of partitions) {
    const to = mapping.name(partition);
    const parent = mapping.name(partition.parent);
    sourceNames.add(keyOf(to));
    if (partition.foreign) {
      draft.reportMismatch(
        object,
        `partition ${formatQualifiedName(partition)} is a foreign table: create ${formatQualifiedName(to)} on the target by hand`,
      );
      continue;
    }
    const found = have.get(keyOf(to));
    if (found === undefined) {
      if (!parents.has(keyOf(parent))) continue; // its parent is missing or differs: reported there
      draft.ensureSchema(to.schema);
      const defaultPartition = defaults.get(keyOf(parent));
      if (defaultPartition !== undefined && partition.bound !== 'DEFAULT' && existing) {
        if (!detached.has(keyOf(parent))) {
          detached.add(keyOf(parent));
          draft.statements.tables.push(
            `ALTER TABLE ${qualified(parent)} DETACH PARTITION ${qualified(defaultPartition)}`,
          );
        }
        moves.push(moveFromDefaultSql(existing, defaultPartition, to));
        object.actions.push(
          `move the rows of default partition ${formatQualifiedName(defaultPartition)} that belong in ${formatQualifiedName(to)}`,
        );
      }
      draft.statements.tables.push(createPartitionSql(draft, partition));
      if (partition.partitionKey !== undefined) parents.add(keyOf(to));
      object.actions.push(
        `create partition ${formatQualifiedName(to)} ${mapping.expression(partition.bound)}`,
      );
      continue;
    }
    checkPartition(draft, object, partition, found, parent, parents);
  }

  draft.statements.tables.push(...moves);
  for (const parentKey of detached) {
    const defaultPartition = defaults.get(parentKey) as PartitionDefinition;
    draft.statements.tables.push(
      `ALTER TABLE ${qualified(defaultPartition.parent)} ATTACH PARTITION ${qualified(defaultPartition)} DEFAULT`,
    );
  }

  for (const extra of existing?.partitions ?? []) {
    if (!sourceNames.has(keyOf(extra))) {
      object.notes.push(
        `partition ${formatQualifiedName(extra)} (${extra.bound}) exists only on the target`,
      );
    }
  }
}

/** A partition both sides have: same parent, bound and sub-partition key, else a mismatch. */
function checkPartition(
  draft: SchemaSyncDraft,
  object: TableDraft['object'],
  partition: PartitionDefinition,
  found: PartitionDefinition,
  parent: QualifiedName,
  parents: Set<string>,
): void {
  const { mapping } = draft;
  const name = formatQualifiedName(found);
  const bound = mapping.expression(partition.bound);
  if (keyOf(found.parent) !== keyOf(parent)) {
    draft.reportMismatch(
      object,
      `partition ${name} is a partition of ${formatQualifiedName(found.parent)} on the target, of ${formatQualifiedName(parent)} on the source (not changed)`,
    );
  } else if (found.bound !== bound) {
    draft.reportMismatch(
      object,
      `partition ${name}: bound ${found.bound} on the target, ${bound} on the source (not changed)`,
    );
  }
  const key =
    partition.partitionKey === undefined ? undefined : mapping.expression(partition.partitionKey);
  if (key !== found.partitionKey) {
    parents.delete(keyOf(found));
    draft.reportMismatch(
      object,
      `partition ${name}: ${found.partitionKey === undefined ? 'not partitioned' : `partitioned by ${found.partitionKey}`} on the target, ${key === undefined ? 'not partitioned' : `partitioned by ${key}`} on the source (not changed)`,
    );
  }
}

/**
 * Moves the rows of a (detached) default partition that the new partition `to` takes, by the
 * new partition's own constraint (pg_get_partition_constraintdef), every stored column named.
 */
function moveFromDefaultSql(
  existing: TableDefinition,
  defaultPartition: QualifiedName,
  to: QualifiedName,
): string {
  const columns = existing.columns
    .filter((c) => c.generated === undefined)
    .map((c) => quoteIdent(c.name))
    .join(', ');
  const head = `WITH moved AS (DELETE FROM ${qualified(defaultPartition)} WHERE `;
  const tail = `) RETURNING ${columns}) INSERT INTO ${qualified(to)} (${columns}) SELECT ${columns} FROM moved`;
  const body = [
    `DECLARE cond text := pg_get_partition_constraintdef(${quoteLiteral(qualified(to))}::regclass);`,
    'BEGIN',
    `  IF cond IS NOT NULL THEN EXECUTE ${quoteLiteral(`${head}(`)} || cond || ${quoteLiteral(tail)}; END IF;`,
    'END',
  ].join('\n');
  return `DO ${quoteLiteral(body)}`;
}

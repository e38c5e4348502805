// Preflight check of how the connector captures partitioned tables: through their root. With
// publish_via_partition_root the stream names only the root, so the connector's filters must let
// the root in; and a Debezium snapshot reads every table its filters let in, so a partition let in
// would be snapshotted a second time onto a topic of its own (rows applied apart from the root's
// changes, where a later delete on the root's topic cannot order after them).
import { formatTableName, type MigrationTable } from '../migration-tables.js';
import {
  type CheckVerdict,
  type ConnectorConfigReading,
  fail,
  type PreflightContext,
  pass,
  type SourceFacts,
  skip,
  warn,
} from './preflight-check.js';
import { requireCapturedTables, toTableArrays } from './source-facts.js';

/** Debezium's snapshot modes that read no rows; any other mode snapshots the captured tables. */
const NO_DATA_MODES = new Set(['no_data', 'never']);

/**
 * One Debezium list (comma-separated Java regexes, whole-name and case-insensitive unless an entry
 * says `(?-i)`) as a predicate; undefined for an entry this JavaScript reading cannot follow.
 */
export function readDebeziumList(list: string): ((name: string) => boolean) | undefined {
  const entries = list
    .split(/(?<!\\),/)
    .map((e) => e.trim())
    .filter((e) => e !== '');
  const patterns: RegExp[] = [];
  for (const text of entries) {
    const flags = /^\(\?([a-z]*)(?:-([a-z]*))?\)/.exec(text);
    const on = flags?.[1] ?? '';
    const off = flags?.[2] ?? '';
    const body = flags ? text.slice(flags[0].length) : text;
    // Java-only syntax JavaScript would read differently: quoting, classes, possessive quantifiers.
    if (/\\[QEpPAZz]|[*+?}]\+|\(\?[a-z-]*[:)]/.test(body)) return undefined;
    let js = '';
    if (!off.includes('i')) js += 'i';
    if (on.includes('s')) js += 's';
    try {
      patterns.push(new RegExp(`^(?:${body})$`, js));
    } catch {
      return undefined;
    }
  }
  return (name) => patterns.some((p) => p.test(name));
}

export async function checkPartitionCapture(
  facts: SourceFacts,
  context: PreflightContext,
): Promise<CheckVerdict> {
  const tables = requireCapturedTables(facts);
  const found = await facts.client.query<{
    schema: string;
    name: string;
    partitions: string[];
  }>(
    `SELECT t.schema, t.name,
            array(SELECT pn.nspname || '.' || pc.relname
                    FROM pg_partition_tree(c.oid) pt
                    JOIN pg_class pc ON pc.oid = pt.relid
                    JOIN pg_namespace pn ON pn.oid = pc.relnamespace
                   WHERE pt.relid <> c.oid ORDER BY 1) AS partitions
       FROM unnest($1::text[], $2::text[]) AS t(schema, name)
       JOIN pg_namespace n ON n.nspname = t.schema
       JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.name AND c.relkind = 'p'
      ORDER BY t.schema, t.name`,
    toTableArrays(tables),
  );
  if (found.rows.length === 0) return pass('no partitioned table among the captured tables');
  return judgePartitionCapture(found.rows, await context.connector);
}

/**
 * The verdict for the captured partitioned tables (each with its partitions at every depth, as
 * `schema.name`) and the connector's stored config. Pure.
 */
export function judgePartitionCapture(
  partitioned: readonly (MigrationTable & { partitions: readonly string[] })[],
  reading: ConnectorConfigReading,
): CheckVerdict {
  const roots: MigrationTable[] = partitioned.map((r) => ({ schema: r.schema, name: r.name }));
  const config = reading.config;
  if (config === undefined) {
    return skip(
      `${roots.length} partitioned table(s); the connector is not registered yet (${reading.error ?? 'run pgferry connector apply'}): its filters must let the roots in and, unless snapshot.mode = no_data, keep their partitions out`,
    );
  }
  const lists = {
    schemaIn: config['schema.include.list'],
    schemaOut: config['schema.exclude.list'],
    tableIn: config['table.include.list'],
    tableOut: config['table.exclude.list'],
  };
  const read = (list: string | undefined) =>
    list === undefined ? undefined : readDebeziumList(list);
  const predicates = {
    schemaIn: read(lists.schemaIn),
    schemaOut: read(lists.schemaOut),
    tableIn: read(lists.tableIn),
    tableOut: read(lists.tableOut),
  };
  for (const key of Object.keys(lists) as (keyof typeof lists)[]) {
    if (lists[key] !== undefined && predicates[key] === undefined) {
      return warn(
        `cannot read the connector's filters (${key}): check by hand that they let the partitioned tables' roots in (${roots.map(formatTableName).join(', ')}) and keep their partitions out`,
      );
    }
  }
  const captured = (qualified: string): boolean => {
    const schema = qualified.slice(0, qualified.indexOf('.'));
    if (predicates.schemaIn && !predicates.schemaIn(schema)) return false;
    if (predicates.schemaOut?.(schema)) return false;
    if (predicates.tableIn && !predicates.tableIn(qualified)) return false;
    if (predicates.tableOut?.(qualified)) return false;
    return true;
  };
  const lost = roots.map(formatTableName).filter((name) => !captured(name));
  if (lost.length > 0) {
    return fail(
      `the connector's filters leave out partitioned table(s) whose changes are published under the root's name: nothing of them would be streamed; let the roots in (table.include.list names the root, not its partitions)`,
      lost,
    );
  }
  const mode = config['snapshot.mode'] ?? 'initial';
  const snapshotted = partitioned.flatMap((r) => r.partitions).filter(captured);
  if (snapshotted.length > 0 && !NO_DATA_MODES.has(mode)) {
    return fail(
      `snapshot.mode = ${mode} would snapshot ${snapshotted.length} partition(s) as tables of their own, each onto its own topic beside the root's rows: name the roots in table.include.list (or exclude the partitions), or use snapshot.mode = no_data with pgferry copy`,
      snapshotted,
    );
  }
  return pass(
    `${roots.length} partitioned table(s) captured through their root${snapshotted.length > 0 ? ` (their partitions pass the filters too, harmless with snapshot.mode = ${mode})` : ''}`,
    roots.map(formatTableName),
  );
}

// Preflight checks of what logical replication does not carry, on the source: UNLOGGED tables
// (never in the WAL), large objects (pg_largeobject is not a published table), tables of the
// captured schemas left out of the migration, and sequences cutover's sequence sync will not set
// (logical decoding carries no sequence values). The facts are read once per preflight run, in
// one query, and judged by pure functions.
import type pg from 'pg';
import type { MigrationTable } from '../migration-tables.js';
import {
  type CheckVerdict,
  fail,
  listNames,
  pass,
  type SourceFacts,
  warn,
} from './preflight-check.js';
import { requireCapturedTables, toTableArrays } from './source-facts.js';

export interface CaptureGapFacts {
  /** Captured tables (and partitions of captured roots) that are UNLOGGED, qualified. */
  unloggedCaptured: string[];
  /** Tables of the captured tables' schemas that are not captured, qualified. */
  uncaptured: { name: string; unlogged: boolean }[];
  /** Large objects in the source database (pg_largeobject_metadata). */
  largeObjects: number;
  /** Captured columns of type `oid` or `lo`: where large objects are usually referenced. */
  largeObjectColumns: string[];
  /** Sequences of the captured schemas that no captured table's column owns or defaults to. */
  uncoveredSequences: { name: string; usedBy: string[] }[];
}

const CAPTURE_GAP_SQL = `
WITH want AS (
  SELECT c.oid FROM unnest($1::text[], $2::text[]) AS w(schema, name)
    JOIN pg_namespace n ON n.nspname = w.schema
    JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = w.name),
captured AS (
  -- a captured partitioned root carries its partitions' rows
  SELECT want.oid FROM want
  UNION
  SELECT p.relid FROM want JOIN pg_class c ON c.oid = want.oid AND c.relkind = 'p',
    LATERAL pg_partition_tree(want.oid) p),
schemas AS (SELECT DISTINCT c.relnamespace AS oid FROM want JOIN pg_class c ON c.oid = want.oid),
uses AS (
  -- serial and identity columns: the sequence depends on the column (what cutover sets)
  SELECT d.objid AS seq, d.refobjid AS tbl, d.refobjsubid AS attnum FROM pg_depend d
   WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
     AND d.deptype IN ('a', 'i') AND d.refobjsubid > 0
  UNION
  -- DEFAULT nextval('some_seq'): the default depends on the sequence (what cutover sets too)
  SELECT d.refobjid, ad.adrelid, ad.adnum FROM pg_attrdef ad
    JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid
     AND d.refclassid = 'pg_class'::regclass)
SELECT
  (SELECT coalesce(array_agg(format('%I.%I', n.nspname, c.relname) ORDER BY 1), '{}')
     FROM captured JOIN pg_class c ON c.oid = captured.oid
     JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relpersistence = 'u') AS unlogged_captured,
  (SELECT coalesce(json_agg(json_build_object('name', format('%I.%I', n.nspname, c.relname),
            'unlogged', c.relpersistence = 'u') ORDER BY n.nspname, c.relname), '[]')
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relnamespace IN (SELECT oid FROM schemas) AND c.relkind IN ('r', 'p')
      AND NOT c.relispartition AND c.oid NOT IN (SELECT oid FROM captured)) AS uncaptured,
  (SELECT count(*) FROM pg_largeobject_metadata) AS large_objects,
  (SELECT coalesce(array_agg(format('%I.%I.%I', n.nspname, c.relname, a.attname) ORDER BY 1), '{}')
     FROM want JOIN pg_class c ON c.oid = want.oid
     JOIN pg_namespace n ON n.oid = c.relnamespace
     JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
     JOIN pg_type t ON t.oid = a.atttypid
    WHERE t.oid = 'oid'::regtype OR t.typname = 'lo') AS large_object_columns,
  (SELECT coalesce(json_agg(json_build_object('name', s.name, 'usedBy', s.used_by)
            ORDER BY s.name), '[]')
     FROM (SELECT format('%I.%I', sn.nspname, sq.relname) AS name,
                  coalesce(array_agg(format('%I.%I.%I', tn.nspname, t.relname, a.attname)
                    ORDER BY 1) FILTER (WHERE t.oid IS NOT NULL), '{}') AS used_by,
                  bool_or(u.tbl IN (SELECT oid FROM captured)) AS covered
             FROM pg_class sq JOIN pg_namespace sn ON sn.oid = sq.relnamespace
             LEFT JOIN uses u ON u.seq = sq.oid
             LEFT JOIN pg_class t ON t.oid = u.tbl
             LEFT JOIN pg_namespace tn ON tn.oid = t.relnamespace
             LEFT JOIN pg_attribute a ON a.attrelid = u.tbl AND a.attnum = u.attnum
            WHERE sq.relkind = 'S' AND sq.relnamespace IN (SELECT oid FROM schemas)
            GROUP BY sn.nspname, sq.relname) s
    WHERE s.covered IS NOT TRUE) AS uncovered_sequences`;

export async function readCaptureGapFacts(
  client: pg.ClientBase,
  tables: readonly MigrationTable[],
): Promise<CaptureGapFacts> {
  const result = await client.query<{
    unlogged_captured: string[];
    uncaptured: { name: string; unlogged: boolean }[];
    large_objects: string;
    large_object_columns: string[];
    uncovered_sequences: { name: string; usedBy: string[] }[];
  }>(CAPTURE_GAP_SQL, toTableArrays(tables));
  const row = result.rows[0];
  return {
    unloggedCaptured: row?.unlogged_captured ?? [],
    uncaptured: row?.uncaptured ?? [],
    largeObjects: Number(row?.large_objects ?? 0),
    largeObjectColumns: row?.large_object_columns ?? [],
    uncoveredSequences: row?.uncovered_sequences ?? [],
  };
}

/** Read once per preflight run (per source connection), shared by the four checks. */
const factsBySource = new WeakMap<SourceFacts, Promise<CaptureGapFacts>>();

function captureGapFacts(facts: SourceFacts): Promise<CaptureGapFacts> {
  const tables = requireCapturedTables(facts);
  let read = factsBySource.get(facts);
  if (read === undefined) {
    read = readCaptureGapFacts(facts.client, tables);
    factsBySource.set(facts, read);
  }
  return read;
}

/**
 * UNLOGGED tables write no WAL, so logical decoding never sees a change of theirs. Captured: FAIL.
 * In a captured schema but not captured (a FOR TABLES IN SCHEMA publication skips them
 * silently): WARN, so their absence on the target is a choice.
 */
export function judgeUnloggedTables(gap: CaptureGapFacts): CheckVerdict {
  const leftOut = gap.uncaptured.filter((t) => t.unlogged).map((t) => t.name);
  if (gap.unloggedCaptured.length > 0) {
    const first = gap.unloggedCaptured[0];
    return fail(
      `${gap.unloggedCaptured.length} captured table(s) are UNLOGGED: their changes are not in the WAL, so Debezium never streams them (pgferry copy would load a snapshot that then goes stale): ALTER TABLE ${first} SET LOGGED before the migration (it rewrites the table under an exclusive lock), or leave the table out and move it at cutover`,
      gap.unloggedCaptured.map((t) => `${t}: ALTER TABLE ${t} SET LOGGED`),
    );
  }
  if (leftOut.length > 0) {
    return warn(
      `${leftOut.length} UNLOGGED table(s) in the captured schemas are not migrated (no publication carries an UNLOGGED table): ALTER TABLE ... SET LOGGED and add it to the publication if the target needs its rows`,
      leftOut.map((t) => `${t}: ALTER TABLE ${t} SET LOGGED`),
    );
  }
  return pass('no UNLOGGED table among the captured tables or in their schemas');
}

/** Large objects live in pg_largeobject, which no publication can carry. */
export function judgeLargeObjects(gap: CaptureGapFacts): CheckVerdict {
  if (gap.largeObjects === 0) {
    return gap.largeObjectColumns.length === 0
      ? pass('no large objects in the source database')
      : pass(
          `no large objects in the source database (oid/lo columns: ${listNames(gap.largeObjectColumns)})`,
        );
  }
  return warn(
    `${gap.largeObjects} large object(s) in the source database (pg_largeobject): logical replication does not carry them, so an oid that refers to one arrives on the target pointing at nothing. Move their contents into bytea columns before the migration, or copy them during the cutover's write freeze (pg_dump --data-only --blobs, --large-objects from PostgreSQL 16, into pg_restore) and check the oids${gap.largeObjectColumns.length > 0 ? '; oid/lo columns of the captured tables:' : ''}`,
    gap.largeObjectColumns,
  );
}

/** Tables of the migrated schemas that are not migrated: said, so leaving one out is a choice. */
export function judgeUncapturedTables(gap: CaptureGapFacts): CheckVerdict {
  if (gap.uncaptured.length === 0) {
    return pass('every table of the captured schemas is captured');
  }
  return warn(
    `${gap.uncaptured.length} table(s) of the captured schemas are not in the migration (not in the publication / --tables): their rows and changes stay on the source. Add them to the publication (ALTER PUBLICATION ... ADD TABLE) if the application needs them on the target`,
    gap.uncaptured.map((t) =>
      t.unlogged ? `${t.name} (UNLOGGED: no publication can carry it)` : t.name,
    ),
  );
}

/**
 * Logical decoding carries no sequence values. Cutover's sequence sync sets the target sequences
 * a migrated table's column owns (serial, identity, OWNED BY) or names in its DEFAULT nextval(...);
 * a sequence only called by explicit nextval() (application code, functions) is set by no one.
 */
export function judgeSequences(gap: CaptureGapFacts): CheckVerdict {
  if (gap.uncoveredSequences.length === 0) {
    return pass(
      "every sequence of the captured schemas belongs to a captured column (owned or its DEFAULT): cutover's sequence sync sets them",
    );
  }
  return warn(
    `${gap.uncoveredSequences.length} sequence(s) of the captured schemas are neither owned by nor the DEFAULT of a captured table's column: logical replication does not carry sequence values, and cutover's sequence sync sets only sequences a migrated column owns (serial, identity, OWNED BY) or names in its DEFAULT nextval(...). Set these on the target yourself during the cutover's write freeze: SELECT setval('<target sequence>', <source last_value>), or ALTER SEQUENCE ... OWNED BY the column that uses it`,
    gap.uncoveredSequences.map((s) =>
      s.usedBy.length > 0
        ? `${s.name} (used by ${listNames(s.usedBy, 3)}, not captured)`
        : `${s.name} (explicit nextval only)`,
    ),
  );
}

export async function checkUnloggedTables(facts: SourceFacts): Promise<CheckVerdict> {
  return judgeUnloggedTables(await captureGapFacts(facts));
}

export async function checkLargeObjects(facts: SourceFacts): Promise<CheckVerdict> {
  return judgeLargeObjects(await captureGapFacts(facts));
}

export async function checkUncapturedTables(facts: SourceFacts): Promise<CheckVerdict> {
  return judgeUncapturedTables(await captureGapFacts(facts));
}

export async function checkUncoveredSequences(facts: SourceFacts): Promise<CheckVerdict> {
  return judgeSequences(await captureGapFacts(facts));
}

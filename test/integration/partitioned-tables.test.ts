// Partitioned tables end to end on the real stack, replicated through their root
// (publish_via_partition_root), in a schema with its own publication: a range-partitioned table with a hash-sub-partitioned partition and
// a default partition, a list-partitioned table, and a list-partitioned table the target partitions
// by hash of another key column (left as it is: the target routes rows itself). preflight checks the publication's setting;
// schema-sync creates the partitioning; pgferry copy copies through the roots; pgferry run applies
// inserts, updates, deletes and partition-key moves arriving on the roots' topics; verify matches.
// Then, during replication: a partition created on the source and written at once stops its table
// on the target (no partition for the row; nothing dead-lettered) or, beside a default partition,
// lands there until schema-sync creates the partition and moves it; and a table with rows ATTACHed
// as a partition (no change events) has its rows reported missing by verify; the documented
// remedy (schema-sync, restart; copy --restart of the tables that gained or lost rows silently, here
// by an ATTACH and by a TRUNCATE of one partition, which is not published via the root) repairs them.
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectClient } from '../../core/connect-client.js';
import { applyConnector } from '../../migrate/connector/connector-apply.js';
import { readConnectorDefinition } from '../../migrate/connector/connector-definition.js';
import type { CopyReport } from '../../migrate/copy/copy-command.js';
import type { PreflightReport } from '../../migrate/preflight/preflight-check.js';
import { readSchemaCatalog } from '../../migrate/schema-sync/schema-catalog.js';
import type { VerifyReport } from '../../migrate/verify/table-verify.js';
import { runPgferryCli } from '../support/cli-run.js';
import { type PgferryProcess, startPgferry } from '../support/pgferry-process.js';
import { loadStackEnv, repoPath } from '../support/stack-env.js';
import { waitForEqual } from '../support/table-checksum.js';
import { removeTestConnector } from '../support/test-connector.js';

const stack = loadStackEnv();
const run = Date.now().toString(36);
const prefix = `part_${run}`;
/** A schema and publication of this file's own: other files' objects in public never meet it. */
const SCHEMA = `part_s_${run}`;
const PUBLICATION = `part_pub_${run}`;
const inSchema = (table: string) => `${SCHEMA}.${table}`;
const slot = `pgferry_part_${run}`;
const connectorName = `pgferry-part-${run}`;
const EVENTS = `part_ev_${run}`;
const REGIONS = `part_rg_${run}`;
/** LIST-partitioned on the source, HASH-partitioned (by another key column) on the target. */
const REHASHED = `part_rh_${run}`;
const ROOTS = [EVENTS, REGIONS, REHASHED];
const ROOT_LIST = ROOTS.map(inSchema).join(',');
const ATTACHED = `${EVENTS}_2032`;
const NEW_PARTITION = `${REGIONS}_jp`;
const LATER = `${EVENTS}_2040`;
const OFF_PUBLICATION = `part_off_${run}`;
/** A second connector, Debezium's own snapshot of the root (snapshot.mode=initial). */
const SNAP_PREFIX = `partsnap_${run}`;
const SNAP_SLOT = `pgferry_partsnap_${run}`;
const SNAP_CONNECTOR = `pgferry-partsnap-${run}`;
const ORDER_BY = 'id';

const env: Record<string, string> = {
  ...stack.vars,
  SOURCE_SLOT_NAME: slot,
  CONNECTOR_NAME: connectorName,
  SOURCE_SCHEMAS: SCHEMA,
  SOURCE_PUBLICATION: PUBLICATION,
  KAFKA_TOPIC_PATTERN: `^${prefix}\\.${SCHEMA}\\..*`,
  KAFKA_GROUP_ID: `pgferry-part-${run}`,
  COPY_METRICS_PORT: '0',
  BATCH_SIZE: '200',
  TOPIC_REFRESH_SECONDS: '2',
  RETRY_MAX_DELAY_SECONDS: '2',
  LOG_LEVEL: 'info',
};

const source = new pg.Client({ connectionString: stack.sourceDatabaseUrl });
const target = new pg.Client({ connectionString: stack.targetDatabaseUrl });
const connect = new ConnectClient({ baseUrl: stack.connectUrl });
let pgferry: PgferryProcess | undefined;

/** A connector of this file's own: the project's file with its publication, slot and filters. */
async function applyOwnConnector(options: {
  name: string;
  topicPrefix: string;
  slotName: string;
  tables: string[];
  snapshotMode: string;
}): Promise<void> {
  const definition = await readConnectorDefinition(repoPath('connect-config/debezium-source.json'));
  await applyConnector({
    client: connect,
    name: options.name,
    timeoutMs: 180_000,
    config: {
      ...definition.config,
      'topic.prefix': options.topicPrefix,
      'slot.name': options.slotName,
      'slot.drop.on.stop': 'true',
      'publication.name': PUBLICATION,
      'schema.include.list': SCHEMA,
      'table.include.list': options.tables.map(inSchema).join(','),
      'snapshot.mode': options.snapshotMode,
    },
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function stopPgferry(): Promise<void> {
  if (!pgferry) return;
  pgferry.child.kill('SIGTERM');
  await pgferry.exited;
  pgferry = undefined;
}

/** Leaf partition of each row on `client`, by id: where the rows physically are. */
async function placement(client: pg.Client, table: string): Promise<Record<string, string>> {
  const rows = await client.query<{ id: number; part: string }>(
    `SELECT id, tableoid::regclass::text AS part FROM ${table} ORDER BY id`,
  );
  return Object.fromEntries(rows.rows.map((r) => [String(r.id), r.part]));
}

async function verify(tables: string[]) {
  const result = await runPgferryCli(
    [
      'verify',
      '--json',
      '--tables',
      tables.map(inSchema).join(','),
      '--recheck-attempts',
      '0',
      '--max-keys',
      '1000',
    ],
    env,
  );
  return { code: result.code, report: JSON.parse(result.stdout) as VerifyReport, result };
}

const equalTables = () =>
  waitForEqual(
    stack.sourceDatabaseUrl,
    stack.targetDatabaseUrl,
    ROOTS.map((name) => ({ name: inSchema(name), orderBy: ORDER_BY })),
    120_000,
  );

beforeAll(async () => {
  await source.connect();
  await target.connect();
  const reader = stack.vars.SOURCE_DB_USER ?? 'pgferry_reader';
  const owner = stack.vars.TARGET_DB_USER ?? 'pgferry';
  await source.query(`CREATE SCHEMA ${SCHEMA}; SET search_path = ${SCHEMA}`);
  await target.query(`CREATE SCHEMA ${SCHEMA} AUTHORIZATION ${owner}; SET search_path = ${SCHEMA}`);
  await source.query(`
    CREATE TABLE ${EVENTS} (id int NOT NULL, at date NOT NULL, kind text NOT NULL, note text,
      PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
    CREATE TABLE ${EVENTS}_2024 PARTITION OF ${EVENTS} FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
    CREATE TABLE ${EVENTS}_2025 PARTITION OF ${EVENTS} FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')
      PARTITION BY HASH (id);
    CREATE TABLE ${EVENTS}_2025_h0 PARTITION OF ${EVENTS}_2025 FOR VALUES WITH (MODULUS 2, REMAINDER 0);
    CREATE TABLE ${EVENTS}_2025_h1 PARTITION OF ${EVENTS}_2025 FOR VALUES WITH (MODULUS 2, REMAINDER 1);
    CREATE TABLE ${EVENTS}_other PARTITION OF ${EVENTS} DEFAULT;
    CREATE INDEX ${EVENTS}_kind ON ${EVENTS} (kind);
    INSERT INTO ${EVENTS} SELECT g, date '2023-12-01' + (g % 800), 'k' || (g % 5), 'note ' || g
      FROM generate_series(1, 600) g;
    CREATE TABLE ${REGIONS} (id int NOT NULL, region text NOT NULL, amount numeric(10,2),
      PRIMARY KEY (id, region)) PARTITION BY LIST (region);
    CREATE TABLE ${REGIONS}_eu PARTITION OF ${REGIONS} FOR VALUES IN ('de', 'fr');
    CREATE TABLE ${REGIONS}_us PARTITION OF ${REGIONS} FOR VALUES IN ('us');
    INSERT INTO ${REGIONS} SELECT g, (ARRAY['de', 'fr', 'us'])[1 + g % 3], g * 1.5
      FROM generate_series(1, 300) g;
    CREATE TABLE ${REHASHED} (id int NOT NULL, region text NOT NULL, v text,
      PRIMARY KEY (id, region)) PARTITION BY LIST (region);
    CREATE TABLE ${REHASHED}_de PARTITION OF ${REHASHED} FOR VALUES IN ('de');
    CREATE TABLE ${REHASHED}_rest PARTITION OF ${REHASHED} DEFAULT;
    INSERT INTO ${REHASHED} SELECT g, (ARRAY['de', 'us'])[1 + g % 2], 'v' || g FROM generate_series(1, 200) g;
    GRANT USAGE ON SCHEMA ${SCHEMA} TO debezium, ${reader};
    GRANT SELECT ON ALL TABLES IN SCHEMA ${SCHEMA} TO debezium, ${reader};
    ALTER DEFAULT PRIVILEGES IN SCHEMA ${SCHEMA} GRANT SELECT ON TABLES TO debezium, ${reader};
    CREATE PUBLICATION ${PUBLICATION} FOR TABLES IN SCHEMA ${SCHEMA}
      WITH (publish_via_partition_root = true);
    ANALYZE ${EVENTS}, ${REGIONS}, ${REHASHED};
  `);
  // The target's own partitioning of that table, made by hand and handed to pgferry's role.
  await target.query(`
    CREATE TABLE ${REHASHED} (id int NOT NULL, region text NOT NULL, v text,
      PRIMARY KEY (id, region)) PARTITION BY HASH (id);
    CREATE TABLE ${REHASHED}_h0 PARTITION OF ${REHASHED} FOR VALUES WITH (MODULUS 2, REMAINDER 0);
    CREATE TABLE ${REHASHED}_h1 PARTITION OF ${REHASHED} FOR VALUES WITH (MODULUS 2, REMAINDER 1);
    ALTER TABLE ${REHASHED} OWNER TO ${owner};
    ALTER TABLE ${REHASHED}_h0 OWNER TO ${owner};
    ALTER TABLE ${REHASHED}_h1 OWNER TO ${owner};
  `);
}, 60_000);

afterAll(async () => {
  await stopPgferry().catch(() => undefined);
  await removeTestConnector(stack.connectUrl, connectorName, source, slot);
  await removeTestConnector(stack.connectUrl, SNAP_CONNECTOR, source, SNAP_SLOT);
  const kafka = new Kafka({ brokers: [stack.kafkaBootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect().catch(() => undefined);
  const topics = (await admin.listTopics().catch(() => [] as string[])).filter(
    (t) => t.startsWith(`${prefix}.`) || t.startsWith(`${SNAP_PREFIX}.`),
  );
  if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin.disconnect().catch(() => undefined);
  for (const publication of [OFF_PUBLICATION, PUBLICATION]) {
    await source.query(`DROP PUBLICATION IF EXISTS ${publication}`).catch(() => undefined);
  }
  await source.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`).catch(() => undefined);
  await target.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`).catch(() => undefined);
  // pgferry's bookkeeping of these tables: copy state, row positions, the group's offsets.
  for (const sql of [
    'DELETE FROM pgferry.copy_chunks WHERE table_schema = $1',
    'DELETE FROM pgferry.copy_tables WHERE table_schema = $1',
  ]) {
    await target.query(sql, [SCHEMA]).catch(() => undefined);
  }
  const positions = await target
    .query<{ position_table: string }>(
      'DELETE FROM pgferry.tables WHERE table_schema = $1 RETURNING position_table',
      [SCHEMA],
    )
    .catch(() => ({ rows: [] as { position_table: string }[] }));
  // Also those no row names any more (copy --restart forgets a table's stream state).
  const orphans = await target
    .query<{ position_table: string }>(
      `SELECT c.relname AS position_table FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'pgferry' AND c.relkind = 'r' AND starts_with(c.relname, $1)`,
      [`pos_${SCHEMA}__`],
    )
    .catch(() => ({ rows: [] as { position_table: string }[] }));
  for (const { position_table } of [...positions.rows, ...orphans.rows]) {
    await target.query(`DROP TABLE IF EXISTS pgferry."${position_table.replace(/"/g, '""')}"`);
  }
  await target
    .query('DELETE FROM pgferry.offsets WHERE group_id = $1', [env.KAFKA_GROUP_ID])
    .catch(() => undefined);
  await source.end();
  await target.end();
}, 60_000);

describe.sequential('partitioned tables, replicated through their root', () => {
  it('preflight fails a publication without publish_via_partition_root, with the ALTER', async () => {
    await source.query(
      `CREATE PUBLICATION ${OFF_PUBLICATION} FOR TABLE ${ROOTS.join(', ')} WITH (publish_via_partition_root = false)`,
    );
    const check = async (publication: string) => {
      const result = await runPgferryCli(['preflight', '--json', '--tables', ROOT_LIST], {
        ...env,
        LOG_LEVEL: 'silent',
        SOURCE_PUBLICATION: publication,
      });
      const report = JSON.parse(result.stdout) as PreflightReport;
      return report.sections.flatMap((s) => s.checks).find((c) => c.id === 'source.publication');
    };
    const off = await check(OFF_PUBLICATION);
    expect(off?.status).toBe('fail');
    expect(off?.message).toContain(
      `ALTER PUBLICATION "${OFF_PUBLICATION}" SET (publish_via_partition_root = true)`,
    );
    expect(off?.details).toEqual(ROOTS.map(inSchema).sort());
    await source.query(
      `ALTER PUBLICATION ${OFF_PUBLICATION} SET (publish_via_partition_root = true)`,
    );
    const on = await check(OFF_PUBLICATION);
    expect(on?.status, on?.message).toBe('pass');
  }, 60_000);

  it('schema-sync creates the partitioning, shows it in --dry-run, and is idempotent', async () => {
    const dry = await runPgferryCli(['schema-sync', '--dry-run', '--tables', ROOT_LIST], env);
    expect(dry.code, dry.stderr + dry.stdout).toBe(0);
    expect(dry.stdout).toContain(`PARTITION OF "${SCHEMA}"."${EVENTS}_2025" FOR VALUES WITH`);
    expect(dry.stdout).toContain(`CREATE TABLE "${SCHEMA}"."${EVENTS}_other" PARTITION OF`);
    const synced = await runPgferryCli(['schema-sync', '--tables', ROOT_LIST], env);
    expect(synced.code, synced.stderr + synced.stdout).toBe(0);
    // A target partitioned another way is left as it is, with a note.
    expect(synced.stdout).toContain(
      'partitioned by HASH (id) on the target, LIST (region) on the source: partitions not synced',
    );
    const tree = await target.query<{ name: string; kind: string; bound: string | null }>(
      `SELECT c.relname AS name, c.relkind AS kind, pg_get_expr(c.relpartbound, c.oid) AS bound
         FROM pg_partition_tree($1::regclass) t JOIN pg_class c ON c.oid = t.relid ORDER BY 1`,
      [EVENTS],
    );
    expect(tree.rows).toEqual([
      { name: EVENTS, kind: 'p', bound: null },
      {
        name: `${EVENTS}_2024`,
        kind: 'r',
        bound: "FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
      },
      {
        name: `${EVENTS}_2025`,
        kind: 'p',
        bound: "FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
      },
      { name: `${EVENTS}_2025_h0`, kind: 'r', bound: 'FOR VALUES WITH (modulus 2, remainder 0)' },
      { name: `${EVENTS}_2025_h1`, kind: 'r', bound: 'FOR VALUES WITH (modulus 2, remainder 1)' },
      { name: `${EVENTS}_other`, kind: 'r', bound: 'DEFAULT' },
    ]);
    // The root's index cascaded to every leaf.
    const indexed = await target.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_partition_tree($1::regclass) t JOIN pg_index i ON i.indrelid = t.relid
        JOIN pg_class ic ON ic.oid = i.indexrelid WHERE t.isleaf AND NOT i.indisprimary`,
      [EVENTS],
    );
    expect(indexed.rows[0]?.n).toBe(4);
    const again = await runPgferryCli(['schema-sync', '--tables', ROOT_LIST], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('target schema is up to date');

    // Bounds read the same whatever the sessions' date styles and time zones.
    const bounds = async (url: string, settings: string) => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(settings);
        const read = await readSchemaCatalog(client, {
          tables: [{ schema: SCHEMA, name: EVENTS }],
        });
        const after = await client.query<{ ds: string }>('SHOW DateStyle');
        expect(after.rows[0]?.ds, 'the session keeps its own DateStyle').not.toBe('ISO, YMD');
        return read.tables[0]?.partitions?.map((p) => `${p.name} ${p.bound}`);
      } finally {
        await client.end();
      }
    };
    const fromSource = await bounds(
      stack.sourceDatabaseUrl,
      "SET DateStyle = 'SQL, DMY'; SET TimeZone = 'Asia/Tokyo'",
    );
    const fromTarget = await bounds(
      stack.targetDatabaseUrl,
      "SET DateStyle = 'German'; SET TimeZone = 'America/New_York'",
    );
    expect(fromSource).toEqual(fromTarget);
    expect(fromSource).toContain(`${EVENTS}_2024 FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')`);
  }, 60_000);

  it('copies through the roots, then streams inserts, updates, deletes and partition-key moves', async () => {
    await applyOwnConnector({
      name: connectorName,
      topicPrefix: prefix,
      slotName: slot,
      tables: ROOTS,
      snapshotMode: 'no_data',
    });
    // The connector names the roots: captured through them (their partitions left out).
    const preflight = await runPgferryCli(['preflight', '--json', '--tables', ROOT_LIST], {
      ...env,
      LOG_LEVEL: 'silent',
    });
    const capture = (JSON.parse(preflight.stdout) as PreflightReport).sections
      .flatMap((x) => x.checks)
      .find((c) => c.id === 'source.partition_capture');
    expect(capture?.status, capture?.message).toBe('pass');
    expect(capture?.details).toEqual(ROOTS.map(inSchema).sort());
    // A publication still to be made: the statement preflight gives publishes via the roots.
    const missing = await runPgferryCli(['preflight', '--json', '--tables', ROOT_LIST], {
      ...env,
      LOG_LEVEL: 'silent',
      SOURCE_PUBLICATION: `part_missing_${run}`,
    });
    const create = (JSON.parse(missing.stdout) as PreflightReport).sections
      .flatMap((x) => x.checks)
      .find((c) => c.id === 'source.publication');
    expect(create?.status).toBe('fail');
    expect(create?.message).toMatch(
      /CREATE PUBLICATION "part_missing_\w+" FOR TABLE .* WITH \(publish_via_partition_root = true\)$/,
    );
    const copied = await runPgferryCli(
      ['copy', '--json', '--progress', 'off', '--chunk-rows', '100', '--tables', ROOT_LIST],
      env,
    );
    expect(copied.code, copied.stderr).toBe(0);
    const report = JSON.parse(copied.stdout) as CopyReport;
    expect(report.tables.find((t) => t.table === inSchema(EVENTS))).toMatchObject({
      state: 'done',
      rows: 600,
    });
    // Estimated from the leaves (the root itself holds nothing), so the 600 rows came in chunks.
    expect(
      report.tables.find((t) => t.table === inSchema(EVENTS))?.chunksCopiedNow,
    ).toBeGreaterThan(1);
    // COPY into the root routed each row to the target's own partition.
    expect(await placement(target, EVENTS)).toEqual(await placement(source, EVENTS));

    pgferry = await startPgferry(env);
    await source.query(`
      INSERT INTO ${EVENTS} VALUES (1001, '2024-03-01', 'new', 'a'), (1002, '2025-06-01', 'new', 'b'),
        (1003, '2030-01-01', 'new', 'c');
      UPDATE ${EVENTS} SET note = 'changed' WHERE id BETWEEN 1 AND 50;
      DELETE FROM ${EVENTS} WHERE id BETWEEN 51 AND 80;
      -- partition-key moves: 2024 -> a 2025 hash leaf, 2025 -> default, default -> 2024
      UPDATE ${EVENTS} SET at = date '2025-02-02', note = 'moved' WHERE at < '2025-01-01' AND at >= '2024-01-01' AND id % 7 = 0;
      UPDATE ${EVENTS} SET at = date '2031-01-01', note = 'moved out' WHERE at >= '2025-01-01' AND at < '2026-01-01' AND id % 11 = 0;
      UPDATE ${EVENTS} SET at = date '2024-05-05' WHERE at < '2024-01-01' AND id % 3 = 0;
      -- moved and moved back in one transaction, and moved then changed again
      BEGIN;
      UPDATE ${EVENTS} SET at = date '2025-09-09' WHERE id = 1001;
      UPDATE ${EVENTS} SET at = date '2024-03-01', note = 'back' WHERE id = 1001;
      COMMIT;
      UPDATE ${REGIONS} SET region = 'us', amount = amount + 1 WHERE region = 'de' AND id % 2 = 0;
      UPDATE ${REGIONS} SET region = 'fr' WHERE region = 'us' AND id % 5 = 0;
      DELETE FROM ${REGIONS} WHERE id % 13 = 0;
      INSERT INTO ${REGIONS} VALUES (5001, 'de', 1), (5002, 'us', 2);
      UPDATE ${REHASHED} SET region = 'us', v = 'moved' WHERE region = 'de' AND id % 3 = 0;
      UPDATE ${REHASHED} SET region = 'fr' WHERE region = 'us' AND id % 7 = 0;
      DELETE FROM ${REHASHED} WHERE id % 11 = 0;
      INSERT INTO ${REHASHED} VALUES (7001, 'de', 'new'), (7002, 'jp', 'new');
    `);
    await equalTables();
    expect(await placement(target, EVENTS)).toEqual(await placement(source, EVENTS));
    expect(await placement(target, REGIONS)).toEqual(await placement(source, REGIONS));
    // One topic per root, none per partition: the changes came on the roots' topics.
    const kafka = new Kafka({ brokers: [stack.kafkaBootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    // Table topics only (the connector also writes logical decoding messages other tests emit).
    const topics = (await admin.listTopics())
      .filter((t) => t.startsWith(`${prefix}.${SCHEMA}.`))
      .sort();
    await admin.disconnect();
    expect(topics).toEqual(ROOTS.map((r) => `${prefix}.${SCHEMA}.${r}`).sort());
    const verified = await verify(ROOTS);
    expect(verified.code, verified.result.stdout).toBe(0);
    expect(verified.report.tables.map((t) => [t.source, t.sourceRows === t.targetRows])).toEqual(
      ROOTS.map((r) => [inSchema(r), true]),
    );
  }, 240_000);

  it('a partition added on the source stops its table on the target; an ATTACH with rows and a TRUNCATE of one partition are reported by verify; schema-sync (+ copy --restart) repair them', async () => {
    // A new, empty partition on the source, written at once: the target has no partition (and no
    // default) for the row, so the table stops (its changes stay in Kafka, none dead-lettered).
    await source.query(`
      CREATE TABLE ${NEW_PARTITION} PARTITION OF ${REGIONS} FOR VALUES IN ('jp');
      INSERT INTO ${REGIONS} VALUES (6001, 'jp', 3), (6002, 'de', 4);
    `);
    await waitFor(
      'the table without a partition for the row to stop',
      async () =>
        pgferry?.logs.some(
          (l) => l.includes('table stopped') && l.includes(`no partition of relation`),
        ) ?? false,
    );
    expect(pgferry?.logs.some((l) => l.includes('dead-letter') && l.includes(REGIONS))).toBe(false);

    // A new partition beside the default one, written before schema-sync runs: on the target the
    // row lands in the default partition (schema-sync then moves it into the new partition).
    await source.query(`
      CREATE TABLE ${LATER} PARTITION OF ${EVENTS} FOR VALUES FROM ('2040-01-01') TO ('2041-01-01');
      INSERT INTO ${EVENTS} VALUES (4001, '2040-05-05', 'later', 'in the default first');
    `);
    await waitFor('the row of the new partition in the target default', async () => {
      const r = await target.query<{ part: string }>(
        `SELECT tableoid::regclass::text AS part FROM ${EVENTS} WHERE id = 4001`,
      );
      return r.rows[0]?.part === `${EVENTS}_other`;
    });

    // ATTACH PARTITION emits no change events: its 40 rows appear on the source root silently.
    await source.query(`
      CREATE TABLE ${ATTACHED} (LIKE ${EVENTS} INCLUDING DEFAULTS);
      INSERT INTO ${ATTACHED} SELECT 2000 + g, date '2032-01-01' + g, 'att', 'attached' FROM generate_series(1, 40) g;
      ALTER TABLE ${EVENTS} ATTACH PARTITION ${ATTACHED} FOR VALUES FROM ('2032-01-01') TO ('2033-01-01');
      INSERT INTO ${EVENTS} VALUES (3001, '2024-06-01', 'after', 'streamed');
    `);
    // The change made after the attach is streamed; the attached rows are not.
    await waitFor('the row inserted after the attach', async () => {
      const r = await target.query(`SELECT 1 FROM ${EVENTS} WHERE id = 3001`);
      return r.rowCount === 1;
    });
    const found = await verify([EVENTS]);
    expect(found.code).toBe(3);
    const table = found.report.tables[0];
    expect(table?.sourceRows).toBe((table?.targetRows ?? 0) + 40);
    expect(table?.differences.filter((d) => d.kind === 'missing')).toHaveLength(40);

    // TRUNCATE of one partition is not published via the root: its rows stay on the target.
    const us = await source.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${REGIONS}_us`);
    await source.query(`TRUNCATE ${REGIONS}_us`);
    const truncated = await verify([REGIONS]);
    expect(truncated.code).toBe(3);
    const extra = truncated.report.tables[0]?.differences.filter((d) => d.kind === 'extra');
    expect(extra).toHaveLength(us.rows[0]?.n ?? -1);

    // The remedy the runbook gives: the partition on the target (before rows of its range reach
    // the target's default partition), then the table copied afresh.
    const synced = await runPgferryCli(['schema-sync', '--tables', ROOT_LIST], env);
    expect(synced.code, synced.stdout).toBe(0);
    expect(synced.stdout).toContain(`create partition ${inSchema(ATTACHED)}`);
    expect(synced.stdout).toContain(`create partition ${inSchema(NEW_PARTITION)}`);
    const moved = await target.query<{ part: string }>(
      `SELECT tableoid::regclass::text AS part FROM ${EVENTS} WHERE id = 4001`,
    );
    expect(moved.rows).toEqual([{ part: LATER }]);
    await stopPgferry();
    const recopied = await runPgferryCli(
      ['copy', '--restart', '--yes', '--progress', 'off', '--tables', ROOT_LIST],
      env,
    );
    expect(recopied.code, recopied.stderr).toBe(0);
    pgferry = await startPgferry(env);
    await source.query(`UPDATE ${EVENTS} SET note = 'after the repair' WHERE id = 2001`);
    await equalTables();
    const repaired = await verify(ROOTS);
    expect(repaired.code, repaired.result.stdout).toBe(0);
    expect(await placement(target, EVENTS)).toEqual(await placement(source, EVENTS));
  }, 240_000);
  it("Debezium's own snapshot (snapshot.mode=initial) reads a partitioned table through its root, onto the root's topic only", async () => {
    await applyOwnConnector({
      name: SNAP_CONNECTOR,
      topicPrefix: SNAP_PREFIX,
      slotName: SNAP_SLOT,
      tables: [EVENTS],
      snapshotMode: 'initial',
    });
    const rows = (await source.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${EVENTS}`))
      .rows[0]?.n;
    const kafka = new Kafka({ brokers: [stack.kafkaBootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    try {
      const topic = `${SNAP_PREFIX}.${SCHEMA}.${EVENTS}`;
      const count = async () =>
        (await admin.fetchTopicOffsets(topic).catch(() => [])).reduce(
          (n, p) => n + Number(p.high),
          0,
        );
      await waitFor('the snapshot of the root', async () => (await count()) >= (rows ?? 1), 90_000);
      expect(await count()).toBe(rows);
      const topics = (await admin.listTopics()).filter((t) =>
        t.startsWith(`${SNAP_PREFIX}.${SCHEMA}.`),
      );
      expect(topics).toEqual([topic]);
    } finally {
      await admin.disconnect();
    }
  }, 120_000);
});

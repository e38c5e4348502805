// schema-sync's declarative partitioning: a partitioned table created PARTITION BY its key with its
// partitions (range with a default, a hash-sub-partitioned partition, list), in creation order and
// mapped to TARGET_SCHEMA; an existing target: only missing partitions created, a different bound
// or sub-partition key a mismatch, a different key or an unpartitioned target a note.
import { describe, expect, it } from 'vitest';
import type {
  PartitionDefinition,
  SchemaCatalog,
  TableDefinition,
} from '../../migrate/schema-sync/schema-catalog-types.js';
import { isUpToDate, planSchemaSync } from '../../migrate/schema-sync/schema-sync-plan.js';

const catalog = (tables: TableDefinition[], schemas = ['public']): SchemaCatalog => ({
  schemas,
  tables,
  enums: [],
  domains: [],
  otherTypes: [],
  sequences: [],
});

const part = (
  name: string,
  bound: string,
  extra: Partial<PartitionDefinition> = {},
  schema = 'public',
): PartitionDefinition => ({
  schema,
  name,
  parent: { schema, name: 'events' },
  bound,
  foreign: false,
  ...extra,
});

function events(partitions: PartitionDefinition[], schema = 'public'): TableDefinition {
  return {
    schema,
    name: 'events',
    partitioned: true,
    partitionKey: 'RANGE (id)',
    partitions,
    columns: [
      { name: 'id', type: { sql: 'integer', array: false }, notNull: true },
      { name: 'note', type: { sql: 'text', array: false }, notNull: false },
    ],
    primaryKey: { name: 'events_pkey', definition: 'PRIMARY KEY (id)', columns: ['id'] },
    constraints: [],
    indexes: [{ name: 'events_note_idx', unique: false, method: 'btree (note)' }],
    foreignKeys: [],
    triggers: [],
  };
}

const SOURCE_PARTITIONS = [
  part('events_1', 'FOR VALUES FROM (0) TO (100)'),
  part('events_2', 'FOR VALUES FROM (100) TO (200)', { partitionKey: 'HASH (id)' }),
  part('events_d', 'DEFAULT'),
  part('events_2_h0', 'FOR VALUES WITH (modulus 2, remainder 0)', {
    parent: { schema: 'public', name: 'events_2' },
  }),
  part('events_2_h1', 'FOR VALUES WITH (modulus 2, remainder 1)', {
    parent: { schema: 'public', name: 'events_2' },
  }),
];

describe('schema-sync of partitioned tables', () => {
  it('creates the root PARTITION BY its key, then its partitions in order, then the root indexes', () => {
    const plan = planSchemaSync(catalog([events(SOURCE_PARTITIONS)]), catalog([]));
    expect(plan.skipped).toEqual([]);
    expect(plan.mismatches).toEqual([]);
    expect(plan.statements).toEqual([
      'CREATE TABLE "public"."events" (\n  "id" integer NOT NULL,\n  "note" text,\n  CONSTRAINT "events_pkey" PRIMARY KEY (id)\n) PARTITION BY RANGE (id)',
      'CREATE TABLE "public"."events_1" PARTITION OF "public"."events" FOR VALUES FROM (0) TO (100)',
      'CREATE TABLE "public"."events_2" PARTITION OF "public"."events" FOR VALUES FROM (100) TO (200) PARTITION BY HASH (id)',
      'CREATE TABLE "public"."events_d" PARTITION OF "public"."events" DEFAULT',
      'CREATE TABLE "public"."events_2_h0" PARTITION OF "public"."events_2" FOR VALUES WITH (modulus 2, remainder 0)',
      'CREATE TABLE "public"."events_2_h1" PARTITION OF "public"."events_2" FOR VALUES WITH (modulus 2, remainder 1)',
      'CREATE INDEX "events_note_idx" ON "public"."events" USING btree (note)',
    ]);
    const object = plan.objects.find((o) => o.target === 'public.events');
    expect(object?.status).toBe('create');
    expect(object?.actions).toContain('create partition public.events_d DEFAULT');
  });

  it('defers a unique index of a partitioned table without CONCURRENTLY (PostgreSQL cannot)', () => {
    const t = {
      ...events([]),
      indexes: [{ name: 'events_note_key', unique: true, method: 'btree (note, id)' }],
    };
    const plan = planSchemaSync(catalog([t]), catalog([]), { deferUnique: true });
    expect(plan.deferred.flatMap((d) => d.statements)).toContain(
      'CREATE UNIQUE INDEX "events_note_key" ON "public"."events" USING btree (note, id)',
    );
  });

  it('maps the root and every partition to TARGET_SCHEMA', () => {
    const plan = planSchemaSync(catalog([events(SOURCE_PARTITIONS.slice(0, 1))]), catalog([]), {
      targetSchema: 'moved',
    });
    expect(plan.statements).toContain(
      'CREATE TABLE "moved"."events_1" PARTITION OF "moved"."events" FOR VALUES FROM (0) TO (100)',
    );
    expect(plan.statements[0]).toBe('CREATE SCHEMA IF NOT EXISTS "moved"');
  });

  it('is up to date when the target has the same partitions', () => {
    const plan = planSchemaSync(
      catalog([events(SOURCE_PARTITIONS)]),
      catalog([events(SOURCE_PARTITIONS)]),
    );
    expect(plan.statements).toEqual([]);
    expect(isUpToDate(plan)).toBe(true);
  });

  it('creates only the partitions the target lacks (a whole sub-partitioned branch too)', () => {
    const plan = planSchemaSync(
      catalog([events(SOURCE_PARTITIONS)]),
      catalog([events([SOURCE_PARTITIONS[0] as PartitionDefinition])]),
    );
    expect(plan.mismatches).toEqual([]);
    expect(plan.statements).toEqual([
      'CREATE TABLE "public"."events_2" PARTITION OF "public"."events" FOR VALUES FROM (100) TO (200) PARTITION BY HASH (id)',
      'CREATE TABLE "public"."events_d" PARTITION OF "public"."events" DEFAULT',
      'CREATE TABLE "public"."events_2_h0" PARTITION OF "public"."events_2" FOR VALUES WITH (modulus 2, remainder 0)',
      'CREATE TABLE "public"."events_2_h1" PARTITION OF "public"."events_2" FOR VALUES WITH (modulus 2, remainder 1)',
    ]);
    expect(plan.objects.find((o) => o.target === 'public.events')?.status).toBe('alter');
  });

  it('creates a partition beside a target default partition: default detached, rows moved, attached again', () => {
    const have = [part('events_1', 'FOR VALUES FROM (0) TO (100)'), part('events_d', 'DEFAULT')];
    const want = [
      ...have.slice(0, 1),
      part('events_9', 'FOR VALUES FROM (900) TO (1000)'),
      ...have.slice(1),
    ];
    const plan = planSchemaSync(catalog([events(want)]), catalog([events(have)]));
    expect(plan.mismatches).toEqual([]);
    expect(plan.statements).toEqual([
      'ALTER TABLE "public"."events" DETACH PARTITION "public"."events_d"',
      'CREATE TABLE "public"."events_9" PARTITION OF "public"."events" FOR VALUES FROM (900) TO (1000)',
      `DO 'DECLARE cond text := pg_get_partition_constraintdef(''"public"."events_9"''::regclass);
BEGIN
  IF cond IS NOT NULL THEN EXECUTE ''WITH moved AS (DELETE FROM "public"."events_d" WHERE ('' || cond || '') RETURNING "id", "note") INSERT INTO "public"."events_9" ("id", "note") SELECT "id", "note" FROM moved''; END IF;
END'`,
      'ALTER TABLE "public"."events" ATTACH PARTITION "public"."events_d" DEFAULT',
    ]);
  });

  it('reports a different bound or sub-partition key as a mismatch and changes nothing', () => {
    const target = [
      part('events_1', 'FOR VALUES FROM (0) TO (50)'),
      part('events_2', 'FOR VALUES FROM (100) TO (200)'),
      part('events_d', 'DEFAULT'),
    ];
    const plan = planSchemaSync(catalog([events(SOURCE_PARTITIONS)]), catalog([events(target)]));
    expect(plan.statements).toEqual([]);
    expect(plan.mismatches.map((m) => m.message)).toEqual([
      'partition public.events_1: bound FOR VALUES FROM (0) TO (50) on the target, FOR VALUES FROM (0) TO (100) on the source (not changed)',
      'partition public.events_2: not partitioned on the target, partitioned by HASH (id) on the source (not changed)',
    ]);
  });

  it('leaves a target partitioned another way (or not at all) alone, with a note', () => {
    const byList = {
      ...events([part('events_a', "FOR VALUES IN ('a')")]),
      partitionKey: 'LIST (note)',
    };
    const other = planSchemaSync(catalog([events(SOURCE_PARTITIONS)]), catalog([byList]));
    expect(other.statements).toEqual([]);
    expect(other.mismatches).toEqual([]);
    expect(other.objects[0]?.notes).toContain(
      'partitioned by LIST (note) on the target, RANGE (id) on the source: partitions not synced (the target routes rows to its own partitions)',
    );
    const plain = { ...events([]), partitioned: false, partitions: [] };
    delete plain.partitionKey;
    const flat = planSchemaSync(catalog([events(SOURCE_PARTITIONS)]), catalog([plain]));
    expect(flat.statements).toEqual([]);
    expect(flat.objects[0]?.notes[0]).toMatch(
      /^partitioned on the source \(RANGE \(id\)\), not on the target/,
    );
  });

  it('notes a partition only the target has, and refuses to create a foreign partition', () => {
    const plan = planSchemaSync(
      catalog([events([part('events_f', 'FOR VALUES FROM (500) TO (600)', { foreign: true })])]),
      catalog([events([part('events_x', 'FOR VALUES FROM (900) TO (1000)')])]),
    );
    expect(plan.statements).toEqual([]);
    expect(plan.mismatches[0]?.message).toMatch(/^partition public\.events_f is a foreign table/);
    expect(plan.objects[0]?.notes).toContain(
      'partition public.events_x (FOR VALUES FROM (900) TO (1000)) exists only on the target',
    );
  });
});

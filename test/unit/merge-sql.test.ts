// The apply step's SQL shape: every identifier quoted (quotes, spaces, unicode survive), the key
// match covers every primary-key column, and each keep pattern upserts exactly the columns it
// does not keep.
import { describe, expect, it } from 'vitest';
import {
  clearStagingSql,
  copyIntoStagingSql,
  createStagingTableSql,
  type MergeTarget,
  mergeSql,
  type StagingTable,
  truncateSql,
} from '../../sink/merge-sql.js';

const ORDERS: MergeTarget = {
  schema: 'public',
  name: 'orders',
  positionTable: 'pos_public__orders',
  primaryKey: ['id'],
};

const ORDERS_STAGE: StagingTable = {
  name: 'pgferry_stage_0123',
  columns: [
    { name: 'id', type: 'integer' },
    { name: 'body', type: 'text' },
    { name: 'note', type: 'character varying(20)' },
  ],
};

// Composite key, and names that need quoting: embedded quotes, spaces, unicode, upper case.
const WEIRD: MergeTarget = {
  schema: 'My "Schema"',
  name: 'ordér lines',
  positionTable: 'pos_My "Schema"__ordér lines',
  primaryKey: ['order id', 'line"no'],
};

const WEIRD_STAGE: StagingTable = {
  name: 'pgferry_stage_"x"',
  columns: [
    { name: 'order id', type: 'bigint' },
    { name: 'line"no', type: 'integer' },
    { name: 'naïve Ünïcode', type: 'text' },
    { name: 'Qty', type: 'numeric(12,2)' },
  ],
};

/** The CREATE statement (the first of the two). */
const createOf = (stage: StagingTable): string =>
  createStagingTableSql(stage).split(';\n')[0] as string;

describe('createStagingTableSql', () => {
  it('puts the bookkeeping columns first and quotes the staged ones', () => {
    expect(createOf(ORDERS_STAGE)).toBe(
      'CREATE TEMP TABLE IF NOT EXISTS "pgferry_stage_0123" (__op "char" NOT NULL, __pos bigint NOT NULL, __toast text NOT NULL, "id" integer, "body" text, "note" character varying(20))',
    );
  });

  it('quotes names with quotes, spaces and unicode', () => {
    expect(createOf(WEIRD_STAGE)).toBe(
      'CREATE TEMP TABLE IF NOT EXISTS "pgferry_stage_""x""" (__op "char" NOT NULL, __pos bigint NOT NULL, __toast text NOT NULL, "order id" bigint, "line""no" integer, "naïve Ünïcode" text, "Qty" numeric(12,2))',
    );
  });

  it('has no dangling comma without staged columns', () => {
    expect(createOf({ name: 's', columns: [] })).toBe(
      'CREATE TEMP TABLE IF NOT EXISTS "s" (__op "char" NOT NULL, __pos bigint NOT NULL, __toast text NOT NULL)',
    );
  });

  it("then stores the table's variable-length columns uncompressed, the name as a literal", () => {
    const [create, storage, ...rest] = createStagingTableSql(WEIRD_STAGE).split(';\n');
    expect(create).toMatch(/^CREATE TEMP TABLE/);
    expect(rest).toEqual([]);
    expect(storage).toBe(
      "DO $pgferry_stage$DECLARE cols text; BEGIN SELECT string_agg(format('ALTER COLUMN %I SET STORAGE EXTERNAL', attname), ', ' ORDER BY attnum) INTO cols FROM pg_attribute WHERE attrelid = 'pg_temp.\"pgferry_stage_\"\"x\"\"\"'::regclass AND attnum > 0 AND NOT attisdropped AND attstorage IN ('x', 'm'); IF cols IS NOT NULL THEN EXECUTE format('ALTER TABLE %s ', 'pg_temp.\"pgferry_stage_\"\"x\"\"\"'::regclass) || cols; END IF; END$pgferry_stage$",
    );
  });

  it('refuses a name that would end the dollar quote', () => {
    expect(() => createStagingTableSql({ name: 'a$pgferry_stage$b', columns: [] })).toThrow(
      RangeError,
    );
  });
});

describe('clearStagingSql', () => {
  it('empties the one staging table, quoted', () => {
    expect(clearStagingSql(ORDERS_STAGE)).toBe('TRUNCATE "pgferry_stage_0123"');
    expect(clearStagingSql(WEIRD_STAGE)).toBe('TRUNCATE "pgferry_stage_""x"""');
  });
});

describe('copyIntoStagingSql', () => {
  it('lists the columns in COPY order: __op, __pos, __toast, then the staged columns', () => {
    expect(copyIntoStagingSql(ORDERS_STAGE)).toBe(
      'COPY "pgferry_stage_0123" (__op, __pos, __toast, "id", "body", "note") FROM STDIN',
    );
    expect(copyIntoStagingSql(WEIRD_STAGE)).toBe(
      'COPY "pgferry_stage_""x""" (__op, __pos, __toast, "order id", "line""no", "naïve Ünïcode", "Qty") FROM STDIN',
    );
  });
});

describe('truncateSql', () => {
  it('keeps rows changed after the truncate, forgets older positions, records the truncate', () => {
    expect(truncateSql(ORDERS, 12345678901234n)).toEqual([
      `UPDATE "pgferry"."tables" SET truncated_position = GREATEST(truncated_position, 12345678901234) WHERE table_schema = 'public' AND table_name = 'orders'`,
      'DELETE FROM "public"."orders" AS t WHERE NOT EXISTS (SELECT 1 FROM "pgferry"."pos_public__orders" AS p WHERE p."id" = t."id" AND p.__pos > 12345678901234 AND NOT p.__deleted)',
      'DELETE FROM "pgferry"."pos_public__orders" WHERE __pos <= 12345678901234',
    ]);
  });

  it('matches every key column and quotes names and literals', () => {
    expect(truncateSql(WEIRD, 7n)).toEqual([
      `UPDATE "pgferry"."tables" SET truncated_position = GREATEST(truncated_position, 7) WHERE table_schema = 'My "Schema"' AND table_name = 'ordér lines'`,
      'DELETE FROM "My ""Schema"""."ordér lines" AS t WHERE NOT EXISTS (SELECT 1 FROM "pgferry"."pos_My ""Schema""__ordér lines" AS p WHERE p."order id" = t."order id" AND p."line""no" = t."line""no" AND p.__pos > 7 AND NOT p.__deleted)',
      'DELETE FROM "pgferry"."pos_My ""Schema""__ordér lines" WHERE __pos <= 7',
    ]);
  });

  it("doubles single quotes in the table's name literal", () => {
    const [record] = truncateSql({ ...ORDERS, schema: "o'hara", name: "it's" }, 1n);
    expect(record).toBe(
      `UPDATE "pgferry"."tables" SET truncated_position = GREATEST(truncated_position, 1) WHERE table_schema = 'o''hara' AND table_name = 'it''s'`,
    );
  });
});

describe('mergeSql', () => {
  const guardStatements = [
    `WITH won AS (INSERT INTO "pgferry"."pos_public__orders" AS p ("id", __pos, __deleted) SELECT "id", __pos, __op = 'd' FROM "pgferry_stage_0123" WHERE __pos > COALESCE((SELECT truncated_position FROM "pgferry"."tables" WHERE table_schema = 'public' AND table_name = 'orders' FOR SHARE), 0) ON CONFLICT ("id") DO UPDATE SET __pos = EXCLUDED.__pos, __deleted = EXCLUDED.__deleted WHERE p.__pos < EXCLUDED.__pos OR (p.__pos = EXCLUDED.__pos AND p.__deleted AND NOT EXCLUDED.__deleted) RETURNING "id", __pos) DELETE FROM "pgferry_stage_0123" AS s WHERE (SELECT count(*) FROM won) < (SELECT count(*) FROM "pgferry_stage_0123") AND NOT EXISTS (SELECT 1 FROM won WHERE won."id" = s."id" AND won.__pos = s.__pos)`,
    `DELETE FROM "public"."orders" AS t USING "pgferry_stage_0123" AS s WHERE s.__op = 'd' AND t."id" = s."id"`,
  ];

  it('records positions and drops the losers, deletes, then upserts every column for the empty pattern', () => {
    expect(mergeSql(ORDERS, ORDERS_STAGE, [''])).toEqual([
      ...guardStatements,
      `INSERT INTO "public"."orders" ("id", "body", "note") OVERRIDING SYSTEM VALUE SELECT "id", "body", "note" FROM "pgferry_stage_0123" WHERE __op <> 'd' AND __toast = '' ON CONFLICT ("id") DO UPDATE SET "body" = EXCLUDED."body", "note" = EXCLUDED."note"`,
    ]);
  });

  it('issues one upsert per keep pattern, leaving the kept columns out of both lists', () => {
    expect(mergeSql(ORDERS, ORDERS_STAGE, ['', '1', '2'])).toEqual([
      ...guardStatements,
      `INSERT INTO "public"."orders" ("id", "body", "note") OVERRIDING SYSTEM VALUE SELECT "id", "body", "note" FROM "pgferry_stage_0123" WHERE __op <> 'd' AND __toast = '' ON CONFLICT ("id") DO UPDATE SET "body" = EXCLUDED."body", "note" = EXCLUDED."note"`,
      `INSERT INTO "public"."orders" ("id", "note") OVERRIDING SYSTEM VALUE SELECT "id", "note" FROM "pgferry_stage_0123" WHERE __op <> 'd' AND __toast = '1' ON CONFLICT ("id") DO UPDATE SET "note" = EXCLUDED."note"`,
      `INSERT INTO "public"."orders" ("id", "body") OVERRIDING SYSTEM VALUE SELECT "id", "body" FROM "pgferry_stage_0123" WHERE __op <> 'd' AND __toast = '2' ON CONFLICT ("id") DO UPDATE SET "body" = EXCLUDED."body"`,
    ]);
  });

  it('falls back to DO NOTHING when only key columns remain', () => {
    const statements = mergeSql(ORDERS, ORDERS_STAGE, ['1,2']);
    expect(statements).toHaveLength(3);
    expect(statements[2]).toBe(
      `INSERT INTO "public"."orders" ("id") OVERRIDING SYSTEM VALUE SELECT "id" FROM "pgferry_stage_0123" WHERE __op <> 'd' AND __toast = '1,2' ON CONFLICT ("id") DO NOTHING`,
    );
    // A key-only table has nothing to update either.
    const keyOnly = mergeSql(ORDERS, { name: 'k', columns: [{ name: 'id', type: 'integer' }] }, [
      '',
    ]);
    expect(keyOnly[2]).toBe(
      `INSERT INTO "public"."orders" ("id") OVERRIDING SYSTEM VALUE SELECT "id" FROM "k" WHERE __op <> 'd' AND __toast = '' ON CONFLICT ("id") DO NOTHING`,
    );
  });

  it('has no upsert without keep patterns (a batch of deletes)', () => {
    expect(mergeSql(ORDERS, ORDERS_STAGE, [])).toEqual(guardStatements);
  });

  it('matches composite keys on every column and quotes weird names throughout', () => {
    expect(mergeSql(WEIRD, WEIRD_STAGE, ['', '3'])).toEqual([
      `WITH won AS (INSERT INTO "pgferry"."pos_My ""Schema""__ordér lines" AS p ("order id", "line""no", __pos, __deleted) SELECT "order id", "line""no", __pos, __op = 'd' FROM "pgferry_stage_""x""" WHERE __pos > COALESCE((SELECT truncated_position FROM "pgferry"."tables" WHERE table_schema = 'My "Schema"' AND table_name = 'ordér lines' FOR SHARE), 0) ON CONFLICT ("order id", "line""no") DO UPDATE SET __pos = EXCLUDED.__pos, __deleted = EXCLUDED.__deleted WHERE p.__pos < EXCLUDED.__pos OR (p.__pos = EXCLUDED.__pos AND p.__deleted AND NOT EXCLUDED.__deleted) RETURNING "order id", "line""no", __pos) DELETE FROM "pgferry_stage_""x""" AS s WHERE (SELECT count(*) FROM won) < (SELECT count(*) FROM "pgferry_stage_""x""") AND NOT EXISTS (SELECT 1 FROM won WHERE won."order id" = s."order id" AND won."line""no" = s."line""no" AND won.__pos = s.__pos)`,
      `DELETE FROM "My ""Schema"""."ordér lines" AS t USING "pgferry_stage_""x""" AS s WHERE s.__op = 'd' AND t."order id" = s."order id" AND t."line""no" = s."line""no"`,
      `INSERT INTO "My ""Schema"""."ordér lines" ("order id", "line""no", "naïve Ünïcode", "Qty") OVERRIDING SYSTEM VALUE SELECT "order id", "line""no", "naïve Ünïcode", "Qty" FROM "pgferry_stage_""x""" WHERE __op <> 'd' AND __toast = '' ON CONFLICT ("order id", "line""no") DO UPDATE SET "naïve Ünïcode" = EXCLUDED."naïve Ünïcode", "Qty" = EXCLUDED."Qty"`,
      `INSERT INTO "My ""Schema"""."ordér lines" ("order id", "line""no", "naïve Ünïcode") OVERRIDING SYSTEM VALUE SELECT "order id", "line""no", "naïve Ünïcode" FROM "pgferry_stage_""x""" WHERE __op <> 'd' AND __toast = '3' ON CONFLICT ("order id", "line""no") DO UPDATE SET "naïve Ünïcode" = EXCLUDED."naïve Ünïcode"`,
    ]);
  });

  it('refuses identifiers PostgreSQL cannot take instead of splicing them', () => {
    expect(() => mergeSql({ ...ORDERS, name: '' }, ORDERS_STAGE, [''])).toThrow(RangeError);
    expect(() =>
      mergeSql(ORDERS, { name: 's', columns: [{ name: 'a\u0000b', type: 'text' }] }, ['']),
    ).toThrow(RangeError);
  });
});

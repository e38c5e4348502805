import { describe, expect, it } from 'vitest';
import {
  buildChunkWalkSql,
  buildKeyComparison,
  buildRangeChecksumSql,
  buildRangeRowsSql,
  buildRowHashExpression,
  type ChunkTable,
} from '../../migrate/verify/chunk-checksum-sql.js';

const single: ChunkTable = {
  schema: 'public',
  name: 'orders',
  keyColumns: [{ name: 'id', type: 'integer' }],
  columns: ['id', 'total'],
};

const composite: ChunkTable = {
  schema: 'sales "eu"',
  name: 'line items',
  keyColumns: [
    { name: 'code', type: 'character varying(10)' },
    { name: 'seq', type: 'integer' },
  ],
  columns: ['code', 'seq', 'note'],
};

describe('buildRowHashExpression', () => {
  it('hashes the row constructor of the compared columns only, quoted', () => {
    expect(buildRowHashExpression(['id', 'Total "x"'])).toBe('md5(ROW("id", "Total ""x""")::text)');
  });

  it('refuses an empty column list', () => {
    expect(() => buildRowHashExpression([])).toThrow(RangeError);
  });
});

describe('buildKeyComparison', () => {
  it('compares composite keys as rows, each parameter cast to its column type', () => {
    expect(buildKeyComparison(composite.keyColumns, '>', 3)).toBe(
      '("code", "seq") > ($3::character varying(10), $4::integer)',
    );
  });
});

describe('buildChunkWalkSql', () => {
  it('starts open below with only the limit bound', () => {
    const sql = buildChunkWalkSql(single, null, 10_000);
    expect(sql.values).toEqual([10_000]);
    expect(sql.text).not.toContain('WHERE');
    expect(sql.text).toContain('FROM "public"."orders" ORDER BY "id" LIMIT $1');
    expect(sql.text).toContain(
      'WITH chunk(k1, row_hash) AS MATERIALIZED (SELECT "id", md5(ROW("id", "total")::text) FROM',
    );
  });

  it('continues after the last key, binding key values as text parameters', () => {
    const sql = buildChunkWalkSql(composite, ["o'brien", '7'], 500);
    expect(sql.values).toEqual(["o'brien", '7', 500]);
    expect(sql.text).toContain(
      'FROM "sales ""eu"""."line items" WHERE ("code", "seq") > ($1::character varying(10), $2::integer) ORDER BY "code", "seq" LIMIT $3',
    );
    expect(sql.text).not.toContain('brien');
    expect(sql.text).toContain("md5(string_agg(row_hash, '' ORDER BY k1, k2)) AS hash");
    expect(sql.text).toContain(
      '(SELECT ARRAY[k1::text, k2::text] FROM chunk ORDER BY k1 DESC, k2 DESC LIMIT 1) AS last_key',
    );
  });

  it('rejects a key of the wrong width', () => {
    expect(() => buildChunkWalkSql(composite, ['a'], 10)).toThrow(RangeError);
  });
});

describe('buildRangeChecksumSql', () => {
  it('covers the half-open range (from, to]', () => {
    const sql = buildRangeChecksumSql(single, ['10'], ['20']);
    expect(sql.values).toEqual(['10', '20']);
    expect(sql.text).toBe(
      "SELECT count(*)::int8 AS rows, md5(string_agg(row_hash, '' ORDER BY k1)) AS hash " +
        'FROM (SELECT "id", md5(ROW("id", "total")::text) FROM "public"."orders" ' +
        'WHERE ("id") > ($1::integer) AND ("id") <= ($2::integer)) AS chunk(k1, row_hash)',
    );
  });

  it('leaves open ends unbounded', () => {
    expect(buildRangeChecksumSql(single, null, ['20']).text).toContain(
      'WHERE ("id") <= ($1::integer)',
    );
    expect(buildRangeChecksumSql(single, ['20'], null).text).toContain(
      'WHERE ("id") > ($1::integer))',
    );
    const all = buildRangeChecksumSql(single, null, null);
    expect(all.values).toEqual([]);
    expect(all.text).not.toContain('WHERE');
  });
});

describe('buildRangeRowsSql', () => {
  it('pages keys as text arrays with their row hash, in key order', () => {
    const sql = buildRangeRowsSql(composite, ['a', '1'], ['m', '9'], 100);
    expect(sql.values).toEqual(['a', '1', 'm', '9', 100]);
    expect(sql.text).toBe(
      'SELECT ARRAY["code"::text, "seq"::text] AS key, md5(ROW("code", "seq", "note")::text) AS row_hash ' +
        'FROM "sales ""eu"""."line items" ' +
        'WHERE ("code", "seq") > ($1::character varying(10), $2::integer) AND ("code", "seq") <= ($3::character varying(10), $4::integer) ' +
        'ORDER BY "code", "seq" LIMIT $5',
    );
  });
});

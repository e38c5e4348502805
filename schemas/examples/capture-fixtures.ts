// Captures real Debezium fixtures from the running local stack: creates `fixture_*` tables in the
// source database, changes rows, reads the resulting Kafka records back with kafkajs and stores
// their raw bytes with the PostgreSQL text each column must decode to, plus the registry schemas.
// Every expected text is checked against the source row with PostgreSQL itself before it is
// written, so the fixtures say what PostgreSQL reads, not what we think it reads.
//
//   npx tsx schemas/examples/capture-fixtures.ts
//
// Settings (defaults = the native local stack): SOURCE_DATABASE_URL, KAFKA_BOOTSTRAP,
// SCHEMA_REGISTRY_URL. Re-running recreates the fixture tables and rewrites the JSON files.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';

const env = (name: string, fallback: string): string => process.env[name] ?? fallback;
const sourceUrl = env(
  'SOURCE_DATABASE_URL',
  'postgresql://postgres:postgres_local@127.0.0.1:55432/sourcedb',
);
const kafkaBootstrap = env('KAFKA_BOOTSTRAP', '127.0.0.1:59092');
const registryUrl = env('SCHEMA_REGISTRY_URL', 'http://127.0.0.1:58081/apis/ccompat/v7');
const outDir = new URL('./', import.meta.url);

/** A column value as the fixture expects it decoded: PostgreSQL text, NULL, or unchanged TOAST. */
type ExpectedValue = string | null | { unchangedToast: true };
const UNCHANGED: ExpectedValue = { unchangedToast: true };

interface ExpectedChange {
  op: 'c' | 'r' | 'u' | 'd' | 't';
  key: Record<string, string>;
  after: Record<string, ExpectedValue> | null;
  /** Columns whose text PostgreSQL reads differently from the source value, and why. */
  lossy?: Record<string, string>;
}

type ExpectedMessage = ExpectedChange | 'tombstone';

interface Step {
  description: string;
  sql: string;
  params?: unknown[];
  messages: ExpectedMessage[];
}

interface FixtureTable {
  table: string;
  /**
   * 'precise': captured in the schema `fixture_precise` by a throw-away connector of its own with
   * `decimal.handling.mode=precise` (topic `cdc.fixture_precise.<table>`), for users who run that
   * mode: pgferry still decodes it. Default: `public`, through the project's connector as it is.
   */
  decimalMode?: 'precise';
  /** DDL run after dropping the table; absent = capture the table's existing records only. */
  ddl?: string[];
  steps: Step[];
  /** For an existing table: which records to keep (all of its records when absent). */
  existing?: ExpectedMessage[];
}

// ---- the fixture tables ----

const md5 = (text: string): string => createHash('md5').update(text).digest('hex');
// 9,600 characters, stored out of line (STORAGE EXTERNAL), so an update that does not touch it
// makes PostgreSQL log no value and Debezium send its placeholder.
const bigText = Array.from({ length: 300 }, (_, i) => md5(String(i))).join('');
const bigTag = 'x'.repeat(3000);
const bigBlobHex = Buffer.alloc(4000, 0xa5).toString('hex');

const composite: FixtureTable = {
  table: 'fixture_composite',
  ddl: [
    `CREATE TABLE fixture_composite (
       tenant_id integer NOT NULL,
       order_no bigint NOT NULL,
       note text,
       PRIMARY KEY (tenant_id, order_no))`,
  ],
  steps: [
    {
      description: 'insert (1, 100)',
      sql: `INSERT INTO fixture_composite VALUES (1, 100, 'first')`,
      messages: [
        {
          op: 'c',
          key: { tenant_id: '1', order_no: '100' },
          after: { tenant_id: '1', order_no: '100', note: 'first' },
        },
      ],
    },
    {
      description: 'insert (2, 100)',
      sql: `INSERT INTO fixture_composite VALUES (2, 100, 'second')`,
      messages: [
        {
          op: 'c',
          key: { tenant_id: '2', order_no: '100' },
          after: { tenant_id: '2', order_no: '100', note: 'second' },
        },
      ],
    },
    {
      description: 'update (1, 100)',
      sql: `UPDATE fixture_composite SET note = 'first, updated' WHERE tenant_id = 1`,
      messages: [
        {
          op: 'u',
          key: { tenant_id: '1', order_no: '100' },
          after: { tenant_id: '1', order_no: '100', note: 'first, updated' },
        },
      ],
    },
    {
      description: 'primary-key change (2, 100) -> (2, 101): delete + tombstone + create',
      sql: `UPDATE fixture_composite SET order_no = 101 WHERE tenant_id = 2`,
      messages: [
        { op: 'd', key: { tenant_id: '2', order_no: '100' }, after: null },
        'tombstone',
        {
          op: 'c',
          key: { tenant_id: '2', order_no: '101' },
          after: { tenant_id: '2', order_no: '101', note: 'second' },
        },
      ],
    },
    {
      description: 'delete (1, 100)',
      sql: `DELETE FROM fixture_composite WHERE tenant_id = 1`,
      messages: [{ op: 'd', key: { tenant_id: '1', order_no: '100' }, after: null }, 'tombstone'],
    },
    {
      description: 'truncate',
      sql: `TRUNCATE fixture_composite`,
      messages: [{ op: 't', key: {}, after: null }],
    },
  ],
};

const varnum: FixtureTable = {
  table: 'fixture_varnum',
  ddl: [
    `CREATE TABLE fixture_varnum (
       id integer PRIMARY KEY,
       amount numeric,
       ratio numeric,
       fixed numeric(38,10),
       body text,
       tags text[],
       blob bytea,
       label text)`,
    `ALTER TABLE fixture_varnum
       ALTER COLUMN body SET STORAGE EXTERNAL,
       ALTER COLUMN tags SET STORAGE EXTERNAL,
       ALTER COLUMN blob SET STORAGE EXTERNAL`,
  ],
  steps: [
    {
      description: 'insert 1: variable-scale numerics, large TOASTed text, text[] and bytea',
      sql: `INSERT INTO fixture_varnum VALUES (1, '-12345678901234567890.123456789', '0.000100',
              '-1.5', $1, ARRAY['alpha', NULL, $2], decode($3, 'hex'), 'v1')`,
      params: [bigText, bigTag, bigBlobHex],
      messages: [
        {
          op: 'c',
          key: { id: '1' },
          after: {
            id: '1',
            amount: '-12345678901234567890.123456789',
            ratio: '0.000100',
            fixed: '-1.5000000000',
            body: bigText,
            tags: `{"alpha",NULL,"${bigTag}"}`,
            blob: `\\x${bigBlobHex}`,
            label: 'v1',
          },
        },
      ],
    },
    {
      description: 'update 1 without touching the TOASTed columns: placeholders',
      sql: `UPDATE fixture_varnum SET label = 'v2', amount = 7 WHERE id = 1`,
      messages: [
        {
          op: 'u',
          key: { id: '1' },
          after: {
            id: '1',
            amount: '7',
            ratio: '0.000100',
            fixed: '-1.5000000000',
            body: UNCHANGED,
            tags: UNCHANGED,
            blob: UNCHANGED,
            label: 'v2',
          },
        },
      ],
    },
    {
      description: 'insert 2: numeric NaN, tiny and huge scales, empty array and bytea',
      sql: `INSERT INTO fixture_varnum VALUES (2, 'NaN', '1e-20', '12345678901234567890.0123456789',
              'short', '{}', '\\x', NULL)`,
      messages: [
        {
          op: 'c',
          key: { id: '2' },
          after: {
            id: '2',
            amount: 'NaN',
            ratio: '0.00000000000000000001',
            fixed: '12345678901234567890.0123456789',
            body: 'short',
            tags: '{}',
            blob: '\\x',
            label: null,
          },
        },
      ],
    },
    {
      description: 'insert 3: numeric infinities and a negative scale-less integer',
      sql: `INSERT INTO fixture_varnum (id, amount, ratio, fixed)
              VALUES (3, 'Infinity', '-Infinity', '-0.0000000001')`,
      messages: [
        {
          op: 'c',
          key: { id: '3' },
          after: {
            id: '3',
            amount: 'Infinity',
            ratio: '-Infinity',
            fixed: '-0.0000000001',
            body: null,
            tags: null,
            blob: null,
            label: null,
          },
        },
      ],
    },
  ],
};

const types: FixtureTable = {
  table: 'fixture_types',
  ddl: [
    `CREATE TABLE fixture_types (
       id integer PRIMARY KEY,
       i2 smallint,
       i8 bigint,
       ts6 timestamp,
       ts0 timestamp(0),
       ts3 timestamp(3),
       tstz timestamptz,
       t time,
       ttz timetz,
       d date,
       iv interval,
       f4 real,
       f8 double precision,
       bits12 bit(12),
       vbits bit varying(10),
       tarr text[],
       iarr integer[],
       js json,
       mny money,
       vc varchar,
       ip inet)`,
  ],
  steps: [
    {
      description: 'insert 1: pre-1970 times, 24:00, negative interval, -0, bits across bytes',
      sql: `INSERT INTO fixture_types VALUES (1, -32768, 9007199254740993,
              '1969-12-31 23:59:59.999999', '2000-02-29 12:00:00', '1900-01-01 00:00:00.001',
              '1969-07-20 20:17:40.5+00', '24:00:00', '00:00:00.000001+00', '1969-12-31',
              '-1 years -2 mons +3 days -04:05:06.7', '0.1', '-0', B'110000000101', B'101',
              ARRAY['NULL', NULL, '', 'back\\slash', 'quo"te', 'a b', '{x}', 'ü'],
              '{-2147483648,NULL}', '{"k": [1, 2.50]}', '-92233720368547758.08', 'ünïcödé ✓',
              '192.168.0.1/24')`,
      messages: [
        {
          op: 'c',
          key: { id: '1' },
          after: {
            id: '1',
            i2: '-32768',
            i8: '9007199254740993',
            ts6: '1969-12-31 23:59:59.999999',
            ts0: '2000-02-29 12:00:00',
            ts3: '1900-01-01 00:00:00.001000',
            tstz: '1969-07-20T20:17:40.500000Z',
            t: '24:00:00',
            ttz: '00:00:00.000001Z',
            d: '1969-12-31',
            iv: 'P-1Y-2M3DT-4H-5M-6.7S',
            f4: '0.10000000149011612',
            f8: '-0',
            bits12: '110000000101',
            vbits: '101',
            tarr: '{"NULL",NULL,"","back\\\\slash","quo\\"te","a b","{x}","ü"}',
            iarr: '{"-2147483648",NULL}',
            js: '{"k": [1, 2.50]}',
            mny: '-92233720368547758.08',
            vc: 'ünïcödé ✓',
            ip: '192.168.0.1/24',
          },
        },
      ],
    },
    {
      description: 'insert 2: BC dates and timestamps, float Infinity and NaN, extreme bigint',
      sql: `INSERT INTO fixture_types (id, i8, ts6, ts3, tstz, t, ttz, d, iv, f4, f8, bits12, vbits,
              tarr, mny)
              VALUES (2, -9223372036854775808, '0044-03-15 12:00:00.5 BC',
              '0001-01-01 00:00:00 BC', '0044-03-15 12:00:00+00 BC', '00:00:00.000001',
              '23:59:59.999999-14:59', '0001-01-01 BC', '0', 'Infinity', 'NaN', B'000000000001',
              B'', '{}', '0')`,
      messages: [
        {
          op: 'c',
          key: { id: '2' },
          after: {
            id: '2',
            i2: null,
            i8: '-9223372036854775808',
            ts6: '0044-03-15 12:00:00.500000 BC',
            ts0: null,
            ts3: '0001-01-01 00:00:00 BC',
            tstz: '0044-03-15T12:00:00.000000Z BC',
            t: '00:00:00.000001',
            ttz: '14:58:59.999999Z',
            d: '0001-01-01 BC',
            iv: 'P0Y0M0DT0H0M0S',
            f4: 'Infinity',
            f8: 'NaN',
            bits12: '000000000001',
            vbits: '',
            tarr: '{}',
            iarr: null,
            js: null,
            mny: '0.00',
            vc: null,
            ip: null,
          },
          lossy: {
            ttz: 'Debezium (ZonedTime) normalises time with time zone to UTC: same instant, zone lost',
          },
        },
      ],
    },
    {
      description: 'insert 3: date and timestamp infinities',
      sql: `INSERT INTO fixture_types (id, ts6, ts3, tstz, d, f4, f8, i8)
              VALUES (3, 'infinity', '-infinity', 'infinity', '-infinity', '-0', '1e308',
              9223372036854775807)`,
      messages: [
        {
          op: 'c',
          key: { id: '3' },
          after: {
            id: '3',
            i2: null,
            i8: '9223372036854775807',
            ts6: 'infinity',
            ts0: null,
            ts3: '-infinity',
            tstz: 'infinity',
            t: null,
            ttz: null,
            d: '-infinity',
            iv: null,
            f4: '-0',
            f8: '1e+308',
            bits12: null,
            vbits: null,
            tarr: null,
            iarr: null,
            js: null,
            mny: null,
            vc: null,
            ip: null,
          },
        },
      ],
    },
    {
      description: 'insert 4: the other infinities',
      sql: `INSERT INTO fixture_types (id, ts6, ts3, tstz, d)
              VALUES (4, '-infinity', 'infinity', '-infinity', 'infinity')`,
      messages: [
        {
          op: 'c',
          key: { id: '4' },
          after: {
            id: '4',
            i2: null,
            i8: null,
            ts6: '-infinity',
            ts0: null,
            ts3: 'infinity',
            tstz: '-infinity',
            t: null,
            ttz: null,
            d: 'infinity',
            iv: null,
            f4: null,
            f8: null,
            bits12: null,
            vbits: null,
            tarr: null,
            iarr: null,
            js: null,
            mny: null,
            vc: null,
            ip: null,
          },
        },
      ],
    },
    {
      description: 'insert 5: 1 BC, which ISO-8601 numbers year 0',
      sql: `INSERT INTO fixture_types (id, ts6, tstz, d)
              VALUES (5, '0001-06-01 00:00:00.25 BC', '0001-06-01 23:00:00-02 BC', '0001-06-01 BC')`,
      messages: [
        {
          op: 'c',
          key: { id: '5' },
          after: {
            id: '5',
            i2: null,
            i8: null,
            ts6: '0001-06-01 00:00:00.250000 BC',
            ts0: null,
            ts3: null,
            tstz: '0001-06-02T01:00:00.000000Z BC',
            t: null,
            ttz: null,
            d: '0001-06-01 BC',
            iv: null,
            f4: null,
            f8: null,
            bits12: null,
            vbits: null,
            tarr: null,
            iarr: null,
            js: null,
            mny: null,
            vc: null,
            ip: null,
          },
        },
      ],
    },
  ],
};

// A primary-key column whose name is not a valid Avro name: Debezium renames the field in the key
// schema too, and only the value schema says what the real column is called.
const weirdKey: FixtureTable = {
  table: 'fixture_weird_key',
  ddl: [`CREATE TABLE fixture_weird_key ("Order-Id" integer PRIMARY KEY, "Note Text" text)`],
  steps: [
    {
      description: 'insert a row keyed by "Order-Id"',
      sql: `INSERT INTO fixture_weird_key VALUES (7, 'seven')`,
      messages: [
        { op: 'c', key: { 'Order-Id': '7' }, after: { 'Order-Id': '7', 'Note Text': 'seven' } },
      ],
    },
  ],
};

// Two variable-scale numerics: the second column's type is a reference to the first's named type
// `io.debezium.data.VariableScaleDecimal`, so it carries no connect.parameters of its own, and its
// adjusted field name `Net_Amount` is all the schema says about the column "Net-Amount".
const namedRef: FixtureTable = {
  table: 'fixture_named_ref',
  ddl: [
    `CREATE TABLE fixture_named_ref (id integer PRIMARY KEY, "Gross-Amount" numeric, "Net-Amount" numeric)`,
  ],
  steps: [
    {
      description: 'insert two variable-scale numerics',
      sql: `INSERT INTO fixture_named_ref VALUES (1, 10.5, -9.25)`,
      messages: [
        {
          op: 'c',
          key: { id: '1' },
          after: { id: '1', 'Gross-Amount': '10.5', 'Net-Amount': '-9.25' },
        },
      ],
    },
  ],
};

// typeprobe belongs to the stack's own probes: capture what is there, change nothing.
const typeprobe: FixtureTable = {
  table: 'typeprobe',
  steps: [],
  existing: [
    {
      op: 'c',
      key: { id: '1' },
      after: {
        id: '1',
        'Weird-Name': 'x',
        n: '1.5',
        n2: '2.125',
        v: 'vv',
        c: 'ab ',
        ts: '2020-01-01 01:02:03.456000',
        tstz: '2026-11-27T20:07:39.638471Z',
        t: '12:34:56.789000',
        ttz: '10:00:00Z',
        d: '0044-03-15 BC',
        iv: 'P1Y2M3DT4H5M6.7S',
        u: '170f0d01-9918-4ddc-aaaf-76cb7cf297d5',
        j: '{"a": [1, 2]}',
        b: '\\xdeadbeef',
        arr: '{"1",NULL,"3"}',
        tarr: '{"a,b","c\\"d"}',
        m: 'happy',
        bo: 't',
        f4: 'NaN',
        f8: '-Infinity',
        bits: '10110',
        money: '12.34',
      },
      lossy: {
        ttz: 'Debezium (ZonedTime) normalises time with time zone to UTC: same instant, zone lost',
      },
    },
  ],
};

// decimal.handling.mode=precise, the mode the project ran before: what it loses is recorded.
const PRECISE_SCHEMA = 'fixture_precise';
const TRAILING_ZEROS =
  'Debezium (precise decimal mode) drops trailing zeros of a variable-scale numeric: same number, display scale lost';
const preciseVarnum: FixtureTable = {
  table: 'varnum',
  decimalMode: 'precise',
  ddl: [
    `CREATE TABLE ${PRECISE_SCHEMA}.varnum (
       id integer PRIMARY KEY, amount numeric, ratio numeric, fixed numeric(38,10))`,
  ],
  steps: [
    {
      description: 'insert 1: variable-scale numerics, one with trailing zeros',
      sql: `INSERT INTO ${PRECISE_SCHEMA}.varnum VALUES (1, '-12345678901234567890.123456789',
              '0.000100', '-1.5')`,
      messages: [
        {
          op: 'c',
          key: { id: '1' },
          after: {
            id: '1',
            amount: '-12345678901234567890.123456789',
            ratio: '0.0001',
            fixed: '-1.5000000000',
          },
          lossy: { ratio: TRAILING_ZEROS },
        },
      ],
    },
    {
      description: 'insert 2: numeric NaN, tiny scale, 16.0000000000000000',
      sql: `INSERT INTO ${PRECISE_SCHEMA}.varnum VALUES (2, 'NaN', '1e-20',
              '12345678901234567890.0123456789'), (3, '16.0000000000000000', NULL, NULL)`,
      messages: [
        {
          op: 'c',
          key: { id: '2' },
          after: {
            id: '2',
            amount: null,
            ratio: '0.00000000000000000001',
            fixed: '12345678901234567890.0123456789',
          },
          lossy: { amount: 'Debezium (precise decimal mode) sends numeric NaN as NULL' },
        },
        {
          op: 'c',
          key: { id: '3' },
          after: { id: '3', amount: '16', ratio: null, fixed: null },
          lossy: { amount: TRAILING_ZEROS },
        },
      ],
    },
    {
      description: 'insert 4: numeric infinities',
      sql: `INSERT INTO ${PRECISE_SCHEMA}.varnum VALUES (4, 'Infinity', '-Infinity', '-0.0000000001')`,
      messages: [
        {
          op: 'c',
          key: { id: '4' },
          after: { id: '4', amount: null, ratio: null, fixed: '-0.0000000001' },
          lossy: {
            amount: 'Debezium (precise decimal mode) sends numeric Infinity as NULL',
            ratio: 'Debezium (precise decimal mode) sends numeric -Infinity as NULL',
          },
        },
      ],
    },
  ],
};

// Two variable-scale numerics in precise mode: the second column's type is a reference to the
// first's named type `io.debezium.data.VariableScaleDecimal`, so it carries no connect.parameters
// of its own, and its adjusted field name `Net_Amount` is all the schema says about "Net-Amount".
const preciseNamedRef: FixtureTable = {
  table: 'named_ref',
  decimalMode: 'precise',
  ddl: [
    `CREATE TABLE ${PRECISE_SCHEMA}.named_ref (id integer PRIMARY KEY, "Gross-Amount" numeric, "Net-Amount" numeric)`,
  ],
  steps: [
    {
      description: 'insert two variable-scale numerics',
      sql: `INSERT INTO ${PRECISE_SCHEMA}.named_ref VALUES (1, 10.5, -9.25)`,
      messages: [
        {
          op: 'c',
          key: { id: '1' },
          after: { id: '1', 'Gross-Amount': '10.5', 'Net-Amount': '-9.25' },
        },
      ],
    },
  ],
};

const fixtures: FixtureTable[] = [
  composite,
  varnum,
  types,
  weirdKey,
  namedRef,
  typeprobe,
  preciseVarnum,
  preciseNamedRef,
];

// ---- capture ----

interface CapturedMessage {
  step: string;
  partition: number;
  offset: string;
  /** Raw Kafka key/value bytes (Confluent wire format), base64; null = no key / tombstone. */
  key: string | null;
  value: string | null;
  expected: ExpectedMessage;
}

const kafka = new Kafka({
  brokers: [kafkaBootstrap],
  clientId: 'pgferry-fixtures',
  logLevel: logLevel.WARN,
});
const db = new pg.Client({ connectionString: sourceUrl });

async function topicEnds(topic: string): Promise<Map<number, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(topic)) return new Map();
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  } finally {
    await admin.disconnect();
  }
}

/** Creates the topic with one partition, so the fixture's records keep their commit order. */
async function ensureSinglePartitionTopic(topic: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    if ((await admin.listTopics()).includes(topic)) return;
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

interface RawRecord {
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
}

async function readRecords(
  topic: string,
  from: Map<number, bigint>,
  count: number,
  timeoutMs = 120_000,
): Promise<RawRecord[]> {
  const groupId = `pgferry-fixtures-${Date.now().toString(36)}`;
  const consumer = kafka.consumer({ groupId });
  const records: RawRecord[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${topic}: got ${records.length} of ${count} records`)),
        timeoutMs,
      );
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            if (BigInt(message.offset) < (from.get(partition) ?? 0n)) return;
            records.push({
              partition,
              offset: message.offset,
              key: message.key,
              value: message.value,
            });
            if (records.length >= count) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
  return records.sort(
    (a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)),
  );
}

async function columnTypes(schema: string, table: string): Promise<Map<string, string>> {
  const { rows } = await db.query<{ name: string; type: string }>(
    `SELECT attname AS name, format_type(atttypid, atttypmod) AS type
       FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`,
    [`${quoteIdent(schema)}.${quoteIdent(table)}`],
  );
  return new Map(rows.map((r) => [r.name, r.type]));
}

const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/**
 * Checks each expected text against the source row as it is now: PostgreSQL must read the text
 * back to the very value the row holds (compared by PostgreSQL's own output text).
 */
async function verifyAgainstRow(
  schema: string,
  table: string,
  change: ExpectedChange,
): Promise<void> {
  if (!change.after) return;
  const types = await columnTypes(schema, table);
  const where = Object.keys(change.key)
    .map((column, i) => `${quoteIdent(column)} = $${i + 1}`)
    .join(' AND ');
  for (const [column, expected] of Object.entries(change.after)) {
    if (expected !== null && typeof expected === 'object') continue; // unchanged TOAST
    const type = types.get(column);
    if (!type) throw new Error(`${table}: no column ${column}`);
    const params = [...Object.values(change.key), expected];
    const { rows } = await db.query<{ same: boolean; source: string | null; read: string | null }>(
      `SELECT ($${params.length}::text)::${type}::text IS NOT DISTINCT FROM ${quoteIdent(column)}::text AS same,
              ${quoteIdent(column)}::text AS source, ($${params.length}::text)::${type}::text AS read
         FROM ${quoteIdent(schema)}.${quoteIdent(table)} WHERE ${where}`,
      params,
    );
    const row = rows[0];
    if (!row) throw new Error(`${table}: no row ${JSON.stringify(change.key)} to verify against`);
    const lossy = change.lossy?.[column];
    if (row.same === Boolean(lossy)) {
      throw new Error(
        `${table}.${column}: expected text ${JSON.stringify(expected)} reads as ${JSON.stringify(row.read)}, source has ${JSON.stringify(row.source)}${lossy ? ' (marked lossy, but it is not)' : ''}`,
      );
    }
  }
}

async function fetchSchema(id: number): Promise<unknown> {
  const response = await fetch(`${registryUrl}/schemas/ids/${id}`);
  if (!response.ok) throw new Error(`registry answered ${response.status} for schema id ${id}`);
  return JSON.parse(((await response.json()) as { schema: string }).schema);
}

async function captureTable(fixture: FixtureTable): Promise<void> {
  const schema = fixture.decimalMode === 'precise' ? PRECISE_SCHEMA : 'public';
  const topic = `cdc.${schema}.${fixture.table}`;
  let start = new Map<number, bigint>();
  const expectations: { step: string; expected: ExpectedMessage }[] = [];
  if (fixture.ddl) {
    await db.query(`DROP TABLE IF EXISTS ${quoteIdent(schema)}.${quoteIdent(fixture.table)}`);
    await ensureSinglePartitionTopic(topic);
    start = await topicEnds(topic);
    for (const statement of fixture.ddl) await db.query(statement);
    for (const step of fixture.steps) {
      await db.query(step.sql, step.params);
      for (const expected of step.messages) {
        expectations.push({ step: step.description, expected });
        if (expected !== 'tombstone') await verifyAgainstRow(schema, fixture.table, expected);
      }
    }
  } else {
    for (const expected of fixture.existing ?? []) {
      expectations.push({ step: 'existing record', expected });
      if (expected !== 'tombstone') await verifyAgainstRow(schema, fixture.table, expected);
    }
  }
  const records = await readRecords(topic, start, expectations.length);
  const messages: CapturedMessage[] = records.slice(0, expectations.length).map((r, i) => {
    const { step, expected } = expectations[i] as (typeof expectations)[number];
    if ((r.value === null) !== (expected === 'tombstone')) {
      throw new Error(`${topic} offset ${r.offset}: record does not match the step "${step}"`);
    }
    return {
      step,
      partition: r.partition,
      offset: r.offset,
      key: r.key ? r.key.toString('base64') : null,
      value: r.value ? r.value.toString('base64') : null,
      expected,
    };
  });

  const ids = new Set<number>();
  for (const r of records) {
    if (r.key) ids.add(r.key.readUInt32BE(1));
    if (r.value) ids.add(r.value.readUInt32BE(1));
  }
  const schemaIds: { key: number | null; value: number | null } = { key: null, value: null };
  for (const r of records) {
    if (r.key) schemaIds.key = r.key.readUInt32BE(1);
    if (r.value) schemaIds.value = r.value.readUInt32BE(1);
  }
  for (const part of ['key', 'value'] as const) {
    const id = schemaIds[part];
    if (id === null) continue;
    const schema = await fetchSchema(id);
    await writeFile(
      new URL(`${topic}-${part}.avsc.json`, outDir),
      `${JSON.stringify(schema, null, 2)}\n`,
    );
  }
  await writeFile(
    new URL(`${topic}.messages.json`, outDir),
    `${JSON.stringify({ topic, table: fixture.table, schemaIds, messages }, null, 2)}\n`,
  );
  console.log(`${topic}: ${messages.length} records, schema ids ${[...ids].join(', ')}`);
}

// ---- the precise-mode connector: the project's file, its own schema, publication and slot ----

const connectUrl = env('CONNECT_URL', 'http://127.0.0.1:58083');
const PRECISE_CONNECTOR = 'pgferry-fixtures-precise';
const PRECISE_SLOT = 'pgferry_fixtures_precise';
const PRECISE_PUBLICATION = 'pgferry_fixtures_precise';

async function startPreciseConnector(): Promise<void> {
  await db.query(`CREATE SCHEMA IF NOT EXISTS ${PRECISE_SCHEMA}`);
  const { rows } = await db.query<{ user: string }>(
    `SELECT r.rolname AS user FROM pg_roles r WHERE r.rolreplication AND NOT r.rolsuper`,
  );
  // Debezium's role reads the tables' catalog; the stack's bootstrap grants it only `public`.
  for (const { user } of rows) {
    await db.query(`GRANT USAGE ON SCHEMA ${PRECISE_SCHEMA} TO ${quoteIdent(user)}`);
    await db.query(
      `ALTER DEFAULT PRIVILEGES IN SCHEMA ${PRECISE_SCHEMA} GRANT SELECT ON TABLES TO ${quoteIdent(user)}`,
    );
  }
  const exists = await db.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [
    PRECISE_PUBLICATION,
  ]);
  if (exists.rowCount === 0) {
    await db.query(
      `CREATE PUBLICATION ${PRECISE_PUBLICATION} FOR TABLES IN SCHEMA ${PRECISE_SCHEMA}`,
    );
  }
  const file = JSON.parse(
    await readFile(new URL('../../connect-config/debezium-source.json', import.meta.url), 'utf8'),
  ) as { config: Record<string, string> };
  const config = {
    ...file.config,
    'decimal.handling.mode': 'precise',
    'schema.include.list': PRECISE_SCHEMA,
    'publication.name': PRECISE_PUBLICATION,
    'slot.name': PRECISE_SLOT,
    'slot.drop.on.stop': 'true',
    'snapshot.mode': 'no_data',
  };
  const put = await fetch(`${connectUrl}/connectors/${PRECISE_CONNECTOR}/config`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(config),
  });
  if (!put.ok) throw new Error(`Connect answered ${put.status} registering ${PRECISE_CONNECTOR}`);
  // Streaming has begun once the slot is in use: later changes are captured.
  const deadline = Date.now() + 120_000;
  for (;;) {
    const slot = await db.query(
      'SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active',
      [PRECISE_SLOT],
    );
    if (slot.rowCount === 1) return;
    if (Date.now() > deadline) throw new Error(`${PRECISE_CONNECTOR} did not start streaming`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function stopPreciseConnector(): Promise<void> {
  await fetch(`${connectUrl}/connectors/${PRECISE_CONNECTOR}`, { method: 'DELETE' });
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const slot = await db.query('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [
      PRECISE_SLOT,
    ]);
    if (slot.rowCount === 0) return;
    if (slot.rows[0]?.active === false) {
      await db.query('SELECT pg_drop_replication_slot($1)', [PRECISE_SLOT]);
      return;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

await db.connect();
try {
  const only = process.argv.slice(2);
  const chosen = fixtures.filter((f) => only.length === 0 || only.includes(f.table));
  const precise = chosen.some((f) => f.decimalMode === 'precise');
  if (precise) await startPreciseConnector();
  try {
    for (const fixture of chosen) await captureTable(fixture);
  } finally {
    if (precise) await stopPreciseConnector();
  }
  // The repository's formatter owns JSON layout (biome check runs over schemas/ too).
  execFileSync('npx', ['biome', 'format', '--write', fileURLToPath(outDir)], { stdio: 'inherit' });
} finally {
  await db.end();
}

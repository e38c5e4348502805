// The source workload a benchmark topic is made from: tables of a few shapes (narrow 8 columns,
// wide with jsonb + text, TOASTed 8 KiB text), a mix of creates, updates and deletes, updates and
// deletes on existing keys with a hot set (recent keys change again and again), in transactions
// of a few hundred events. The mixes themselves are in workload-mix.ts.
import pg from 'pg';
import { quoteIdent } from '../core/sql-identifier.js';

export type TableShape = 'narrow' | 'wide' | 'toast';

export interface BenchTable {
  name: string;
  orderBy: string;
  /** Column definitions, the same on the source and every target. */
  ddl: string;
  /** Share of the events. */
  share: number;
  /** Which statements write it (the shape's columns). */
  shape: TableShape;
}

/** Column definitions per shape: the same DDL on the source and on every target. */
export const SHAPE_DDL: Record<TableShape, string> = {
  narrow: `id bigint PRIMARY KEY, account integer NOT NULL, amount numeric(12,2) NOT NULL, qty integer,
      status text NOT NULL, flag boolean NOT NULL, score double precision, updated_at timestamptz NOT NULL`,
  wide: `id bigint PRIMARY KEY, owner text NOT NULL, doc jsonb NOT NULL, body text,
      version integer NOT NULL, updated_at timestamptz NOT NULL`,
  toast: `id bigint PRIMARY KEY, owner text NOT NULL, version integer NOT NULL, body text NOT NULL,
      updated_at timestamptz NOT NULL`,
};

/** A table of the given shape (the standard mix's tables have these shapes). */
export function benchTable(name: string, shape: TableShape, share: number): BenchTable {
  return { name, orderBy: 'id', share, shape, ddl: SHAPE_DDL[shape] };
}

/**
 * The standard mix's tables as runs before per-run table names made them: a topic kept by such a
 * run (BENCH_TOPIC) names these, and the source tables are its expected result.
 */
export const BENCH_TABLES: readonly BenchTable[] = [
  benchTable('bench_narrow', 'narrow', 0.6),
  benchTable('bench_wide', 'wide', 0.4),
];

export function createTableSql(table: { name: string; ddl: string }): string {
  return `CREATE TABLE public.${quoteIdent(table.name)} (${table.ddl})`;
}

const insertSql: Record<TableShape, (table: string) => string> = {
  narrow: (table) => `INSERT INTO ${table}
    SELECT g, (g * 7919) % 10000, round((random() * 100000)::numeric, 2), (random() * 100)::int,
      (ARRAY['new','paid','shipped','done'])[1 + (g % 4)], g % 3 = 0, random(), now()
    FROM generate_series($1::bigint, $2::bigint) AS g`,
  wide: (table) => `INSERT INTO ${table}
    SELECT g, 'owner-' || (g % 5000),
      jsonb_build_object('id', g, 'kind', (ARRAY['order','refund','note'])[1 + (g % 3)],
        'tags', jsonb_build_array(md5(g::text), g % 17, random() < 0.5),
        'attrs', jsonb_build_object('a', random(), 'b', md5((g + 1)::text), 'c', g % 1000)),
      repeat(md5(random()::text) || ' ', 4 + (g % 25)::int), 1, now()
    FROM generate_series($1::bigint, $2::bigint) AS g`,
  // 8 KiB of hex digits from 256 independent md5s: pglz cannot shrink it below the TOAST
  // threshold, so every body is stored out of line (a repeated string would compress inline).
  toast: (table) => `INSERT INTO ${table}
    SELECT g, 'owner-' || (g % 5000), 1,
      (SELECT string_agg(md5(random()::text || g::text || i::text), '') FROM generate_series(1, 256) AS i),
      now()
    FROM generate_series($1::bigint, $2::bigint) AS g`,
};

const updateSql: Record<TableShape, (table: string) => string> = {
  narrow: (table) => `UPDATE ${table} SET amount = round((random() * 100000)::numeric, 2),
      qty = coalesce(qty, 0) + 1, status = (ARRAY['new','paid','shipped','done'])[1 + (random() * 3)::int],
      score = random(), updated_at = now()
    WHERE id = ANY($1::bigint[])`,
  wide: (
    table,
  ) => `UPDATE ${table} SET doc = doc || jsonb_build_object('v', version + 1, 'r', random()),
      version = version + 1, updated_at = now()
    WHERE id = ANY($1::bigint[])`,
  // The body is rewritten: an update that left it unchanged would carry Debezium's
  // unavailable-value placeholder, which the JDBC sink writes into the column as text.
  toast: (table) => `UPDATE ${table} SET version = version + 1, updated_at = now(),
      body = (SELECT string_agg(md5(random()::text || id::text || i::text), '') FROM generate_series(1, 256) AS i)
    WHERE id = ANY($1::bigint[])`,
};

function pickTable(tables: readonly BenchTable[], r: number): BenchTable {
  let left = r;
  for (const table of tables) {
    left -= table.share;
    if (left < 0) return table;
  }
  return tables[0] as BenchTable;
}

/** Deterministic PRNG (mulberry32), so the same seed picks the same keys. */
export function createRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The live keys of one table: uniform picks, "recent" picks, O(1) removal. */
export class LiveKeys {
  private readonly keys: number[] = [];
  private readonly index = new Map<number, number>();
  nextId = 1;

  get size(): number {
    return this.keys.length;
  }

  addRange(from: number, to: number): void {
    for (let id = from; id <= to; id++) {
      this.index.set(id, this.keys.length);
      this.keys.push(id);
    }
  }

  remove(id: number): void {
    const i = this.index.get(id);
    if (i === undefined) return;
    const last = this.keys.pop() as number;
    if (last !== id) {
      this.keys[i] = last;
      this.index.set(last, i);
    }
    this.index.delete(id);
  }

  /**
   * Up to `count` distinct live keys: a share from the hot set (the `hot.keys` newest ids), the
   * rest uniform (by default half from the 2,000 newest).
   */
  pick(
    count: number,
    random: () => number,
    exclude: Set<number> = new Set(),
    hot: HotSet = STANDARD_HOT_SET,
  ): number[] {
    const chosen = new Set<number>();
    const want = Math.min(count, this.keys.length - exclude.size);
    let guard = want * 20;
    while (chosen.size < want && guard-- > 0) {
      const id =
        random() < hot.share
          ? this.nextId - 1 - Math.floor(random() * hot.keys)
          : (this.keys[Math.floor(random() * this.keys.length)] as number);
      if (this.index.has(id) && !exclude.has(id)) chosen.add(id);
    }
    return [...chosen];
  }
}

/** Where updates and deletes land: `share` of the picks among the `keys` newest ids. */
export interface HotSet {
  keys: number;
  share: number;
}

export const STANDARD_HOT_SET: HotSet = { keys: 2000, share: 0.5 };

/** What a workload writes: its tables (with their shares of the events) and its op mix. */
export interface WorkloadSpec {
  tables: readonly BenchTable[];
  /** Shares of each transaction's events; creates are the rest. */
  updateShare: number;
  deleteShare: number;
  hot: HotSet;
}

export interface OpCounts {
  creates: number;
  updates: number;
  deletes: number;
}

export interface WorkloadCounts extends OpCounts {
  /** Kafka messages expected per table: creates + updates + deletes x2 (delete + tombstone). */
  messagesByTable: Record<string, number>;
  /** The op mix per table. */
  opsByTable?: Record<string, OpCounts>;
  transactions: number;
  seconds: number;
}

/** A client of `url` for the length of `work`. */
export async function withClient(
  url: string,
  work: (client: pg.Client) => Promise<void>,
): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await work(client);
  } finally {
    await client.end();
  }
}

/** Drops and creates the tables on the source (empty, before the connector starts). */
export async function createSourceTables(
  sourceUrl: string,
  tables: readonly BenchTable[],
): Promise<void> {
  await withClient(sourceUrl, async (client) => {
    for (const table of tables) {
      await client.query(`DROP TABLE IF EXISTS public.${quoteIdent(table.name)}`);
      await client.query(createTableSql(table));
    }
  });
}

export async function dropSourceTables(sourceUrl: string, names: readonly string[]): Promise<void> {
  await withClient(sourceUrl, async (client) => {
    for (const name of names) await client.query(`DROP TABLE IF EXISTS public.${quoteIdent(name)}`);
  });
}

/** Writes exactly `events` row changes to the source tables. */
export async function runSourceWorkload(
  sourceUrl: string,
  options: { events: number; eventsPerTransaction: number; seed: number; spec: WorkloadSpec },
  onProgress?: (done: number) => void,
): Promise<WorkloadCounts> {
  const { spec } = options;
  const random = createRandom(options.seed);
  const live = new Map(spec.tables.map((t) => [t.name, new LiveKeys()]));
  const counts: WorkloadCounts = {
    creates: 0,
    updates: 0,
    deletes: 0,
    messagesByTable: Object.fromEntries(spec.tables.map((t) => [t.name, 0])),
    opsByTable: Object.fromEntries(
      spec.tables.map((t) => [t.name, { creates: 0, updates: 0, deletes: 0 }]),
    ),
    transactions: 0,
    seconds: 0,
  };
  const client = new pg.Client({ connectionString: sourceUrl });
  await client.connect();
  const started = performance.now();
  let lastReport = 0;
  try {
    let remaining = options.events;
    while (remaining > 0) {
      const size = Math.min(options.eventsPerTransaction, remaining);
      const table = pickTable(spec.tables, random());
      const name = `public.${quoteIdent(table.name)}`;
      const keys = live.get(table.name) as LiveKeys;
      const updateIds = keys.pick(Math.round(size * spec.updateShare), random, undefined, spec.hot);
      const deleteIds = keys.pick(
        Math.round(size * spec.deleteShare),
        random,
        new Set(updateIds),
        spec.hot,
      );
      const creates = size - updateIds.length - deleteIds.length;
      await client.query('BEGIN');
      if (creates > 0) {
        const from = keys.nextId;
        const to = from + creates - 1;
        await client.query(insertSql[table.shape](name), [from, to]);
        keys.addRange(from, to);
        keys.nextId = to + 1;
      }
      if (updateIds.length > 0) await client.query(updateSql[table.shape](name), [updateIds]);
      if (deleteIds.length > 0) {
        await client.query(`DELETE FROM ${name} WHERE id = ANY($1::bigint[])`, [deleteIds]);
        for (const id of deleteIds) keys.remove(id);
      }
      await client.query('COMMIT');
      counts.creates += creates;
      counts.updates += updateIds.length;
      counts.deletes += deleteIds.length;
      const ops = counts.opsByTable?.[table.name] as OpCounts;
      ops.creates += creates;
      ops.updates += updateIds.length;
      ops.deletes += deleteIds.length;
      counts.messagesByTable[table.name] =
        (counts.messagesByTable[table.name] ?? 0) +
        creates +
        updateIds.length +
        2 * deleteIds.length;
      counts.transactions += 1;
      remaining -= size;
      const done = options.events - remaining;
      if (onProgress && done - lastReport >= 100_000) {
        lastReport = done;
        onProgress(done);
      }
    }
  } finally {
    await client.end();
  }
  counts.seconds = (performance.now() - started) / 1000;
  return counts;
}

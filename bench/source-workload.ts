// The source workload the benchmark's topic is made from: a narrow 8-column table and a wide one
// (jsonb + text), ~70% creates, 25% updates, 5% deletes, updates and deletes on existing keys
// with a hot set (recent keys change again and again), in transactions of a few hundred events.
import pg from 'pg';

export interface BenchTable {
  name: string;
  orderBy: string;
  /** Column definitions, the same on the source and every target. */
  ddl: string;
  /** Share of the events. */
  share: number;
}

export const BENCH_TABLES: readonly BenchTable[] = [
  {
    name: 'bench_narrow',
    orderBy: 'id',
    share: 0.6,
    ddl: `id bigint PRIMARY KEY, account integer NOT NULL, amount numeric(12,2) NOT NULL, qty integer,
      status text NOT NULL, flag boolean NOT NULL, score double precision, updated_at timestamptz NOT NULL`,
  },
  {
    name: 'bench_wide',
    orderBy: 'id',
    share: 0.4,
    ddl: `id bigint PRIMARY KEY, owner text NOT NULL, doc jsonb NOT NULL, body text,
      version integer NOT NULL, updated_at timestamptz NOT NULL`,
  },
];

export function createTableSql(table: { name: string; ddl: string }): string {
  return `CREATE TABLE public.${table.name} (${table.ddl})`;
}

const INSERT_SQL: Record<string, string> = {
  bench_narrow: `INSERT INTO public.bench_narrow
    SELECT g, (g * 7919) % 10000, round((random() * 100000)::numeric, 2), (random() * 100)::int,
      (ARRAY['new','paid','shipped','done'])[1 + (g % 4)], g % 3 = 0, random(), now()
    FROM generate_series($1::bigint, $2::bigint) AS g`,
  bench_wide: `INSERT INTO public.bench_wide
    SELECT g, 'owner-' || (g % 5000),
      jsonb_build_object('id', g, 'kind', (ARRAY['order','refund','note'])[1 + (g % 3)],
        'tags', jsonb_build_array(md5(g::text), g % 17, random() < 0.5),
        'attrs', jsonb_build_object('a', random(), 'b', md5((g + 1)::text), 'c', g % 1000)),
      repeat(md5(random()::text) || ' ', 4 + (g % 25)::int), 1, now()
    FROM generate_series($1::bigint, $2::bigint) AS g`,
};

const UPDATE_SQL: Record<string, string> = {
  bench_narrow: `UPDATE public.bench_narrow SET amount = round((random() * 100000)::numeric, 2),
      qty = coalesce(qty, 0) + 1, status = (ARRAY['new','paid','shipped','done'])[1 + (random() * 3)::int],
      score = random(), updated_at = now()
    WHERE id = ANY($1::bigint[])`,
  bench_wide: `UPDATE public.bench_wide SET doc = doc || jsonb_build_object('v', version + 1, 'r', random()),
      version = version + 1, updated_at = now()
    WHERE id = ANY($1::bigint[])`,
};

function pickTable(r: number): BenchTable {
  let left = r;
  for (const table of BENCH_TABLES) {
    left -= table.share;
    if (left < 0) return table;
  }
  return BENCH_TABLES[0] as BenchTable;
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

  /** Up to `count` distinct live keys: half from the 2,000 newest ids (hot), half uniform. */
  pick(count: number, random: () => number, exclude: Set<number> = new Set()): number[] {
    const chosen = new Set<number>();
    const want = Math.min(count, this.keys.length - exclude.size);
    let guard = want * 20;
    while (chosen.size < want && guard-- > 0) {
      const id =
        random() < 0.5
          ? this.nextId - 1 - Math.floor(random() * 2000)
          : (this.keys[Math.floor(random() * this.keys.length)] as number);
      if (this.index.has(id) && !exclude.has(id)) chosen.add(id);
    }
    return [...chosen];
  }
}

export interface WorkloadCounts {
  creates: number;
  updates: number;
  deletes: number;
  /** Kafka messages expected per table: creates + updates + deletes x2 (delete + tombstone). */
  messagesByTable: Record<string, number>;
  transactions: number;
  seconds: number;
}

/** Drops and creates the bench tables on the source (empty, before the connector starts). */
export async function createSourceTables(sourceUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: sourceUrl });
  await client.connect();
  try {
    for (const table of BENCH_TABLES) {
      await client.query(`DROP TABLE IF EXISTS public.${table.name}`);
      await client.query(createTableSql(table));
    }
  } finally {
    await client.end();
  }
}

export async function dropSourceTables(sourceUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: sourceUrl });
  await client.connect();
  try {
    for (const table of BENCH_TABLES)
      await client.query(`DROP TABLE IF EXISTS public.${table.name}`);
  } finally {
    await client.end();
  }
}

/** Writes exactly `events` row changes to the source tables. */
export async function runSourceWorkload(
  sourceUrl: string,
  options: { events: number; eventsPerTransaction: number; seed: number },
  onProgress?: (done: number) => void,
): Promise<WorkloadCounts> {
  const random = createRandom(options.seed);
  const live = new Map(BENCH_TABLES.map((t) => [t.name, new LiveKeys()]));
  const counts: WorkloadCounts = {
    creates: 0,
    updates: 0,
    deletes: 0,
    messagesByTable: Object.fromEntries(BENCH_TABLES.map((t) => [t.name, 0])),
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
      const table = pickTable(random());
      const keys = live.get(table.name) as LiveKeys;
      const updateIds = keys.pick(Math.round(size * 0.25), random);
      const deleteIds = keys.pick(Math.round(size * 0.05), random, new Set(updateIds));
      const creates = size - updateIds.length - deleteIds.length;
      await client.query('BEGIN');
      if (creates > 0) {
        const from = keys.nextId;
        const to = from + creates - 1;
        await client.query(INSERT_SQL[table.name] as string, [from, to]);
        keys.addRange(from, to);
        keys.nextId = to + 1;
      }
      if (updateIds.length > 0) await client.query(UPDATE_SQL[table.name] as string, [updateIds]);
      if (deleteIds.length > 0) {
        await client.query(`DELETE FROM public.${table.name} WHERE id = ANY($1::bigint[])`, [
          deleteIds,
        ]);
        for (const id of deleteIds) keys.remove(id);
      }
      await client.query('COMMIT');
      counts.creates += creates;
      counts.updates += updateIds.length;
      counts.deletes += deleteIds.length;
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

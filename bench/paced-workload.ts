// Paced mode's source writer: the narrow table's shape with a `written_at` column set by the
// source (clock_timestamp(), just before the commit), written at a steady rate in small
// transactions every 50 ms (~70% creates, 25% updates, 5% deletes on live keys).
import pg from 'pg';
import { createRandom, LiveKeys } from './source-workload.js';

export const PACED_TABLE = 'bench_paced';

export const PACED_DDL = `id bigint PRIMARY KEY, account integer NOT NULL, amount numeric(12,2) NOT NULL,
  qty integer, status text NOT NULL, flag boolean NOT NULL, score double precision,
  written_at timestamptz NOT NULL`;

const TICK_MS = 50;

export interface PacedWriteResult {
  rows: number;
  seconds: number;
  /** Rows per second achieved (the writer falls behind when the source cannot keep up). */
  achievedRate: number;
  startedAtMs: number;
  endedAtMs: number;
  /** When the last transaction started: its rows' written_at is at or after it. */
  lastTransactionAtMs: number;
}

export class PacedWriter {
  private readonly keys = new LiveKeys();
  private readonly random: () => number;
  /** Per key, the source commit time (ms, taken when COMMIT returned) of each of its changes. */
  readonly commitTimes = new Map<number, number[]>();

  constructor(
    private readonly client: pg.Client,
    seed: number,
  ) {
    this.random = createRandom(seed);
  }

  static async connect(sourceUrl: string, seed: number): Promise<PacedWriter> {
    const client = new pg.Client({ connectionString: sourceUrl });
    await client.connect();
    await client.query(`DROP TABLE IF EXISTS public.${PACED_TABLE}`);
    await client.query(`CREATE TABLE public.${PACED_TABLE} (${PACED_DDL})`);
    return new PacedWriter(client, seed);
  }

  async close(dropTable: boolean): Promise<void> {
    if (dropTable)
      await this.client.query(`DROP TABLE IF EXISTS public.${PACED_TABLE}`).catch(() => undefined);
    await this.client.end();
  }

  /** Writes `rate` rows/s for `seconds`; a tick that falls behind is not skipped but run late. */
  async write(rate: number, seconds: number): Promise<PacedWriteResult> {
    const perTick = rate / (1000 / TICK_MS);
    const ticks = Math.round((seconds * 1000) / TICK_MS);
    const startedAtMs = Date.now();
    let rows = 0;
    let owed = 0;
    let lastTransactionAtMs = startedAtMs;
    for (let i = 0; i < ticks; i++) {
      const due = startedAtMs + i * TICK_MS;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      owed += perTick;
      const size = Math.floor(owed);
      if (size === 0) continue;
      owed -= size;
      lastTransactionAtMs = Date.now();
      rows += await this.writeTransaction(size);
    }
    const endedAtMs = Date.now();
    const secondsTaken = (endedAtMs - startedAtMs) / 1000;
    return {
      rows,
      seconds: secondsTaken,
      achievedRate: Math.round(rows / secondsTaken),
      startedAtMs,
      endedAtMs,
      lastTransactionAtMs,
    };
  }

  private async writeTransaction(size: number): Promise<number> {
    const t = PACED_TABLE;
    const updates = this.keys.pick(Math.round(size * 0.25), this.random);
    const deletes = this.keys.pick(Math.round(size * 0.05), this.random, new Set(updates));
    const creates = size - updates.length - deletes.length;
    await this.client.query('BEGIN');
    if (creates > 0) {
      const from = this.keys.nextId;
      const to = from + creates - 1;
      await this.client.query(
        `INSERT INTO public.${t} SELECT g, (g * 7919) % 10000, round((random() * 100000)::numeric, 2),
           (random() * 100)::int, (ARRAY['new','paid','shipped','done'])[1 + (g % 4)], g % 3 = 0, random(),
           clock_timestamp()
         FROM generate_series($1::bigint, $2::bigint) AS g`,
        [from, to],
      );
      this.keys.addRange(from, to);
      this.keys.nextId = to + 1;
    }
    if (updates.length > 0) {
      await this.client.query(
        `UPDATE public.${t} SET amount = round((random() * 100000)::numeric, 2), qty = coalesce(qty, 0) + 1,
           score = random(), written_at = clock_timestamp() WHERE id = ANY($1::bigint[])`,
        [updates],
      );
    }
    if (deletes.length > 0) {
      await this.client.query(`DELETE FROM public.${t} WHERE id = ANY($1::bigint[])`, [deletes]);
      for (const id of deletes) this.keys.remove(id);
    }
    await this.client.query('COMMIT');
    const committedAtMs = Date.now();
    const record = (id: number) => {
      const times = this.commitTimes.get(id);
      if (times) times.push(committedAtMs);
      else this.commitTimes.set(id, [committedAtMs]);
    };
    for (let id = this.keys.nextId - creates; id < this.keys.nextId; id++) record(id);
    for (const id of updates) record(id);
    for (const id of deletes) record(id);
    return size;
  }
}

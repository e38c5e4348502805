// Paced mode's lag probe on the target side: a logical replication slot (test_decoding, with
// commit timestamps) on the paced target database. Every row pgferry commits there comes back
// with the target's commit time and the row's source `written_at`, so lag = target commit time -
// source write time, observed by the target, not reported by pgferry. The slot is dropped at
// the end (it would otherwise retain WAL on the shared target).
import pg from 'pg';

export interface CommittedRow {
  writtenAtMs: number;
  committedAtMs: number;
}

const ROW =
  /^table public\.(\w+): (?:INSERT|UPDATE): .*written_at\[timestamp with time zone\]:'([^']+)'/;
const COMMIT = /^COMMIT \d+ \(at (.+)\)$/;

/** PostgreSQL's ISO text in UTC ('2026-11-28 01:30:00.123456+00') to epoch milliseconds. */
export function parseUtc(text: string): number {
  const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(\.\d+)?\+00$/.exec(text);
  if (!m) return Number.NaN;
  return Date.parse(`${m[1]}T${m[2]}${(m[3] ?? '.0').slice(0, 4).padEnd(4, '0')}Z`);
}

export type DecodedLine =
  | { kind: 'row'; table: string; writtenAtMs: number }
  | { kind: 'commit'; committedAtMs: number };

/** One line of test_decoding's output: a row carrying written_at, a COMMIT, or neither. */
export function readDecodedLine(data: string): DecodedLine | undefined {
  const row = ROW.exec(data);
  if (row) return { kind: 'row', table: row[1] as string, writtenAtMs: parseUtc(row[2] as string) };
  const commit = COMMIT.exec(data);
  if (commit) return { kind: 'commit', committedAtMs: parseUtc(commit[1] as string) };
  return undefined;
}

export class TargetCommitWatcher {
  readonly rows: CommittedRow[] = [];
  private pending: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private failure: Error | undefined;

  private constructor(
    private readonly client: pg.Client,
    private readonly slot: string,
    private readonly table: string,
  ) {}

  /** Creates the slot (superuser URL of the target database) before anything is written there. */
  static async start(adminUrl: string, slot: string, table: string): Promise<TargetCommitWatcher> {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    await client.query("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'");
    await client.query("SELECT pg_create_logical_replication_slot($1, 'test_decoding')", [slot]);
    const watcher = new TargetCommitWatcher(client, slot, table);
    watcher.timer = setInterval(() => {
      watcher.polling ??= watcher.poll().finally(() => {
        watcher.polling = undefined;
      });
    }, 100);
    return watcher;
  }

  /** The newest source write time seen committed on the target. */
  get newestWrittenAtMs(): number {
    if (this.failure) throw this.failure;
    return this.newest;
  }

  private newest = 0;

  private async poll(): Promise<void> {
    try {
      const result = await this.client.query<{ data: string }>(
        "SELECT data FROM pg_logical_slot_get_changes($1, NULL, NULL, 'include-timestamp', '1', 'skip-empty-xacts', '1')",
        [this.slot],
      );
      for (const { data } of result.rows) {
        const line = readDecodedLine(data);
        if (line?.kind === 'row' && line.table === this.table) this.pending.push(line.writtenAtMs);
        if (line?.kind === 'commit') {
          for (const writtenAtMs of this.pending) {
            this.rows.push({ writtenAtMs, committedAtMs: line.committedAtMs });
            if (writtenAtMs > this.newest) this.newest = writtenAtMs;
          }
          this.pending = [];
        }
      }
    } catch (error) {
      this.failure = error as Error;
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.polling;
    await this.client
      .query(
        'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1',
        [this.slot],
      )
      .catch(() => undefined);
    await this.client.end();
  }
}

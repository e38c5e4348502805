// The source database's current WAL position, for the position guard of `pgferry run`
// (pipeline/source-position-guard.ts): pg_current_wal_lsn() on a primary, the replayed position
// on a standby. Through the read-only SOURCE_DB_* role (the function needs no privilege), one
// session kept open and opened again after a failure; every failure is retriable (the chunk that
// needed the reading waits, nothing is applied unchecked).
import type pg from 'pg';
import type { PostgresSettings } from './config.js';
import { RetriableError } from './errors.js';
import { connectPg } from './pg-connection.js';

export interface SourceWalReading {
  position: bigint;
  standby: boolean;
}

/** `16/B374D848` -> 0x16B374D848. */
export function parseLsn(text: string): bigint {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text);
  if (!match) throw new RetriableError(`unexpected WAL position from the source: ${text}`);
  return (BigInt(`0x${match[1]}`) << 32n) + BigInt(`0x${match[2]}`);
}

export class SourceWalPositionReader {
  private client: pg.Client | undefined;

  constructor(
    private readonly settings: PostgresSettings,
    private readonly applicationName = 'pgferry-wal-position',
  ) {}

  async readWalPosition(): Promise<SourceWalReading> {
    try {
      this.client ??= await connectPg(this.settings, this.applicationName);
      const result = await this.client.query<{ lsn: string | null; standby: boolean }>(
        `SELECT pg_is_in_recovery() AS standby,
                (CASE WHEN pg_is_in_recovery()
                      THEN COALESCE(pg_last_wal_replay_lsn(), pg_last_wal_receive_lsn())
                      ELSE pg_current_wal_lsn() END)::text AS lsn`,
      );
      const row = result.rows[0];
      if (row?.lsn == null) throw new RetriableError('the source reported no WAL position');
      return { position: parseLsn(row.lsn), standby: row.standby };
    } catch (error) {
      await this.close();
      if (error instanceof RetriableError) throw error;
      throw new RetriableError(
        `cannot read the source's WAL position (SOURCE_DB_HOST ${this.settings.host}): ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}

// The sink's connection to the target: opened on first use (one connect at a time), dropped on
// connection-level errors and opened again by the next batch. Failures are turned into the
// error classes that decide retry or stop; session state (staging tables) goes with the session.
import type pg from 'pg';
import type { PostgresSettings } from '../core/config.js';
import { PgferryError, RetriableError, TlsConnectionError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { connectPg } from '../core/pg-connection.js';
import { classifyPgError, isAuthenticationFailure, keepsSessionUsable } from '../core/pg-errors.js';
import { ensureBookkeeping } from './bookkeeping/bookkeeping-schema.js';

export class TargetConnection {
  private client: pg.Client | undefined;
  private connecting: Promise<pg.Client> | undefined;
  /** Once a login succeeded, a refused one (a rotated password) is retried like an outage. */
  private loggedInOnce = false;

  constructor(
    private readonly settings: PostgresSettings,
    private readonly log: Logger,
    /** Told when the session is gone (its temporary staging tables with it). */
    private readonly onSessionLost: () => void,
  ) {}

  get isConnected(): boolean {
    return this.client !== undefined;
  }

  /** The session, opened (with pgferry's bookkeeping schema ensured) when there is none. */
  session(): Promise<pg.Client> {
    if (this.client) return Promise.resolve(this.client);
    // One connect at a time: concurrent callers share it (a second client would leak).
    this.connecting ??= this.openSession().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  async close(): Promise<void> {
    // A connect still in flight would otherwise leave a client (and the process) alive.
    const pending = await this.connecting?.catch(() => undefined);
    const client = this.client ?? pending;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  /**
   * A new connection of its own; failing to connect is a transient fault, never a data problem,
   * except a refused first login: wrong settings, which no retry fixes (pgferry run exits).
   */
  async connect(applicationName: string): Promise<pg.Client> {
    const { host, port, database, user } = this.settings;
    const where = `target PostgreSQL ${host}:${port}/${database}`;
    try {
      const client = await connectPg(this.settings, applicationName);
      this.loggedInOnce = true;
      return client;
    } catch (error) {
      const reason = (error as Error).message;
      // A CA, host name or client certificate that does not verify is a setting to fix, like a
      // refused login: before the first success pgferry stops and says which.
      if (error instanceof TlsConnectionError && !this.loggedInOnce) throw error;
      if (isAuthenticationFailure(error) && !this.loggedInOnce) {
        // Over TLS the server may want a certificate instead of (or besides) a password.
        const certificateHint =
          this.settings.sslMode !== 'disable' && this.settings.sslCert === undefined
            ? ' (or TARGET_DB_SSLCERT/TARGET_DB_SSLKEY if it wants a client certificate)'
            : '';
        throw new PgferryError(
          `${where} refused the login of ${user}: ${reason}; check TARGET_DB_USER and TARGET_DB_PASSWORD${certificateHint}`,
          { retriable: false, cause: error },
        );
      }
      throw new RetriableError(`${where} unreachable: ${reason}`, { cause: error });
    }
  }

  /**
   * Turns a failure on the session into pgferry's error classes: connection-level and transient
   * PostgreSQL failures become RetriableError (dropping the session unless it is still usable).
   */
  classify(error: unknown): unknown {
    if (error instanceof PgferryError) return error;
    if (classifyPgError(error) !== 'retriable') return error;
    if (!keepsSessionUsable(error)) this.drop();
    return new RetriableError(`target PostgreSQL: ${(error as Error).message}`, { cause: error });
  }

  private async openSession(): Promise<pg.Client> {
    const client = await this.connect('pgferry-sink');
    client.on('error', (error) => {
      this.log.warn({ err: error.message }, 'target connection error; reconnecting on next batch');
      if (this.client === client) this.drop();
    });
    try {
      await ensureBookkeeping(client);
      await commitDurably(client, this.log);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    this.client = client;
    return client;
  }

  private drop(): void {
    const client = this.client;
    this.client = undefined;
    this.onSessionLost();
    client?.end().catch(() => undefined);
  }
}

/**
 * A target tuned with `synchronous_commit = off` (common for bulk loads) may lose its last
 * commits in a crash. pgferry keeps running through a target restart and carries on from the
 * offsets it applied, so a lost commit would be a gap nobody replays: the sink's sessions commit
 * with `local` durability then. Stricter settings (on, remote_write, remote_apply) are kept.
 */
async function commitDurably(client: pg.Client, log: Logger): Promise<void> {
  const raised = await client.query(
    "SELECT set_config('synchronous_commit', 'local', false) FROM (SELECT current_setting('synchronous_commit') AS s) AS c WHERE s = 'off'",
  );
  if (raised.rowCount)
    log.info(
      'the target has synchronous_commit = off: the sink commits with synchronous_commit = local (a commit lost in a crash would be a gap)',
    );
}

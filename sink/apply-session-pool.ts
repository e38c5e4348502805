// The sink's target sessions: APPLY_CONCURRENCY of them, one per batch being applied, so the
// COPY and merge of one partition's batch overlap the commit (and the client-side work) of
// another's. Each session keeps its own temporary staging tables. Sessions open on first use;
// the lowest free one is taken first, so a quiet pipeline keeps using the first.
import type pg from 'pg';
import type { PostgresSettings } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { TargetConnection } from './target-connection.js';

/** One target session and the staging tables it has created. */
export interface ApplySession {
  readonly index: number;
  readonly connection: TargetConnection;
  /** Staging tables that exist in this session (cleared when the session or transaction goes). */
  readonly stagingTables: Set<string>;
}

export class ApplySessionPool {
  private readonly sessions: ApplySession[];
  private readonly free: boolean[];
  private readonly waiting: ((session: ApplySession) => void)[] = [];

  constructor(size: number, settings: PostgresSettings, log: Logger) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`apply sessions: ${size}`);
    this.sessions = Array.from({ length: size }, (_, index) => {
      const stagingTables = new Set<string>();
      // Session state goes with the session: staging tables are temporary.
      const connection = new TargetConnection(settings, log, () => stagingTables.clear());
      return { index, connection, stagingTables };
    });
    this.free = this.sessions.map(() => true);
  }

  get size(): number {
    return this.sessions.length;
  }

  /** The session every batch uses first: connected means the target answered last time. */
  get isConnected(): boolean {
    return (this.sessions[0] as ApplySession).connection.isConnected;
  }

  /** Opens the first session (the target reachable, the bookkeeping schema there). */
  async start(): Promise<void> {
    await (this.sessions[0] as ApplySession).connection.session();
  }

  async close(): Promise<void> {
    await Promise.all(this.sessions.map((s) => s.connection.close()));
  }

  /** A short connection of its own, beside the sessions (offset reads on rebalance). */
  connect(applicationName: string): Promise<pg.Client> {
    return (this.sessions[0] as ApplySession).connection.connect(applicationName);
  }

  /** The lowest free session; waits for one when every session holds a batch. */
  acquire(): Promise<ApplySession> {
    const index = this.free.indexOf(true);
    if (index >= 0) {
      this.free[index] = false;
      return Promise.resolve(this.sessions[index] as ApplySession);
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Gives a session back (its transaction committed or rolled back). */
  release(session: ApplySession): void {
    const next = this.waiting.shift();
    if (next) next(session);
    else this.free[session.index] = true;
  }
}

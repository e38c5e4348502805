// The fault suite's harness (test/faults): a scenario of its own (tables, Debezium connector,
// slot, consumer group, topics) on the shared local stack, a steady write workload on the
// source, `pgferry run` processes whose memory is sampled, a watch on the target's stored offsets
// and applied positions, and the checks every case ends with: lag zero, every table equal to its
// source, the expected DLQ count, offsets and positions never backwards, memory under the bound.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { ConnectClient } from '../../core/connect-client.js';
import { recommendedHeapMb } from '../../core/heap-limit.js';
import { type PgferryProcess, startPgferry } from './pgferry-process.js';
import { loadStackEnv, repoPath } from './stack-env.js';
import { tableFingerprint } from './table-checksum.js';
import { applyTestConnector, removeTestConnector } from './test-connector.js';

const execFileAsync = promisify(execFile);

export const stack = loadStackEnv();
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** BATCH_MAX_BYTES in the fault suite, and the RSS bound it implies (see boundMb). */
export const FAULT_BATCH_MAX_BYTES = 4 * 1024 * 1024;
/**
 * The memory bound every case checks: a Node process with pgferry loaded idles at about 100 MB;
 * on top of that, a fetch of at most BATCH_MAX_BYTES and its decoded rows (several times the
 * encoded size) per batch in flight. 160 MiB + 16 x BATCH_MAX_BYTES = 224 MiB here. pgferry runs
 * with its heap limited as documented (core/heap-limit.ts): without it V8 lets garbage pile
 * up to ~260 MiB of RSS under sustained load before collecting (measured in case 15).
 */
export function memoryBoundMb(batchMaxBytes = FAULT_BATCH_MAX_BYTES): number {
  return 160 + (16 * batchMaxBytes) / (1024 * 1024);
}

export type Service = 'pg-source' | 'pg-target' | 'kafka' | 'registry' | 'connect';

/** stack/stack.sh start|stop|kill <service>: the real service, crashed or restarted. */
export async function stackService(action: 'start' | 'stop' | 'kill', service: Service) {
  await execFileAsync('bash', [repoPath('stack/stack.sh'), action, service], {
    timeout: 240_000,
  });
}

export interface TableSpec {
  name: string;
  orderBy: string;
}

/** The tables startWorkload writes: a scenario with tables of its own adds these to them. */
export const WORKLOAD_TABLES: Record<string, (name: string) => string> = {
  accounts: (n) =>
    `CREATE TABLE ${n} (id bigint PRIMARY KEY, owner text NOT NULL, balance numeric(14,2) NOT NULL,
      version integer NOT NULL, note text, updated_at timestamptz NOT NULL DEFAULT now())`,
  events: (n) =>
    `CREATE TABLE ${n} (id bigserial PRIMARY KEY, account_id bigint NOT NULL, kind text NOT NULL,
      amount numeric(14,2), payload text, at timestamptz NOT NULL DEFAULT now())`,
};

export interface ScenarioOptions {
  /** Short id, e.g. "k" for the process-kill cases: names are f<id>_<table>_<run>. */
  id: string;
  /** CREATE TABLE statements, given the full table name; default: accounts + events. */
  tables?: Record<string, (name: string) => string>;
  /** Rows of accounts present before the connector starts (snapshot reads). */
  seedAccounts?: number;
  /**
   * The connector's slot.drop.on.stop (default true). Cases that restart Kafka or Connect need
   * false: Connect stops the task for its rebalance, and a dropped slot loses changes. tearDown
   * drops the slot either way.
   */
  slotDropOnStop?: boolean;
}

interface Sample {
  at: number;
  key: string;
  value: bigint;
}

export class FaultScenario {
  readonly run = Date.now().toString(36);
  readonly prefix: string;
  readonly groupId: string;
  readonly connectorName: string;
  readonly slotName: string;
  readonly source = new pg.Client({ connectionString: stack.sourceDatabaseUrl });
  readonly kafka = new Kafka({
    brokers: [stack.kafkaBootstrap],
    clientId: 'pgferry-faults',
    logLevel: logLevel.NOTHING,
    retry: { retries: 8 },
  });
  readonly connect = new ConnectClient({ baseUrl: stack.connectUrl });
  readonly tables: TableSpec[] = [];
  readonly processes: PgferryProcess[] = [];
  /** Peak RSS in MiB of every pgferry process this scenario started. */
  peakRssMb = 0;
  /** Ids for accounts the workload creates (above any seeded id, never reused in a scenario). */
  nextAccountId = 1_000_000;
  /** Workloads started by the case in progress (endCase stops any still running). */
  readonly workloads: { stop: () => Promise<WorkloadStats> }[] = [];
  /** Dead-lettered messages the cases so far expect (cumulative over the scenario). */
  expectedDlq = 0;
  /** Topics of tables a case stopped on purpose (e.g. no primary key): lag() leaves them out. */
  readonly stoppedTopics = new Set<string>();
  /** Backwards moves of a stored offset or an applied position ("key: from -> to"). */
  readonly regressions: string[] = [];
  private readonly last = new Map<string, Sample>();
  private watchTimer: NodeJS.Timeout | undefined;
  private watchClient: pg.Client | undefined;
  private readonly ddl: Record<string, (name: string) => string>;

  constructor(private readonly options: ScenarioOptions) {
    this.prefix = `f${options.id}_${this.run}`;
    this.groupId = `pgferry-f${options.id}-${this.run}`;
    this.connectorName = `pgferry-f${options.id}-${this.run}`;
    this.slotName = `pgferry_f${options.id}_${this.run}`;
    this.ddl = options.tables ?? WORKLOAD_TABLES;
  }

  /** Full name of one of the scenario's tables ("accounts" -> "fk_accounts_<run>"). */
  table(short: string): string {
    return `f${this.options.id}_${short}_${this.run}`;
  }

  topicOf(short: string): string {
    return `${this.prefix}.public.${this.table(short)}`;
  }

  /** Env for `pgferry run` in this scenario (the stack's, with its own group and topics). */
  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      ...stack.vars,
      KAFKA_TOPIC_PATTERN: `^${this.prefix}\\.public\\..*`,
      KAFKA_GROUP_ID: this.groupId,
      // pgferry watches (and, CONNECTOR_AUTO_RESTART, restarts) this scenario's connector.
      CONNECTOR_NAME: this.connectorName,
      BATCH_SIZE: '500',
      BATCH_MAX_BYTES: String(FAULT_BATCH_MAX_BYTES),
      TOPIC_REFRESH_SECONDS: '2',
      RETRY_MAX_DELAY_SECONDS: '2',
      PROGRESS_LOG_SECONDS: '0',
      LOG_LEVEL: 'info',
      // As pgferry is meant to run (Dockerfile, npm start): a heap sized from BATCH_MAX_BYTES.
      NODE_OPTIONS: `--max-old-space-size=${recommendedHeapMb(FAULT_BATCH_MAX_BYTES)}`,
      ...extra,
    };
  }

  /** Creates the tables, seeds them, starts the connector and the offset/position watch. */
  async setUp(): Promise<void> {
    await this.source.connect();
    for (const [short, create] of Object.entries(this.ddl)) {
      await this.source.query(create(this.table(short)));
      this.tables.push({ name: this.table(short), orderBy: 'id' });
    }
    const seed = this.options.seedAccounts ?? 200;
    if (seed > 0 && this.ddl.accounts)
      await this.source.query(
        `INSERT INTO ${this.table('accounts')} (id, owner, balance, version, note)
         SELECT g, 'owner ' || g, g * 10, 1, repeat('x', g % 50) FROM generate_series(1, $1) g`,
        [seed],
      );
    await applyTestConnector(this.connect, {
      name: this.connectorName,
      topicPrefix: this.prefix,
      slotName: this.slotName,
      tableIncludeList: `public\\.f${this.options.id}_.*_${this.run}`,
      ...(this.options.slotDropOnStop === undefined
        ? {}
        : { slotDropOnStop: this.options.slotDropOnStop }),
    });
    this.startWatch();
  }

  async tearDown(): Promise<void> {
    if (this.watchTimer) clearInterval(this.watchTimer);
    await this.watchClient?.end().catch(() => undefined);
    for (const p of this.processes) await stopProcess(p, 'SIGKILL').catch(() => undefined);
    await removeTestConnector(stack.connectUrl, this.connectorName, this.source, this.slotName);
    await this.source.end().catch(() => undefined);
  }

  /**
   * After each case (afterEach), whatever it left: its workloads stopped, its pgferry processes
   * killed, so that a failed case does not leave writes or consumers running into the next.
   */
  async endCase(): Promise<void> {
    for (const w of this.workloads.splice(0)) await w.stop().catch(() => undefined);
    for (const p of this.processes) await stopProcess(p, 'SIGKILL').catch(() => undefined);
  }

  /** Starts `pgferry run`; its RSS is sampled every 250 ms until it exits. */
  async startPgferry(extra: Record<string, string> = {}): Promise<PgferryProcess> {
    const p = await startPgferry(this.env(extra));
    this.processes.push(p);
    const pid = p.child.pid as number;
    const timer = setInterval(() => {
      const mb = readRssMb(pid);
      if (mb !== undefined) this.peakRssMb = Math.max(this.peakRssMb, mb);
    }, 250);
    void p.exited.finally(() => clearInterval(timer));
    return p;
  }

  /** Waits for a log line of `p` matching `pattern` (e.g. a fault point reached). */
  async waitForLog(p: PgferryProcess, pattern: RegExp, timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = p.logs.find((l) => pattern.test(l));
      if (line) return line;
      if (p.child.exitCode !== null || p.child.signalCode !== null)
        throw new Error(
          `pgferry exited before logging ${pattern}:\n${p.logs.slice(-15).join('\n')}`,
        );
      if (Date.now() > deadline)
        throw new Error(
          `no log line ${pattern} in ${timeoutMs} ms:\n${p.logs.slice(-15).join('\n')}`,
        );
      await sleep(100);
    }
  }

  /** Samples pgferry.offsets and each partition's last_position of a table: neither may go down. */
  private startWatch(): void {
    const tick = async () => {
      try {
        if (!this.watchClient) {
          const client = new pg.Client({ connectionString: stack.targetDatabaseUrl });
          client.on('error', () => undefined);
          await client.connect();
          this.watchClient = client;
        }
        const offsets = await this.watchClient.query<{ k: string; v: string }>(
          `SELECT topic || '/' || partition AS k, next_offset::text AS v FROM pgferry.offsets WHERE group_id = $1`,
          [this.groupId],
        );
        const positions = await this.watchClient.query<{ k: string; v: string }>(
          `SELECT 'position ' || table_name || '/' || topic || '/' || partition AS k, last_position::text AS v
             FROM pgferry.table_progress WHERE table_name = ANY($1)`,
          [this.tables.map((t) => t.name)],
        );
        for (const row of [...offsets.rows, ...positions.rows]) this.observe(row.k, BigInt(row.v));
      } catch {
        // The target may be down on purpose (or the bookkeeping not created yet): retry.
        await this.watchClient?.end().catch(() => undefined);
        this.watchClient = undefined;
      }
    };
    let busy = false;
    this.watchTimer = setInterval(() => {
      if (busy) return;
      busy = true;
      void tick().finally(() => {
        busy = false;
      });
    }, 300);
  }

  private observe(key: string, value: bigint): void {
    const previous = this.last.get(key);
    if (previous && value < previous.value)
      this.regressions.push(`${key}: ${previous.value} -> ${value}`);
    this.last.set(key, { at: Date.now(), key, value });
  }

  /** The scenario's change topics (not their DLQs) as they exist now. */
  async topics(): Promise<string[]> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      return (await admin.listTopics()).filter(
        (t) => t.startsWith(`${this.prefix}.public.`) && !t.endsWith('.dlq'),
      );
    } finally {
      await admin.disconnect();
    }
  }

  /** Records behind: Kafka end offsets minus the offsets the target stored, over every topic. */
  async lag(): Promise<number> {
    const admin = this.kafka.admin();
    await admin.connect();
    const target = new pg.Client({ connectionString: stack.targetDatabaseUrl });
    await target.connect();
    try {
      const stored = await target
        .query<{ topic: string; partition: number; next_offset: string }>(
          'SELECT topic, partition, next_offset FROM pgferry.offsets WHERE group_id = $1',
          [this.groupId],
        )
        .then((r) => r.rows)
        .catch(() => []);
      let behind = 0;
      for (const topic of await this.topicsWith(admin)) {
        for (const end of await admin.fetchTopicOffsets(topic)) {
          const s = stored.find((r) => r.topic === topic && r.partition === end.partition);
          const at = s ? BigInt(s.next_offset) : BigInt(end.low);
          if (BigInt(end.high) > at) behind += Number(BigInt(end.high) - at);
        }
      }
      return behind;
    } finally {
      await target.end().catch(() => undefined);
      await admin.disconnect();
    }
  }

  private async topicsWith(admin: ReturnType<Kafka['admin']>): Promise<string[]> {
    return (await admin.listTopics()).filter(
      (t) =>
        t.startsWith(`${this.prefix}.public.`) && !t.endsWith('.dlq') && !this.stoppedTopics.has(t),
    );
  }

  /** Messages in the scenario's dead-letter topics. */
  async dlqCount(): Promise<number> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const dlqs = (await admin.listTopics()).filter(
        (t) => t.startsWith(`${this.prefix}.`) && t.endsWith('.dlq'),
      );
      let n = 0;
      for (const topic of dlqs)
        for (const p of await admin.fetchTopicOffsets(topic)) n += Number(p.high) - Number(p.low);
      return n;
    } finally {
      await admin.disconnect();
    }
  }

  /**
   * Waits for the end state: the slot has confirmed everything written so far (Debezium has
   * read it), the target's stored offsets reach every topic's end, and every table equals its
   * source. Returns the fingerprints.
   */
  async settle(timeoutMs = 180_000): Promise<Map<string, { rows: number; md5: string | null }>> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      try {
        const lag = await this.lag();
        if (lag === 0) {
          const diffs: string[] = [];
          const result = new Map<string, { rows: number; md5: string | null }>();
          for (const t of this.tables) {
            const s = await tableFingerprint(stack.sourceDatabaseUrl, t.name, t.orderBy);
            const d = await tableFingerprint(stack.targetDatabaseUrl, t.name, t.orderBy).catch(
              (e: Error) => ({ rows: -1, md5: e.message }),
            );
            result.set(t.name, s);
            if (s.rows !== d.rows || s.md5 !== d.md5)
              diffs.push(
                `${t.name}: source ${s.rows} rows ${s.md5}, target ${d.rows} rows ${d.md5}`,
              );
          }
          if (diffs.length === 0) return result;
          last = diffs.join('\n');
        } else {
          last = `${lag} records not applied yet`;
        }
      } catch (error) {
        last = (error as Error).message;
      }
      if (Date.now() > deadline) throw new Error(`did not settle in ${timeoutMs} ms: ${last}`);
      await sleep(1000);
    }
  }

  /** Row counts of the scenario's source tables (for the report). */
  async sourceRows(): Promise<number> {
    let n = 0;
    for (const t of this.tables) {
      const r = await this.source.query<{ n: string }>(`SELECT count(*) AS n FROM ${t.name}`);
      n += Number(r.rows[0]?.n ?? 0);
    }
    return n;
  }
}

/** Sends `signal` and waits for the exit; SIGKILL after `graceMs` if it is still there. */
export async function stopProcess(
  p: PgferryProcess,
  signal: NodeJS.Signals,
  graceMs = 30_000,
): Promise<number | string> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return p.exited;
  p.child.kill(signal);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
  try {
    return await p.exited;
  } finally {
    clearTimeout(timer);
  }
}

export function readRssMb(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /VmRSS:\s+(\d+) kB/.exec(status);
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

export interface WorkloadStats {
  transactions: number;
  errors: number;
}

/**
 * A steady write workload on accounts + events: each transaction inserts an event and updates
 * an account; every few transactions an account is created or an event deleted. Paced at
 * `perSecond` transactions; source errors (none expected) are counted, not thrown.
 */
export function startWorkload(
  scenario: FaultScenario,
  perSecond = 40,
): { stop: () => Promise<WorkloadStats>; stats: WorkloadStats } {
  const stats: WorkloadStats = { transactions: 0, errors: 0 };
  const client = new pg.Client({ connectionString: stack.sourceDatabaseUrl });
  client.on('error', () => undefined);
  const accounts = scenario.table('accounts');
  const events = scenario.table('events');
  let running = true;
  const loop = (async () => {
    await client.connect();
    const started = Date.now();
    while (running) {
      const i = stats.transactions;
      try {
        await client.query('BEGIN');
        const id = 1 + (i % 200);
        await client.query(
          `UPDATE ${accounts} SET balance = balance + 1.25, version = version + 1, updated_at = now() WHERE id = $1`,
          [id],
        );
        await client.query(
          `INSERT INTO ${events} (account_id, kind, amount, payload) VALUES ($1, $2, $3, $4)`,
          [id, i % 2 ? 'credit' : 'debit', (i % 97) + 0.5, `payload ${i} ${'p'.repeat(i % 120)}`],
        );
        if (i % 7 === 0)
          await client.query(
            `INSERT INTO ${accounts} (id, owner, balance, version) VALUES ($1, $2, 0, 1)`,
            [scenario.nextAccountId++, `new ${i}`],
          );
        if (i % 11 === 0)
          await client.query(
            `DELETE FROM ${events} WHERE id = (SELECT min(id) FROM ${events} WHERE kind = 'debit')`,
          );
        await client.query('COMMIT');
        stats.transactions += 1;
      } catch {
        stats.errors += 1;
        await client.query('ROLLBACK').catch(() => undefined);
      }
      const due = started + (stats.transactions * 1000) / perSecond;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
    }
  })();
  const workload = {
    stats,
    stop: async () => {
      running = false;
      await loop;
      await client.end().catch(() => undefined);
      return stats;
    },
  };
  scenario.workloads.push(workload);
  return workload;
}

/** What a case reports (test/faults/REPORT.md): what it asserts and the figures of this run. */
export interface FaultRecord {
  case: number;
  asserts: string;
  figures: Record<string, string | number>;
}

declare module 'vitest' {
  interface TaskMeta {
    fault?: FaultRecord;
  }
}

/**
 * The end of every case: lag zero and every table equal to its source (settle), exactly
 * `scenario.expectedDlq` dead-lettered messages, no offset or position ever backwards, and the
 * peak RSS of every pgferry process under the bound. Returns the figures for the report.
 */
export async function assertNothingLostNothingDoubled(
  scenario: FaultScenario,
  settleMs = 180_000,
): Promise<Record<string, number>> {
  const { expect } = await import('vitest');
  await scenario.settle(settleMs);
  const dlq = await scenario.dlqCount();
  expect(dlq, 'messages in the dead-letter topics').toBe(scenario.expectedDlq);
  expect(scenario.regressions, 'stored offsets or applied positions went backwards').toEqual([]);
  const bound = memoryBoundMb();
  expect(scenario.peakRssMb, `peak RSS (MiB) against the bound ${bound}`).toBeLessThan(bound);
  return {
    sourceRows: await scenario.sourceRows(),
    dlq,
    peakRssMb: Math.round(scenario.peakRssMb),
  };
}

/** One query on the target on a connection of its own; the rows. */
export async function targetQuery<R extends pg.QueryResultRow>(
  text: string,
  params: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: stack.targetDatabaseUrl });
  await client.connect();
  try {
    return (await client.query<R>(text, params)).rows;
  } finally {
    await client.end();
  }
}

/** Sum of a metric's samples (Prometheus text) whose labels contain every one of `labels`. */
export function metricSum(text: string, name: string, labels: string | string[] = []): number {
  const wanted = typeof labels === 'string' ? [labels] : labels;
  let sum = 0;
  for (const line of text.split('\n'))
    if (line.startsWith(`${name}{`) && wanted.every((l) => line.includes(l)))
      sum += Number(line.split(' ').pop());
  return sum;
}

/** Polls `probe` every `pollMs` until it is true (errors count as false); throws after timeoutMs. */
export async function waitUntil(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs = 120_000,
  pollMs = 500,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(pollMs);
  }
}

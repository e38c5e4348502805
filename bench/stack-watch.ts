// Watches the shared stack while the benchmark runs: other sessions' fault tests stop and restart
// its services. A phase during which a service it uses was unreachable or restarted reports no
// figures (they would measure the outage, not the pipeline) and is run again once.
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { repoPath, type StackEnv } from '../test/support/stack-env.js';

interface Disturbance {
  service: string;
  kind: 'unreachable' | 'restarted';
  fromMs: number;
  toMs: number;
}

function probe(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 1000 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}

function readPid(service: string): string | undefined {
  try {
    return readFileSync(repoPath(`.stack/run/${service}.pid`), 'utf8').trim();
  } catch {
    return undefined;
  }
}

export class StackWatch {
  private readonly disturbances: Disturbance[] = [];
  private readonly open = new Map<string, Disturbance>();
  private readonly pids = new Map<string, string | undefined>();
  private timer: NodeJS.Timeout | undefined;
  private readonly endpoints: { service: string; host: string; port: number }[];

  constructor(stack: StackEnv) {
    const hostPort = (url: string) => {
      const u = new URL(url);
      return { host: u.hostname, port: Number(u.port) };
    };
    const [kafkaHost, kafkaPort] = stack.kafkaBootstrap.split(',')[0]?.split(':') ?? [];
    this.endpoints = [
      { service: 'kafka', host: kafkaHost ?? '127.0.0.1', port: Number(kafkaPort) },
      { service: 'registry', ...hostPort(stack.schemaRegistryUrl) },
      { service: 'connect', ...hostPort(stack.connectUrl) },
      { service: 'pg-source', ...hostPort(stack.sourceDatabaseUrl) },
      { service: 'pg-target', ...hostPort(stack.targetDatabaseUrl) },
    ];
    for (const e of this.endpoints) this.pids.set(e.service, readPid(e.service));
  }

  start(): void {
    let busy = false;
    this.timer = setInterval(() => {
      if (busy) return;
      busy = true;
      void this.check().finally(() => {
        busy = false;
      });
    }, 250);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async check(): Promise<void> {
    const now = Date.now();
    await Promise.all(
      this.endpoints.map(async (e) => {
        const up = await probe(e.host, e.port);
        const current = this.open.get(e.service);
        if (!up && !current) {
          const d: Disturbance = {
            service: e.service,
            kind: 'unreachable',
            fromMs: now,
            toMs: now,
          };
          this.open.set(e.service, d);
          this.disturbances.push(d);
        } else if (!up && current) {
          current.toMs = now;
        } else if (up && current) {
          current.toMs = now;
          this.open.delete(e.service);
        }
        const pid = readPid(e.service);
        if (pid !== this.pids.get(e.service)) {
          this.pids.set(e.service, pid);
          this.disturbances.push({ service: e.service, kind: 'restarted', fromMs: now, toMs: now });
        }
      }),
    );
  }

  /**
   * Waits until `services` have been up, with no restart, for `quietMs` (a fault test may still
   * be bringing them back); gives up after `timeoutMs` and lets the phase find out.
   */
  async settle(services: readonly string[], quietMs = 5000, timeoutMs = 180_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const now = Date.now();
      const open = services.some((service) => this.open.has(service));
      const recent = this.disturbances.some(
        (d) => services.includes(d.service) && d.toMs > now - quietMs,
      );
      if (!open && !recent) return true;
      if (now > deadline) return false;
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** What happened to `services` between two instants (a second of margin either side). */
  between(fromMs: number, toMs: number, services: readonly string[]): string[] {
    return this.disturbances
      .filter(
        (d) => services.includes(d.service) && d.toMs >= fromMs - 1000 && d.fromMs <= toMs + 1000,
      )
      .map((d) =>
        d.kind === 'restarted'
          ? `${d.service} restarted at ${new Date(d.fromMs).toISOString()}`
          : `${d.service} unreachable ${new Date(d.fromMs).toISOString()} for ${((d.toMs - d.fromMs) / 1000).toFixed(1)} s`,
      );
  }
}

// HTTP endpoint of a running pgferry: /metrics (Prometheus), /healthz (process alive), /readyz
// (running, in the consumer group, no table stopped). Binds to loopback unless told otherwise.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PgferryMetrics } from './metrics.js';

export interface ReadinessSource {
  readonly ready: boolean;
  readonly state: string;
  readonly stoppedTables: ReadonlyMap<string, string>;
}

export async function startControlServer(options: {
  host: string;
  port: number;
  metrics: PgferryMetrics;
  runner: ReadinessSource;
}): Promise<{ server: Server; port: number; close: () => Promise<void> }> {
  const { metrics, runner } = options;
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405).end();
      return;
    }
    if (path === '/metrics') {
      metrics.registry
        .metrics()
        .then((body) =>
          res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body),
        )
        .catch((error: Error) => res.writeHead(500).end(error.message));
      return;
    }
    if (path === '/healthz') {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: 'ok', state: runner.state }));
      return;
    }
    if (path === '/readyz') {
      const stopped = Object.fromEntries(runner.stoppedTables);
      const ready = runner.ready && runner.stoppedTables.size === 0;
      res
        .writeHead(ready ? 200 : 503, { 'content-type': 'application/json' })
        .end(JSON.stringify({ ready, state: runner.state, stoppedTables: stopped }));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Scrapers keep connections alive; they must not hold up shutdown.
        server.closeAllConnections();
      }),
  };
}

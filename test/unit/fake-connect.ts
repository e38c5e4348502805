// A tiny in-process stand-in for the Kafka Connect REST API, to unit-test our client's
// request/response handling. It is not a Connect simulator: each test scripts the answers.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  body: unknown;
}

export interface FakeReply {
  status: number;
  body?: unknown;
  /** Never answer (to exercise client timeouts). */
  hang?: boolean;
}

export type FakeRoute = (request: RecordedRequest) => FakeReply;

export interface FakeConnect {
  url: string;
  requests: RecordedRequest[];
  close: () => Promise<void>;
}

export async function startFakeConnect(route: FakeRoute): Promise<FakeConnect> {
  const requests: RecordedRequest[] = [];
  const hanging = new Set<ServerResponse>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const request = {
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        body: text === '' ? undefined : (JSON.parse(text) as unknown),
      };
      requests.push(request);
      const reply = route(request);
      if (reply.hang) {
        hanging.add(res);
        return;
      }
      res.writeHead(reply.status, { 'content-type': 'application/json' });
      res.end(reply.body === undefined ? '' : JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A Connect status body with the given connector state and task states. */
export function makeStatus(
  connectorState: string,
  taskStates: string[],
  trace?: string,
): Record<string, unknown> {
  return {
    name: 'pgferry-source',
    connector: { state: connectorState, worker_id: '127.0.0.1:8083' },
    tasks: taskStates.map((state, id) => ({
      id,
      state,
      worker_id: '127.0.0.1:8083',
      ...(state === 'FAILED' && trace !== undefined ? { trace } : {}),
    })),
    type: 'source',
  };
}

/** A port nothing listens on: bind, read the port, close. */
export async function findClosedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

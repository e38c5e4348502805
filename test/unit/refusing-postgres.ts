// An in-process stand-in for a PostgreSQL server that refuses every login: it declines TLS, asks
// for the password in clear text, records it, and answers 28P01 (invalid_password). 'echo' is a
// hostile one that repeats the password in its error message. Enough of the wire protocol for
// node-postgres to reach its authentication-failure path, nothing more.

import type { AddressInfo } from 'node:net';
import { createServer, type Server, type Socket } from 'node:net';

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;

export interface RefusingPostgres {
  port: number;
  /** The passwords clients sent, in order. */
  passwords: string[];
  close(): Promise<void>;
}

export async function startRefusingPostgres(mode: 'reject' | 'echo'): Promise<RefusingPostgres> {
  const passwords: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffer = Buffer.alloc(0);
    let started = false;
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (!started) {
          // Untagged messages first: an SSL/GSS request, or the startup message.
          if (buffer.length < 8) return;
          const length = buffer.readInt32BE(0);
          if (buffer.length < length) return;
          const code = buffer.readInt32BE(4);
          buffer = buffer.subarray(length);
          if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
            socket.write('N');
            continue;
          }
          started = true;
          socket.write(authenticationCleartextPassword());
          continue;
        }
        if (buffer.length < 5) return;
        const length = buffer.readInt32BE(1);
        if (buffer.length < 1 + length) return;
        const tag = String.fromCharCode(buffer[0] ?? 0);
        const body = buffer.subarray(5, 1 + length);
        buffer = buffer.subarray(1 + length);
        if (tag === 'p') {
          const password = body.subarray(0, body.indexOf(0)).toString('utf8');
          passwords.push(password);
          const message =
            mode === 'echo'
              ? `password authentication failed: "${password}" is not it`
              : 'password authentication failed for user';
          socket.end(errorResponse('28P01', message));
          return;
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    passwords,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function authenticationCleartextPassword(): Buffer {
  const message = Buffer.alloc(9);
  message.write('R', 0);
  message.writeInt32BE(8, 1);
  message.writeInt32BE(3, 5);
  return message;
}

function errorResponse(code: string, text: string): Buffer {
  const fields = Buffer.concat([
    field('S', 'FATAL'),
    field('V', 'FATAL'),
    field('C', code),
    field('M', text),
    Buffer.from([0]),
  ]);
  const header = Buffer.alloc(5);
  header.write('E', 0);
  header.writeInt32BE(4 + fields.length, 1);
  return Buffer.concat([header, fields]);
}

function field(type: string, value: string): Buffer {
  return Buffer.concat([Buffer.from(type), Buffer.from(value, 'utf8'), Buffer.from([0])]);
}

// A raw-socket HTTP/1.x client for tests that send what no HTTP library would: it writes the
// bytes as given (in pieces, with pauses), then half-closes, holds the connection open or cuts
// it, reads until the server closes, and parses what came back into responses, so a test can
// count answers and spot a malformed one.
import { connect } from 'node:net';

export interface RawExchange {
  /** Written in order; a pause of `gapMs` between pieces (a slow client). */
  pieces: readonly Buffer[];
  gapMs?: number;
  /** After the last piece: send FIN and wait, keep the connection open and wait, or reset it. */
  finish: 'half-close' | 'keep-open' | 'cut';
  /** Give up waiting for the server to close after this long. */
  timeoutMs: number;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export interface RawOutcome {
  /** Final responses (1xx interim answers are left out). */
  responses: RawResponse[];
  /** Bytes that did not parse as responses: a malformed answer. */
  leftover: string;
  /** How the exchange ended: the server closed, the client gave up, cut it, or a socket error. */
  end: 'closed' | 'timeout' | 'cut' | 'error';
  error?: string;
}

export function exchangeRaw(port: number, exchange: RawExchange): Promise<RawOutcome> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    let end: RawOutcome['end'] = 'closed';
    let error: string | undefined;
    const timer = setTimeout(() => {
      end = 'timeout';
      socket.destroy();
    }, exchange.timeoutMs);
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (end === 'closed') end = 'error';
      error = err.code ?? err.message;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const { responses, leftover } = parseRawResponses(Buffer.concat(received));
      resolve({ responses, leftover, end, ...(error === undefined ? {} : { error }) });
    });
    socket.once('connect', async () => {
      for (const [i, piece] of exchange.pieces.entries()) {
        if (socket.destroyed) return;
        if (i > 0 && exchange.gapMs) await new Promise((r) => setTimeout(r, exchange.gapMs));
        if (!socket.writable) return;
        socket.write(piece);
      }
      if (exchange.finish === 'half-close') socket.end();
      if (exchange.finish === 'cut') {
        end = 'cut';
        socket.resetAndDestroy();
      }
    });
  });
}

/** Splits a byte stream into HTTP/1.x responses (length, chunked or close-delimited bodies). */
export function parseRawResponses(data: Buffer): { responses: RawResponse[]; leftover: string } {
  const responses: RawResponse[] = [];
  let at = 0;
  while (at < data.length) {
    const headEnd = data.indexOf('\r\n\r\n', at);
    if (headEnd < 0) break;
    const [statusLine = '', ...lines] = data.subarray(at, headEnd).toString('latin1').split('\r\n');
    const match = /^HTTP\/1\.[01] (\d{3})(?: [^\r\n]*)?$/.exec(statusLine);
    if (match === null) break;
    const status = Number(match[1]);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon <= 0) return { responses, leftover: data.subarray(at).toString('latin1') };
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    let bodyStart = headEnd + 4;
    let body: Buffer;
    if (status < 200 || status === 204 || status === 304) {
      body = Buffer.alloc(0);
    } else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      if (bodyStart + length > data.length) break;
      body = data.subarray(bodyStart, bodyStart + length);
      bodyStart += length;
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const chunks: Buffer[] = [];
      for (;;) {
        const lineEnd = data.indexOf('\r\n', bodyStart);
        if (lineEnd < 0) return { responses, leftover: data.subarray(at).toString('latin1') };
        const size = Number.parseInt(data.subarray(bodyStart, lineEnd).toString('latin1'), 16);
        if (!Number.isInteger(size))
          return { responses, leftover: data.subarray(at).toString('latin1') };
        chunks.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
        bodyStart = lineEnd + 2 + size + 2;
        if (size === 0) break;
      }
      body = Buffer.concat(chunks);
    } else {
      body = data.subarray(bodyStart);
      bodyStart = data.length;
    }
    if (status >= 200) responses.push({ status, headers, body });
    at = bodyStart;
  }
  return { responses, leftover: data.subarray(at).toString('latin1') };
}

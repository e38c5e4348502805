// The generated connections of the HTTP endpoint fuzz (http-endpoint-fuzz.test.ts): well-formed
// requests, malformed ones and pipelines of both, each with the answers it must get. Everything
// comes from one seeded PRNG, so a seed names a run exactly.
import type { RawExchange } from './raw-http-exchange.js';

/** mulberry32: tiny, fast, and the same sequence for the same seed everywhere. */
export function createSeededRandom(seed: number) {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  return {
    next,
    int,
    chance: (p: number) => next() < p,
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T,
    text: (length: number, alphabet: string) =>
      Array.from({ length }, () => alphabet[Math.floor(next() * alphabet.length)]).join(''),
    bytes: (length: number) => Buffer.from(Array.from({ length }, () => int(0, 255))),
  };
}

export type SeededRandom = ReturnType<typeof createSeededRandom>;

/** What a connection must get back. */
export type Expectation =
  /** Well-formed requests only: one final answer each. */
  | { exactly: number }
  /** Something malformed in it: answers up to and including the first error, then a close. */
  | { atLeast: number }
  /** Cut by the client on purpose: nobody left to answer. */
  | 'none';

export interface FuzzCase {
  index: number;
  target: 'control' | 'metrics';
  kind: string;
  /** Requests it carries that must be answered (bytes after a framing error are not requests). */
  requests: number;
  expect: Expectation;
  exchange: RawExchange;
}

const KNOWN_PATHS = [
  '/',
  '/metrics',
  '/healthz',
  '/readyz',
  '/pause',
  '/resume',
  '/pause?wait=0',
  '/pause?wait=abc',
  '/pause?wait=99999',
  '/pause?wait=1&wait=2',
  '/metrics?name[]=x',
  '//[',
  '//',
  '//]',
  '/[',
  '//[::1]:80/x',
  '/%',
  '/%zz',
  '/%00',
  '/%ff%fe',
  '/%2e%2e/%2e%2e/etc/passwd',
  '/..',
  '/./healthz',
  '/healthz/',
  '/HEALTHZ',
  '/healthz?%',
  '/metrics#fragment',
  '//metrics',
  '/?',
  '/pause/../resume',
  '/%2Fpause',
];

const PATH_ALPHABET =
  'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._~%-?=&[]:@!$()*+,;';
const TOKEN_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789-_.';

function pickPath(r: SeededRandom): string {
  const roll = r.next();
  if (roll < 0.6) return r.pick(KNOWN_PATHS);
  if (roll < 0.95) return `/${r.text(r.int(0, 200), PATH_ALPHABET)}`;
  return `/${'a'.repeat(r.int(1000, 3500))}`;
}

/** Credentials that are never the endpoint's token (the fuzz must not pause anything). */
function pickWrongAuthorization(r: SeededRandom, token: string): string {
  return r.pick([
    'Bearer wrong',
    `Bearer ${token.slice(0, -1)}`,
    `Bearer ${token}x`,
    `Bearer ${token.toUpperCase()}`,
    `Basic ${Buffer.from(`x:${token}`).toString('base64')}`,
    `${token}`,
    'Bearer',
    'Bearer  ',
    `Bearer ${r.text(r.int(1, 64), TOKEN_ALPHABET)}`,
    `Bearer ${'x'.repeat(r.int(100, 3000))}`,
  ]);
}

/** A request the HTTP grammar accepts: the server must answer it, whatever it asks for. */
function wellFormedRequest(r: SeededRandom, token: string, closeAfter: boolean): string {
  const method = r.pick([
    'GET',
    'GET',
    'GET',
    'POST',
    'POST',
    'PUT',
    'DELETE',
    'OPTIONS',
    'PATCH',
    'HEAD',
  ]);
  const http10 = r.chance(0.05);
  const headers = http10 ? [] : ['Host: pgferry'];
  if (r.chance(0.5))
    headers.push(
      `Content-Type: ${r.pick(['application/json', 'text/plain', 'application/json; charset=utf-8', ''])}`,
    );
  if (r.chance(0.5)) headers.push(`Authorization: ${pickWrongAuthorization(r, token)}`);
  if (r.chance(0.1)) headers.push(`Origin: ${r.pick(['https://evil.example', 'null', ''])}`);
  if (r.chance(0.2))
    headers.push(`X-${r.text(r.int(1, 20), 'abcdef')}: ${r.text(r.int(0, 300), PATH_ALPHABET)}`);
  if (r.chance(0.05)) headers.push('Expect: 100-continue');
  let body = '';
  if (method !== 'GET' && method !== 'HEAD' && r.chance(0.7)) {
    body = r.pick(['{}', '', r.text(r.int(0, 300), PATH_ALPHABET)]);
    headers.push(`Content-Length: ${body.length}`);
  }
  if (closeAfter && !http10) headers.push('Connection: close');
  if (!closeAfter && http10) headers.push('Connection: keep-alive');
  return `${method} ${pickPath(r)} ${http10 ? 'HTTP/1.0' : 'HTTP/1.1'}\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n${body}`;
}

/** A request broken somewhere: the server must answer it (400, 405, 408, 413, 431 ...) or close. */
function malformedRequest(r: SeededRandom, token: string): Buffer {
  const valid = () => wellFormedRequest(r, token, false);
  const line = (requestLine: string, ...headers: string[]) =>
    `${requestLine}\r\nHost: pgferry\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`;
  const kind = r.int(0, 15);
  switch (kind) {
    case 0:
      return Buffer.from(
        line(
          r.pick([
            'GET //[ HTTP/1.1',
            'GET',
            'GET /',
            'GET / HTTP/1.1 extra',
            'GET  / HTTP/1.1',
            'GET / HTTP/2.0',
            'GET / HTTP/9.9',
            'GET / HTTP/1.1x',
            'GET / http/1.1',
            ' GET / HTTP/1.1',
            'GET\t/\tHTTP/1.1',
            'GET * HTTP/1.1',
            'OPTIONS * HTTP/1.1',
            'GET http://evil.example/metrics HTTP/1.1',
            'GET http://[::1 HTTP/1.1',
            'CONNECT pgferry:443 HTTP/1.1',
            'GET /\u0000 HTTP/1.1',
            'GET /\u007f HTTP/1.1',
            'GET /a b HTTP/1.1',
            'GET ?x HTTP/1.1',
            'GET %2F HTTP/1.1',
          ]),
        ),
        'latin1',
      );
    case 1: {
      // A method token nobody defined, or not a token at all.
      const method = r.chance(0.5)
        ? r.text(r.int(1, 12), 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz')
        : r.bytes(r.int(1, 8)).toString('latin1');
      return Buffer.from(
        line(`${method.replace(/^[\r\n]+/, 'X')} ${pickPath(r)} HTTP/1.1`),
        'latin1',
      );
    }
    case 2:
      return Buffer.concat([
        Buffer.from('GET /'),
        Buffer.from('é/ü/\u{1f600}', 'utf8'),
        Buffer.from(' HTTP/1.1\r\nHost: x\r\n\r\n'),
      ]);
    case 3:
      // Header lines the grammar refuses.
      return Buffer.from(
        line(
          'GET /healthz HTTP/1.1',
          r.pick([
            'NoColonHere',
            'Space Before : colon',
            'X-Bad : v',
            ': no-name',
            'X-Ctl: a\u0001b',
            'X-Fold: a\r\n folded',
            'Host: second',
            `X-\u00e9: v`,
            'X-Nul: \u0000',
          ]),
        ),
        'latin1',
      );
    case 4:
      // Line endings: bare LF, bare CR.
      return Buffer.from(
        r.pick([
          'GET /healthz HTTP/1.1\nHost: x\n\n',
          'GET /healthz HTTP/1.1\rHost: x\r\r',
          'GET /healthz HTTP/1.1\r\nHost: x\n\r\n',
        ]),
      );
    case 5:
      // One header larger than the endpoint's limit.
      return Buffer.from(
        line('GET /metrics HTTP/1.1', `X-Big: ${'b'.repeat(r.int(9_000, 70_000))}`),
      );
    case 6:
      // Many small headers adding up beyond the limit.
      return Buffer.from(
        line(
          'GET /metrics HTTP/1.1',
          ...Array.from({ length: r.int(300, 1500) }, (_, i) => `X-H${i}: ${'v'.repeat(20)}`),
        ),
      );
    case 7:
      // A request line longer than the limit.
      return Buffer.from(line(`GET /${'p'.repeat(r.int(9_000, 40_000))} HTTP/1.1`));
    case 8:
      return Buffer.from(
        `${line(
          'POST /pause HTTP/1.1',
          'Content-Type: application/json',
          ...r.pick([
            ['Content-Length: abc'],
            ['Content-Length: -1'],
            ['Content-Length: 1e3'],
            ['Content-Length: 99999999999999999999'],
            ['Content-Length: 2', 'Content-Length: 3'],
            ['Content-Length: 2', 'Transfer-Encoding: chunked'],
            ['Transfer-Encoding: chunked, gzip'],
            ['Transfer-Encoding: gzip'],
            ['Content-Length: 2 2'],
            ['Content-Length: +2'],
          ]),
        )}{}`,
      );
    case 9:
      // Chunked bodies that are not.
      return Buffer.from(
        line('POST /resume HTTP/1.1', 'Transfer-Encoding: chunked') +
          r.pick([
            'zz\r\n{}\r\n0\r\n\r\n',
            '2\r\n{}}\r\n0\r\n\r\n',
            `2;${'e'.repeat(20_000)}\r\n{}\r\n0\r\n\r\n`,
            '-1\r\n\r\n',
            'ffffffffffffffffff\r\n',
          ]),
      );
    case 10:
      // A body longer than declared: the rest is read as the next request.
      return Buffer.from(
        line('POST /pause HTTP/1.1', 'Content-Length: 2') +
          `{}${r.text(r.int(1, 200), PATH_ALPHABET)}\r\n\r\n`,
      );
    case 11:
      // A body shorter than declared, then FIN: the request ends mid-body.
      return Buffer.from(
        line('POST /pause HTTP/1.1', 'Content-Type: application/json', 'Content-Length: 100') +
          '{}',
      );
    case 12: {
      // Random bytes (never only line breaks, which the parser skips as no request at all).
      const bytes = r.bytes(r.int(1, 2000));
      bytes[0] = r.int(0x21, 0x7e);
      return bytes;
    }
    case 13: {
      // A well-formed request cut short, then FIN.
      const whole = valid();
      return Buffer.from(
        whole.slice(0, r.int(1, Math.max(1, whole.indexOf('\r\n\r\n')))),
        'latin1',
      );
    }
    case 14:
      return Buffer.from(
        line('GET /metrics HTTP/1.1', 'Connection: Upgrade', 'Upgrade: websocket'),
      );
    default:
      // A body far over the limit, declared.
      return Buffer.from(
        `${line('POST /resume HTTP/1.1', `Content-Length: ${r.int(20_000, 10_000_000)}`)}{}`,
      );
  }
}

/** Splits `bytes` into 2–6 pieces at random points (a client whose writes arrive in bits). */
function splitPieces(r: SeededRandom, bytes: Buffer): Buffer[] {
  const cuts = Array.from({ length: r.int(1, 5) }, () => r.int(1, Math.max(1, bytes.length - 1)))
    .sort((a, b) => a - b)
    .filter((cut, i, all) => cut < bytes.length && cut !== all[i - 1]);
  return [0, ...cuts].map((start, i) => bytes.subarray(start, cuts[i] ?? bytes.length));
}

/** The next connection of the run. */
export function generateCase(r: SeededRandom, index: number, token: string): FuzzCase {
  const target = r.chance(0.3) ? 'metrics' : 'control';
  const roll = r.next();
  const base = {
    index,
    target,
    exchange: { pieces: [] as Buffer[], finish: 'half-close', timeoutMs: 5_000 },
  } as const;
  if (roll < 0.35) {
    const request = Buffer.from(wellFormedRequest(r, token, r.chance(0.5)), 'latin1');
    return {
      ...base,
      kind: 'well-formed',
      requests: 1,
      expect: { exactly: 1 },
      exchange: { ...base.exchange, pieces: [request] },
    };
  }
  if (roll < 0.6) {
    const request = malformedRequest(r, token);
    return {
      ...base,
      kind: 'malformed',
      requests: 1,
      expect: { atLeast: 1 },
      exchange: { ...base.exchange, pieces: [request] },
    };
  }
  if (roll < 0.75) {
    const count = r.int(2, 8);
    const requests = Array.from({ length: count }, (_, i) =>
      wellFormedRequest(r, token, i === count - 1 && r.chance(0.5)),
    );
    const bytes = Buffer.from(requests.join(''), 'latin1');
    const pieces = r.chance(0.5) ? splitPieces(r, bytes) : [bytes];
    return {
      ...base,
      kind: 'pipelined',
      requests: count,
      expect: { exactly: count },
      exchange: { ...base.exchange, pieces, gapMs: r.int(0, 2) },
    };
  }
  if (roll < 0.93) {
    // Well-formed requests, then garbage: each answered, the garbage too, then the close.
    const before = r.int(1, 5);
    const requests = Array.from({ length: before }, () =>
      Buffer.from(wellFormedRequest(r, token, false), 'latin1'),
    );
    const bytes = Buffer.concat([
      ...requests,
      malformedRequest(r, token),
      Buffer.from(wellFormedRequest(r, token, false), 'latin1'),
    ]);
    const pieces = r.chance(0.5) ? splitPieces(r, bytes) : [bytes];
    return {
      ...base,
      kind: 'pipelined-garbage',
      requests: before + 1,
      expect: { atLeast: before + 1 },
      exchange: { ...base.exchange, pieces },
    };
  }
  if (roll < 0.98) {
    // Cut mid-request with a reset: deliberately nobody to answer.
    const request = Buffer.from(wellFormedRequest(r, token, false), 'latin1');
    const piece = request.subarray(0, r.int(1, request.length));
    return {
      ...base,
      kind: 'cut',
      requests: 0,
      expect: 'none',
      exchange: { ...base.exchange, pieces: [piece], finish: 'cut' },
    };
  }
  // Kept open after the answer: the server's keep-alive timeout closes it.
  const request = Buffer.from(wellFormedRequest(r, token, false), 'latin1');
  return {
    ...base,
    kind: 'kept-open',
    requests: 1,
    expect: { exactly: 1 },
    exchange: { ...base.exchange, pieces: [request], finish: 'keep-open' },
  };
}

/** Slow clients, a few, each against the timeouts the test configured. */
export function slowCases(firstIndex: number): FuzzCase[] {
  const at = (i: number) => firstIndex + i;
  const slow = (
    i: number,
    kind: string,
    pieces: string[],
    gapMs: number,
    expect: Expectation,
    requests = 1,
  ): FuzzCase => ({
    index: at(i),
    target: i % 2 === 0 ? 'control' : 'metrics',
    kind,
    requests,
    expect,
    exchange: {
      pieces: pieces.map((p) => Buffer.from(p)),
      gapMs,
      finish: 'keep-open',
      timeoutMs: 8_000,
    },
  });
  const trickle = Array.from({ length: 30 }, (_, i) => `X-Slow-${i}: v\r\n`);
  const byteByByte =
    'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'.match(/.{1,6}/gs) ?? [];
  return [
    slow(0, 'silent', [], 0, { atLeast: 1 }, 0),
    slow(1, 'silent', [], 0, { atLeast: 1 }, 0),
    slow(2, 'partial-request-line', ['GET /metr'], 0, { atLeast: 1 }),
    slow(3, 'partial-headers', ['GET /healthz HTTP/1.1\r\nHost: x\r\n'], 0, { atLeast: 1 }),
    slow(4, 'trickled-headers', ['GET /healthz HTTP/1.1\r\nHost: x\r\n', ...trickle], 100, {
      atLeast: 1,
    }),
    slow(5, 'trickled-headers', ['POST /pause HTTP/1.1\r\nHost: x\r\n', ...trickle], 100, {
      atLeast: 1,
    }),
    slow(
      6,
      'slow-body',
      ['POST /resume HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n', ...'{'.repeat(40)],
      100,
      { atLeast: 1 },
    ),
    slow(7, 'slow-but-in-time', byteByByte, 20, { exactly: 1 }),
    slow(8, 'slow-but-in-time', byteByByte, 20, { exactly: 1 }),
    slow(9, 'keep-alive-idle', ['GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'], 0, { exactly: 1 }),
  ];
}

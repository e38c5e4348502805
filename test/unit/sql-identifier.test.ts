// Identifiers and literals reach SQL only quoted: any name is just a name, NUL bytes are refused,
// and derived names stay within PostgreSQL's 63-byte limit without being truncated silently.
import { describe, expect, it } from 'vitest';
import {
  boundedIdentifier,
  qualifiedName,
  quoteIdent,
  quoteLiteral,
} from '../../core/sql-identifier.js';

describe('quoteIdent', () => {
  it.each([
    ['orders', '"orders"'],
    ['Orders', '"Orders"'],
    ['order lines', '"order lines"'],
    ['a"b', '"a""b"'],
    ['"', '""""'],
    ['select', '"select"'],
    ["it's", '"it\'s"'],
    ['naïve 日本 🚢', '"naïve 日本 🚢"'],
    ['a;DROP TABLE x;--', '"a;DROP TABLE x;--"'],
  ])('quotes %j as %s', (name, quoted) => {
    expect(quoteIdent(name)).toBe(quoted);
  });

  it('refuses an empty name and NUL bytes', () => {
    expect(() => quoteIdent('')).toThrow(RangeError);
    expect(() => quoteIdent('a\u0000b')).toThrow(RangeError);
  });
});

describe('qualifiedName', () => {
  it('quotes both parts', () => {
    expect(qualifiedName('public', 'orders')).toBe('"public"."orders"');
    expect(qualifiedName('My "S"', 'a.b')).toBe('"My ""S"""."a.b"');
  });
});

describe('quoteLiteral', () => {
  it('doubles single quotes and leaves everything else', () => {
    expect(quoteLiteral('plain')).toBe("'plain'");
    expect(quoteLiteral("O'Brien")).toBe("'O''Brien'");
    expect(quoteLiteral('')).toBe("''");
    expect(quoteLiteral('a\\b "c" ü')).toBe('\'a\\b "c" ü\'');
    expect(quoteLiteral('1,2')).toBe("'1,2'");
  });

  it('refuses NUL bytes', () => {
    expect(() => quoteLiteral('a\u0000')).toThrow(RangeError);
  });
});

describe('boundedIdentifier', () => {
  const hash = 'abcdef0123456789abcdef';

  it('keeps a name of up to 63 bytes', () => {
    expect(boundedIdentifier('pos_public__orders', hash)).toBe('pos_public__orders');
    const exact = 'x'.repeat(63);
    expect(boundedIdentifier(exact, hash)).toBe(exact);
  });

  it('cuts a longer name and appends 12 hash characters, 63 bytes in all', () => {
    const bounded = boundedIdentifier('y'.repeat(64), hash);
    expect(bounded).toBe(`${'y'.repeat(50)}_abcdef012345`);
    expect(Buffer.byteLength(bounded)).toBe(63);
  });

  it('counts bytes, not characters, for multi-byte names', () => {
    // 40 characters, 80 bytes: over the limit although shorter than 63 characters.
    const bounded = boundedIdentifier('é'.repeat(40), hash);
    expect(bounded).toBe(`${'é'.repeat(25)}_abcdef012345`);
    expect(Buffer.byteLength(bounded)).toBe(63);
  });

  it('never cuts a character in half', () => {
    // Each ship is 4 bytes (a surrogate pair in UTF-16); 3 + 11 * 4 + 3 bytes would fit exactly
    // if the cut could stop half-way through a ship.
    const bounded = boundedIdentifier(`ppp${'🚢'.repeat(20)}`, hash);
    // A lone surrogate would not survive UTF-8 (it becomes U+FFFD on the way to PostgreSQL).
    expect(Buffer.from(bounded).toString()).toBe(bounded);
    expect(bounded).toBe(`ppp${'🚢'.repeat(11)}_abcdef012345`);
    expect(Buffer.byteLength(bounded)).toBe(60);
  });

  it('gives different long names with the same prefix different results', () => {
    const a = boundedIdentifier(`${'z'.repeat(70)}a`, '111111111111aaaa');
    const b = boundedIdentifier(`${'z'.repeat(70)}b`, '222222222222bbbb');
    expect(a).not.toBe(b);
  });
});

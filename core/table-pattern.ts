// A table pattern of TABLES_INCLUDE / TABLES_EXCLUDE: `schema.table`, each part a name or a glob
// (`*` any run of characters, `?` one character), or a double-quoted exact name (`"my.schema".*`,
// `"a""b"` for a quote). Parts are matched separately against a table's schema and name, so a dot
// inside a name is never taken for the separator: unquoted, the first dot separates them.
import { PgferryError } from './errors.js';

/** One piece of a glob: literal text, `*` or `?`. */
export type GlobToken = { literal: string } | { any: true } | { one: true };

export interface TablePattern {
  /** As written, for messages and `config check`. */
  readonly text: string;
  readonly schema: readonly GlobToken[];
  readonly table: readonly GlobToken[];
}

export interface TableName {
  schema: string;
  name: string;
}

/** The text is not a table pattern; the message says what is expected. */
export class TablePatternError extends PgferryError {
  constructor(message: string) {
    super(message, { retriable: false });
  }
}

const EXPECTED = 'expected schema.table, each part a name, a glob (* ?) or "a quoted name"';

/** Reads one part at `at`: a quoted name, or a glob up to a character of `stop`. */
function readPart(
  text: string,
  at: number,
  stop: ReadonlySet<string>,
): { tokens: GlobToken[]; end: number } {
  if (text[at] === '"') {
    let literal = '';
    let i = at + 1;
    for (;;) {
      if (i >= text.length) throw new TablePatternError(`unclosed quote in "${text}": ${EXPECTED}`);
      if (text[i] === '"') {
        if (text[i + 1] !== '"') break;
        literal += '"';
        i += 2;
        continue;
      }
      literal += text[i];
      i++;
    }
    if (literal === '') throw new TablePatternError(`empty quoted name in "${text}": ${EXPECTED}`);
    return { tokens: [{ literal }], end: i + 1 };
  }
  let end = at;
  while (end < text.length && !stop.has(text[end] as string)) end++;
  // Spaces around a list entry are layout, not part of the name (quote a name that has them).
  const written = text.slice(at, end).trimEnd();
  if (written === '') throw new TablePatternError(`"${text}": ${EXPECTED}`);
  if (written.includes('"')) {
    throw new TablePatternError(`a quote inside a name in "${text}": ${EXPECTED}`);
  }
  const tokens: GlobToken[] = [];
  for (const c of written) {
    if (c === '*') tokens.push({ any: true });
    else if (c === '?') tokens.push({ one: true });
    else tokens.push({ literal: c });
  }
  return { tokens, end };
}

const SCHEMA_STOP = new Set(['.', ',']);
const TABLE_STOP = new Set([',']);

/** Reads one pattern at `at`; returns it with the index after it. */
function readPattern(text: string, at: number): { pattern: TablePattern; end: number } {
  const schema = readPart(text, at, SCHEMA_STOP);
  if (text[schema.end] !== '.') {
    const written = text.slice(at, schema.end);
    throw new TablePatternError(
      `"${written}" names no table: ${EXPECTED} (e.g. public.orders, public.*)`,
    );
  }
  const table = readPart(text, schema.end + 1, TABLE_STOP);
  return {
    pattern: { text: text.slice(at, table.end).trim(), schema: schema.tokens, table: table.tokens },
    end: table.end,
  };
}

/** Parses a comma-separated list of table patterns (commas inside quoted names are kept). */
export function parseTablePatterns(text: string): TablePattern[] {
  const patterns: TablePattern[] = [];
  let at = 0;
  while (at < text.length) {
    while (at < text.length && /\s/.test(text[at] as string)) at++;
    if (at >= text.length) break;
    if (text[at] === ',') {
      at++;
      continue;
    }
    const { pattern, end } = readPattern(text, at);
    patterns.push(pattern);
    at = end;
    while (at < text.length && /\s/.test(text[at] as string)) at++;
    if (at < text.length && text[at] !== ',') {
      throw new TablePatternError(
        `unexpected "${text.slice(at)}" after ${pattern.text}: ${EXPECTED}`,
      );
    }
  }
  return patterns;
}

// Only the characters special outside a class: the `u` flag refuses needless escapes.
const escapeRegExp = (s: string): string => s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');

/**
 * An anchored RegExp of a glob. `literal` may rewrite literal text first (e.g. into the spelling
 * a topic name gives it) and `one` say what one `?` may stand for.
 */
export function compileGlob(
  tokens: readonly GlobToken[],
  options: { literal?: (text: string) => string; one?: string } = {},
): RegExp {
  const literal = options.literal ?? ((text: string) => text);
  const source = tokens
    .map((t) =>
      'literal' in t
        ? escapeRegExp(literal(t.literal))
        : 'any' in t
          ? '[^]*'
          : (options.one ?? '[^]'),
    )
    .join('');
  return new RegExp(`^${source}$`, 'u');
}

const compiled = new WeakMap<TablePattern, { schema: RegExp; table: RegExp }>();

export function matchesTablePattern(pattern: TablePattern, table: TableName): boolean {
  let regexes = compiled.get(pattern);
  if (!regexes) {
    regexes = { schema: compileGlob(pattern.schema), table: compileGlob(pattern.table) };
    compiled.set(pattern, regexes);
  }
  return regexes.schema.test(table.schema) && regexes.table.test(table.name);
}

// Every identifier that reaches SQL goes through here: quoted (so any name is just a name) and
// free of NUL bytes. Names come from the catalog or from events, never spliced in raw.
export function quoteIdent(name: string): string {
  if (name.length === 0 || name.includes('\u0000')) {
    throw new RangeError(`invalid SQL identifier ${JSON.stringify(name)}`);
  }
  return `"${name.replace(/"/g, '""')}"`;
}

export const qualifiedName = (schema: string, name: string): string =>
  `${quoteIdent(schema)}.${quoteIdent(name)}`;

export function quoteLiteral(text: string): string {
  if (text.includes('\u0000')) throw new RangeError('NUL byte in SQL literal');
  return `'${text.replace(/'/g, "''")}'`;
}

/** PostgreSQL truncates identifiers to 63 bytes: derive long names with a hash suffix instead. */
export function boundedIdentifier(base: string, hash: string): string {
  const limit = 63;
  if (Buffer.byteLength(base) <= limit) return base;
  const suffix = `_${hash.slice(0, 12)}`;
  // Cut whole code points: half a surrogate pair would reach PostgreSQL as U+FFFD.
  const chars = Array.from(base);
  while (Buffer.byteLength(chars.join('')) + suffix.length > limit) chars.pop();
  return chars.join('') + suffix;
}

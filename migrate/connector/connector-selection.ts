// The connector's own filters from pgferry's table selection, so that tables pgferry never writes
// are not even captured: SOURCE_SCHEMAS -> `schema.include.list`, TABLES_INCLUDE ->
// `table.include.list`, else TABLES_EXCLUDE -> `table.exclude.list` (Debezium refuses both table
// lists at once; with both settings the include list goes to Debezium and pgferry's routing keeps
// the excluded tables from being written). A setting left unset leaves the file's value alone.
//
// Debezium's lists are comma-separated Java regexes matched against the whole name
// (`schema.table` for tables) CASE-INSENSITIVELY, split on commas a backslash does not escape.
// So every character but [A-Za-z0-9_] is written as `\uXXXX` (no comma, dot, quote or space
// survives as itself), and each entry starts with `(?s-i)`: matched as case-sensitively as
// PostgreSQL names are, so `sales.Orders` in TABLES_EXCLUDE never drops `sales.orders` too.
import type { ConnectorConfig } from '../../core/connect-client.js';
import { type GlobToken, parseTablePatterns } from '../../core/table-pattern.js';
import type { TableSelectionSettings } from '../../pipeline/routing/table-selection.js';

/** The connector keys pgferry's selection settings own. */
export const SELECTION_KEYS = [
  'schema.include.list',
  'schema.exclude.list',
  'table.include.list',
  'table.exclude.list',
] as const;

/** Text as a Java regex matching exactly it: letters, digits and `_` as themselves. */
export function quoteJavaRegex(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    out += /[A-Za-z0-9_]/.test(c) ? c : `\\u${text.charCodeAt(i).toString(16).padStart(4, '0')}`;
  }
  return out;
}

const globToJavaRegex = (tokens: readonly GlobToken[]): string =>
  tokens
    .map((t) => ('literal' in t ? quoteJavaRegex(t.literal) : 'any' in t ? '.*' : '.'))
    .join('');

/** One Debezium list entry: case-sensitive, `.` matching any character. */
const entry = (regex: string): string => `(?s-i)${regex}`;

/** `schema.include.list` for the source schemas. */
export function formatSchemaIncludeList(schemas: readonly string[]): string {
  return schemas.map((s) => entry(quoteJavaRegex(s))).join(',');
}

/** A `table.include.list` / `table.exclude.list` for table patterns (core/table-pattern.ts). */
export function formatTableList(patternTexts: readonly string[]): string {
  return patternTexts
    .flatMap((text) => parseTablePatterns(text))
    .map((p) => entry(`${globToJavaRegex(p.schema)}\\u002e${globToJavaRegex(p.table)}`))
    .join(',');
}

/**
 * `config` with the selection's lists written in (and the lists they replace removed); returns the
 * keys it set, for the command's output.
 */
export function applyTableSelection(
  config: ConnectorConfig,
  selection: TableSelectionSettings,
): { config: ConnectorConfig; setKeys: string[] } {
  const out: ConnectorConfig = { ...config };
  const setKeys: string[] = [];
  const put = (key: string, value: string, replaces: string) => {
    out[key] = value;
    delete out[replaces];
    setKeys.push(key);
  };
  if (selection.sourceSchemas !== undefined && selection.sourceSchemas.length > 0) {
    put(
      'schema.include.list',
      formatSchemaIncludeList(selection.sourceSchemas),
      'schema.exclude.list',
    );
  }
  if (selection.include !== undefined && selection.include.length > 0) {
    put('table.include.list', formatTableList(selection.include), 'table.exclude.list');
  } else if (selection.exclude !== undefined && selection.exclude.length > 0) {
    put('table.exclude.list', formatTableList(selection.exclude), 'table.include.list');
  }
  return { config: out, setKeys };
}

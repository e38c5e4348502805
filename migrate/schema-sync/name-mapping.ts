// Source names -> target names under TARGET_SCHEMA or SCHEMA_MAP, and source expressions
// rewritten to match, so the source's DDL can be created on the target and compared with the
// target's as text.
import { quoteIdent, quoteLiteral } from '../../core/sql-identifier.js';
import type {
  ColumnType,
  QualifiedName,
  SchemaCatalog,
  SequenceDefinition,
} from './schema-catalog-types.js';
import type { SchemaSyncOptions } from './schema-sync-types.js';

/** A map key for a schema-qualified name. */
export const keyOf = (n: QualifiedName): string => `${n.schema}\u0000${n.name}`;
/** A schema-qualified name, both parts quoted, for DDL. */
export const qualified = (n: QualifiedName): string =>
  `${quoteIdent(n.schema)}.${quoteIdent(n.name)}`;

/**
 * Renames schema qualifiers in an expression printed by PostgreSQL (`public.mood`,
 * `"My Schema".f(...)`): every `<schema>.` whose schema is in `renames` becomes the quoted target
 * schema. String literals are left alone; qualified names are always re-quoted, so the source's
 * expression and the target's can be compared as text.
 */
export function rewriteSchemaReferences(sql: string, renames: ReadonlyMap<string, string>): string {
  if (renames.size === 0) return sql;
  let out = '';
  let i = 0;
  const closing = (quote: string, from: number): number => {
    let j = from;
    while (j < sql.length) {
      if (sql[j] === quote) {
        if (sql[j + 1] === quote) {
          j += 2;
          continue;
        }
        return j;
      }
      j++;
    }
    return sql.length;
  };
  while (i < sql.length) {
    const ch = sql[i] as string;
    if (ch === "'") {
      const end = closing("'", i + 1);
      out += sql.slice(i, end + 1);
      i = end + 1;
      continue;
    }
    let ident: string | undefined;
    let end = i;
    if (ch === '"') {
      const close = closing('"', i + 1);
      ident = sql.slice(i + 1, close).replace(/""/g, '"');
      end = close + 1;
    } else if (/[A-Za-z_\u0080-\uffff]/.test(ch)) {
      while (end < sql.length && /[A-Za-z0-9_$\u0080-\uffff]/.test(sql[end] as string)) end++;
      ident = sql.slice(i, end);
    }
    if (ident === undefined) {
      out += ch;
      i++;
      continue;
    }
    const to = renames.get(ident);
    // Only a leading qualifier: `x.y` where x is not itself after a dot.
    if (to !== undefined && sql[end] === '.' && !out.endsWith('.')) out += quoteIdent(to);
    else out += sql.slice(i, end);
    i = end;
  }
  return out;
}

/** Maps source names to target names and rewrites expressions accordingly. */
export class NameMapping {
  /** Every schema of a source object -> its target schema (identity when TARGET_SCHEMA unset). */
  readonly renames = new Map<string, string>();
  /** Target schemas -> themselves: canonical quoting for the target's own expressions. */
  readonly targetCanon = new Map<string, string>();
  private readonly sequences: SequenceDefinition[];

  constructor(
    source: SchemaCatalog,
    private readonly options: SchemaSyncOptions,
  ) {
    const schemas = [...source.tables, ...source.enums, ...source.domains, ...source.sequences].map(
      (o) => o.schema,
    );
    for (const s of schemas) {
      this.renames.set(s, this.schema(s));
      this.targetCanon.set(this.schema(s), this.schema(s));
    }
    this.sequences = source.sequences;
  }

  schema(sourceSchema: string): string {
    return this.options.schemaMap?.[sourceSchema] ?? this.options.targetSchema ?? sourceSchema;
  }

  name(n: QualifiedName): QualifiedName {
    return { schema: this.schema(n.schema), name: n.name };
  }

  /** A source expression for the target: sequences named in nextval() and schema qualifiers. */
  expression(sql: string): string {
    let text = sql;
    for (const s of this.sequences) {
      const target = this.name(s);
      if (target.schema === s.schema) continue;
      text = text
        .split(`${quoteLiteral(s.regclassText)}::regclass`)
        .join(`${quoteLiteral(qualified(target))}::regclass`);
    }
    return rewriteSchemaReferences(text, this.renames);
  }

  /** A target expression in the same canonical spelling, for comparison. */
  targetExpression(sql: string): string {
    return rewriteSchemaReferences(sql, this.targetCanon);
  }

  /** A `schema.collation` name (quote_ident'ed): a collation of a mapped schema moves with it. */
  collation(sql: string): string {
    return rewriteSchemaReferences(sql, this.renames);
  }

  /** An extension's (or other not created) type: moved only when its schema is a mapped one. */
  otherTypeName(n: QualifiedName): QualifiedName {
    return this.renames.has(n.schema) ? this.name(n) : n;
  }

  typeSql(type: ColumnType): string {
    if (type.user && type.user.kind !== 'other') {
      return `${qualified(this.name(type.user))}${type.array ? '[]' : ''}`;
    }
    // An extension type in a mapped schema (format_type() qualifies it) moves with its schema.
    if (!type.user || this.otherTypeName(type.user).schema === type.user.schema) return type.sql;
    return rewriteSchemaReferences(type.sql, this.renames);
  }

  sameType(source: ColumnType, target: ColumnType): boolean {
    if (source.user && source.user.kind !== 'other') {
      const want = this.name(source.user);
      return (
        target.user !== undefined &&
        target.user.schema === want.schema &&
        target.user.name === want.name &&
        target.array === source.array
      );
    }
    if (source.user && target.user) {
      const want = this.otherTypeName(source.user);
      return (
        target.user.schema === want.schema &&
        target.user.name === want.name &&
        target.array === source.array
      );
    }
    return source.sql === target.sql;
  }
}

// Settings of the source schemas and where each lands: SOURCE_SCHEMAS (the schemas captured and
// replicated) and SCHEMA_MAP (source:target pairs; unset pairs keep their name, or TARGET_SCHEMA
// for a single schema). Checked together at start, so that no two source tables can ever map to
// one target table: two source schemas never share a target schema.

import { z } from 'zod';
import type { ConfigProblem } from '../errors.js';
import type { EnvSchema } from './setting-parsers.js';

/** The source schema when SOURCE_SCHEMAS is unset (unqualified --tables names too). */
export const DEFAULT_SOURCE_SCHEMA = 'public';

/** pgferry's own schema on the target (pipeline/routing/bookkeeping-schema-name.ts says why). */
const RESERVED_TARGET_SCHEMA = 'pgferry';

/** `a, b` -> ['a', 'b']: exact names (case kept), each once. */
export function parseSchemaList(): EnvSchema<readonly string[]> {
  return z.string().transform((raw, ctx) => {
    const names = raw.split(',').map((s) => s.trim());
    const problem = names.some((n) => n === '')
      ? 'expected comma-separated schema names, none empty (e.g. public,sales)'
      : names.find((n, i) => names.indexOf(n) !== i) !== undefined
        ? `"${names.find((n, i) => names.indexOf(n) !== i)}" is listed twice`
        : undefined;
    if (problem === undefined) return names;
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
    return z.NEVER;
  });
}

/** `sales:sales_copy, hr:people` -> { sales: 'sales_copy', hr: 'people' }. */
export function parseSchemaMap(): EnvSchema<Readonly<Record<string, string>>> {
  return z.string().transform((raw, ctx) => {
    const map: Record<string, string> = {};
    for (const entry of raw.split(',')) {
      const parts = entry.split(':').map((s) => s.trim());
      const [from, to] = parts;
      if (parts.length !== 2 || !from || !to) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          message: `"${entry.trim()}": expected source:target pairs, comma-separated (e.g. sales:sales_copy,hr:people)`,
        });
        return z.NEVER;
      }
      if (Object.hasOwn(map, from)) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `"${from}" is mapped twice` });
        return z.NEVER;
      }
      map[from] = to;
    }
    return map;
  });
}

export interface SchemaMappingValues {
  SOURCE_SCHEMAS?: readonly string[] | undefined;
  SCHEMA_MAP?: Readonly<Record<string, string>> | undefined;
  TARGET_SCHEMA?: string | undefined;
}

/**
 * What is wrong with the three together: TARGET_SCHEMA names one target for one source schema,
 * SCHEMA_MAP may only map schemas that are captured, and no two source schemas may share a target
 * schema (two same-named tables would write one table), nor may one land in pgferry's own.
 */
export function findSchemaMappingProblems(values: SchemaMappingValues): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const schemas = values.SOURCE_SCHEMAS ?? [DEFAULT_SOURCE_SCHEMA];
  const map = values.SCHEMA_MAP;
  if (values.TARGET_SCHEMA !== undefined && map !== undefined) {
    problems.push({
      setting: 'SCHEMA_MAP',
      message:
        'set together with TARGET_SCHEMA; use only SCHEMA_MAP (source:target for each schema)',
    });
  }
  if (values.TARGET_SCHEMA !== undefined && schemas.length > 1) {
    problems.push({
      setting: 'TARGET_SCHEMA',
      message: `one target schema for ${schemas.length} source schemas (${schemas.join(', ')}) would merge their tables; map each with SCHEMA_MAP (e.g. ${schemas.map((s) => `${s}:${s}_new`).join(',')})`,
    });
  }
  if (map !== undefined) {
    for (const from of Object.keys(map).filter((s) => !schemas.includes(s))) {
      problems.push({
        setting: 'SCHEMA_MAP',
        message: `maps schema "${from}", which is not in SOURCE_SCHEMAS (${schemas.join(', ')})`,
      });
    }
    const sources = new Map<string, string>();
    for (const from of schemas) {
      const to = map[from] ?? from;
      const other = sources.get(to);
      if (other !== undefined) {
        problems.push({
          setting: 'SCHEMA_MAP',
          message: `source schemas "${other}" and "${from}" both map to target schema "${to}": their same-named tables would write one table; give each its own target schema`,
        });
      }
      sources.set(to, from);
    }
    if (sources.has(RESERVED_TARGET_SCHEMA)) {
      problems.push({
        setting: 'SCHEMA_MAP',
        message: `"${RESERVED_TARGET_SCHEMA}" is pgferry's own bookkeeping schema: map "${sources.get(RESERVED_TARGET_SCHEMA)}" elsewhere`,
      });
    }
  }
  return problems;
}

/**
 * The topic pattern when KAFKA_TOPIC_PATTERN is unset: the prefix's topics of the source schemas,
 * spelled as Debezium spells topic names (characters Kafka refuses become `_`). With the defaults
 * `^cdc\.public\..*`, as before.
 */
export function deriveTopicPattern(
  prefix: string | undefined,
  schemas: readonly string[] | undefined,
): RegExp {
  const literal = (text: string) =>
    text.replace(/[^A-Za-z0-9._-]/g, '_').replace(/[.-]/g, (c) => `\\${c}`);
  const list = (schemas ?? [DEFAULT_SOURCE_SCHEMA]).map(literal);
  const schemaPart = list.length === 1 ? list[0] : `(?:${list.join('|')})`;
  return new RegExp(`^${literal(prefix ?? 'cdc')}\\.${schemaPart}\\..*`);
}

// A column's default as the event schema declares it (Debezium propagates a constant column
// default into the Connect schema, and the Avro converter into the field's `default` and the
// type's `connect.default`), as PostgreSQL text input. The target needs it when it gains the
// column: `ADD COLUMN ... DEFAULT` on the source backfills every existing row without a change
// event, so only the same default on the target gives those rows the source's value.

import type { AvroJson, AvroJsonObject, NamedTypes } from './avro-json.js';
import type { ColumnCodec } from './column-codec.js';

/**
 * Debezium cannot evaluate a function default (now(), nextval(), gen_random_uuid()); for a NOT
 * NULL column it then writes a type's zero value as the default instead. The epoch and the zero
 * uuid are taken as such stand-ins (a real constant default of exactly those is rare), so the
 * target gets no default rather than a wrong one. A zero, '' or false cannot be told apart from
 * a real constant default and is kept.
 */
const FALLBACK_DEFAULT =
  /^(?:1970-01-01(?:[ T]00:00:00(?:\.0+)?)?|00:00:00(?:\.0+)?|0{8}-0{4}-0{4}-0{4}-0{12})(?:Z|[+-]00(?::?00)?)?$/;

/** The non-null branch of a field type, with a named reference resolved. */
function valueBranch(type: AvroJson, named: NamedTypes): AvroJson | undefined {
  const branch = Array.isArray(type) ? type.filter((t) => t !== 'null') : [type];
  if (branch.length !== 1) return undefined;
  const only = branch[0] as AvroJson;
  return typeof only === 'string' ? (named.get(only) ?? only) : only;
}

/** The Avro primitive (or complex kind) underneath logical and Connect types. */
function baseTypeOf(type: AvroJson): string | undefined {
  if (typeof type === 'string') return type;
  if (Array.isArray(type)) return undefined;
  return typeof type.type === 'string' ? type.type : undefined;
}

/**
 * The default's PostgreSQL text, or undefined when there is none (or none we can convert
 * exactly: a null default, arrays, maps, integers beyond 2^53 that JSON already rounded).
 */
export function readColumnDefault(
  field: { type: AvroJson; default?: unknown },
  codec: ColumnCodec,
  named: NamedTypes,
): string | undefined {
  const branch = valueBranch(field.type, named);
  if (branch === undefined) return undefined;
  const connectDefault =
    typeof branch === 'object' && !Array.isArray(branch)
      ? (branch as AvroJsonObject)['connect.default']
      : undefined;
  // The field's default follows the Avro specification's JSON encoding (bytes as a string of
  // code points 0-255); `connect.default` is the same value as the Connect converter wrote it.
  const raw = field.default ?? connectDefault;
  if (raw === undefined || raw === null) return undefined;
  let value: unknown;
  switch (baseTypeOf(branch)) {
    case 'boolean':
      if (typeof raw !== 'boolean') return undefined;
      value = raw;
      break;
    case 'int':
    case 'long':
      if (typeof raw !== 'number' || !Number.isSafeInteger(raw)) return undefined;
      value = raw;
      break;
    case 'float':
    case 'double':
      if (typeof raw !== 'number') return undefined;
      value = raw;
      break;
    case 'string':
    case 'enum':
      if (typeof raw !== 'string') return undefined;
      value = raw;
      break;
    case 'bytes':
    case 'fixed':
      // Only the specification's encoding is certain; a connect.default alone is not trusted.
      if (typeof field.default !== 'string') return undefined;
      if ([...field.default].some((ch) => (ch.codePointAt(0) ?? 0) > 0xff)) return undefined;
      value = Buffer.from(field.default, 'latin1');
      break;
    default:
      return undefined;
  }
  try {
    const text = codec.toPg(value);
    if (typeof text !== 'string' || text.includes('\u0000')) return undefined;
    return FALLBACK_DEFAULT.test(text) ? undefined : text;
  } catch {
    // A default the codec cannot read is left to the operator: no DEFAULT rather than a wrong one.
    return undefined;
  }
}

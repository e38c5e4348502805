// The Avro schema JSON a Debezium event schema is written in, and how a field's type is read from
// it: named types resolved by name, `["null", T]` unions split into T and nullability.

import { SchemaIncompatibleError } from '../../core/errors.js';

export type AvroJson = string | AvroJsonObject | AvroJson[];
export interface AvroJsonObject {
  type: AvroJson;
  name?: string;
  namespace?: string;
  fields?: { name: string; type: AvroJson }[];
  items?: AvroJson;
  logicalType?: string;
  scale?: number;
  precision?: number;
  'connect.name'?: string;
  'connect.parameters'?: Record<string, string>;
  [attribute: string]: unknown;
}

/** Named Avro types of one schema, so references by name resolve to their definition. */
export type NamedTypes = Map<string, AvroJsonObject>;

export function collectNamedTypes(
  schema: AvroJson,
  namespace = '',
  out: NamedTypes = new Map(),
): NamedTypes {
  if (Array.isArray(schema)) {
    for (const branch of schema) collectNamedTypes(branch, namespace, out);
    return out;
  }
  if (typeof schema !== 'object' || schema === null) return out;
  const ns = schema.namespace ?? namespace;
  if (
    schema.name &&
    (schema.type === 'record' || schema.type === 'enum' || schema.type === 'fixed')
  ) {
    const fullName = schema.name.includes('.') || !ns ? schema.name : `${ns}.${schema.name}`;
    out.set(fullName, schema);
    out.set(schema.name, schema);
  }
  for (const field of schema.fields ?? []) collectNamedTypes(field.type, ns, out);
  if (schema.items !== undefined) collectNamedTypes(schema.items, ns, out);
  if (typeof schema.type === 'object') collectNamedTypes(schema.type, ns, out);
  return out;
}

export const PRIMITIVES = new Set([
  'null',
  'boolean',
  'int',
  'long',
  'float',
  'double',
  'bytes',
  'string',
]);

function resolveType(type: AvroJson, named: NamedTypes): AvroJson {
  if (typeof type === 'string' && !PRIMITIVES.has(type)) {
    const found = named.get(type);
    if (!found) throw new SchemaIncompatibleError(`unknown Avro type reference ${type}`);
    return found;
  }
  return type;
}

/** Splits `["null", T]` into T and nullability. */
export function unwrapNullable(
  type: AvroJson,
  named: NamedTypes,
): { type: AvroJson; nullable: boolean } {
  if (Array.isArray(type)) {
    const branches = type.filter((t) => t !== 'null');
    if (branches.length !== 1 || branches[0] === undefined) {
      throw new SchemaIncompatibleError(`unsupported Avro union ${JSON.stringify(type)}`);
    }
    return { type: resolveType(branches[0], named), nullable: branches.length !== type.length };
  }
  return { type: resolveType(type, named), nullable: false };
}

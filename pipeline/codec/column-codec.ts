// Converts Debezium column values (as avsc decodes them) into exact PostgreSQL text input: builds
// one codec per column from the field's Avro JSON, picking the conversion of its type (temporal-,
// decimal-, bits-, primitive-codec), and handles NULL and unchanged TOAST placeholders.
import { PoisonMessageError, SchemaIncompatibleError } from '../../core/errors.js';
import { type PgValue, UNCHANGED_TOAST } from '../row-change.js';
import {
  type AvroJson,
  type AvroJsonObject,
  type NamedTypes,
  PRIMITIVES,
  unwrapNullable,
} from './avro-json.js';
import { bitsConversion } from './bits-codec.js';
import {
  avroDecimalConversion,
  decimalConversion,
  isNumericSourceType,
  numericTextConversion,
} from './decimal-codec.js';
import { pgTypeFromSourceType } from './pg-type-name.js';
import { type Conversion, primitiveConversion } from './primitive-codec.js';
import { temporalConversion } from './temporal-codec.js';
import type { TextBudget } from './text-budget.js';

/** What PostgreSQL sends for an unchanged TOASTed column it did not log (Debezium's default). */
export const UNAVAILABLE_VALUE_PLACEHOLDER = '__debezium_unavailable_value';
const UNAVAILABLE_BYTES = Buffer.from(UNAVAILABLE_VALUE_PLACEHOLDER, 'utf8');

export interface ColumnCodec {
  /** PostgreSQL type for DDL when the target table has to be created. */
  pgType: string;
  nullable: boolean;
  /**
   * Avro-decoded value -> PostgreSQL text input (null = SQL NULL); the text is spent from
   * `budget`, the message's, when given.
   */
  toPg(value: unknown, budget?: TextBudget): PgValue;
  /**
   * Whether `toPg` takes an Avro long (its own or its array elements') as a safe-integer number
   * as well as a BigInt, with the same result; if not, longs must come as avsc gives them.
   */
  longsAsNumbers: boolean;
}

const isPlaceholder = (value: unknown): boolean =>
  value === UNAVAILABLE_VALUE_PLACEHOLDER ||
  (Buffer.isBuffer(value) && value.equals(UNAVAILABLE_BYTES));

/** Debezium types whose string value PostgreSQL reads as it is, by `connect.name`. */
const TEXT_TYPES = new Map([
  ['io.debezium.data.Json', 'jsonb'],
  ['io.debezium.data.Uuid', 'uuid'],
  ['io.debezium.data.Xml', 'xml'],
  ['io.debezium.data.Enum', 'text'],
  ['io.debezium.data.EnumSet', 'text'],
  ['io.debezium.data.Ltree', 'text'],
]);

/** One element of a PostgreSQL array literal: always quoted, so no element needs parsing rules. */
function quoteArrayElement(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function arrayConversion(element: Conversion): Conversion {
  return {
    pgType: `${element.pgType}[]`,
    ...(element.longsAsNumbers ? { longsAsNumbers: true } : {}),
    convert: (v, budget) => {
      // Checked element by element: an array of small values may expand far beyond its bytes.
      let length = 2;
      const items = (v as unknown[]).map((item) => {
        const text = item === null ? 'NULL' : quoteArrayElement(element.convert(item, budget));
        length += text.length + 1;
        budget?.ensure(length);
        return text;
      });
      return `{${items.join(',')}}`;
    },
  };
}

function textConversion(semantic: string | undefined): Conversion | undefined {
  const pgType = semantic === undefined ? undefined : TEXT_TYPES.get(semantic);
  return pgType === undefined ? undefined : { pgType, convert: (v) => v as string };
}

/**
 * A column of a type Debezium has no converter for (a user-defined composite or range type, ...)
 * arrives, with `include.unknown.datatypes=true`, as `bytes` holding PostgreSQL's own text form
 * of the value (pgoutput sends text): written as that text, the target parses it with the same
 * type. Only a propagated source type other than BYTEA says so; plain bytes stay bytea.
 */
function isUnknownTypeText(sourceType: string | undefined): boolean {
  return sourceType !== undefined && sourceType.toUpperCase() !== 'BYTEA';
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

function unknownTypeTextConversion(): Conversion {
  return {
    pgType: 'text',
    convert: (v) => {
      try {
        return UTF8.decode(v as Buffer);
      } catch (error) {
        throw new PoisonMessageError(
          'a value of a type Debezium passes as its text form is not valid UTF-8',
          { cause: error },
        );
      }
    },
  };
}

/**
 * `sourceType`: Debezium's propagated source column type, when the schema carries it; it is what
 * tells numeric text (`decimal.handling.mode=string`) from text. An array's is the array type's
 * (`_NUMERIC`): its elements carry no parameters of their own.
 */
function semanticConversion(
  type: AvroJsonObject | string,
  named: NamedTypes,
  sourceType?: string,
): Conversion {
  const base = typeof type === 'string' ? type : type.type;
  if (base === 'string' && isNumericSourceType(sourceType)) return numericTextConversion();
  if (typeof type === 'string') return primitiveConversion(type);
  const semantic = type['connect.name'];
  const params = type['connect.parameters'] ?? {};
  const known =
    decimalConversion(semantic, type, params) ??
    temporalConversion(semantic) ??
    bitsConversion(semantic, params) ??
    textConversion(semantic);
  if (known) return known;
  // Plain bytes (no semantic name, no logical type) of a non-bytea source column.
  if (
    base === 'bytes' &&
    semantic === undefined &&
    type.logicalType === undefined &&
    isUnknownTypeText(sourceType)
  )
    return unknownTypeTextConversion();
  if (type.type === 'array') {
    const items = unwrapNullable(type.items ?? 'null', named);
    return arrayConversion(
      semanticConversion(items.type as AvroJsonObject | string, named, sourceType),
    );
  }
  const decimal = avroDecimalConversion(type);
  if (decimal) return decimal;
  if (typeof type.type === 'string' && PRIMITIVES.has(type.type))
    return primitiveConversion(type.type);
  throw new SchemaIncompatibleError(
    `unsupported column type ${semantic ?? JSON.stringify(type.type)} (no exact PostgreSQL conversion)`,
  );
}

/** Builds the codec of one column from its Avro field type. */
export function createColumnCodec(fieldType: AvroJson, named: NamedTypes): ColumnCodec {
  const { type, nullable } = unwrapNullable(fieldType, named);
  const params =
    typeof type === 'object' && !Array.isArray(type) ? (type['connect.parameters'] ?? {}) : {};
  const sourceType = params['__debezium.source.column.type'];
  const conversion = semanticConversion(type as AvroJsonObject | string, named, sourceType);
  const pgType = sourceType ? pgTypeFromSourceType(sourceType, params) : conversion.pgType;
  return {
    pgType,
    nullable,
    longsAsNumbers: conversion.longsAsNumbers === true,
    toPg(value: unknown, budget?: TextBudget): PgValue {
      if (value === null || value === undefined) return null;
      if (isPlaceholder(value)) return UNCHANGED_TOAST;
      if (Array.isArray(value) && value.length === 1 && isPlaceholder(value[0]))
        return UNCHANGED_TOAST;
      const text = conversion.convert(value, budget);
      return budget ? budget.spend(text) : text;
    },
  };
}

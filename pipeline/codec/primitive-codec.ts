// Avro primitives (boolean, int, long, float, double, string, bytes) as PostgreSQL text input, and
// the Conversion shape every codec of a column type has.

import { SchemaIncompatibleError } from '../../core/errors.js';
import type { TextBudget } from './text-budget.js';

/** How one column type converts: its PostgreSQL type and a non-null value's text input. */
export interface Conversion {
  pgType: string;
  /** `budget`: what the message may still convert to, for values made of many (arrays). */
  convert(value: unknown, budget?: TextBudget): string;
  /**
   * Set when `convert` gives the same text for an Avro long passed as a safe-integer number as
   * for the same long as a BigInt (avsc's form): the compiled decoder then builds no BigInt.
   */
  longsAsNumbers?: true;
}

/** avsc decodes longs as numbers or bigints (by size); both are exact integers. */
export function toBigInt(value: unknown): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  throw new TypeError(`expected an integer, got ${typeof value}`);
}

function formatFloat(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return 'Infinity';
  if (value === Number.NEGATIVE_INFINITY) return '-Infinity';
  if (Object.is(value, -0)) return '-0';
  return String(value);
}

export function primitiveConversion(type: string): Conversion {
  switch (type) {
    case 'boolean':
      return { pgType: 'boolean', convert: (v) => (v ? 't' : 'f') };
    case 'int':
      return { pgType: 'integer', convert: (v) => String(v) };
    case 'long':
      return {
        pgType: 'bigint',
        convert: (v) => (Number.isSafeInteger(v) ? String(v) : toBigInt(v).toString()),
        longsAsNumbers: true,
      };
    case 'float':
      return { pgType: 'real', convert: (v) => formatFloat(v as number) };
    case 'double':
      return { pgType: 'double precision', convert: (v) => formatFloat(v as number) };
    case 'string':
      return { pgType: 'text', convert: (v) => v as string };
    case 'bytes':
      return { pgType: 'bytea', convert: (v) => `\\x${(v as Buffer).toString('hex')}` };
    default:
      throw new SchemaIncompatibleError(`unsupported Avro type ${type}`);
  }
}

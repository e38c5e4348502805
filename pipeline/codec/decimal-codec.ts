// Decimal columns as exact numeric text: Kafka Connect's Decimal (fixed scale), Debezium's
// VariableScaleDecimal (scale per value) and a plain Avro decimal, all from unscaled bytes; and
// the numeric text `decimal.handling.mode=string` sends (the one mode that keeps a numeric's
// display scale and NaN/±Infinity), recognised by the propagated source column type.

import type { AvroJsonObject } from './avro-json.js';
import { checkNumericText, decodeDecimalBytes } from './decimal.js';
import type { Conversion } from './primitive-codec.js';

/** The conversion of a Connect decimal type (by `connect.name`), or undefined for another type. */
export function decimalConversion(
  semantic: string | undefined,
  type: AvroJsonObject,
  params: Record<string, string>,
): Conversion | undefined {
  switch (semantic) {
    case 'org.apache.kafka.connect.data.Decimal': {
      const scale = Number(type.scale ?? params.scale ?? 0);
      const precision = type.precision ?? Number(params['connect.decimal.precision'] ?? 0);
      return {
        pgType: precision > 0 && precision <= 1000 ? `numeric(${precision},${scale})` : 'numeric',
        convert: (v) => decodeDecimalBytes(v as Buffer, scale),
      };
    }
    case 'io.debezium.data.VariableScaleDecimal':
      return {
        pgType: 'numeric',
        convert: (v) => {
          const struct = v as { scale: number; value: Buffer };
          return decodeDecimalBytes(struct.value, struct.scale);
        },
      };
    default:
      return undefined;
  }
}

/** A plain Avro `decimal` logical type (no Connect name), or undefined. */
export function avroDecimalConversion(type: AvroJsonObject): Conversion | undefined {
  if (type.logicalType !== 'decimal') return undefined;
  const scale = Number(type.scale ?? 0);
  return { pgType: 'numeric', convert: (v) => decodeDecimalBytes(v as Buffer, scale) };
}

/** Whether a propagated source type (`NUMERIC`, `_numeric`, `decimal`...) is numeric or its array. */
export function isNumericSourceType(sourceType: string | undefined): boolean {
  if (sourceType === undefined) return false;
  const lower = sourceType.toLowerCase().replace(/^_/, '');
  return lower === 'numeric' || lower === 'decimal';
}

/**
 * A numeric column in `decimal.handling.mode=string`: Debezium's text (BigDecimal's plain string,
 * or NAN / POSITIVE_INFINITY / NEGATIVE_INFINITY) as PostgreSQL's numeric input.
 */
export function numericTextConversion(): Conversion {
  return { pgType: 'numeric', convert: (v) => checkNumericText(v as string) };
}

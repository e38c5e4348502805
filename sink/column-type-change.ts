// Decides what to do when an event's column type differs from the target column's: nothing
// (equivalent or the target already accepts it), widen the target column, or stop the table
// (an incompatible change would lose or corrupt data).

export type ColumnTypeChange =
  | { kind: 'keep' }
  | { kind: 'widen'; to: string }
  | { kind: 'incompatible'; reason: string };

/** format_type() spelling without the default precision of time types (6 = microseconds). */
export function normalizeType(type: string): string {
  return type
    .trim()
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .replace(/^(timestamp|time)\(6\)/, '$1');
}

const INTEGER_RANK: Record<string, number> = { smallint: 1, integer: 2, bigint: 3 };
const FLOAT_RANK: Record<string, number> = { real: 1, 'double precision': 2 };

function family(type: string): string {
  if (type.endsWith('[]')) return `array:${family(type.slice(0, -2))}`;
  if (
    type in INTEGER_RANK ||
    type.startsWith('numeric') ||
    type in FLOAT_RANK ||
    type === 'money'
  ) {
    return 'number';
  }
  if (type.startsWith('character') || type === 'text' || type === 'name') return 'text';
  if (type.startsWith('timestamp') && type.endsWith('with time zone')) return 'timestamptz';
  if (type.startsWith('timestamp')) return 'timestamp';
  if (type.startsWith('time') && type.endsWith('with time zone')) return 'timetz';
  if (type.startsWith('time')) return 'time';
  if (type.startsWith('bit')) return 'bit';
  if (type === 'json' || type === 'jsonb') return 'json';
  return type;
}

function numericParts(
  type: string,
): { precision: number; scale: number } | 'unbounded' | undefined {
  if (type === 'numeric') return 'unbounded';
  const m = /^numeric\((\d+),(\d+)\)$/.exec(type);
  return m ? { precision: Number(m[1]), scale: Number(m[2]) } : undefined;
}

function lengthOf(type: string): number | 'unbounded' | undefined {
  if (type === 'character varying' || type === 'text' || type === 'bit varying') return 'unbounded';
  const m = /\((\d+)\)$/.exec(type);
  return m ? Number(m[1]) : undefined;
}

/** The unquoted name of a type spelled `name`, `"Name"` or `schema.name`, without its schema. */
function unqualifiedTypeName(type: string): string {
  const last = /(?:^|\.)("(?:[^"]|"")+"|[^."]+)$/.exec(type)?.[1] ?? type;
  return last.startsWith('"') ? last.slice(1, -1).replace(/""/g, '"') : last;
}

/**
 * Events name a user type (enum, domain) by its bare name, quoted (see pgTypeFromSourceType);
 * format_type() on the target spells it unquoted or schema-qualified. Same name = same type.
 */
function isSameUserType(existing: string, desired: string): boolean {
  const array = desired.endsWith('[]');
  const want = array ? desired.slice(0, -2) : desired;
  if (!want.startsWith('"') || existing.endsWith('[]') !== array) return false;
  const have = array ? existing.slice(0, -2) : existing;
  return unqualifiedTypeName(have) === unqualifiedTypeName(want);
}

export function planColumnTypeChange(existingType: string, desiredType: string): ColumnTypeChange {
  const existing = normalizeType(existingType);
  const desired = normalizeType(desiredType);
  if (existing === desired) return { kind: 'keep' };
  if (isSameUserType(existing, desired)) return { kind: 'keep' };
  // Text takes any value's text form: nothing to change, nothing lost.
  if (existing === 'text' || existing === 'character varying') return { kind: 'keep' };
  const from = family(existing);
  const to = family(desired);
  if (from !== to) {
    return { kind: 'incompatible', reason: `column type changed from ${existing} to ${desired}` };
  }
  if (from === 'number') {
    const ei = INTEGER_RANK[existing];
    const di = INTEGER_RANK[desired];
    if (ei !== undefined && di !== undefined)
      return di > ei ? { kind: 'widen', to: desired } : { kind: 'keep' };
    const ef = FLOAT_RANK[existing];
    const df = FLOAT_RANK[desired];
    if (ef !== undefined && df !== undefined)
      return df > ef ? { kind: 'widen', to: desired } : { kind: 'keep' };
    const en = numericParts(existing);
    const dn = numericParts(desired);
    if (en === 'unbounded') return { kind: 'keep' };
    if (dn === 'unbounded') return { kind: 'widen', to: 'numeric' };
    if (ei !== undefined && dn) return { kind: 'widen', to: desired };
    if (en && dn) {
      if (dn.scale >= en.scale && dn.precision - dn.scale >= en.precision - en.scale) {
        return { kind: 'widen', to: desired };
      }
      if (dn.scale <= en.scale && dn.precision - dn.scale <= en.precision - en.scale)
        return { kind: 'keep' };
      return { kind: 'widen', to: 'numeric' };
    }
    if (en && di !== undefined) return { kind: 'keep' };
    return { kind: 'incompatible', reason: `number type changed from ${existing} to ${desired}` };
  }
  if (from === 'text' || from === 'bit') {
    const el = lengthOf(existing);
    const dl = lengthOf(desired);
    if (el === 'unbounded') return { kind: 'keep' };
    if (dl === 'unbounded' || (el !== undefined && dl !== undefined && dl > el))
      return { kind: 'widen', to: desired };
    return { kind: 'keep' };
  }
  // Same family, e.g. a different fractional-second precision or json vs jsonb: the values still
  // convert on input; keep the operator's choice.
  return { kind: 'keep' };
}

// PostgreSQL type names for DDL from Debezium's propagated source column type
// (`__debezium.source.column.type` with its length and scale), when the event schema carries it.

const SOURCE_TYPE_NAMES: Record<string, string> = {
  int2: 'smallint',
  int4: 'integer',
  int8: 'bigint',
  serial: 'integer',
  bigserial: 'bigint',
  smallserial: 'smallint',
  float4: 'real',
  float8: 'double precision',
  bool: 'boolean',
  text: 'text',
  date: 'date',
  interval: 'interval',
  uuid: 'uuid',
  json: 'json',
  jsonb: 'jsonb',
  bytea: 'bytea',
  money: 'money',
  inet: 'inet',
  cidr: 'cidr',
  macaddr: 'macaddr',
  macaddr8: 'macaddr8',
  xml: 'xml',
  oid: 'oid',
  tsvector: 'tsvector',
  tsquery: 'tsquery',
  name: 'name',
};

const MAX_LENGTH = 2147483647;

function precisionSuffix(params: Record<string, string>): string {
  const scale = params['__debezium.source.column.scale'];
  return scale !== undefined && /^[0-6]$/.test(scale) ? `(${scale})` : '';
}

/** The DDL type for a propagated source type name (`int4`, `_numeric`, `varchar`, an enum...). */
export function pgTypeFromSourceType(typeName: string, params: Record<string, string>): string {
  const lower = typeName.toLowerCase();
  if (lower.startsWith('_')) return `${pgTypeFromSourceType(lower.slice(1), {})}[]`;
  const lengthText = params['__debezium.source.column.length'];
  const length = lengthText === undefined ? undefined : Number(lengthText);
  const scale = params['__debezium.source.column.scale'];
  const hasLength = length !== undefined && length > 0 && length < MAX_LENGTH;
  switch (lower) {
    case 'numeric':
    case 'decimal':
      // Only digits reach DDL: the parameters come from a registry schema, not from our code.
      return hasLength && length <= 1000 && /^\d+$/.test(scale ?? '0')
        ? `numeric(${length},${scale ?? 0})`
        : 'numeric';
    case 'varchar':
      return hasLength ? `character varying(${length})` : 'character varying';
    case 'bpchar':
    case 'char':
      return hasLength ? `character(${length})` : 'character(1)';
    case 'bit':
      return hasLength ? `bit(${length})` : 'bit(1)';
    case 'varbit':
      return hasLength ? `bit varying(${length})` : 'bit varying';
    case 'time':
      return `time${precisionSuffix(params)} without time zone`;
    case 'timetz':
      return `time${precisionSuffix(params)} with time zone`;
    case 'timestamp':
      return `timestamp${precisionSuffix(params)} without time zone`;
    case 'timestamptz':
      return `timestamp${precisionSuffix(params)} with time zone`;
    default: {
      const known = SOURCE_TYPE_NAMES[lower];
      if (known) return known;
      // A user-defined type (enum, domain, extension type). Debezium reports type names upper-
      // cased, so the lower-case name is the one the catalog most likely has; the sink checks the
      // target catalog and falls back to text when no such type exists there.
      return `"${lower.replace(/"/g, '""')}"`;
    }
  }
}

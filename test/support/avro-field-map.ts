// Where the varints of a valid Avro body are, and what each one says (a length, a block count, a
// union index, a VariableScaleDecimal scale...), so the decode fuzz test can inflate exactly the
// fields a hostile message would. Written apart from pipeline/codec/avro-bounds-check.ts on
// purpose: the test must not find fields with the code it is testing.
import type avro from 'avsc';

export type VarintKind = 'length' | 'count' | 'block-size' | 'index' | 'int' | 'long' | 'scale';

export interface VarintField {
  kind: VarintKind;
  /** Byte range of the varint in the body. */
  start: number;
  end: number;
}

class Reader {
  pos = 0;
  constructor(
    readonly body: Uint8Array,
    readonly fields: VarintField[],
  ) {}

  varint(kind: VarintKind): number {
    const start = this.pos;
    let raw = 0;
    let scale = 1;
    for (;;) {
      const byte = this.body[this.pos++];
      if (byte === undefined) throw new Error('avro-field-map: body is not valid for its schema');
      raw += (byte & 0x7f) * scale;
      scale *= 128;
      if ((byte & 0x80) === 0) break;
    }
    this.fields.push({ kind, start, end: this.pos });
    return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
  }

  skip(length: number): void {
    this.pos += length;
  }
}

function walk(type: avro.Type, r: Reader, fieldName?: string, recordName?: string): void {
  switch (type.typeName) {
    case 'null':
      return;
    case 'boolean':
      r.pos += 1;
      return;
    case 'int':
      r.varint(
        fieldName === 'scale' && recordName?.endsWith('VariableScaleDecimal') ? 'scale' : 'int',
      );
      return;
    case 'long':
    case 'abstract:long':
      r.varint('long');
      return;
    case 'float':
      r.pos += 4;
      return;
    case 'double':
      r.pos += 8;
      return;
    case 'string':
    case 'bytes':
      r.skip(r.varint('length'));
      return;
    case 'fixed':
      r.pos += (type as avro.types.FixedType).size;
      return;
    case 'enum':
      r.varint('index');
      return;
    case 'union:unwrapped':
    case 'union:wrapped': {
      const branch = (type as avro.types.UnwrappedUnionType).types[r.varint('index')];
      if (!branch) throw new Error('avro-field-map: union index out of range');
      walk(branch, r, fieldName, recordName);
      return;
    }
    case 'array':
    case 'map': {
      const map = type.typeName === 'map';
      const items = map
        ? ((type as avro.types.MapType).valuesType as avro.Type)
        : (type as avro.types.ArrayType).itemsType;
      for (;;) {
        let count = r.varint('count');
        if (count === 0) return;
        if (count < 0) {
          count = -count;
          r.varint('block-size');
        }
        for (let i = 0; i < count; i++) {
          if (map) r.skip(r.varint('length'));
          walk(items, r);
        }
      }
    }
    case 'record':
    case 'error':
      for (const field of (type as avro.types.RecordType).fields) {
        walk(field.type, r, field.name, type.name);
      }
      return;
    default:
      if (type.typeName.startsWith('logical:')) {
        walk((type as avro.types.LogicalType).underlyingType, r, fieldName, recordName);
        return;
      }
      throw new Error(`avro-field-map: unknown Avro type ${type.typeName}`);
  }
}

/** Every varint of `body` (a valid value of `type`), in order. */
export function mapVarintFields(type: avro.Type, body: Uint8Array): VarintField[] {
  const reader = new Reader(body, []);
  walk(type, reader);
  if (reader.pos !== body.length) throw new Error('avro-field-map: body has trailing bytes');
  return reader.fields;
}

// One Avro value read from checked bytes (WireReader) as the column codecs take it: the value avsc
// would decode — booleans, numbers, strings, arrays, unwrapped unions, enum symbols — with two
// differences that change no codec's result: bytes are views into the message, not copies, and a
// long is a number when it is a safe integer if the codec says it takes one (else a BigInt, as
// avsc's exact long type gives). Records, maps and wrapped unions (no Debezium column is one but
// VariableScaleDecimal, a precise-mode numeric) are decoded by avsc itself, from the same bytes.
import type avro from 'avsc';
import type { WireReader } from './avro-wire-reader.js';

export type ValueReader = (reader: WireReader) => unknown;

/** How a long reaches the codec: a number when exact (the codec takes both), or always a BigInt. */
export type LongForm = 'number-or-bigint' | 'bigint';

const toBigInt = (value: number | bigint): bigint =>
  typeof value === 'bigint' ? value : BigInt(value);

export function compileValueReader(type: avro.Type, longs: LongForm): ValueReader {
  switch (type.typeName) {
    case 'null':
      return () => null;
    case 'boolean':
      // The check passed only 0 and 1.
      return (r) => r.bytes[r.pos++] === 1;
    case 'int':
      return (r) => r.readInt();
    case 'long':
    case 'abstract:long':
      return longs === 'bigint' ? (r) => toBigInt(r.readLong()) : (r) => r.readLong();
    case 'float':
      return (r) => r.readFloat();
    case 'double':
      return (r) => r.readDouble();
    case 'string':
      return (r) => r.readString();
    case 'bytes':
      return (r) => r.readBytes();
    case 'fixed': {
      const size = (type as avro.types.FixedType).size;
      return (r) => r.readFixed(size);
    }
    case 'enum': {
      const symbols = (type as avro.types.EnumType).symbols;
      return (r) => symbols[r.readInt()];
    }
    case 'union:unwrapped': {
      const branches = (type as avro.types.UnwrappedUnionType).types.map((t) =>
        compileValueReader(t, longs),
      );
      return (r) => (branches[r.readInt()] as ValueReader)(r);
    }
    case 'array': {
      const items = compileValueReader((type as avro.types.ArrayType).itemsType, longs);
      return (r) => {
        const out: unknown[] = [];
        for (let count = r.readInt(); count !== 0; count = r.readInt()) {
          if (count < 0) {
            count = -count;
            r.skipVarint(); // the block's size in bytes
          }
          for (let i = 0; i < count; i++) out.push(items(r));
        }
        return out;
      };
    }
    default:
      return readWithAvsc(type);
  }
}

/** avsc's own value of `type` at the reader's position (bytes already checked, so it fits). */
function readWithAvsc(type: avro.Type): ValueReader {
  return (r) => {
    const { value, offset } = type.decode(r.bytes, r.pos);
    if (offset < 0) throw new RangeError(`${type.typeName} value runs past the end of the body`);
    r.pos = offset;
    return value;
  };
}

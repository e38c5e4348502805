// Walks an Avro body against its writer schema before avsc decodes it, allocating nothing, so that
// no length or count read from a message allocates more than the message could hold. avsc trusts
// what it reads: an array block count of 2^31 in a 5-byte message becomes `new Array(2^31)` and a
// loop of 2^31 reads past the end (it checks for truncation only when the whole value is read).
// The rules, each checked where the value is read:
// - a string, bytes or block byte size never exceeds the bytes left;
// - an array or map block never holds more items than the bytes left could encode (each item takes
//   at least its type's minimum size), and all blocks of a message together hold at most one item
//   per byte of the message: items that take no bytes (null, an empty record) cannot add up;
// - varints are at most 5 bytes (int, within int32) or 10 bytes (long); union and enum indexes
//   name a branch or symbol; booleans are 0 or 1; records, arrays and maps nest at most
//   MAX_NESTING deep (a recursive schema cannot recurse without end);
// - the value ends exactly at the end of the body.
// Compiled once per schema into closures (like avsc's own readers), cached by avsc Type.
import type avro from 'avsc';
import { BodyCursor, MAX_NESTING } from './avro-body-cursor.js';
import { MessageBoundsError } from './message-bounds-error.js';

export { MAX_NESTING };

/** How to check one type: `walk` moves the cursor past one value; `minBytes` is its least size. */
export interface Walker {
  walk(cursor: BodyCursor): unknown;
  minBytes: number;
  /**
   * A primitive's kind (PRIMITIVE below), or minus it for a union of null and that primitive (its
   * null branch at `nullIndex`): what a record walks inline, without a call per field.
   */
  kind?: number;
  nullIndex?: number;
  /** A record's walks of its fields, in order (for a reader that walks some fields itself). */
  fields?: readonly Walker[];
  /** A union's walks of its branches, by index. */
  branches?: readonly Walker[];
}

const walkers = new WeakMap<avro.Type, Walker>();

/** The walk of `type` (compiled once per avsc Type): checks one value and moves past it. */
export function boundsWalkerOf(type: avro.Type): Walker {
  let walker = walkers.get(type);
  if (!walker) {
    walker = compileWalker(type, new Map());
    walkers.set(type, walker);
  }
  return walker;
}

/**
 * Checks the Avro body of a message (`bytes` from `start`: 0 for a bare body, 5 past a Confluent
 * header) against `type`; throws MessageBoundsError.
 */
export function checkAvroBounds(type: avro.Type, bytes: Uint8Array, start = 0): void {
  const walker = boundsWalkerOf(type);
  // One cursor for every check: a check is synchronous and never nested.
  cursor.reset(bytes, start);
  walker.walk(cursor);
  cursor.end();
}

const cursor = new BodyCursor(new Uint8Array(0));

const fixedSize = (minBytes: number, what: string): Walker => ({
  minBytes,
  walk: (c) => c.skip(minBytes, what),
});

/** Primitive kinds a record walks inline (walkPrimitive), with the checks their walkers make. */
const PRIMITIVE = {
  null: 1,
  boolean: 2,
  int: 3,
  long: 4,
  float: 5,
  double: 6,
  string: 7,
  bytes: 8,
};

function walkPrimitive(c: BodyCursor, kind: number): void {
  switch (kind) {
    case PRIMITIVE.null:
      return;
    case PRIMITIVE.boolean:
      if (c.left < 1) c.fail('boolean runs past the end');
      if ((c.bytes[c.pos++] as number) > 1) c.fail('boolean is neither 0 nor 1', c.pos - 1);
      return;
    case PRIMITIVE.int:
      c.readVarint(5, 'int');
      return;
    case PRIMITIVE.long:
      c.readVarint(10, 'long');
      return;
    case PRIMITIVE.float:
      c.skip(4, 'float');
      return;
    case PRIMITIVE.double:
      c.skip(8, 'double');
      return;
    case PRIMITIVE.string:
      c.skip(c.readLength('string'), 'string');
      return;
    default:
      c.skip(c.readLength('bytes'), 'bytes');
  }
}

/** `walker` with its kind, so that a record can walk it inline. */
const primitive = (kind: number, walker: Walker): Walker => ({ ...walker, kind });

function compileWalker(type: avro.Type, named: Map<avro.Type, Walker>): Walker {
  const known = named.get(type);
  if (known) return known; // a recursive reference: its walker is being built
  const name = type.typeName;
  switch (name) {
    case 'null':
      return primitive(PRIMITIVE.null, { minBytes: 0, walk: () => undefined });
    case 'boolean':
      return primitive(PRIMITIVE.boolean, {
        minBytes: 1,
        walk: (c) => walkPrimitive(c, PRIMITIVE.boolean),
      });
    case 'int':
      return primitive(PRIMITIVE.int, { minBytes: 1, walk: (c) => c.readVarint(5, 'int') });
    case 'long':
    case 'abstract:long':
      return primitive(PRIMITIVE.long, { minBytes: 1, walk: (c) => c.readVarint(10, 'long') });
    case 'float':
      return primitive(PRIMITIVE.float, fixedSize(4, 'float'));
    case 'double':
      return primitive(PRIMITIVE.double, fixedSize(8, 'double'));
    case 'string':
    case 'bytes':
      return primitive(PRIMITIVE[name], {
        minBytes: 1,
        walk: (c) => c.skip(c.readLength(name), name),
      });
    case 'fixed':
      return fixedSize((type as avro.types.FixedType).size, `fixed ${type.name}`);
    case 'enum': {
      const symbols = (type as avro.types.EnumType).symbols.length;
      const what = `enum ${type.name} index`;
      return { minBytes: 1, walk: (c) => c.readIndex(symbols, what) };
    }
    case 'union:unwrapped':
    case 'union:wrapped':
      return compileUnion((type as avro.types.UnwrappedUnionType).types, named);
    case 'array':
      return compileBlocks(
        'array',
        compileWalker((type as avro.types.ArrayType).itemsType, named),
        false,
      );
    case 'map':
      return compileBlocks(
        'map',
        compileWalker((type as avro.types.MapType).valuesType as avro.Type, named),
        true,
      );
    case 'record':
    case 'error':
      return compileRecord(type as avro.types.RecordType, named);
    default:
      if (name.startsWith('logical:')) {
        return compileWalker((type as avro.types.LogicalType).underlyingType, named);
      }
      // A type avsc knows and this check does not: refuse rather than let it through unchecked.
      throw new MessageBoundsError(`no bounds check for Avro type ${name}`);
  }
}

function compileUnion(types: readonly avro.Type[], named: Map<avro.Type, Walker>): Walker {
  const branches = types.map((t) => compileWalker(t, named));
  const walker: Walker = {
    minBytes: 1 + Math.min(...branches.map((b) => b.minBytes)),
    walk: (c) => (branches[c.readIndex(branches.length, 'union index')] as Walker).walk(c),
    branches,
  };
  // ["null", T] of a primitive T (most columns): walked inline by its record.
  const nullIndex = branches.findIndex((b) => b.kind === PRIMITIVE.null);
  const other = branches[1 - nullIndex];
  if (branches.length === 2 && nullIndex >= 0 && other?.kind !== undefined) {
    walker.kind = -other.kind;
    walker.nullIndex = nullIndex;
  }
  return walker;
}

function compileRecord(type: avro.types.RecordType, named: Map<avro.Type, Walker>): Walker {
  // Registered before its fields are compiled, so a field of the record's own type finds it; its
  // minBytes counts as 0 until then (a lower bound, which is all minBytes needs to be).
  const walker: Walker = { minBytes: 0, walk: () => undefined };
  named.set(type, walker);
  const fields = type.fields.map((f) => compileWalker(f.type, named));
  walker.minBytes = fields.reduce((sum, f) => sum + f.minBytes, 0);
  walker.fields = fields;
  // Primitive fields and [null, primitive] unions inline, the others by their walk: the same
  // checks in the same order, without a call per field.
  const kinds = fields.map((f) => f.kind ?? 0);
  const nullIndexes = fields.map((f) => f.nullIndex ?? -1);
  walker.walk = (c) => {
    c.enter();
    for (let i = 0; i < kinds.length; i++) {
      const kind = kinds[i] as number;
      if (kind > 0) walkPrimitive(c, kind);
      else if (kind === 0) (fields[i] as Walker).walk(c);
      else if (c.readIndex(2, 'union index') !== nullIndexes[i]) walkPrimitive(c, -kind);
    }
    c.leave();
  };
  return walker;
}

/** Arrays and maps: blocks of `count` items (negative: followed by the block's byte size) until 0. */
function compileBlocks(what: 'array' | 'map', items: Walker, keyed: boolean): Walker {
  // A map entry is a key (a string: at least its length byte) and a value.
  const itemMinBytes = items.minBytes + (keyed ? 1 : 0);
  // Error labels made once, not per block.
  const countWhat = `${what} block count`;
  const blockWhat = `${what} block`;
  return {
    minBytes: 1,
    walk: (c) => {
      c.enter();
      for (;;) {
        const at = c.pos;
        let count = c.readVarint(10, countWhat);
        if (count === 0) break;
        let end = -1;
        if (count < 0) {
          count = -count;
          const size = c.readLength(blockWhat);
          end = c.pos + size;
        }
        c.takeItems(count, itemMinBytes, what, at);
        for (let i = 0; i < count; i++) {
          if (keyed) c.skip(c.readLength('map key'), 'map key');
          items.walk(c);
        }
        if (end >= 0 && c.pos !== end) c.fail(`${what} block size does not match its items`, at);
      }
      c.leave();
    },
  };
}

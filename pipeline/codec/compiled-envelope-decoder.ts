// Decode without building the envelope: a Debezium change event's value bytes read straight into
// what transform needs — op, source.schema/table/lsn/ts_ms/txId, and where source.sequence and the
// before/after rows start — while every byte is checked as the bounds check checks it (its cursor
// and its compiled walks of this very schema: same rules, same refusals, same messages). Every
// other field (source.version/connector/db/ts_us/ts_ns/xmin..., transaction, the rows themselves)
// is walked and never built; transform reads the row it needs from the checked bytes.
// Compiled once per value schema (avsc Type). A schema that is not a Debezium envelope as
// Debezium writes it has no compiled decoder and is decoded by avsc as before (see
// compiledEnvelopeDecoderOf for what falls back).
import type avro from 'avsc';
import { BodyCursor } from './avro-body-cursor.js';
import { boundsWalkerOf, type Walker } from './avro-bounds-check.js';
import { WireReader } from './avro-wire-reader.js';

type Long = number | bigint;

/**
 * What transform reads of `source`. A field the schema does not have is undefined; a long is a
 * number when it is a safe integer (exact), a BigInt beyond.
 */
export type SourceReading = {
  schema: string | null | undefined;
  table: string | null | undefined;
  lsn: Long | null | undefined;
  ts_ms: Long | null | undefined;
  txId: Long | null | undefined;
  /** Where source.sequence's string starts in the body; -1 when null or absent (readSequence). */
  sequenceAt: number;
};

/**
 * One change event as the compiled decoder read it: its bytes stay where they were (positions are
 * into the whole messages, Confluent header included).
 */
export type EnvelopeReading = {
  op: string;
  source: SourceReading;
  /** Where the `before` / `after` row record starts in `valueBytes`; -1 when null. */
  beforeAt: number;
  afterAt: number;
  /** The value message; its Avro body, from `bodyAt`, is checked. */
  valueBytes: Buffer;
  bodyAt: number;
  /** The key message (its body checked by decode), or null without a key. */
  keyBytes: Buffer | null;
  /** Where the key's Avro body starts in `keyBytes`. */
  keyAt: number;
};

export interface CompiledEnvelopeDecoder {
  /**
   * Reads and checks the Avro body of `valueBytes` from `start`; throws MessageBoundsError where
   * the bounds check would. The key (checked by the caller) is kept for transform.
   */
  read(valueBytes: Buffer, start: number, keyBytes: Buffer | null, keyAt: number): EnvelopeReading;
  /** The avsc type of the row record (`before`'s and `after`'s). */
  readonly rowType: avro.types.RecordType;
}

/** Fills one part of the reading while walking one field. */
type Step = (c: BodyCursor, reading: EnvelopeReading, wire: WireReader) => void;

/**
 * The last text a field held, kept to give the same string again for the same bytes: a value
 * schema is one table's, so source.schema and source.table repeat in every event of it.
 */
class RepeatedText {
  private bytes = new Uint8Array(0);
  private text = '';

  read(wire: WireReader, length: number): string {
    const start = wire.pos;
    const source = wire.bytes;
    let same = length === this.bytes.length;
    for (let i = 0; same && i < length; i++) same = source[start + i] === this.bytes[i];
    if (same) {
      wire.pos = start + length;
      return this.text;
    }
    this.bytes = Uint8Array.prototype.slice.call(source, start, start + length);
    this.text = wire.readText(length);
    return this.text;
  }
}

const decoders = new WeakMap<avro.Type, CompiledEnvelopeDecoder | null>();

/**
 * The compiled decoder of a value schema, or undefined when the schema is not a Debezium envelope
 * as Debezium writes it — then avsc decodes it, as before. Falls back: a value that is not a
 * record; no `op`, `source`, `before` or `after` field; `op` not a string; `source` not a record;
 * `before` and `after` not unions of null and one (the same) row record; source.schema, table or
 * sequence not a string, or source.lsn, ts_ms or txId not a long (each may be nullable or absent);
 * a schema the bounds check has no walk for.
 */
export function compiledEnvelopeDecoderOf(type: avro.Type): CompiledEnvelopeDecoder | undefined {
  let decoder = decoders.get(type);
  if (decoder === undefined) {
    decoder = compileEnvelopeDecoder(type) ?? null;
    decoders.set(type, decoder);
  }
  return decoder ?? undefined;
}

function compileEnvelopeDecoder(type: avro.Type): CompiledEnvelopeDecoder | undefined {
  if (type.typeName !== 'record') return undefined;
  let walker: Walker;
  try {
    walker = boundsWalkerOf(type);
  } catch {
    return undefined; // the bounds check refuses every message of it: avsc's path says so
  }
  const fields = (type as avro.types.RecordType).fields;
  const walks = walker.fields ?? [];
  const field = (name: string) => fields.findIndex((f) => f.name === name);
  const [op, source, before, after] = ['op', 'source', 'before', 'after'].map(field) as number[];
  if ([op, source, before, after].some((i) => i === undefined || i < 0)) return undefined;
  const fieldType = (i: number) => (fields[i] as avro.types.Field).type;
  if (fieldType(op as number).typeName !== 'string') return undefined;
  const beforeRow = rowUnionOf(fieldType(before as number), walks[before as number]);
  const afterRow = rowUnionOf(fieldType(after as number), walks[after as number]);
  if (!beforeRow || !afterRow || beforeRow.rowType !== afterRow.rowType) return undefined;
  const sourceStep = compileSourceStep(
    fieldType(source as number),
    walks[source as number] as Walker,
  );
  if (!sourceStep) return undefined;

  const steps: Step[] = fields.map((_, i) => {
    if (i === op) return (c, reading, wire) => (reading.op = readOp(c, wire));
    if (i === source) return sourceStep;
    if (i === before) return (c, reading) => (reading.beforeAt = beforeRow.read(c));
    if (i === after) return (c, reading) => (reading.afterAt = afterRow.read(c));
    const walk = walks[i] as Walker;
    return (c) => walk.walk(c);
  });
  // Reused from event to event: reading is synchronous and never nested.
  const wire = new WireReader(Buffer.alloc(0));
  const c = new BodyCursor(wire.bytes, 0);
  return {
    rowType: beforeRow.rowType,
    read(valueBytes, start, keyBytes, keyAt) {
      c.reset(valueBytes, start);
      wire.bytes = valueBytes;
      const reading: EnvelopeReading = {
        op: '',
        source: {
          schema: undefined,
          table: undefined,
          lsn: undefined,
          ts_ms: undefined,
          txId: undefined,
          sequenceAt: -1,
        },
        beforeAt: -1,
        afterAt: -1,
        valueBytes,
        bodyAt: start,
        keyBytes,
        keyAt,
      };
      // As the record walk: enter, the fields in order, leave; then nothing may trail.
      c.enter();
      for (let i = 0; i < steps.length; i++) (steps[i] as Step)(c, reading, wire);
      c.leave();
      c.end();
      return reading;
    },
  };
}

/** source.sequence of a reading (Debezium's `["<commit LSN>","<LSN>"]`), or undefined. */
export function readSequence(reading: EnvelopeReading): string | undefined {
  if (reading.source.sequenceAt < 0) return undefined;
  return new WireReader(reading.valueBytes, reading.source.sequenceAt).readString();
}

// ---- the parts ----

/** A string, checked as the walk checks it, then read (`memo`: the same bytes, the same string). */
function readString(c: BodyCursor, wire: WireReader, memo?: RepeatedText): string {
  const length = c.readLength('string');
  const at = c.pos;
  c.skip(length, 'string');
  wire.pos = at;
  return memo ? memo.read(wire, length) : wire.readText(length);
}

/** op: one ASCII letter as a rule, whose string V8 keeps (no allocation). */
function readOp(c: BodyCursor, wire: WireReader): string {
  const length = c.readLength('string');
  const at = c.pos;
  c.skip(length, 'string');
  const letter = wire.bytes[at] as number;
  if (length === 1 && letter < 0x80) return String.fromCharCode(letter);
  wire.pos = at;
  return wire.readText(length);
}

/** A long, checked as the walk checks it, then read exactly. */
function readLong(c: BodyCursor, wire: WireReader): Long {
  const at = c.pos;
  c.readVarint(10, 'long');
  wire.pos = at;
  return wire.readLong();
}

/** `["null", Row]` (either order): the row record's type and a read giving where it starts. */
function rowUnionOf(
  type: avro.Type,
  walk: Walker | undefined,
): { rowType: avro.types.RecordType; read: (c: BodyCursor) => number } | undefined {
  if (type.typeName !== 'union:unwrapped' || !walk?.branches) return undefined;
  const types = (type as avro.types.UnwrappedUnionType).types;
  const rowIndex = types.findIndex((t) => t.typeName === 'record');
  if (types.length !== 2 || rowIndex < 0 || types[1 - rowIndex]?.typeName !== 'null') {
    return undefined;
  }
  const rowWalk = walk.branches[rowIndex] as Walker;
  return {
    rowType: types[rowIndex] as avro.types.RecordType,
    read: (c) => {
      if (c.readIndex(2, 'union index') !== rowIndex) return -1;
      const at = c.pos;
      rowWalk.walk(c);
      return at;
    },
  };
}

type SourceKey = 'schema' | 'table' | 'lsn' | 'ts_ms' | 'txId';

const STRING_FIELDS = new Set<string>(['schema', 'table']);
const LONG_FIELDS = new Set<string>(['lsn', 'ts_ms', 'txId']);

/** The read of `T` or of a `["null", T]` union (either order), or undefined for another type. */
function nullableRead<T>(
  type: avro.Type,
  accepts: (t: avro.Type) => boolean,
  read: (c: BodyCursor, wire: WireReader) => T,
): ((c: BodyCursor, wire: WireReader) => T | null) | undefined {
  if (accepts(type)) return read;
  if (type.typeName !== 'union:unwrapped') return undefined;
  const types = (type as avro.types.UnwrappedUnionType).types;
  const valueIndex = types.findIndex(accepts);
  if (types.length !== 2 || valueIndex < 0 || types[1 - valueIndex]?.typeName !== 'null') {
    return undefined;
  }
  return (c, wire) => (c.readIndex(2, 'union index') === valueIndex ? read(c, wire) : null);
}

const isString = (t: avro.Type) => t.typeName === 'string';
const isLong = (t: avro.Type) => t.typeName === 'long' || t.typeName === 'abstract:long';

function compileSourceStep(type: avro.Type, walk: Walker): Step | undefined {
  if (type.typeName !== 'record' || !walk.fields) return undefined;
  const walks = walk.fields;
  const steps: Step[] = [];
  for (const [i, field] of (type as avro.types.RecordType).fields.entries()) {
    const name = field.name;
    if (STRING_FIELDS.has(name) || LONG_FIELDS.has(name)) {
      const memo = new RepeatedText();
      const read = STRING_FIELDS.has(name)
        ? nullableRead(field.type, isString, (c, wire) => readString(c, wire, memo))
        : nullableRead(field.type, isLong, readLong);
      if (!read) return undefined;
      const key = name as SourceKey;
      steps.push((c, reading, wire) => {
        (reading.source as Record<SourceKey, unknown>)[key] = read(c, wire);
      });
    } else if (name === 'sequence') {
      const at = nullableRead(field.type, isString, (c) => {
        const start = c.pos;
        c.skip(c.readLength('string'), 'string');
        return start;
      });
      if (!at) return undefined;
      steps.push((c, reading, wire) => {
        reading.source.sequenceAt = at(c, wire) ?? -1;
      });
    } else {
      const fieldWalk = walks[i] as Walker;
      steps.push((c) => fieldWalk.walk(c));
    }
  }
  return (c, reading, wire) => {
    c.enter();
    for (let i = 0; i < steps.length; i++) (steps[i] as Step)(c, reading, wire);
    c.leave();
  };
}

// Micro-benchmark of the numeric decode cost per decimal.handling.mode: one million numeric values
// encoded as Debezium writes them (precise: Connect Decimal bytes for numeric(p,s), Debezium's
// VariableScaleDecimal struct for unconstrained numeric; string: an Avro string), decoded with avsc
// and converted to PostgreSQL text by pgferry's column codecs. Prints JSON: CPU ns per value
// (Avro read + conversion), bytes per value on the wire, for each shape.
//
//   npx tsx bench/numeric-decode.ts            # 1,000,000 values, best of 5 rounds
//   NUMERIC_BENCH_VALUES=200000 npx tsx bench/numeric-decode.ts
import avro from 'avsc';
import type { AvroJsonObject } from '../pipeline/codec/avro-json.js';
import { collectNamedTypes } from '../pipeline/codec/avro-json.js';
import { createColumnCodec } from '../pipeline/codec/column-codec.js';

const VALUES = Number(process.env.NUMERIC_BENCH_VALUES ?? 1_000_000);
const ROUNDS = 5;

/** Unscaled two's-complement big-endian bytes, as Java's BigInteger.toByteArray(). */
function unscaledBytes(value: bigint): Buffer {
  let hex = (value < 0n ? (1n << 2048n) + value : value).toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let bytes = Buffer.from(hex, 'hex');
  if (value < 0n) {
    while (bytes.length > 1 && bytes[0] === 0xff && ((bytes[1] ?? 0) & 0x80) !== 0)
      bytes = bytes.subarray(1);
  } else if (((bytes[0] ?? 0) & 0x80) !== 0) {
    bytes = Buffer.concat([Buffer.from([0]), bytes]);
  }
  return bytes;
}

/** A decimal text as (unscaled, scale). */
function split(text: string): { unscaled: bigint; scale: number } {
  const point = text.indexOf('.');
  const scale = point < 0 ? 0 : text.length - point - 1;
  return { unscaled: BigInt(text.replace('.', '')), scale };
}

/** Values of the kinds a ledger holds: money amounts, rates, a few long ones. Seeded, fixed. */
function sampleValues(count: number, scale: number | undefined): string[] {
  let seed = 42;
  const next = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  const out: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const kind = next() % 10;
    const sign = next() % 4 === 0 ? '-' : '';
    const digits = kind < 6 ? 1 + (next() % 8) : kind < 9 ? 1 + (next() % 3) : 20 + (next() % 10);
    let whole = '';
    for (let d = 0; d < digits; d += 1) whole += String(next() % 10);
    whole = whole.replace(/^0+(?=\d)/, '');
    const fracDigits = scale ?? (kind < 6 ? 2 : kind < 9 ? 10 : 4);
    let frac = '';
    for (let d = 0; d < fracDigits; d += 1) frac += String(next() % 10);
    out.push(`${sign}${whole}${frac ? `.${frac}` : ''}`);
  }
  return out;
}

const numericParams = (length: string, scale?: string) => ({
  '__debezium.source.column.type': 'NUMERIC',
  '__debezium.source.column.length': length,
  ...(scale === undefined ? {} : { '__debezium.source.column.scale': scale }),
});

interface Shape {
  name: string;
  fieldType: AvroJsonObject;
  values: unknown[];
}

function shapes(): Shape[] {
  const fixed = sampleValues(VALUES, 2);
  const variable = sampleValues(VALUES, undefined);
  return [
    {
      name: 'precise numeric(20,2): Connect Decimal bytes',
      fieldType: {
        type: 'bytes',
        scale: 2,
        precision: 20,
        'connect.version': 1,
        'connect.parameters': {
          scale: '2',
          'connect.decimal.precision': '20',
          ...numericParams('20', '2'),
        },
        'connect.name': 'org.apache.kafka.connect.data.Decimal',
        logicalType: 'decimal',
      },
      values: fixed.map((t) => unscaledBytes(split(t).unscaled)),
    },
    {
      name: 'string numeric(20,2): Avro string',
      fieldType: { type: 'string', 'connect.parameters': numericParams('20', '2') },
      values: fixed,
    },
    {
      name: 'precise numeric: VariableScaleDecimal struct',
      fieldType: {
        type: 'record',
        name: 'VariableScaleDecimal',
        namespace: 'io.debezium.data',
        fields: [
          { name: 'scale', type: 'int' },
          { name: 'value', type: 'bytes' },
        ],
        'connect.parameters': numericParams('0'),
        'connect.name': 'io.debezium.data.VariableScaleDecimal',
      },
      values: variable.map((t) => {
        const { unscaled, scale } = split(t);
        return { scale, value: unscaledBytes(unscaled) };
      }),
    },
    {
      name: 'string numeric: Avro string',
      fieldType: { type: 'string', 'connect.parameters': numericParams('0') },
      values: variable,
    },
  ];
}

function measure(shape: Shape) {
  const record = { type: 'record', name: 'Row', fields: [{ name: 'v', type: shape.fieldType }] };
  // avsc ignores the connect.* attributes; Debezium's schema has them, so the codec sees them.
  const type = avro.Type.forSchema(record as avro.Schema);
  const buffers = shape.values.map((v) => type.toBuffer({ v }));
  const bytes = buffers.reduce((sum, b) => sum + b.length, 0);
  const codec = createColumnCodec(shape.fieldType, collectNamedTypes(shape.fieldType));
  let best = Number.POSITIVE_INFINITY;
  let chars = 0;
  for (let round = 0; round < ROUNDS; round += 1) {
    chars = 0;
    const start = process.cpuUsage();
    for (const buffer of buffers) {
      const row = type.fromBuffer(buffer) as { v: unknown };
      const text = codec.toPg(row.v);
      chars += typeof text === 'string' ? text.length : 0;
    }
    const used = process.cpuUsage(start);
    best = Math.min(best, (used.user + used.system) * 1000);
  }
  return {
    shape: shape.name,
    values: buffers.length,
    cpuNsPerValue: Math.round(best / buffers.length),
    cpuMsPerMillion: Math.round((best / buffers.length) * 1000) / 1000,
    avroBytesPerValue: Math.round((bytes / buffers.length) * 100) / 100,
    textCharsPerValue: Math.round((chars / buffers.length) * 100) / 100,
  };
}

const results = shapes().map(measure);
console.log(
  JSON.stringify(
    { benchmark: 'numeric-decode', node: process.version, rounds: ROUNDS, results },
    null,
    2,
  ),
);

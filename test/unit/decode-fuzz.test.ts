// Decoding is bounded by the message (issue 15, item 3). The real captured Debezium records of
// schemas/examples (every column type the replication tests use), mutated PGFERRY_FUZZ_MUTATIONS
// times (100,000 by default): bit flips, truncations, inserted and deleted bytes, inflated string
// lengths and block counts, huge VariableScaleDecimal scales, wrong union indexes and schema ids.
// Each mutant goes alone through decode → transform → dedupe (the topology test driver, one
// long-lived topology over an in-memory registry, as in production). Nothing may escape the
// driver; a record that does not become a RowChange comes back as a failure with a typed,
// non-retriable reason (poison → dead-letter topic; SchemaIncompatibleError → its table stops);
// the RowChange of one that does is well-formed and within the message's text budget; RSS grows by
// less than RSS_GROWTH_LIMIT; and the unmutated records still give the same RowChanges, checked
// against the captured expectations and again along the way.
// Replay a failure: PGFERRY_FUZZ_SEED=<the printed seed> npx vitest run --project unit decode-fuzz
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PgferryError, PoisonMessageError, SchemaIncompatibleError } from '../../core/errors.js';
import { TEXT_ALLOWANCE, TEXT_PER_MESSAGE_BYTE } from '../../pipeline/codec/text-budget.js';
import { createDecodeProcessor } from '../../pipeline/processors/decode-processor.js';
import { createDedupeProcessor } from '../../pipeline/processors/dedupe-processor.js';
import { Topology } from '../../pipeline/processors/topology.js';
import { TopologyTestDriver } from '../../pipeline/processors/topology-test-driver.js';
import { createTransformProcessor } from '../../pipeline/processors/transform-processor.js';
import { type PgRow, type RowChange, UNCHANGED_TOAST } from '../../pipeline/row-change.js';
import type { KafkaRecord } from '../../pipeline/source/kafka-record.js';
import { mapVarintFields, type VarintField, type VarintKind } from '../support/avro-field-map.js';
import { encodeVarint } from '../support/avro-varint.js';
import {
  type ExpectedChange,
  type FixtureTopic,
  fixtureSchemaLookup,
  listFixtureTopics,
  loadMessages,
  toKafkaRecord,
  toPgRow,
} from '../support/debezium-fixtures.js';
import { createSeededRandom, type SeededRandom } from '../support/seeded-random.js';

const DEFAULT_SEED = 0x15_0003;
const SEED = Number(process.env.PGFERRY_FUZZ_SEED ?? DEFAULT_SEED);
const MUTATIONS = Number(process.env.PGFERRY_FUZZ_MUTATIONS ?? 100_000);
/** What the whole run may add to the process's RSS (a leak or one oversized allocation shows). */
const RSS_GROWTH_LIMIT = 200 * 1024 * 1024;
/** The longest one mutant may take: a count or scale that drives a long loop shows here. */
const SLOWEST_MUTANT_MS = 2_000;
/** How often the unmutated records are run again between mutants. */
const RECHECK_EVERY = 10_000;
const HEADER = 5;
const MiB = 1024 * 1024;

type Part = 'key' | 'value';

/** One captured record and what the mutators need to know about it. */
interface Subject {
  topic: FixtureTopic;
  record: KafkaRecord;
  /** The varints of each part, as offsets into the whole message (header included). */
  fields: Record<Part, VarintField[]>;
}

interface Mutant {
  record: KafkaRecord;
  mutations: string[];
}

const topics = listFixtureTopics();
const lookup = fixtureSchemaLookup(...topics);
const schemaIds = topics.flatMap((t) => {
  const { key, value } = loadMessages(t).schemaIds;
  return [key, value].filter((id): id is number => id !== null);
});

function createDriver(): TopologyTestDriver<KafkaRecord, RowChange> {
  return new TopologyTestDriver(
    Topology.from<KafkaRecord>()
      .through(createDecodeProcessor(lookup))
      .through(createTransformProcessor())
      .through(createDedupeProcessor()),
  );
}

async function fieldsOf(bytes: Buffer | null): Promise<VarintField[]> {
  if (!bytes || bytes.length === 0) return [];
  const { type } = await lookup.getSchema(bytes.readUInt32BE(1));
  return mapVarintFields(type, bytes.subarray(HEADER)).map((f) => ({
    ...f,
    start: f.start + HEADER,
    end: f.end + HEADER,
  }));
}

async function loadSubjects(): Promise<Subject[]> {
  const subjects: Subject[] = [];
  for (const topic of topics) {
    for (const message of loadMessages(topic).messages) {
      const record = toKafkaRecord(topic, message);
      subjects.push({
        topic,
        record,
        fields: { key: await fieldsOf(record.key), value: await fieldsOf(record.value) },
      });
    }
  }
  return subjects;
}

// ---- mutations ----

const splice = (bytes: Buffer, start: number, end: number, insert: Buffer): Buffer =>
  Buffer.concat([bytes.subarray(0, start), insert, bytes.subarray(end)]);

/** Counts and lengths no message of these sizes could hold, and the edges around them. */
const HUGE = [
  1_000_000_000n,
  2n ** 31n - 1n,
  2n ** 31n,
  2n ** 32n,
  2n ** 53n,
  2n ** 62n,
  2n ** 63n - 1n,
  -1n,
  -(2n ** 31n),
  -(2n ** 63n),
];
/** Decimal scales: PostgreSQL's limits (16383 after the point, 131072 before) and far beyond. */
const SCALES = [
  400_000_000n,
  16_384n,
  16_383n,
  1_000n,
  -1_000n,
  -131_071n,
  -131_072n,
  -131_073n,
  2n ** 31n - 1n,
  -(2n ** 31n),
];

type FieldMutator = (bytes: Buffer, field: VarintField, rnd: SeededRandom) => Buffer;
type BlindMutator = (bytes: Buffer, rnd: SeededRandom) => Buffer;

/** Mutators that rewrite one varint of a kind, chosen among those the part has. */
const FIELD_MUTATORS: Record<string, { kinds: VarintKind[]; mutate: FieldMutator }> = {
  'inflate-length': {
    kinds: ['length'],
    mutate: (bytes, f, rnd) => {
      const left = BigInt(bytes.length - f.end);
      const value = rnd.pick([left + 1n, left + BigInt(1 + rnd.int(1 << 20)), ...HUGE]);
      return splice(bytes, f.start, f.end, encodeVarint(value));
    },
  },
  'inflate-count': {
    kinds: ['count'],
    mutate: (bytes, f, rnd) => {
      const count = rnd.pick([...HUGE, BigInt(bytes.length), BigInt(bytes.length - f.end + 1)]);
      // A negative count is followed by the block's byte size: give it one, true or not.
      const size =
        count < 0n
          ? encodeVarint(rnd.pick([0n, 1n, BigInt(bytes.length - f.end), ...HUGE]))
          : Buffer.alloc(0);
      return splice(bytes, f.start, f.end, Buffer.concat([encodeVarint(count), size]));
    },
  },
  'inflate-block-size': {
    kinds: ['block-size'],
    mutate: (bytes, f, rnd) => splice(bytes, f.start, f.end, encodeVarint(rnd.pick(HUGE))),
  },
  'huge-scale': {
    kinds: ['scale'],
    mutate: (bytes, f, rnd) => splice(bytes, f.start, f.end, encodeVarint(rnd.pick(SCALES))),
  },
  'wrong-index': {
    kinds: ['index'],
    mutate: (bytes, f, rnd) =>
      splice(bytes, f.start, f.end, encodeVarint(rnd.pick([-1n, 1n, 2n, 3n, 7n, 200n, ...HUGE]))),
  },
  'overlong-varint': {
    kinds: ['length', 'count', 'index', 'int', 'long', 'scale'],
    mutate: (bytes, f, rnd) => {
      const continuation = Buffer.alloc(5 + rnd.int(8), 0xff);
      return splice(bytes, f.start, f.end, Buffer.concat([continuation, Buffer.from([0x01])]));
    },
  },
  'random-varint': {
    kinds: ['length', 'count', 'index', 'int', 'long', 'scale', 'block-size'],
    mutate: (bytes, f, rnd) => {
      const value = (BigInt(rnd.int(2 ** 32)) << 32n) | BigInt(rnd.int(2 ** 32));
      return splice(bytes, f.start, f.end, encodeVarint(BigInt.asIntN(64, value)));
    },
  },
};

const randomBytes = (rnd: SeededRandom, n: number): Buffer =>
  Buffer.from(Array.from({ length: n }, () => rnd.int(256)));

/** Mutators that know nothing of the schema. */
const BLIND_MUTATORS: Record<string, BlindMutator> = {
  'bit-flip': (bytes, rnd) => {
    const out = Buffer.from(bytes);
    for (let i = 1 + rnd.int(8); i > 0; i--) {
      const at = rnd.int(out.length);
      out[at] = (out[at] as number) ^ (1 << rnd.int(8));
    }
    return out;
  },
  'byte-set': (bytes, rnd) => {
    const out = Buffer.from(bytes);
    for (let i = 1 + rnd.int(4); i > 0; i--) {
      out[rnd.int(out.length)] = rnd.pick([0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff, rnd.int(256)]);
    }
    return out;
  },
  truncate: (bytes, rnd) =>
    bytes.subarray(0, rnd.chance(0.5) ? rnd.int(bytes.length) : HEADER + rnd.int(4)),
  extend: (bytes, rnd) => Buffer.concat([bytes, randomBytes(rnd, 1 + rnd.int(16))]),
  insert: (bytes, rnd) => {
    const at = rnd.int(bytes.length + 1);
    return splice(bytes, at, at, randomBytes(rnd, 1 + rnd.int(8)));
  },
  delete: (bytes, rnd) => {
    const at = rnd.int(bytes.length);
    return splice(bytes, at, Math.min(bytes.length, at + 1 + rnd.int(16)), Buffer.alloc(0));
  },
  duplicate: (bytes, rnd) => {
    const at = rnd.int(bytes.length);
    const slice = bytes.subarray(at, Math.min(bytes.length, at + 1 + rnd.int(32)));
    return splice(bytes, at, at, slice);
  },
  'schema-id': (bytes, rnd) => {
    const out = Buffer.from(bytes);
    if (out.length < HEADER) return out;
    const id = rnd.chance(0.6)
      ? rnd.pick(schemaIds)
      : rnd.pick([0, 1, 0xffff_ffff, rnd.int(2 ** 32), 10_000 + rnd.int(1000)]);
    out.writeUInt32BE(id, 1);
    return out;
  },
  'magic-byte': (bytes, rnd) => {
    const out = Buffer.from(bytes);
    out[0] = 1 + rnd.int(255);
    return out;
  },
};

const FIELD_NAMES = Object.keys(FIELD_MUTATORS);
const BLIND_NAMES = Object.keys(BLIND_MUTATORS);

/** The bytes of one part after one or more mutations, and their names. */
function mutatePart(
  bytes: Buffer,
  fields: VarintField[],
  rnd: SeededRandom,
): { bytes: Buffer; names: string[] } {
  const names: string[] = [];
  let out = bytes;
  // A schema-aware mutation first (the field map describes only the untouched bytes) ...
  if (rnd.chance(0.55)) {
    const name = rnd.pick(FIELD_NAMES);
    const mutator = FIELD_MUTATORS[name] as { kinds: VarintKind[]; mutate: FieldMutator };
    const candidates = fields.filter((f) => mutator.kinds.includes(f.kind));
    if (candidates.length > 0) {
      out = mutator.mutate(out, rnd.pick(candidates), rnd);
      names.push(name);
    }
  }
  // ... then blind ones: at least one when the schema-aware one found nothing to change.
  while (names.length === 0 || rnd.chance(0.3)) {
    const name = rnd.pick(BLIND_NAMES);
    out = (BLIND_MUTATORS[name] as BlindMutator)(out, rnd);
    names.push(name);
  }
  return { bytes: out, names };
}

function mutate(subject: Subject, rnd: SeededRandom): Mutant {
  const { record } = subject;
  const parts: Part[] = [];
  if (record.value && (!record.key || rnd.chance(0.85))) parts.push('value');
  if (record.key && (parts.length === 0 || rnd.chance(0.05))) parts.push('key');
  const mutated = { ...record };
  const mutations: string[] = [];
  for (const part of parts) {
    const { bytes, names } = mutatePart(record[part] as Buffer, subject.fields[part], rnd);
    mutated[part] = bytes;
    mutations.push(...names.map((n) => `${part}:${n}`));
  }
  return { record: mutated, mutations };
}

// ---- checks ----

const textLength = (values: Record<string, unknown> | null): number =>
  Object.values(values ?? {}).reduce<number>(
    (n, v) => n + (typeof v === 'string' ? v.length : 0),
    0,
  );

/** What is wrong with a RowChange a mutant became, or undefined when it is well-formed. */
function checkChange(change: RowChange, record: KafkaRecord): string | undefined {
  if (typeof change.position !== 'bigint') return 'position is not a bigint';
  if (typeof change.table.schema !== 'string' || typeof change.table.name !== 'string')
    return 'table is not named by strings';
  if (!['c', 'r', 'u', 'd', 't'].includes(change.op)) return `op ${String(change.op)}`;
  for (const v of Object.values(change.key)) if (typeof v !== 'string') return 'key not text';
  for (const v of Object.values(change.after ?? {})) {
    if (v !== null && v !== UNCHANGED_TOAST && typeof v !== 'string') return 'value not text';
  }
  const { topic, partition, offset } = record;
  if (!isDeepStrictEqual(change.origin, { topic, partition, offset })) return 'origin is not it';
  const bytes = (record.key?.length ?? 0) + (record.value?.length ?? 0);
  const text = textLength(change.key) + textLength(change.after);
  if (text > TEXT_ALLOWANCE + TEXT_PER_MESSAGE_BYTE * bytes)
    return `${text} characters of text from ${bytes} bytes`;
  return undefined;
}

const sameBytes = (a: Buffer | null, b: Buffer | null): boolean =>
  a === b || (a !== null && b !== null && a.equals(b));

const describeMutant = (i: number, subject: Subject, mutant: Mutant): string =>
  `seed ${SEED} mutant #${i} of ${subject.topic}@${subject.record.offset} [${mutant.mutations.join(', ')}] key=${mutant.record.key?.toString('hex') ?? 'null'} value=${mutant.record.value?.toString('hex') ?? 'null'}`;

describe('decode → transform → dedupe under mutated real Debezium records', () => {
  it(`survives ${MUTATIONS} mutants of the captured corpus (seed ${SEED})`, async () => {
    console.log(
      `decode fuzz: seed ${SEED} (replay: PGFERRY_FUZZ_SEED=${SEED}), ${MUTATIONS} mutants`,
    );
    const rnd = createSeededRandom(SEED);
    const subjects = await loadSubjects();
    const driver = createDriver();

    // The unmutated corpus: each record alone gives what capture-fixtures.ts checked against
    // PostgreSQL; that is the baseline every later re-run must give again.
    const baseline: RowChange[][] = [];
    for (const subject of subjects) {
      const { outputs, failures } = await driver.pipe([subject.record]);
      expect(failures, `${subject.topic}@${subject.record.offset}`).toEqual([]);
      const message = loadMessages(subject.topic).messages.find(
        (m) => m.offset === subject.record.offset,
      );
      if (message?.expected === 'tombstone') expect(outputs).toEqual([]);
      else {
        // Values, not column names: fixture_named_ref's second column name is a known gap
        // (test/unit/envelope-schema.test.ts), which is not what this test is about.
        const expected = message?.expected as ExpectedChange;
        const values = (after: PgRow | null) => (after === null ? null : Object.values(after));
        expect(outputs.map((o) => ({ op: o.op, key: o.key, after: values(o.after) }))).toEqual([
          {
            op: expected.op,
            key: expected.key,
            after: values(expected.after === null ? null : toPgRow(expected.after)),
          },
        ]);
      }
      baseline.push(outputs);
    }
    const topicBatches = topics.map((t) =>
      subjects.filter((s) => s.topic === t).map((s) => s.record),
    );
    const topicBaseline = [];
    for (const batch of topicBatches) topicBaseline.push((await driver.pipe(batch)).outputs);

    const recheckCorpus = async (): Promise<void> => {
      for (const [i, subject] of subjects.entries()) {
        const { outputs, failures } = await driver.pipe([subject.record]);
        if (failures.length > 0 || !isDeepStrictEqual(outputs, baseline[i])) {
          expect.fail(
            `seed ${SEED}: ${subject.topic}@${subject.record.offset} changed after mutants`,
          );
        }
      }
    };

    const outcomes = new Map<string, number>();
    const byMutation = new Map<string, number>();
    const count = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
    const problems: string[] = [];
    const problem = (text: string) => {
      if (problems.length < 20) problems.push(text);
    };
    let slowestMs = 0;
    let slowest = '';
    const rssStart = process.memoryUsage().rss;
    let rssPeak = rssStart;
    const started = performance.now();

    for (let i = 0; i < MUTATIONS; i++) {
      const subject = rnd.pick(subjects);
      const mutant = mutate(subject, rnd);
      for (const m of mutant.mutations) count(byMutation, m);
      const t0 = performance.now();
      let result: Awaited<ReturnType<typeof driver.pipe>>;
      try {
        result = await driver.pipe([mutant.record]);
      } catch (error) {
        problem(
          `escaped the driver: ${(error as Error).stack} — ${describeMutant(i, subject, mutant)}`,
        );
        continue;
      }
      const ms = performance.now() - t0;
      if (ms > slowestMs) {
        slowestMs = ms;
        slowest = describeMutant(i, subject, mutant);
      }

      const { outputs, failures } = result;
      if (failures.length > 0) {
        const failure = failures[0];
        const error = failure?.error;
        if (
          failures.length !== 1 ||
          outputs.length !== 0 ||
          !(error instanceof PgferryError) ||
          error.retriable ||
          !error.message
        ) {
          problem(
            `failure without a typed reason: ${String(error)} — ${describeMutant(i, subject, mutant)}`,
          );
          continue;
        }
        const route =
          error instanceof SchemaIncompatibleError
            ? 'stops the table'
            : error instanceof PoisonMessageError
              ? 'dead-lettered'
              : 'other';
        if (route === 'other') problem(`${error.name} is neither poison nor incompatible`);
        count(outcomes, `${route}: ${failure?.processor} ${error.name}`);
      } else if (outputs.length === 0) {
        // Only a tombstone (no value) turns into nothing.
        if (mutant.record.value && mutant.record.value.length > 0) {
          problem(`vanished without a failure — ${describeMutant(i, subject, mutant)}`);
        }
        count(outcomes, 'tombstone');
      } else {
        const wrong =
          outputs.length === 1
            ? checkChange(outputs[0] as RowChange, mutant.record)
            : `${outputs.length} changes from one record`;
        if (wrong) problem(`${wrong} — ${describeMutant(i, subject, mutant)}`);
        const unchanged =
          sameBytes(mutant.record.key, subject.record.key) &&
          sameBytes(mutant.record.value, subject.record.value);
        if (unchanged && !isDeepStrictEqual(outputs, baseline[subjects.indexOf(subject)])) {
          problem(`unchanged bytes, different change — ${describeMutant(i, subject, mutant)}`);
        }
        count(outcomes, unchanged ? 'accepted (bytes unchanged)' : 'accepted (still decodes)');
      }

      if (i % 100 === 0) rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
      if ((i + 1) % RECHECK_EVERY === 0) await recheckCorpus();
    }
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    const elapsed = performance.now() - started;

    await recheckCorpus();
    for (const [t, batch] of topicBatches.entries()) {
      expect((await driver.pipe(batch)).outputs, `batch of ${topics[t]}`).toEqual(topicBaseline[t]);
    }

    const sorted = (map: Map<string, number>) =>
      Object.fromEntries([...map].sort((a, b) => b[1] - a[1]));
    console.log(
      JSON.stringify(
        {
          seed: SEED,
          mutants: MUTATIONS,
          corpus: subjects.length,
          seconds: Math.round(elapsed) / 1000,
          rssGrowthMiB: Math.round(((rssPeak - rssStart) / MiB) * 10) / 10,
          slowestMutantMs: Math.round(slowestMs * 10) / 10,
          outcomes: sorted(outcomes),
          mutations: sorted(byMutation),
        },
        null,
        2,
      ),
    );

    expect(problems).toEqual([]);
    expect(rssPeak - rssStart, `RSS growth (seed ${SEED})`).toBeLessThan(RSS_GROWTH_LIMIT);
    expect(slowestMs, `slowest mutant: ${slowest}`).toBeLessThan(SLOWEST_MUTANT_MS);
    // The mutants reached every route: the check is not passing by accident.
    const seen = [...outcomes.keys()].join('\n');
    expect(seen).toMatch(/dead-lettered: decode/);
    expect(seen).toMatch(/dead-lettered: transform MessageBoundsError/);
    expect(seen).toMatch(/accepted/);
  }, 180_000);
});

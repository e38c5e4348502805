// Binding: a decoded event may write only the table its topic names (TopicTableMap.bind: its
// `source` must name the topic's table, a selected one, outside pgferry's bookkeeping schema), and
// its schemas must be its topic's (registered under `<topic>-key` / `<topic>-value`); a row change
// without a key on a topic whose table has one is a key left out. Each failure is poison: that one
// record is dead-lettered with its reason, and no forged message can stop a table. A schema that
// is the topic's own and still cannot be followed is a real schema change: transform stops the
// table for it. Registry answers are cached (an id's subjects never change; a missing subject is
// asked again after a minute). Does I/O: never wrap it in poisonUntypedErrors.
import type { SchemaSubjects } from '../codec/schema-subjects.js';
import { subjectOf } from '../codec/schema-subjects.js';
import { ForeignSchemaError, MissingKeyError } from '../routing/binding-errors.js';
import { judgeSchemaOwnership } from '../routing/schema-ownership.js';
import type { TopicTableMap } from '../routing/topic-table-map.js';
import type { TableRef } from '../row-change.js';
import type { DecodedRecord } from './decode-processor.js';
import type { Processor, ProcessorContext } from './processor.js';

export interface TopicBindingOptions {
  map: TopicTableMap;
  /** The registry's subjects; without them only the source binding is checked. */
  subjects?: SchemaSubjects;
  /** How long an answer that is not a yes stays cached (default one minute). */
  recheckMs?: number;
  now?: () => number;
}

/** Ops of row changes: they carry their row's key when the table has one (not truncates). */
const KEYED_OPS = new Set(['c', 'r', 'u', 'd']);

interface Cached<T> {
  value: T;
  at: number;
}

/** A registry question still to ask before the record can be judged. */
type Question = () => Promise<void>;

/**
 * What a record of a topic was found to be for good: its source table bound to the topic and
 * every schema of it registered under the topic's own subjects (answers that never change).
 * A record alike in all four passes without being judged again.
 */
interface SettledBinding {
  schema: string;
  table: string;
  valueId: number;
  keyId: number;
}

/** `source` when its schema and table are text; else transform says what is wrong. */
function readSource(value: Record<string, unknown>): { schema: string; table: string } | undefined {
  const source = value.source;
  if (typeof source !== 'object' || source === null) return undefined;
  const { schema, table } = source as { schema?: unknown; table?: unknown };
  return typeof schema === 'string' && typeof table === 'string'
    ? (source as { schema: string; table: string })
    : undefined;
}

export function createTopicBindingProcessor(
  options: TopicBindingOptions,
): Processor<DecodedRecord, DecodedRecord> {
  const { map, subjects } = options;
  const recheckMs = options.recheckMs ?? 60_000;
  const now = options.now ?? Date.now;
  const subjectsById = new Map<number, Cached<readonly string[] | undefined>>();
  const subjectExists = new Map<string, Cached<boolean | undefined>>();
  /** Topics whose schemas could not be checked: said once each. */
  const unchecked = new Set<string>();
  /** Per topic, the last record that was judged its topic's for good. */
  const settled = new Map<string, SettledBinding>();

  /** Set while a record is judged again after its questions were answered: take the answers. */
  let takeAnswers = false;
  const fresh = <T>(entry: Cached<T> | undefined, isFinal: (v: T) => boolean) =>
    entry !== undefined && (isFinal(entry.value) || takeAnswers || now() - entry.at < recheckMs);

  /** The subjects of `id`, or the question that finds them. */
  const subjectsOfSchema = (id: number, ask: Question[]) => {
    const entry = subjectsById.get(id);
    if (fresh(entry, (v) => v !== undefined)) return entry?.value;
    ask.push(async () => {
      subjectsById.set(id, { value: await subjects?.subjectsOf(id), at: now() });
    });
    return undefined;
  };
  const exists = (subject: string, ask: Question[]) => {
    const entry = subjectExists.get(subject);
    if (fresh(entry, (v) => v === true)) return entry?.value;
    ask.push(async () => {
      subjectExists.set(subject, { value: await subjects?.hasSubject(subject), at: now() });
    });
    return undefined;
  };

  /**
   * Judges one schema of the record; adds to `ask` what it still needs to know. True when the
   * schema is the topic's for good (its id registered under the topic's subject).
   */
  const judgeSchema = (
    decoded: DecodedRecord,
    part: 'key' | 'value',
    id: number,
    ask: Question[],
    ctx: ProcessorContext,
  ): boolean => {
    const topic = decoded.record.topic;
    const subject = subjectOf(topic, part);
    const before = ask.length;
    const ofSchema = subjectsOfSchema(id, ask);
    if (ask.length > before) return false;
    if (ofSchema?.includes(subject)) return true;
    const subjectKnown = ofSchema === undefined ? undefined : exists(subject, ask);
    if (ask.length > before) return false;
    const ownership = judgeSchemaOwnership(subject, ofSchema, subjectKnown);
    if (ownership === 'foreign') {
      const owners = (ofSchema ?? []).join(', ') || 'no subject';
      throw new ForeignSchemaError(
        `the ${part} schema id ${id} is registered for ${owners}, not for this topic's ${subject}: the message mixes in another topic's schema`,
      );
    }
    if (ownership === 'unknown' && !unchecked.has(topic)) {
      unchecked.add(topic);
      ctx.log.warn(
        { topic, subject, schemaId: id },
        'cannot check that the message schemas belong to the topic (the registry does not answer which subjects a schema id has, or names subjects otherwise); only the source table is checked',
      );
    }
    return false;
  };

  /**
   * Throws when the record is not its topic's; returns the questions still open, and whether the
   * verdict holds for good (no registry to ask, or both schemas the topic's own).
   */
  const judge = (
    decoded: DecodedRecord,
    ctx: ProcessorContext,
  ): { ask: Question[]; final: boolean } => {
    const ask: Question[] = [];
    if (!subjects || decoded.value === null || decoded.valueSchema === null) {
      return { ask, final: !subjects };
    }
    const valueFinal = judgeSchema(decoded, 'value', decoded.valueSchema.id, ask, ctx);
    if (decoded.keySchema !== null) {
      const keyFinal = judgeSchema(decoded, 'key', decoded.keySchema.id, ask, ctx);
      return { ask, final: valueFinal && keyFinal };
    }
    const op = decoded.value.op;
    if (typeof op !== 'string' || !KEYED_OPS.has(op)) return { ask, final: false };
    const topic = decoded.record.topic;
    const keySubject = subjectOf(topic, 'key');
    const keyed = exists(keySubject, ask);
    if (keyed === true) {
      throw new MissingKeyError(
        `an op ${op} event without a key on ${topic}, whose table has a primary key (its key schemas are registered as ${keySubject}): the key was left out`,
      );
    }
    return { ask, final: false };
  };

  /** The record is alike (table and schema ids) to one judged its topic's for good. */
  const isSettled = (
    decoded: DecodedRecord,
    source: { schema: string; table: string },
  ): boolean => {
    const known = settled.get(decoded.record.topic);
    return (
      known !== undefined &&
      known.table === source.table &&
      known.schema === source.schema &&
      known.valueId === decoded.valueSchema?.id &&
      known.keyId === (decoded.keySchema?.id ?? -1)
    );
  };
  const settle = (decoded: DecodedRecord, source: TableRef): void => {
    settled.set(decoded.record.topic, {
      schema: source.schema,
      table: source.name,
      valueId: decoded.valueSchema?.id ?? -1,
      keyId: decoded.keySchema?.id ?? -1,
    });
  };

  return {
    name: 'bind',
    process(decoded, ctx) {
      const value = decoded.value;
      if (value === null) return [decoded]; // a tombstone writes nothing
      const read = readSource(value);
      // A record alike to one settled: no object made (most records).
      if (read === undefined || isSettled(decoded, read)) return [decoded];
      const source: TableRef = { schema: read.schema, name: read.table };
      map.bind(decoded.record.topic, source);
      const first = judge(decoded, ctx);
      if (first.ask.length === 0) {
        if (first.final) settle(decoded, source);
        return [decoded];
      }
      return (async () => {
        for (let verdict = first; verdict.ask.length > 0; ) {
          await Promise.all(verdict.ask.map((question) => question()));
          takeAnswers = true;
          try {
            verdict = judge(decoded, ctx);
          } finally {
            takeAnswers = false;
          }
          if (verdict.ask.length === 0 && verdict.final) settle(decoded, source);
        }
        return [decoded];
      })();
    },
  };
}

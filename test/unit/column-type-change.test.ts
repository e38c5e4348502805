// Schema evolution decisions per column: keep (equivalent, or the target already takes every
// value), widen (a bigger type of the same family), or incompatible (would lose or corrupt data).
import { describe, expect, it } from 'vitest';
import { normalizeType, planColumnTypeChange } from '../../sink/column-type-change.js';

const keep = { kind: 'keep' };
const widen = (to: string) => ({ kind: 'widen', to });

describe('normalizeType', () => {
  it('lower-cases, collapses blanks and drops the default time precision', () => {
    expect(normalizeType('  Timestamp(6)   Without  Time Zone ')).toBe(
      'timestamp without time zone',
    );
    expect(normalizeType('time(6) with time zone')).toBe('time with time zone');
    expect(normalizeType('timestamp(3) with time zone')).toBe('timestamp(3) with time zone');
    expect(normalizeType('NUMERIC(10,2)')).toBe('numeric(10,2)');
  });
});

describe('planColumnTypeChange', () => {
  it.each([
    ['integer', 'integer'],
    ['timestamp(6) without time zone', 'timestamp without time zone'],
    ['timestamp without time zone', 'timestamp(6) without time zone'],
    ['timestamp(6) with time zone', 'timestamp with time zone'],
    ['time(6) without time zone', 'time without time zone'],
    ['Character Varying(10)', 'character varying(10)'],
  ])('%s -> %s is the same type: keep', (from, to) => {
    expect(planColumnTypeChange(from, to)).toEqual(keep);
  });

  it.each([
    ['smallint', 'integer', 'integer'],
    ['integer', 'bigint', 'bigint'],
    ['smallint', 'bigint', 'bigint'],
    ['real', 'double precision', 'double precision'],
    ['character varying(10)', 'character varying(20)', 'character varying(20)'],
    ['character varying(10)', 'character varying', 'character varying'],
    ['character varying(10)', 'text', 'text'],
    ['character(5)', 'character(10)', 'character(10)'],
    ['numeric(10,2)', 'numeric(12,4)', 'numeric(12,4)'],
    ['numeric(10,2)', 'numeric(12,2)', 'numeric(12,2)'],
    ['numeric(10,2)', 'numeric', 'numeric'],
    ['integer', 'numeric(12,2)', 'numeric(12,2)'],
    ['bit varying(8)', 'bit varying(16)', 'bit varying(16)'],
  ])('%s -> %s widens to %s', (from, to, widened) => {
    expect(planColumnTypeChange(from, to)).toEqual(widen(widened));
  });

  it('widens to unbounded numeric when neither precision holds the other', () => {
    // (10,2) has 8 integer digits, (12,6) only 6: no bounded type holds both.
    expect(planColumnTypeChange('numeric(10,2)', 'numeric(12,6)')).toEqual(widen('numeric'));
  });

  it.each([
    ['bigint', 'integer'],
    ['integer', 'smallint'],
    ['double precision', 'real'],
    ['character varying(20)', 'character varying(10)'],
    ['numeric(12,4)', 'numeric(10,2)'],
    ['numeric', 'numeric(10,2)'],
    ['numeric', 'bigint'],
    ['numeric(12,2)', 'integer'],
    ['character varying', 'character varying(10)'],
    ['timestamp(3) without time zone', 'timestamp without time zone'],
    ['json', 'jsonb'],
  ])('%s -> %s: the target already takes the values, keep', (from, to) => {
    expect(planColumnTypeChange(from, to)).toEqual(keep);
  });

  it.each(['integer', 'boolean', 'numeric(10,2)', 'timestamp with time zone', 'jsonb', 'uuid'])(
    'text takes %s as text: keep',
    (to) => {
      expect(planColumnTypeChange('text', to)).toEqual(keep);
      expect(planColumnTypeChange('character varying', to)).toEqual(keep);
    },
  );

  it.each([
    ['integer', 'text'],
    ['bigint', 'character varying(20)'],
    ['boolean', 'integer'],
    ['integer', 'boolean'],
    ['timestamp without time zone', 'timestamp with time zone'],
    ['timestamp with time zone', 'timestamp without time zone'],
    ['time without time zone', 'time with time zone'],
    ['date', 'timestamp without time zone'],
    ['jsonb', 'text'],
    ['uuid', 'text'],
    ['integer[]', 'bigint'],
    ['integer[]', 'text[]'],
    ['bigint', 'double precision'],
  ])('%s -> %s is incompatible', (from, to) => {
    const plan = planColumnTypeChange(from, to);
    expect(plan.kind).toBe('incompatible');
    expect(plan).toMatchObject({ reason: expect.stringContaining(from) });
    expect(plan).toMatchObject({ reason: expect.stringContaining(to) });
  });
});

describe('planColumnTypeChange with user types (enums, domains)', () => {
  // Events carry a user type as its bare quoted name; the target's format_type() spells it
  // unquoted, quoted when needed, or schema-qualified when the schema is not on the search path.
  it.each([
    ['mood', '"mood"'],
    ['public.mood', '"mood"'],
    ['"Sales".mood', '"mood"'],
    ['"Mood"', '"mood"'],
    ['mood[]', '"mood"[]'],
    ['app.mood[]', '"mood"[]'],
  ])('%s (target) takes %s (event): keep', (from, to) => {
    expect(planColumnTypeChange(from, to)).toEqual(keep);
  });

  it.each([
    ['mood', '"color"'],
    ['mood', '"mood"[]'],
    ['mood[]', '"mood"'],
    ['integer', '"mood"'],
    ['moody', '"mood"'],
  ])('%s (target) vs %s (event) is incompatible', (from, to) => {
    expect(planColumnTypeChange(from, to).kind).toBe('incompatible');
  });
});

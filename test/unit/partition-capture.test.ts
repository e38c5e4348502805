// preflight's partitioned-table capture check, as a pure judgement of the connector's filters:
// the root must pass them (its changes are published under its name), and a snapshotting
// connector must not let the partitions in (each would be snapshotted onto its own topic).
import { describe, expect, it } from 'vitest';
import { formatTableList } from '../../migrate/connector/connector-selection.js';
import {
  judgePartitionCapture,
  readDebeziumList,
} from '../../migrate/preflight/source-partition-checks.js';

const EVENTS = {
  schema: 'public',
  name: 'events',
  partitions: ['public.events_2024', 'public.events_2025', 'public.events_2025_h0'],
};

describe('readDebeziumList', () => {
  it('matches whole names, case-insensitively unless an entry says (?-i), commas split entries', () => {
    const list = readDebeziumList('public.events, (?s-i)sales\\u002eOrders');
    expect(list?.('public.events')).toBe(true);
    expect(list?.('PUBLIC.EVENTS')).toBe(true);
    expect(list?.('public.events_2024')).toBe(false);
    expect(list?.('sales.Orders')).toBe(true);
    expect(list?.('sales.orders')).toBe(false);
  });

  it('reads the lists connector apply writes, and gives up on Java-only syntax', () => {
    const written = readDebeziumList(formatTableList(['public.events', 'app.*']));
    expect(written?.('public.events')).toBe(true);
    expect(written?.('public.events_2024')).toBe(false);
    expect(written?.('app.anything')).toBe(true);
    expect(readDebeziumList('\\Qpublic.events\\E')).toBeUndefined();
    expect(readDebeziumList('public.ev++')).toBeUndefined();
  });
});

describe('judgePartitionCapture', () => {
  it('passes roots named in table.include.list, whatever the snapshot mode', () => {
    const verdict = judgePartitionCapture([EVENTS], {
      config: { 'table.include.list': 'public.events', 'snapshot.mode': 'initial' },
    });
    expect(verdict.status).toBe('pass');
  });

  it('fails when the filters leave the root out (its changes would never be streamed)', () => {
    const verdict = judgePartitionCapture([EVENTS], {
      config: { 'table.include.list': 'public.events_.*' },
    });
    expect(verdict.status).toBe('fail');
    expect(verdict.details).toEqual(['public.events']);
    const excluded = judgePartitionCapture([EVENTS], {
      config: { 'table.exclude.list': 'public\\.events' },
    });
    expect(excluded.status).toBe('fail');
  });

  it('fails a snapshotting connector that lets the partitions in, passes it with no_data', () => {
    const initial = judgePartitionCapture([EVENTS], {
      config: { 'schema.include.list': 'public' },
    });
    expect(initial.status).toBe('fail');
    expect(initial.message).toMatch(/^snapshot\.mode = initial would snapshot 3 partition/);
    expect(initial.details).toEqual(EVENTS.partitions);
    const excluded = judgePartitionCapture([EVENTS], {
      config: { 'schema.include.list': 'public', 'table.exclude.list': 'public\\.events_.*' },
    });
    expect(excluded.status).toBe('pass');
    const noData = judgePartitionCapture([EVENTS], {
      config: { 'schema.include.list': 'public', 'snapshot.mode': 'no_data' },
    });
    expect(noData.status).toBe('pass');
  });

  it('skips before the connector is registered, warns on filters it cannot read', () => {
    expect(judgePartitionCapture([EVENTS], {}).status).toBe('skip');
    expect(
      judgePartitionCapture([EVENTS], { config: { 'table.include.list': '\\Qpublic.events\\E' } })
        .status,
    ).toBe('warn');
  });
});

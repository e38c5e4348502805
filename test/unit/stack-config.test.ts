// Static checks of the native stack's configuration: ports defined once and distinct, and every
// placeholder of the connector config provided by the stack's Connect worker.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8');

function stackDefaults(): Map<string, string> {
  const defaults = new Map<string, string>();
  for (const line of read('stack/defaults.env').split('\n')) {
    const match = /^(PGFERRY_[A-Z0-9_]+)=\$\{\1:-(.*)\}$/.exec(line.trim());
    if (match?.[1] && match[2] !== undefined) defaults.set(match[1], match[2]);
  }
  return defaults;
}

describe('stack/defaults.env', () => {
  it('defines every port once, each distinct and unprivileged', () => {
    const ports = [...stackDefaults()].filter(([name]) => name.endsWith('_PORT'));
    expect(ports.length).toBeGreaterThanOrEqual(8);
    const values = ports.map(([, value]) => Number(value));
    for (const port of values) {
      expect(Number.isInteger(port)).toBe(true);
      expect(port).toBeGreaterThan(1024);
      expect(port).toBeLessThan(65536);
    }
    expect(new Set(values).size).toBe(values.length);
  });

  it('keeps clear of the services this machine pre-starts on standard ports', () => {
    const taken = new Set([5432, 3306, 6379, 5672, 1883, 4222, 8080, 8081, 8083, 9090, 9092]);
    for (const [name, value] of stackDefaults()) {
      if (name.endsWith('_PORT')) expect(taken.has(Number(value)), name).toBe(false);
    }
  });
});

describe('the stack ports outside stack/defaults.env', () => {
  const ports = [...stackDefaults().keys()].filter((name) => name.endsWith('_PORT'));

  it('reserves every port from the ephemeral range (stack/lib/common.sh)', () => {
    const list = /reserve_stack_ports\(\) \{[\s\S]*?local ports=\(([^)]*)\)/.exec(
      read('stack/lib/common.sh'),
    )?.[1];
    expect(list, 'the ports=( ... ) list of reserve_stack_ports').toBeDefined();
    const reserved = [...(list ?? '').matchAll(/\$(\w+)/g)].map((m) => m[1]);
    expect([...reserved].sort()).toEqual([...ports].sort());
  });

  it("moves every port to distinct free ones in .ci/run's shifted block", () => {
    const shifted = new Map(
      [...read('.ci/run').matchAll(/\b(PGFERRY_\w+_PORT)=(\d+)/g)].map(
        (m) => [m[1] as string, m[2] as string] as const,
      ),
    );
    expect([...shifted.keys()].sort()).toEqual([...ports].sort());
    const values = [...shifted.values()].map(Number);
    expect(new Set(values).size).toBe(values.length);
    for (const [name, value] of shifted) expect(value, name).not.toBe(stackDefaults().get(name));
  });

  it('gives pgferry run and pgferry copy their metrics ports in `stack.sh env`', () => {
    const script = read('stack/stack.sh');
    expect(script).toContain('emit METRICS_PORT "$PGFERRY_METRICS_PORT"');
    expect(script).toContain('emit COPY_METRICS_PORT "$PGFERRY_COPY_METRICS_PORT"');
    expect(stackDefaults().get('PGFERRY_COPY_METRICS_PORT')).toBe('59465');
  });
});

describe('connect-config/debezium-source.json', () => {
  const file = JSON.parse(read('connect-config/debezium-source.json')) as {
    name: string;
    config: Record<string, string>;
  };
  const config = file.config;

  it('has every ${env:...} placeholder set by the stack on the Connect worker', () => {
    const placeholders = new Set<string>();
    for (const value of Object.values(config)) {
      for (const m of value.matchAll(/\$\{env:([A-Z0-9_]+)\}/g)) if (m[1]) placeholders.add(m[1]);
    }
    expect(placeholders.size).toBeGreaterThan(0);
    const worker = read('stack/lib/connect.sh');
    for (const name of placeholders) expect(worker, name).toMatch(new RegExp(`\\b${name}=`));
    // Credentials never sit in the file itself.
    expect(config['database.password']).toMatch(/^\$\{env:/);
  });

  it('sets what exact replication depends on', () => {
    expect(config['connector.class']).toBe('io.debezium.connector.postgresql.PostgresConnector');
    expect(config['plugin.name']).toBe('pgoutput');
    expect(config['topic.prefix']).toBe('cdc');
    expect(config['snapshot.mode']).toBe('initial');
    // string: the one mode that keeps a numeric's display scale and NaN/±Infinity; pgferry tells
    // numeric text from text by the propagated source column type, so both go together.
    expect(config['decimal.handling.mode']).toBe('string');
    expect(config['column.propagate.source.type']).toBe('.*');
    expect(config['interval.handling.mode']).toBe('string');
    expect(config['time.precision.mode']).toBe('adaptive_time_microseconds');
    // Truncates must reach pgferry (Debezium skips them by default).
    expect(config['skipped.operations']).toBe('none');
    expect(config['publication.autocreate.mode']).toBe('disabled');
    // Debezium 3 otherwise adds four __debezium.context.* headers to every message: ~170 bytes
    // beside a ~220-byte value, and the consumer's header decoding was a third of its Kafka CPU.
    expect(config['extended.headers.enabled']).toBe('false');
    for (const side of ['key', 'value']) {
      expect(config[`${side}.converter`]).toBe(
        'io.apicurio.registry.utils.converter.AvroConverter',
      );
      expect(config[`${side}.converter.apicurio.registry.as-confluent`]).toBe('true');
      expect(config[`${side}.converter.apicurio.registry.use-id`]).toBe('contentId');
      expect(config[`${side}.converter.apicurio.registry.headers.enabled`]).toBe('false');
    }
  });
});

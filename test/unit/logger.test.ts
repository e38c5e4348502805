import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config.js';
import { createLogger } from '../../core/logger.js';

function captureLines(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return {
    stream,
    lines: () =>
      text
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

describe('createLogger', () => {
  it('writes JSON lines with a textual level and censors secret fields at any depth', () => {
    const { stream, lines } = captureLines();
    const log = createLogger('info', stream);
    const config = loadConfig({
      KAFKA_SASL_MECHANISM: 'plain',
      KAFKA_SASL_USERNAME: 'u',
      KAFKA_SASL_PASSWORD: 'kafka-secret',
      TARGET_DB_PASSWORD: 'db-secret',
    });
    log.info({ config, password: 'top', db: { secret: 'x' }, table: 'public.orders' }, 'started');
    log.debug('not at info level');
    const [line, ...rest] = lines();
    expect(rest).toEqual([]);
    expect(line).toMatchObject({
      level: 'info',
      service: 'pgferry',
      msg: 'started',
      table: 'public.orders',
    });
    expect(line?.password).toBe('***');
    const text = JSON.stringify(line);
    for (const secret of ['kafka-secret', 'db-secret', '"top"', '"x"']) {
      expect(text).not.toContain(secret);
    }
  });
});

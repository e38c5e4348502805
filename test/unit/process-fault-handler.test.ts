// The process-level last resort (cli/process-fault-handler.ts, installed by cli/main.ts): an
// uncaught exception or an unhandled rejection becomes one JSON log line and exit code 1.
import { spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { installProcessFaultHandlers } from '../../cli/process-fault-handler.js';
import { createLogger } from '../../core/logger.js';
import { repoPath } from '../support/stack-env.js';

function installOnFake() {
  const lines: Record<string, unknown>[] = [];
  const exits: number[] = [];
  const fake = Object.assign(new EventEmitter(), { exit: (code: number) => exits.push(code) });
  const log = createLogger('info', {
    write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>),
  });
  installProcessFaultHandlers(log, fake);
  return { fake, lines, exits };
}

describe('installProcessFaultHandlers', () => {
  it('logs an uncaught exception as one fatal line with its stack and exits 1', () => {
    const { fake, lines, exits } = installOnFake();
    fake.emit('uncaughtException', new TypeError('boom'), 'uncaughtException');
    expect(exits).toEqual([1]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'fatal',
      msg: 'pgferry stopped: an error nothing handled',
      origin: 'uncaughtException',
      err: { type: 'TypeError', message: 'boom' },
    });
    expect(String((lines[0]?.err as { stack?: string } | undefined)?.stack)).toMatch(
      /TypeError: boom\n\s+at /,
    );
  });

  it('logs an unhandled rejection of a non-Error by its keys only, and only the first fault', () => {
    const { fake, lines, exits } = installOnFake();
    fake.emit('unhandledRejection', { code: 42, password: 'hunter2-secret' });
    fake.emit('uncaughtException', new Error('second'), 'uncaughtException');
    expect(exits).toEqual([1]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      origin: 'unhandledRejection',
      err: { message: 'a non-Error object was thrown (keys: code, password)' },
    });
    expect(JSON.stringify(lines)).not.toContain('hunter2-secret');
  });

  it('in a real process: exit 1 and one JSON line on stderr, for a throw and for a rejection', () => {
    const handler = repoPath('cli/process-fault-handler.ts');
    const logger = repoPath('core/logger.ts');
    for (const fault of [
      "setTimeout(() => { throw new RangeError('late'); }, 1);",
      "Promise.reject(new Error('nobody catches me'));",
    ]) {
      const script = `
        import { pino } from 'pino';
        import { installProcessFaultHandlers } from ${JSON.stringify(handler)};
        import { createLogger } from ${JSON.stringify(logger)};
        installProcessFaultHandlers(createLogger('info', pino.destination({ dest: 2, sync: true })));
        ${fault}`;
      const child = spawnSync(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script],
        {
          cwd: repoPath('.'),
          encoding: 'utf8',
          timeout: 30_000,
        },
      );
      expect(child.status, child.stderr).toBe(1);
      const lines = child.stderr.trim().split('\n');
      expect(lines, child.stderr).toHaveLength(1);
      const entry = JSON.parse(lines[0] ?? '') as { level: string; err: { message: string } };
      expect(entry.level).toBe('fatal');
      expect(entry.err.message).toMatch(/late|nobody catches me/);
    }
  });
});

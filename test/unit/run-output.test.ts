import { describe, expect, it } from 'vitest';
import { openRunOutput } from '../../cli/run-pipeline.js';
import { loadConfig } from '../../core/config.js';
import type { CliIo } from '../../migrate/command-context.js';

function fakeIo(isTty: boolean, isStderrTty: boolean) {
  const stdout: string[] = [];
  const logs: string[] = [];
  const io: CliIo = {
    stdout: (text) => stdout.push(text),
    stderr: () => undefined,
    logDestination: { write: (line: string) => logs.push(line) },
    isTty,
    isStderrTty,
  };
  return { io, stdout, logs };
}

describe('openRunOutput', () => {
  const config = loadConfig({ LOG_LEVEL: 'info' });

  it('view and logs on one terminal: logs below warn dropped, the others printed above the view', () => {
    const { io, stdout, logs } = fakeIo(true, true);
    const { log, progress } = openRunOutput(config, io, 'auto');
    expect(progress.plan).toEqual({ display: 'view', quietLogs: true });
    progress.terminal?.draw(['the view']);
    log.info('chatty');
    log.warn('careful');
    expect(logs).toHaveLength(1);
    expect(JSON.parse(logs[0] as string)).toMatchObject({ level: 'warn', msg: 'careful' });
    expect(stdout).toEqual(['the view\n', '\r\u001b[1A\u001b[J', 'the view\n']);
  });

  it('view on stdout, logs to another place: every log line as configured, untouched', () => {
    const { io, stdout, logs } = fakeIo(true, false);
    const { log, progress } = openRunOutput(config, io, 'auto');
    expect(progress.plan).toEqual({ display: 'view', quietLogs: false });
    progress.terminal?.draw(['the view']);
    log.info('chatty');
    expect(logs.map((l) => JSON.parse(l).msg)).toEqual(['chatty']);
    expect(stdout).toEqual(['the view\n']);
  });

  it('no terminal: summary log lines, no view', () => {
    const { io } = fakeIo(false, false);
    const { log, progress } = openRunOutput(config, io, 'auto');
    expect(progress).toEqual({ plan: { display: 'log', quietLogs: false } });
    expect(log.level).toBe('info');
    expect(openRunOutput(config, io, 'tty').progress.plan.display).toBe('view');
  });
});

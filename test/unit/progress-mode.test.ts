import { describe, expect, it } from 'vitest';
import { planProgress, quietLogLevel, readProgressMode } from '../../ops/progress/progress-mode.js';
import { ProgressTerminal } from '../../ops/progress/progress-terminal.js';

describe('planProgress', () => {
  const plan = (
    requested: 'auto' | 'tty' | 'log' | 'off',
    stdout: boolean,
    stderr: boolean,
    logSeconds = 30,
  ) => planProgress({ requested, stdoutIsTty: stdout, stderrIsTty: stderr, logSeconds });

  it('auto: the view on a terminal, summary log lines elsewhere', () => {
    expect(plan('auto', true, true)).toEqual({ display: 'view', quietLogs: true });
    expect(plan('auto', true, false)).toEqual({ display: 'view', quietLogs: false });
    expect(plan('auto', false, true)).toEqual({ display: 'log', quietLogs: false });
    expect(plan('auto', false, false)).toEqual({ display: 'log', quietLogs: false });
    expect(plan('auto', false, false, 0)).toEqual({ display: 'off', quietLogs: false });
  });

  it('tty, log and off force their display', () => {
    expect(plan('tty', false, false)).toEqual({ display: 'view', quietLogs: false });
    expect(plan('tty', true, true, 0)).toEqual({ display: 'view', quietLogs: true });
    expect(plan('log', true, true)).toEqual({ display: 'log', quietLogs: false });
    // PROGRESS_LOG_SECONDS=0 means no summary lines, even when asked for them.
    expect(plan('log', false, false, 0)).toEqual({ display: 'off', quietLogs: false });
    expect(plan('off', true, true)).toEqual({ display: 'off', quietLogs: false });
  });

  it('reads --progress values and quiets chatty log levels only', () => {
    expect(readProgressMode(' TTY ')).toBe('tty');
    expect(readProgressMode('json')).toBeUndefined();
    expect(['trace', 'debug', 'info', 'warn', 'error', 'silent'].map(quietLogLevel)).toEqual([
      'warn',
      'warn',
      'warn',
      'warn',
      'error',
      'silent',
    ]);
  });
});

describe('ProgressTerminal', () => {
  it('redraws in place: cursor up over the last frame, erase down, new lines', () => {
    const out: string[] = [];
    const terminal = new ProgressTerminal((t) => out.push(t));
    terminal.draw(['a', 'b']);
    terminal.draw(['c', 'd', 'e']);
    expect(out).toEqual(['a\nb\n', '\r\u001b[2A\u001b[Jc\nd\ne\n']);
  });

  it('prints other output above the frame and redraws it', () => {
    const out: string[] = [];
    const terminal = new ProgressTerminal((t) => out.push(`out:${t}`));
    terminal.printAbove('early\n', (t) => out.push(`err:${t}`));
    terminal.draw(['a', 'b']);
    terminal.printAbove('{"level":"warn"}\n', (t) => out.push(`err:${t}`));
    expect(out).toEqual([
      'err:early\n',
      'out:a\nb\n',
      'out:\r\u001b[2A\u001b[J',
      'err:{"level":"warn"}\n',
      'out:a\nb\n',
    ]);
  });

  it('replaces the frame with the final lines and draws nothing afterwards', () => {
    const out: string[] = [];
    const terminal = new ProgressTerminal((t) => out.push(t));
    terminal.draw(['a', 'b', 'c']);
    terminal.finish(['done']);
    terminal.draw(['x']);
    terminal.printAbove('late\n', (t) => out.push(t));
    expect(out).toEqual(['a\nb\nc\n', '\r\u001b[3A\u001b[Jdone\n', 'late\n']);
  });

  it('cuts lines to the width and the frame to the height, so nothing wraps or scrolls', () => {
    const out: string[] = [];
    const terminal = new ProgressTerminal(
      (t) => out.push(t),
      () => ({ columns: 5, rows: 3 }),
    );
    terminal.draw(['abcdefgh', 'abcd', 'x', 'y']);
    terminal.draw(['z']);
    expect(out).toEqual(['abcd\nabcd\n', '\r\u001b[2A\u001b[Jz\n']);
  });
});

// The processes the benchmark started (pgferry children, its Connect worker), so an interrupted
// run (Ctrl-C, SIGTERM) stops them before it cleans up; nothing else is ever signalled.
import type { ChildProcess } from 'node:child_process';

const children = new Set<ChildProcess>();

export function trackChild(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export function stopChildren(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  }
}

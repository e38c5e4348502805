// The processes the benchmark started (pgferry children, its Connect worker, the copy phase's
// psql, pg_dump and pg_restore pipelines), so an interrupted run (Ctrl-C, SIGTERM) stops them
// before it cleans up; nothing else is ever signalled. A child started as a process group leader
// (spawn with `detached: true`) is stopped with its whole group (a shell pipeline and its parts).
import type { ChildProcess } from 'node:child_process';

const children = new Map<ChildProcess, { group: boolean }>();

export function trackChild(child: ChildProcess, options: { group?: boolean } = {}): ChildProcess {
  children.set(child, { group: options.group === true });
  child.once('exit', () => children.delete(child));
  return child;
}

/** Signals a tracked child, or its process group if it leads one. */
export function signalChild(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  if (children.get(child)?.group && child.pid !== undefined) {
    try {
      process.kill(-child.pid, signal);
      return;
    } catch {
      // The group is gone already; fall through to the child itself.
    }
  }
  child.kill(signal);
}

export function stopChildren(): void {
  for (const child of children.keys()) signalChild(child, 'SIGTERM');
}

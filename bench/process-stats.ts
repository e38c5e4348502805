// CPU time and memory of a child process from /proc (Linux): what the benchmark charges a run.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  ticksPerSecond ??=
    Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return ticksPerSecond;
}

export interface ProcessStats {
  /** User + system CPU seconds the process used so far. */
  cpuSeconds: number;
  rssBytes: number;
  /** Peak resident set size over the process's life (VmHWM). */
  peakRssBytes: number;
}

export function readProcessStats(pid: number): ProcessStats | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) =>
      Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    return {
      cpuSeconds: (utime + stime) / clockTicks(),
      rssBytes: kb('VmRSS'),
      peakRssBytes: kb('VmHWM'),
    };
  } catch {
    return undefined;
  }
}

/** Samples a process every `intervalMs`; `stop` returns the last sample and the peak RSS seen. */
export function sampleProcess(pid: number, intervalMs = 500): { stop(): ProcessStats | undefined } {
  let last = readProcessStats(pid);
  let peak = last?.peakRssBytes ?? 0;
  const timer = setInterval(() => {
    const now = readProcessStats(pid);
    if (!now) return;
    last = now;
    peak = Math.max(peak, now.peakRssBytes, now.rssBytes);
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      const now = readProcessStats(pid) ?? last;
      if (!now) return undefined;
      return { ...now, peakRssBytes: Math.max(peak, now.peakRssBytes) };
    },
  };
}

/** The machine's CPU counters (all cores), from /proc/stat: total and idle jiffies. */
export function readMachineCpu(): { total: number; idle: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const total = values.reduce((a, b) => a + b, 0);
  // idle + iowait
  return { total, idle: (values[3] ?? 0) + (values[4] ?? 0) };
}

/** Percent of all cores busy between two readings (everything on the machine, not one process). */
export function machineBusyPercent(
  before: { total: number; idle: number },
  after: { total: number; idle: number },
): number {
  const total = after.total - before.total;
  return total > 0 ? Math.round((1000 * (total - (after.idle - before.idle))) / total) / 10 : 0;
}

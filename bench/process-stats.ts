// CPU time and memory of a child process from /proc (Linux): what the benchmark charges a run.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { repoPath } from '../test/support/stack-env.js';

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
  /** CPU seconds the process had used when the sampling began (`sampleProcess`): its start. */
  cpuSecondsAtStart?: number;
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
  const first = readProcessStats(pid);
  let last = first;
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
      return {
        ...now,
        peakRssBytes: Math.max(peak, now.peakRssBytes),
        ...(first ? { cpuSecondsAtStart: first.cpuSeconds } : {}),
      };
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

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces). */
function statFields(pid: number | 'self'): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds of this process's children that have exited and been waited for (cutime + cstime,
 * their own children included): the difference around a child's life is that child's CPU, exact.
 */
export function readExitedChildrenCpuSeconds(): number {
  const fields = statFields('self') ?? [];
  return (Number(fields[13] ?? 0) + Number(fields[14] ?? 0)) / clockTicks();
}

/**
 * CPU seconds a process tree root and its direct children used so far: a PostgreSQL postmaster
 * (own + exited backends via cutime/cstime) plus its live backends and helpers. The difference
 * of two readings is what the cluster spent in between, whoever it served.
 */
export function readProcessTreeCpuSeconds(rootPid: number): number {
  const root = statFields(rootPid);
  if (!root) return Number.NaN;
  let ticks = Number(root[11]) + Number(root[12]) + Number(root[13]) + Number(root[14]);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(Number(entry));
    // fields[1] is the parent pid.
    if (fields && Number(fields[1]) === rootPid) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / clockTicks();
}

/** Pid of a stack service (its pid file in .stack/run): a postmaster, the Connect worker, Kafka. */
export function stackServicePid(service: string): number {
  try {
    return Number(readFileSync(repoPath(`.stack/run/${service}.pid`), 'utf8').trim());
  } catch {
    return Number.NaN;
  }
}

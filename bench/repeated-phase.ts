// One figure from several runs of a phase (BENCH_REPEAT): the median, with the min and max beside
// it. The phase's other figures are those of its median run (by events/s), so a reader sees one
// consistent run and how far the others were from it; every run is listed.
import type { PhaseFigures } from './bench-report.js';

/** The figures whose spread the JSON gives. */
const SPREAD_FIGURES = [
  'eventsPerSecond',
  'seconds',
  'steadyEventsPerSecond',
  'cpuSecondsPerMillionEvents',
  'pgferryCpuSecondsPerMillionEvents',
  'pgferryDrainCpuSecondsPerMillionEvents',
  'connectWorkerCpuSecondsPerMillionEvents',
  'targetCpuSecondsPerMillionEvents',
  'peakRssMiB',
  'workerPeakRssMiB',
  'machineBusyPercent',
] as const;

/** The figures each run keeps in `runs` (the rest are the median run's). */
const RUN_FIGURES = ['ok', ...SPREAD_FIGURES, 'checksum', 'log', 'error'] as const;

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function spreadOf(values: readonly number[]): Spread | undefined {
  if (values.length === 0) return undefined;
  return {
    median: Math.round(median(values) * 100) / 100,
    min: Math.min(...values),
    max: Math.max(...values),
  };
}

/**
 * The phase's figures over its runs: those of the median run (the lower of the two middle ones
 * for an even count) with `eventsPerSecond` the median of all, `spread` per figure and `runs`.
 * A failed run is listed and counted in `failedRuns`; none ok = the phase failed.
 */
export function summarizeRuns(runs: readonly PhaseFigures[]): PhaseFigures {
  if (runs.length === 1) return runs[0] as PhaseFigures;
  const ok = runs.filter((r) => r.ok && typeof r.eventsPerSecond === 'number');
  const listed = runs.map((r) =>
    Object.fromEntries(RUN_FIGURES.filter((k) => r[k] !== undefined).map((k) => [k, r[k]])),
  );
  if (ok.length === 0) {
    return { ...(runs[0] as PhaseFigures), repetitions: runs.length, runs: listed };
  }
  const byRate = [...ok].sort(
    (a, b) => (a.eventsPerSecond as number) - (b.eventsPerSecond as number),
  );
  const middle = byRate[Math.floor((byRate.length - 1) / 2)] as PhaseFigures;
  const spread: Record<string, Spread> = {};
  for (const figure of SPREAD_FIGURES) {
    const values = ok.map((r) => r[figure]).filter((v): v is number => typeof v === 'number');
    const s = values.length === ok.length ? spreadOf(values) : undefined;
    if (s) spread[figure] = s;
  }
  return {
    ...middle,
    eventsPerSecond: Math.round(median(ok.map((r) => r.eventsPerSecond as number))),
    repetitions: runs.length,
    ...(ok.length < runs.length ? { failedRuns: runs.length - ok.length } : {}),
    spread,
    runs: listed,
  };
}

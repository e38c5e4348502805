// Runs the bench's phases: each under names of its own, against a stack that may be disturbed by
// other sessions' fault tests (a disturbed phase is run again once), repeated when asked (median,
// min, max: repeated-phase.ts), and gated by the checksum: a target that differs from the source
// gets no throughput figures. Each checked target database is dropped (unless BENCH_KEEP=1).
import { loadavg } from 'node:os';
import type { PhaseFigures } from './bench-report.js';
import type { BenchSettings } from './bench-settings.js';
import type { BenchTopic } from './bench-topic.js';
import { machineBusyPercent, readMachineCpu } from './process-stats.js';
import { summarizeRuns } from './repeated-phase.js';
import type { StackWatch } from './stack-watch.js';
import {
  compareFingerprints,
  dropTargetDatabase,
  type Fingerprints,
  fingerprintTables,
} from './target-database.js';

export class PhaseRunner {
  constructor(
    private readonly settings: BenchSettings,
    private readonly watch: StackWatch,
    private readonly log: (line: string) => void,
  ) {}

  /**
   * Runs a phase; an error becomes a failed phase (the others still run). A phase during which a
   * stack service it uses went down or restarted is run again once, with names of its own
   * (`<run id>r2`); if disturbed again, it reports no figures. `runId` names this run of it.
   */
  async phase(
    name: string,
    services: readonly string[],
    run: (settings: BenchSettings) => Promise<PhaseFigures>,
    runId = this.settings.runId,
  ): Promise<PhaseFigures> {
    for (let attempt = 1; ; attempt++) {
      this.log(`${name}${attempt > 1 ? ` (attempt ${attempt})` : ''}...`);
      const settings = {
        ...this.settings,
        runId: attempt === 1 ? runId : `${runId}r${attempt}`,
      };
      if (!(await this.watch.settle(services))) {
        this.log(`${name}: the stack is still disturbed after 180 s; running anyway`);
      }
      const from = Date.now();
      const cpuBefore = readMachineCpu();
      let figures: PhaseFigures;
      try {
        figures = await run(settings);
      } catch (error) {
        figures = { ok: false, error: (error as Error).message };
      }
      // How busy the whole machine was (the stack, the phase, and anything else running on it).
      figures.machineBusyPercent = machineBusyPercent(cpuBefore, readMachineCpu());
      figures.loadAverage1m = Math.round((loadavg()[0] ?? 0) * 100) / 100;
      const disturbed = this.watch.between(from, Date.now(), services);
      if (disturbed.length === 0) {
        this.log(
          `${name}: ${figures.ok ? `${figures.eventsPerSecond} events/s` : `FAILED ${figures.error}`}`,
        );
        return figures;
      }
      this.log(`${name}: the stack was disturbed during the phase: ${disturbed.join('; ')}`);
      if (attempt >= 2) {
        return {
          ok: false,
          error: `the stack was disturbed during the phase (${disturbed.join('; ')}): figures withheld`,
          withheld: figures,
        };
      }
    }
  }

  /** `count` runs of a phase (run i > 1 under `<run id>n<i>`), summarized. */
  async repeated(
    name: string,
    count: number,
    services: readonly string[],
    run: (settings: BenchSettings) => Promise<PhaseFigures>,
  ): Promise<PhaseFigures> {
    const runs: PhaseFigures[] = [];
    for (let i = 1; i <= count; i++) {
      runs.push(
        await this.phase(
          count > 1 ? `${name} (run ${i} of ${count})` : name,
          services,
          run,
          this.runIdOf(i),
        ),
      );
    }
    return summarizeRuns(runs);
  }

  /** The run id of repetition `i` (1: the run's own). */
  runIdOf(i: number): string {
    return i === 1 ? this.settings.runId : `${this.settings.runId}n${i}`;
  }

  /** The checksum gate; the database is dropped once compared (unless BENCH_KEEP=1). */
  async checked(
    topic: BenchTopic,
    expected: Fingerprints,
    targetUrl: string,
    figures: PhaseFigures,
  ): Promise<PhaseFigures> {
    const diffs = compareFingerprints(expected, await fingerprintTables(targetUrl, topic.tables));
    if (!this.settings.keep) {
      const database = decodeURIComponent(new URL(targetUrl).pathname.slice(1));
      await dropTargetDatabase(this.settings.stack, database).catch(() => undefined);
    }
    return diffs.length === 0
      ? { ...figures, checksum: 'equal' }
      : { ok: false, error: `target checksum differs from the source: ${diffs.join('; ')}` };
  }
}

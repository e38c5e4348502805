// The workload mixes a run measures (BENCH_MIXES): the standard one (the headline race, every
// phase) and beside it update-heavy, delete-heavy, wide TOASTed rows and many small tables, each
// on a topic of its own. A mix's tables are named after its topic prefix (a run id), so a run never
// drops the source tables another run's kept topic (BENCH_TOPIC) is checked against.
import {
  type BenchTable,
  benchTable,
  STANDARD_HOT_SET,
  type WorkloadSpec,
} from './source-workload.js';

export const MIX_NAMES = [
  'standard',
  'update-heavy',
  'delete-heavy',
  'wide-toast',
  'many-tables',
] as const;
export type MixName = (typeof MIX_NAMES)[number];

export interface WorkloadMix extends WorkloadSpec {
  name: MixName;
  /** In the mix's topic prefix (`<run id><code>`): letters only, so the prefix stays a plain word. */
  code: string;
  /** Share of BENCH_MIX_EVENTS this mix writes (the TOASTed one is 8 KiB an event). */
  eventScale: number;
  /** Its own events per source transaction (a transaction writes one table); else the run's. */
  eventsPerTransaction?: number;
  /** One line for the report: what the mix is. */
  description: string;
}

const SMALL_TABLES = 100;

/** The mix's definition, its tables named `<prefix>_<table>`. */
export function buildWorkloadMix(name: MixName, prefix: string): WorkloadMix {
  const table = (suffix: string, shape: BenchTable['shape'], share: number) =>
    benchTable(`${prefix}_${suffix}`, shape, share);
  switch (name) {
    case 'standard':
      return {
        name,
        code: '',
        eventScale: 1,
        tables: [table('narrow', 'narrow', 0.6), table('wide', 'wide', 0.4)],
        updateShare: 0.25,
        deleteShare: 0.05,
        hot: STANDARD_HOT_SET,
        description:
          'narrow 60 % / wide 40 %; ~70 % creates, 25 % updates, 5 % deletes; half the updates and deletes among the 2,000 newest keys',
      };
    case 'update-heavy':
      return {
        name,
        code: 'u',
        eventScale: 1,
        tables: [table('narrow', 'narrow', 0.6), table('wide', 'wide', 0.4)],
        updateShare: 0.8,
        deleteShare: 0.02,
        hot: { keys: 1000, share: 0.9 },
        description:
          'narrow 60 % / wide 40 %; ~18 % creates, 80 % updates, 2 % deletes; 90 % of the updates and deletes among the 1,000 newest keys',
      };
    case 'delete-heavy':
      return {
        name,
        code: 'd',
        eventScale: 1,
        tables: [table('narrow', 'narrow', 0.6), table('wide', 'wide', 0.4)],
        updateShare: 0.15,
        deleteShare: 0.4,
        hot: STANDARD_HOT_SET,
        description:
          'narrow 60 % / wide 40 %; ~45 % creates, 15 % updates, 40 % deletes; half of them among the 2,000 newest keys',
      };
    case 'wide-toast':
      return {
        name,
        code: 't',
        eventScale: 0.25,
        tables: [table('toast', 'toast', 1)],
        updateShare: 0.25,
        deleteShare: 0.05,
        hot: STANDARD_HOT_SET,
        description:
          'one table, 8 KiB of incompressible text a row (stored out of line, TOAST), rewritten by every update; ~70 % creates, 25 % updates, 5 % deletes',
      };
    case 'many-tables':
      return {
        name,
        code: 'm',
        eventScale: 1,
        // 50 a transaction: every table gets changes (with 500, 200,000 events are 400
        // transactions over 100 tables), as an application with many small tables writes.
        eventsPerTransaction: 50,
        tables: Array.from({ length: SMALL_TABLES }, (_, i) =>
          table(`t${String(i + 1).padStart(3, '0')}`, 'narrow', 1 / SMALL_TABLES),
        ),
        updateShare: 0.25,
        deleteShare: 0.05,
        hot: STANDARD_HOT_SET,
        description: `${SMALL_TABLES} narrow tables, equal shares, transactions of 50 events; ~70 % creates, 25 % updates, 5 % deletes`,
      };
  }
}

/** BENCH_MIXES: the mixes to run, comma-separated (default all); standard is always run. */
export function readMixes(raw: string | undefined): MixName[] {
  if (raw === undefined || raw.trim() === '') return [...MIX_NAMES];
  const names = raw.split(',').map((m) => m.trim());
  const unknown = names.filter((m) => !(MIX_NAMES as readonly string[]).includes(m));
  if (unknown.length > 0)
    throw new Error(`BENCH_MIXES: unknown ${unknown.join(', ')} (known: ${MIX_NAMES.join(', ')})`);
  return MIX_NAMES.filter((m) => m === 'standard' || names.includes(m));
}

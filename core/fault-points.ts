// Fault injection for the fault suite (test/faults): named points in the apply path where a test
// makes `pgferry run` hold (so it can be SIGKILLed exactly there) or slow down (so a SIGTERM lands
// mid-batch); `copy-chunk` is reached before each chunk of `pgferry copy`. Inert unless
// PGFERRY_FAULT_INJECTION is set; never set it in production.
//   PGFERRY_FAULT_INJECTION=<point>[:hold|:delay=<ms>][@<n>|@*]   e.g. merge:hold@3 (the third
//   merge holds), copy-chunk:delay=200@* (every chunk waits 200 ms)
import type { Logger } from './logger.js';

export const FAULT_POINTS = ['staging-copy', 'merge', 'after-target-commit', 'copy-chunk'] as const;
export type FaultPointName = (typeof FAULT_POINTS)[number];

export interface FaultInjection {
  point: FaultPointName;
  action: { kind: 'hold' } | { kind: 'delay'; ms: number };
  /** The hit that triggers (1 = the first time the point is reached); later hits pass. 0 = every hit. */
  hit: number;
}

const SYNTAX = /^([a-z-]+)(?::(hold|delay=(\d{1,7})))?(?:@(\d{1,6}|\*))?$/;

/** Parses the PGFERRY_FAULT_INJECTION value; a message naming what is wrong, or the plan. */
export function parseFaultInjection(raw: string): FaultInjection | string {
  const match = SYNTAX.exec(raw.trim());
  if (!match) return 'expected <point>[:hold|:delay=<ms>][@<n>|@*]';
  const point = FAULT_POINTS.find((p) => p === match[1]);
  if (point === undefined) return `unknown point; expected one of ${FAULT_POINTS.join(', ')}`;
  const hit = match[4] === undefined ? 1 : match[4] === '*' ? 0 : Number(match[4]);
  if (hit < 1 && match[4] !== '*') return 'the hit number after @ starts at 1';
  const action: FaultInjection['action'] =
    match[3] !== undefined ? { kind: 'delay', ms: Number(match[3]) } : { kind: 'hold' };
  return { point, action, hit };
}

let plan: FaultInjection | undefined;
let log: Logger | undefined;
let hits = 0;

export function configureFaultInjection(next: FaultInjection | undefined, logger: Logger): void {
  plan = next;
  log = logger;
  hits = 0;
  if (next) logger.warn({ faultInjection: next }, 'fault injection is armed (testing only)');
}

/** True when `point` is the armed one (callers then take the slower, instrumented path). */
export function faultPointArmed(point: FaultPointName): boolean {
  return plan?.point === point;
}

/** Reached `point`: holds for ever, waits, or returns at once, as PGFERRY_FAULT_INJECTION says. */
export async function faultPoint(point: FaultPointName): Promise<void> {
  if (plan?.point !== point) return;
  hits += 1;
  if (plan.hit !== 0 && hits !== plan.hit) return;
  const action = plan.action;
  if (plan.hit !== 0 || hits === 1)
    log?.warn(
      { faultPoint: point, hit: hits, action: action.kind },
      `fault point ${point} reached`,
    );
  if (action.kind === 'hold') {
    // Until the process is killed: the test sends SIGKILL once it has read the line above.
    await new Promise<never>(() => undefined);
  }
  if (action.kind === 'delay') await new Promise((r) => setTimeout(r, action.ms));
}

// A small seeded PRNG for the demo load: the same --seed gives the same operations in the same
// order, so a benchmark or fault test can replay a workload (Math.random cannot be seeded).

/** mulberry32: 32-bit state, fast, good enough for picking rows and amounts (not for secrets). */
export class DemoRandom {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

  /** An integer in [min, max], both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** A money amount in [min, max] with two decimals, as the exact text PostgreSQL gets. */
  amount(min: number, max: number): string {
    const cents = this.int(Math.round(min * 100), Math.round(max * 100));
    return (cents / 100).toFixed(2);
  }
}

/** A seed for runs that were not given one; printed so the run can be repeated. */
export function chooseDemoSeed(now: number = Date.now()): number {
  return (now % 2_147_483_647) >>> 0;
}

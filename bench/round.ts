// Figures in the bench's JSON are rounded to a few digits: more would be noise on this machine.
export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

// The demo load's operations as plain data: what an application of the sample shop does, drawn
// from a seeded random source with fixed weights. Which row an operation touches is a fraction of
// the table's id range, resolved by SQL at run time (migrate/demo/demo-operation-apply.ts), so planning
// needs no database and the same seed plans the same operations.
import type { DemoRandom } from './demo-random.js';
import { DEMO_VOCABULARY } from './demo-vocabulary.js';

/** A row picked by its position in the table's id range: 0 = lowest id, just under 1 = highest. */
export type RowPick = number;

export interface OrderLine {
  product: RowPick;
  quantity: number;
}

export type DemoOperation =
  | { kind: 'insert-user'; handle: string; domain: string; balance: string }
  | { kind: 'update-email'; user: RowPick; tag: number; domain: string }
  | {
      kind: 'place-order';
      user: RowPick;
      lines: OrderLine[];
      details: { channel: string; shipping: { method: string; country: string }; gift: boolean };
    }
  | { kind: 'advance-order'; order: RowPick; tracking: string }
  | { kind: 'cancel-order'; order: RowPick }
  | { kind: 'delete-order'; order: RowPick }
  | { kind: 'transfer'; from: RowPick; to: RowPick; amount: string }
  | { kind: 'reprice-product'; product: RowPick; factor: string; restock: number }
  | { kind: 'delete-user'; user: RowPick };

export type DemoOperationKind = DemoOperation['kind'];

/**
 * Relative weights. Inserts outweigh deletes so the tables grow slowly; over a third of the
 * operations are multi-statement transactions (an order with its items and stock, a purge of an
 * order with its items, a balance transfer between two users).
 */
export const DEMO_OPERATION_MIX: readonly { kind: DemoOperationKind; weight: number }[] = [
  { kind: 'place-order', weight: 20 },
  { kind: 'advance-order', weight: 22 },
  { kind: 'insert-user', weight: 12 },
  { kind: 'update-email', weight: 10 },
  { kind: 'transfer', weight: 10 },
  { kind: 'reprice-product', weight: 8 },
  { kind: 'cancel-order', weight: 6 },
  { kind: 'delete-order', weight: 8 },
  { kind: 'delete-user', weight: 4 },
];

const TOTAL_WEIGHT = DEMO_OPERATION_MIX.reduce((sum, m) => sum + m.weight, 0);

/** Operations that run as one transaction of several statements. */
export function isMultiStatement(operation: DemoOperation): boolean {
  return (
    operation.kind === 'place-order' ||
    operation.kind === 'delete-order' ||
    operation.kind === 'transfer'
  );
}

export function chooseOperationKind(random: DemoRandom): DemoOperationKind {
  let ticket = random.next() * TOTAL_WEIGHT;
  for (const { kind, weight } of DEMO_OPERATION_MIX) {
    ticket -= weight;
    if (ticket < 0) return kind;
  }
  return (DEMO_OPERATION_MIX[DEMO_OPERATION_MIX.length - 1] as { kind: DemoOperationKind }).kind;
}

/** The next operation of the workload: a pure function of the random source's state. */
export function planDemoOperation(random: DemoRandom): DemoOperation {
  const v = DEMO_VOCABULARY;
  const kind = chooseOperationKind(random);
  switch (kind) {
    case 'insert-user':
      return {
        kind,
        handle: `${random.pick(v.firstNames)}.${random.pick(v.lastNames)}`,
        domain: random.pick(v.emailDomains),
        balance: random.amount(0, 500),
      };
    case 'update-email':
      return {
        kind,
        user: random.next(),
        tag: random.int(1, 999),
        domain: random.pick(v.emailDomains),
      };
    case 'place-order': {
      const count = random.int(1, 4);
      const lines: OrderLine[] = [];
      for (let i = 0; i < count; i += 1) {
        lines.push({ product: random.next(), quantity: random.int(1, 5) });
      }
      return {
        kind,
        user: random.next(),
        lines,
        details: {
          channel: random.pick(v.channels),
          shipping: { method: random.pick(v.shippingMethods), country: random.pick(v.countries) },
          gift: random.next() < 0.1,
        },
      };
    }
    case 'advance-order':
      return { kind, order: random.next(), tracking: `TRK${random.int(10_000_000, 99_999_999)}` };
    case 'cancel-order':
    case 'delete-order':
      return { kind, order: random.next() };
    case 'transfer':
      return { kind, from: random.next(), to: random.next(), amount: random.amount(1, 50) };
    case 'reprice-product':
      return {
        kind,
        product: random.next(),
        factor: random.amount(0.9, 1.1),
        restock: random.int(0, 20),
      };
    case 'delete-user':
      return { kind, user: random.next() };
  }
}

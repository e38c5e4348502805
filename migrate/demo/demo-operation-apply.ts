// Runs one planned demo operation against the source and counts the rows it changed. Every
// change is one pgferry can apply: all tables have primary keys, an order is purged together
// with its items, usernames are never re-used, and a pick that finds no row changes nothing.
import type pg from 'pg';
import type { DemoOperation } from './demo-operation.js';
import { DEMO_SQL_NAMES as N } from './demo-schema.js';

export interface DemoRowCounts {
  inserted: number;
  updated: number;
  deleted: number;
}

export const NO_ROWS: DemoRowCounts = { inserted: 0, updated: 0, deleted: 0 };

export function addRowCounts(a: DemoRowCounts, b: DemoRowCounts): DemoRowCounts {
  return {
    inserted: a.inserted + b.inserted,
    updated: a.updated + b.updated,
    deleted: a.deleted + b.deleted,
  };
}

/**
 * The id of the row at `fraction` of the table's id range (the next existing one at or above it,
 * else the first) among the rows matching `condition` (about alias t). Index scans only: min and
 * max of the key, then one range scan.
 */
function pickId(
  table: string,
  fraction: string,
  idType: 'int' | 'bigint',
  condition = 'true',
): string {
  return `(SELECT id FROM (
      (SELECT t.id FROM ${table} AS t
        WHERE t.id >= (SELECT (min(id) + floor(${fraction}::float8 * (max(id) - min(id) + 1)))::${idType} FROM ${table})
          AND ${condition}
        ORDER BY t.id LIMIT 1)
      UNION ALL
      (SELECT t.id FROM ${table} AS t WHERE ${condition} ORDER BY t.id LIMIT 1)
    ) AS pick LIMIT 1)`;
}

const OPEN_ORDER = `t.status IN ('pending', 'paid', 'shipped')`;
const CANCELLABLE_ORDER = `t.status IN ('pending', 'paid')`;
const CLOSED_ORDER = `t.status IN ('delivered', 'cancelled')`;
const USER_WITHOUT_ORDERS = `NOT EXISTS (SELECT 1 FROM ${N.orders} AS o WHERE o.user_id = t.id)`;

/**
 * A named (prepared) statement: parsed and planned once per connection, which nearly halves the
 * cost of the load's short statements, so one connection holds a few thousand rows per second.
 */
function prepared<R extends pg.QueryResultRow = pg.QueryResultRow>(
  client: pg.ClientBase,
  name: string,
  text: string,
  values: unknown[],
): Promise<pg.QueryResult<R>> {
  return client.query<R>({ name, text, values });
}

const inserted = (n: number | null): DemoRowCounts => ({ ...NO_ROWS, inserted: n ?? 0 });
const updated = (n: number | null): DemoRowCounts => ({ ...NO_ROWS, updated: n ?? 0 });
const deleted = (n: number | null): DemoRowCounts => ({ ...NO_ROWS, deleted: n ?? 0 });

/**
 * Applies `operation` with `client`. Multi-statement operations must run inside a transaction the
 * caller opened (see isMultiStatement); single statements may run in autocommit.
 */
export async function applyDemoOperation(
  client: pg.ClientBase,
  operation: DemoOperation,
): Promise<DemoRowCounts> {
  switch (operation.kind) {
    case 'insert-user': {
      const r = await prepared(
        client,
        'demo-insert-user',
        `INSERT INTO ${N.users} (id, username, email, balance)
         SELECT n.id, $1 || n.id, $1 || n.id || '@' || $2, $3::numeric
           FROM (SELECT ${N.nextId('users')} AS id) AS n`,
        [operation.handle, operation.domain, operation.balance],
      );
      return inserted(r.rowCount);
    }
    case 'update-email': {
      const r = await prepared(
        client,
        'demo-update-email',
        `UPDATE ${N.users} SET email = username || '+' || $2 || '@' || $3
          WHERE id = ${pickId(N.users, '$1', 'int')}`,
        [operation.user, operation.tag, operation.domain],
      );
      return updated(r.rowCount);
    }
    case 'place-order':
      return placeOrder(client, operation);
    case 'advance-order': {
      const r = await prepared(
        client,
        'demo-advance-order',
        `UPDATE ${N.orders}
            SET status = (CASE status WHEN 'pending' THEN 'paid' WHEN 'paid' THEN 'shipped'
                          ELSE 'delivered' END)::${N.orderStatus},
                details = CASE WHEN status = 'paid'
                          THEN details || jsonb_build_object('tracking', $2::text) ELSE details END,
                updated_at = now()
          WHERE id = ${pickId(N.orders, '$1', 'bigint', OPEN_ORDER)}`,
        [operation.order, operation.tracking],
      );
      return updated(r.rowCount);
    }
    case 'cancel-order': {
      const r = await prepared(
        client,
        'demo-cancel-order',
        `UPDATE ${N.orders}
            SET status = 'cancelled', updated_at = now(),
                details = details || jsonb_build_object('cancelled_at', now())
          WHERE id = ${pickId(N.orders, '$1', 'bigint', CANCELLABLE_ORDER)}`,
        [operation.order],
      );
      return updated(r.rowCount);
    }
    case 'delete-order': {
      // Items first (the source's foreign key), in the caller's transaction with the order.
      const picked = await prepared<{ id: string | null }>(
        client,
        'demo-pick-closed-order',
        `SELECT ${pickId(N.orders, '$1', 'bigint', CLOSED_ORDER)} AS id`,
        [operation.order],
      );
      const id = picked.rows[0]?.id;
      if (id === null || id === undefined) return NO_ROWS;
      const items = await prepared(
        client,
        'demo-delete-order-items',
        `DELETE FROM ${N.orderItems} WHERE order_id = $1`,
        [id],
      );
      const order = await prepared(
        client,
        'demo-delete-order',
        `DELETE FROM ${N.orders} WHERE id = $1`,
        [id],
      );
      return deleted((items.rowCount ?? 0) + (order.rowCount ?? 0));
    }
    case 'transfer': {
      const debit = await prepared<{ id: number }>(
        client,
        'demo-transfer-debit',
        `UPDATE ${N.users} SET balance = balance - $2::numeric
          WHERE id = ${pickId(N.users, '$1', 'int')} RETURNING id`,
        [operation.from, operation.amount],
      );
      const debited = debit.rows[0]?.id;
      if (debited === undefined) return NO_ROWS;
      const credit = await prepared(
        client,
        'demo-transfer-credit',
        `UPDATE ${N.users} SET balance = balance + $2::numeric
          WHERE id = ${pickId(N.users, '$1', 'int')} AND id <> $3`,
        [operation.to, operation.amount, debited],
      );
      return updated(1 + (credit.rowCount ?? 0));
    }
    case 'reprice-product': {
      const r = await prepared(
        client,
        'demo-reprice-product',
        `UPDATE ${N.products}
            SET price = greatest(1, least(9999, round(price * $2::numeric, 2))),
                stock = stock + $3, updated_at = now()
          WHERE id = ${pickId(N.products, '$1', 'int')}`,
        [operation.product, operation.factor, operation.restock],
      );
      return updated(r.rowCount);
    }
    case 'delete-user': {
      // Only a user without orders: the source's foreign key, and a realistic account deletion.
      const r = await prepared(
        client,
        'demo-delete-user',
        `DELETE FROM ${N.users} WHERE id = ${pickId(N.users, '$1', 'int', USER_WITHOUT_ORDERS)}`,
        [operation.user],
      );
      return deleted(r.rowCount);
    }
  }
}

/** The order, its items at the current prices, the order's total, the stock of its products. */
async function placeOrder(
  client: pg.ClientBase,
  operation: Extract<DemoOperation, { kind: 'place-order' }>,
): Promise<DemoRowCounts> {
  const order = await prepared<{ id: string }>(
    client,
    'demo-place-order',
    `INSERT INTO ${N.orders} (user_id, amount, status, details)
     SELECT ${pickId(N.users, '$1', 'int')}, 0, 'pending', $2::jsonb
      WHERE EXISTS (SELECT 1 FROM ${N.users})
     RETURNING id`,
    [operation.user, JSON.stringify(operation.details)],
  );
  const id = order.rows[0]?.id;
  if (id === undefined) return NO_ROWS;
  const items = await prepared(
    client,
    'demo-place-order-items',
    `INSERT INTO ${N.orderItems} (order_id, line, product, quantity, unit_price)
     SELECT $1, x.line, p.sku, x.quantity, p.price
       FROM unnest($2::float8[], $3::int[]) WITH ORDINALITY AS x(pick, quantity, line)
       JOIN ${N.products} AS p ON p.id = ${pickId(N.products, 'x.pick', 'int')}`,
    [id, operation.lines.map((l) => l.product), operation.lines.map((l) => l.quantity)],
  );
  const total = await prepared(
    client,
    'demo-place-order-total',
    `UPDATE ${N.orders}
        SET amount = (SELECT coalesce(sum(quantity * unit_price), 0) FROM ${N.orderItems} WHERE order_id = $1)
      WHERE id = $1`,
    [id],
  );
  const stock = await prepared(
    client,
    'demo-place-order-stock',
    `UPDATE ${N.products} AS p SET stock = p.stock - t.quantity, updated_at = now()
       FROM (SELECT product, sum(quantity) AS quantity FROM ${N.orderItems}
              WHERE order_id = $1 GROUP BY product) AS t
      WHERE p.sku = t.product`,
    [id],
  );
  return {
    inserted: 1 + (items.rowCount ?? 0),
    updated: (total.rowCount ?? 0) + (stock.rowCount ?? 0),
    deleted: 0,
  };
}

// The demo's sample source schema: the brief's `users` table plus a small shop (products, orders,
// order items) with the types real applications use. `setupDemoSchema` is idempotent so that
// `npm start` can run it every time: it creates what is missing and seeds only empty tables.
import type pg from 'pg';
import { PgferryError } from '../../core/errors.js';
import { qualifiedName, quoteLiteral } from '../../core/sql-identifier.js';
import { DEMO_VOCABULARY } from './demo-vocabulary.js';

export const DEMO_SCHEMA = 'public';

/**
 * The demo tables in dependency order, with the ORDER BY that lists their rows by primary key
 * (for fingerprints and checks). Fixed names: the main connector captures schema public.
 */
export const DEMO_TABLES = [
  { name: 'users', orderBy: 'id' },
  { name: 'products', orderBy: 'id' },
  { name: 'orders', orderBy: 'id' },
  { name: 'order_items', orderBy: 'order_id, line' },
] as const;

export type DemoTableName = (typeof DEMO_TABLES)[number]['name'];

export const DEMO_ORDER_STATUSES = [
  'pending',
  'paid',
  'shipped',
  'delivered',
  'cancelled',
] as const;

/** Quoted, schema-qualified names of the demo objects, for every statement that touches them. */
export const DEMO_SQL_NAMES = {
  users: qualifiedName(DEMO_SCHEMA, 'users'),
  products: qualifiedName(DEMO_SCHEMA, 'products'),
  orders: qualifiedName(DEMO_SCHEMA, 'orders'),
  orderItems: qualifiedName(DEMO_SCHEMA, 'order_items'),
  orderStatus: qualifiedName(DEMO_SCHEMA, 'order_status'),
  /** `nextval(...)` of a serial column's sequence, whatever the sequence is called. */
  nextId: (table: 'users' | 'orders') =>
    `nextval(pg_get_serial_sequence(${quoteLiteral(qualifiedName(DEMO_SCHEMA, table))}, 'id'))`,
} as const;

export interface DemoSeedSize {
  users: number;
  orders: number;
}

/**
 * Big enough that `pgferry copy` in `npm start` has something to show (~575,000 rows with the
 * items, ~55 MB: chunks going by for a few seconds), small enough that seeding stays around 15 s
 * on a 2-core machine.
 */
export const DEFAULT_DEMO_SEED_SIZE: DemoSeedSize = { users: 50_000, orders: 150_000 };

export interface DemoTableSetup {
  table: DemoTableName;
  created: boolean;
  seededRows: number;
  rows: number;
}

export interface DemoSetupResult {
  typeCreated: boolean;
  tables: DemoTableSetup[];
}

// Serializes concurrent `demo setup` runs (two `npm start` at once): the existence checks and
// CREATEs below would otherwise race.
const SETUP_LOCK_KEY = 0x70_67_64_6d; // "pgdm"

const N = DEMO_SQL_NAMES;

// No UNIQUE column is ever re-used by the load (usernames end in the row's id), so the target,
// which applies each table's rows in batches of their own, never sees a transient duplicate.
// Foreign keys are real on the source; schema-sync leaves them for cutover on the target.
const CREATE_STATEMENTS: Record<DemoTableName, string> = {
  users: `CREATE TABLE IF NOT EXISTS ${N.users} (
    id serial PRIMARY KEY,
    username varchar(50) NOT NULL UNIQUE,
    email varchar(255) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    balance numeric(12,2) NOT NULL DEFAULT 0
  )`,
  products: `CREATE TABLE IF NOT EXISTS ${N.products} (
    id serial PRIMARY KEY,
    sku varchar(32) NOT NULL UNIQUE,
    name text NOT NULL,
    price numeric(10,2) NOT NULL,
    stock integer NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
  )`,
  orders: `CREATE TABLE IF NOT EXISTS ${N.orders} (
    id bigserial PRIMARY KEY,
    user_id integer NOT NULL REFERENCES ${N.users} (id),
    amount numeric(12,2) NOT NULL,
    status ${N.orderStatus} NOT NULL DEFAULT 'pending',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    details jsonb NOT NULL DEFAULT '{}'
  )`,
  order_items: `CREATE TABLE IF NOT EXISTS ${N.orderItems} (
    order_id bigint NOT NULL REFERENCES ${N.orders} (id),
    line integer NOT NULL,
    product text NOT NULL,
    quantity integer NOT NULL CHECK (quantity > 0),
    unit_price numeric(10,2) NOT NULL,
    PRIMARY KEY (order_id, line)
  )`,
};

/** Columns the load writes; a pre-existing table without them is refused with a clear message. */
const REQUIRED_COLUMNS: Record<DemoTableName, readonly string[]> = {
  users: ['id', 'username', 'email', 'created_at', 'balance'],
  products: ['id', 'sku', 'name', 'price', 'stock', 'updated_at'],
  orders: ['id', 'user_id', 'amount', 'status', 'created_at', 'updated_at', 'details'],
  order_items: ['order_id', 'line', 'product', 'quantity', 'unit_price'],
};

/** The demo tables exist but not in the shape the demo needs (e.g. an older `users`). */
export class DemoSchemaError extends PgferryError {
  constructor(message: string) {
    super(message, { retriable: false });
  }
}

/**
 * Creates the demo type, tables and index when missing and seeds the empty tables, in one
 * transaction. Run it as a role that may create tables in the source's public schema.
 */
export async function setupDemoSchema(
  client: pg.ClientBase,
  size: DemoSeedSize = DEFAULT_DEMO_SEED_SIZE,
): Promise<DemoSetupResult> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [SETUP_LOCK_KEY]);
    const existing = await existingTables(client);
    const typeCreated = await createStatusType(client);
    const created = new Set<DemoTableName>();
    for (const { name } of DEMO_TABLES) {
      if (existing.has(name)) continue;
      await client.query(CREATE_STATEMENTS[name]);
      created.add(name);
    }
    // The brief's `users` (and the compose sample) has no balance: the transfers need one.
    await client.query(
      `ALTER TABLE ${N.users} ADD COLUMN IF NOT EXISTS balance numeric(12,2) NOT NULL DEFAULT 0`,
    );
    await client.query(`CREATE INDEX IF NOT EXISTS orders_user_id_idx ON ${N.orders} (user_id)`);
    await checkColumns(client);

    const seeded: Record<DemoTableName, number> = {
      users: 0,
      products: 0,
      orders: 0,
      order_items: 0,
    };
    const before = await countRows(client);
    if (before.users === 0) seeded.users = await seedUsers(client, size.users);
    if (before.products === 0) seeded.products = await seedProducts(client);
    if (before.orders === 0) {
      const { orders, items } = await seedOrders(client, size.orders);
      seeded.orders = orders;
      seeded.order_items = items;
    }
    const after = await countRows(client);
    await client.query('COMMIT');
    return {
      typeCreated,
      tables: DEMO_TABLES.map(({ name }) => ({
        table: name,
        created: created.has(name),
        seededRows: seeded[name],
        rows: after[name],
      })),
    };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** Which demo tables exist: the load refuses to start before `demo setup`. */
export async function existingTables(client: pg.ClientBase): Promise<Set<DemoTableName>> {
  const result = await client.query<{ name: DemoTableName }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = ANY($2::text[]) AND c.relkind IN ('r', 'p')`,
    [DEMO_SCHEMA, DEMO_TABLES.map((t) => t.name)],
  );
  return new Set(result.rows.map((r) => r.name));
}

async function createStatusType(client: pg.ClientBase): Promise<boolean> {
  const found = await client.query(
    `SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
      WHERE n.nspname = $1 AND t.typname = 'order_status'`,
    [DEMO_SCHEMA],
  );
  if (found.rowCount) return false;
  const labels = DEMO_ORDER_STATUSES.map(quoteLiteral).join(', ');
  await client.query(`CREATE TYPE ${N.orderStatus} AS ENUM (${labels})`);
  return true;
}

async function checkColumns(client: pg.ClientBase): Promise<void> {
  const result = await client.query<{ table: DemoTableName; column: string }>(
    `SELECT table_name AS "table", column_name AS "column" FROM information_schema.columns
      WHERE table_schema = $1 AND table_name = ANY($2::text[])`,
    [DEMO_SCHEMA, DEMO_TABLES.map((t) => t.name)],
  );
  const problems: string[] = [];
  for (const { name } of DEMO_TABLES) {
    const have = new Set(result.rows.filter((r) => r.table === name).map((r) => r.column));
    const missing = REQUIRED_COLUMNS[name].filter((c) => !have.has(c));
    if (missing.length > 0) problems.push(`${DEMO_SCHEMA}.${name} lacks ${missing.join(', ')}`);
  }
  if (problems.length > 0) {
    throw new DemoSchemaError(
      `the source already has demo tables of another shape (${problems.join('; ')}); drop them or use another database`,
    );
  }
}

async function countRows(client: pg.ClientBase): Promise<Record<DemoTableName, number>> {
  const result = await client.query<Record<DemoTableName, string>>(
    `SELECT (SELECT count(*) FROM ${N.users}) AS users,
            (SELECT count(*) FROM ${N.products}) AS products,
            (SELECT count(*) FROM ${N.orders}) AS orders,
            (SELECT count(*) FROM ${N.orderItems}) AS order_items`,
  );
  const row = result.rows[0] as Record<DemoTableName, string>;
  return {
    users: Number(row.users),
    products: Number(row.products),
    orders: Number(row.orders),
    order_items: Number(row.order_items),
  };
}

// The seed is computed from generate_series, not random(): the same rows on every fresh source.
async function seedUsers(client: pg.ClientBase, count: number): Promise<number> {
  const result = await client.query(
    `INSERT INTO ${N.users} (id, username, email, created_at, balance)
     SELECT s.id, s.handle || s.id, s.handle || s.id || '@' || ($4::text[])[1 + s.g % cardinality($4::text[])],
            now() - (s.g % 700) * interval '1 day' - (s.g * 3571 % 86400) * interval '1 second',
            (s.g * 7919 % 100000) / 100.0
       FROM (SELECT g, ${N.nextId('users')} AS id,
                    ($2::text[])[1 + g % cardinality($2::text[])] || '.' ||
                    ($3::text[])[1 + (g / cardinality($2::text[])) % cardinality($3::text[])] AS handle
               FROM generate_series(1, $1::int) AS g) AS s`,
    [count, DEMO_VOCABULARY.firstNames, DEMO_VOCABULARY.lastNames, DEMO_VOCABULARY.emailDomains],
  );
  return result.rowCount ?? 0;
}

async function seedProducts(client: pg.ClientBase): Promise<number> {
  const products = DEMO_VOCABULARY.products;
  const result = await client.query(
    `INSERT INTO ${N.products} (sku, name, price, stock)
     SELECT sku, name, price, 50 + ord * 7 % 200
       FROM unnest($1::text[], $2::text[], $3::numeric[]) WITH ORDINALITY AS p(sku, name, price, ord)
     ON CONFLICT (sku) DO NOTHING`,
    [products.map((p) => p.sku), products.map((p) => p.name), products.map((p) => p.price)],
  );
  return result.rowCount ?? 0;
}

/**
 * Orders with 1-4 items each, the amount already the sum of the items (no second write). Buyer
 * and product are picked by row number modulo a count computed once (an InitPlan), so both
 * joins are hash joins: linear in orders, not orders x users.
 */
async function seedOrders(
  client: pg.ClientBase,
  count: number,
): Promise<{ orders: number; items: number }> {
  const result = await client.query<{ orders: string; items: string }>(
    `WITH planned AS MATERIALIZED (
       SELECT g, ${N.nextId('orders')} AS id FROM generate_series(1, $1::int) AS g
     ), catalog AS (
       SELECT sku, price, row_number() OVER (ORDER BY id) AS rn FROM ${N.products}
     ), buyers AS (
       SELECT id, row_number() OVER (ORDER BY id) AS rn FROM ${N.users}
     ), lines AS MATERIALIZED (
       SELECT p.id AS order_id, l AS line, c.sku, 1 + (p.g + l) % 4 AS quantity, c.price
         FROM planned p
        CROSS JOIN LATERAL generate_series(1, 1 + p.g % 4) AS l
         JOIN catalog c ON c.rn = 1 + (p.g * 31 + l * 17) % (SELECT count(*) FROM ${N.products})
     ), totals AS (
       SELECT order_id, sum(quantity * price) AS amount FROM lines GROUP BY order_id
     ), new_orders AS (
       INSERT INTO ${N.orders} (id, user_id, amount, status, created_at, updated_at, details)
       SELECT p.id, b.id, t.amount,
              (CASE WHEN p.g % 10 < 5 THEN 'delivered' WHEN p.g % 10 < 7 THEN 'shipped'
                    WHEN p.g % 10 < 8 THEN 'paid' WHEN p.g % 10 < 9 THEN 'pending'
                    ELSE 'cancelled' END)::${N.orderStatus},
              now() - (p.g % 365) * interval '1 day',
              now() - (p.g % 365) * interval '1 day' + (p.g % 72) * interval '1 hour',
              jsonb_build_object(
                'channel', ($2::text[])[1 + p.g % cardinality($2::text[])],
                'shipping', jsonb_build_object(
                  'method', ($3::text[])[1 + p.g % cardinality($3::text[])],
                  'country', ($4::text[])[1 + p.g % cardinality($4::text[])]),
                'gift', p.g % 11 = 0)
         FROM planned p
         JOIN buyers b ON b.rn = 1 + (p.g * 7) % (SELECT count(*) FROM ${N.users})
         JOIN totals t ON t.order_id = p.id
       RETURNING id
     ), new_items AS (
       INSERT INTO ${N.orderItems} (order_id, line, product, quantity, unit_price)
       SELECT order_id, line, sku, quantity, price FROM lines
        WHERE order_id IN (SELECT id FROM new_orders)
       RETURNING 1
     )
     SELECT (SELECT count(*) FROM new_orders) AS orders, (SELECT count(*) FROM new_items) AS items`,
    [count, DEMO_VOCABULARY.channels, DEMO_VOCABULARY.shippingMethods, DEMO_VOCABULARY.countries],
  );
  const row = result.rows[0];
  return { orders: Number(row?.orders ?? 0), items: Number(row?.items ?? 0) };
}

// The sample application schema (test/fixtures/sample-app/: a film-rental schema shaped like
// pagila) loaded into a schema of the source, and a write load that touches every table of it —
// inserts, updates (rows moving between partitions included) and deletes — for the end-to-end
// tests of a whole application migrating.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { quoteIdent } from '../../core/sql-identifier.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'sample-app');

/** Every table of the sample application, with the order that makes its fingerprint stable. */
export const SAMPLE_APP_TABLES: readonly { table: string; orderBy: string }[] = [
  { table: 'language', orderBy: 'language_id' },
  { table: 'actor', orderBy: 'actor_id' },
  { table: 'film', orderBy: 'film_id' },
  { table: 'film_actor', orderBy: 'actor_id, film_id' },
  { table: 'customer', orderBy: 'customer_id' },
  { table: 'inventory', orderBy: 'inventory_id' },
  { table: 'rental', orderBy: 'rental_id' },
  { table: 'payment', orderBy: 'payment_date, payment_id' },
  { table: 'staff', orderBy: 'store_id, staff_id' },
];

/** Creates `schema` on the source and loads the sample application's objects and rows into it. */
export async function loadSampleApp(source: pg.Client, schema: string): Promise<void> {
  const ddl = readFileSync(join(FIXTURES, 'schema.sql'), 'utf8');
  const rows = readFileSync(join(FIXTURES, 'data.sql'), 'utf8');
  await source.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
  await source.query(`SET search_path = ${quoteIdent(schema)}, public`);
  try {
    await source.query(ddl);
    await source.query(rows);
    await source.query('REFRESH MATERIALIZED VIEW rental_by_customer');
  } finally {
    await source.query('RESET search_path');
  }
}

/**
 * One round of application writes on every table; `round` makes each round's rows distinct.
 * A payment moves to another month's partition and a staff member to the other store's, so
 * rows cross partitions; a film's title changes, so its full-text column (a trigger's) changes.
 */
export async function writeSampleAppRound(
  source: pg.Client,
  schema: string,
  round: number,
): Promise<void> {
  const s = quoteIdent(schema);
  const n = round;
  await source.query('BEGIN');
  try {
    // As the application's sessions do: its functions and procedures name tables unqualified.
    await source.query(`SET LOCAL search_path = ${s}, public`);
    await source.query(`INSERT INTO ${s}.language (name) VALUES ($1)`, [`Lang ${n}`]);
    await source.query(`UPDATE ${s}.language SET name = $1 WHERE language_id = 1 + $2 % 6`, [
      `English ${n}`,
      n,
    ]);
    const actor = await source.query<{ actor_id: number }>(
      `INSERT INTO ${s}.actor (first_name, last_name) VALUES ($1, $2) RETURNING actor_id`,
      [`New${n}`, `ACTOR${n}`],
    );
    const actorId = actor.rows[0]?.actor_id;
    await source.query(`UPDATE ${s}.actor SET last_name = last_name || 'x' WHERE actor_id = $1`, [
      1 + ((n * 13) % 200),
    ]);
    const film = await source.query<{ film_id: number }>(
      `INSERT INTO ${s}.film (title, description, release_year, language_id, rating, special_features, price_range)
       VALUES ($1, $2, 2001 + $3 % 20, 1, 'R', ARRAY['Trailers', $4], ${s}.price_band(1, 2 + $3 % 7))
       RETURNING film_id`,
      [`NEW FILM ${n}`, `A new film number ${n}, with "quotes" and ünïcode`, n, `round ${n}`],
    );
    const filmId = film.rows[0]?.film_id;
    await source.query(
      `UPDATE ${s}.film SET title = title || ' II', rental_rate = rental_rate + 0.01 WHERE film_id = $1`,
      [1 + ((n * 7) % 300)],
    );
    await source.query(`INSERT INTO ${s}.film_actor (actor_id, film_id) VALUES ($1, $2)`, [
      actorId,
      filmId,
    ]);
    await source.query(
      `DELETE FROM ${s}.film_actor WHERE (actor_id, film_id) IN
         (SELECT actor_id, film_id FROM ${s}.film_actor WHERE film_id <= 300 ORDER BY film_id, actor_id LIMIT 1)`,
    );
    const customer = await source.query<{ customer_id: number }>(
      `INSERT INTO ${s}.customer (first_name, last_name, email, address, region)
       VALUES ($1, $2, $3, ROW('Main St ' || $4::int, 'Town', '12345')::${s}.postal_address, 'us')
       RETURNING customer_id`,
      [`Nc${n}`, `Cust${n}`, `NEW${n}@Example.org`, n],
    );
    const customerId = customer.rows[0]?.customer_id;
    await source.query(
      `UPDATE ${s}.customer SET activebool = NOT activebool WHERE customer_id = $1`,
      [1 + ((n * 11) % 400)],
    );
    const inventory = await source.query<{ inventory_id: number }>(
      `INSERT INTO ${s}.inventory (film_id, store_id) VALUES ($1, 2) RETURNING inventory_id`,
      [filmId],
    );
    const rental = await source.query<{ rental_id: number }>(
      `INSERT INTO ${s}.rental (rental_date, inventory_id, customer_id)
       VALUES (timestamptz '2026-03-01 00:00:00+00' + $1 * interval '1 minute', $2, $3) RETURNING rental_id`,
      [n, inventory.rows[0]?.inventory_id, customerId],
    );
    await source.query(`CALL ${s}.return_rental($1)`, [1 + ((n * 4) % 1500)]);
    await source.query(
      `INSERT INTO ${s}.payment (customer_id, rental_id, amount, payment_date)
       VALUES ($1, $2, 3.99, timestamptz '2026-03-15 00:00:00+00' + $3 * interval '1 minute')`,
      [customerId, rental.rows[0]?.rental_id, n],
    );
    // A payment moves from January or February into March, or out of the months into the default.
    await source.query(
      `UPDATE ${s}.payment SET payment_date = payment_date + interval '31 days'
        WHERE payment_id = $1`,
      [1 + ((n * 17) % 1500)],
    );
    await source.query(`DELETE FROM ${s}.payment WHERE payment_id = $1`, [1 + ((n * 29) % 1500)]);
    await source.query(
      `UPDATE ${s}.staff SET store_id = 3 - store_id, username = username || '.' WHERE staff_id = $1`,
      [1 + (n % 10)],
    );
    await source.query('COMMIT');
  } catch (error) {
    await source.query('ROLLBACK');
    throw error;
  }
}

// The session settings verify compares under: set on each client for the run, then put back to
// the caller's values, so both databases render every value as the same text.
import type pg from 'pg';

/**
 * Session settings under which both databases render every value identically (timestamptz in UTC,
 * floats exactly, bytea in hex). They are set for the session and restored to the caller's values
 * afterwards, rather than SET LOCAL in a transaction: one transaction around a whole-table walk
 * would hold back vacuum on a live source for as long as the verify runs.
 */
const RENDER_SETTINGS: readonly (readonly [string, string])[] = [
  ['TimeZone', 'UTC'],
  ['extra_float_digits', '3'],
  ['DateStyle', 'ISO, YMD'],
  ['IntervalStyle', 'postgres'],
  ['bytea_output', 'hex'],
  // A table whose row-level security would filter the reading role fails (42501) instead of
  // comparing only the rows its policies let through.
  ['row_security', 'off'],
];

/** Runs `work` with the render settings set on `client`, restoring the previous values after. */
export async function withRenderSettings<T>(
  client: pg.ClientBase,
  work: () => Promise<T>,
): Promise<T> {
  const names = RENDER_SETTINGS.map(([name]) => name);
  const saved = await client.query<{ name: string; value: string }>(
    'SELECT name, current_setting(name) AS value FROM unnest($1::text[]) AS name',
    [names],
  );
  const apply = (settings: readonly (readonly [string, string])[]) =>
    client.query(
      'SELECT set_config(s.name, s.value, false) FROM unnest($1::text[], $2::text[]) AS s(name, value)',
      [settings.map(([name]) => name), settings.map(([, value]) => value)],
    );
  await apply(RENDER_SETTINGS);
  let result: T;
  try {
    result = await work();
  } catch (error) {
    // The work's error is the one to report; a connection that broke may not take the restore.
    await apply(saved.rows.map((r) => [r.name, r.value] as const)).catch(() => undefined);
    throw error;
  }
  await apply(saved.rows.map((r) => [r.name, r.value] as const));
  return result;
}

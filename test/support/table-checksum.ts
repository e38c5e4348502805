// The same per-table fingerprint on source and target: row count and md5 of every row's text
// form in primary-key order, in UTC so timestamptz renders identically.
import pg from 'pg';

export interface TableFingerprint {
  rows: number;
  md5: string | null;
}

export async function tableFingerprint(
  url: string,
  table: string,
  orderBy: string,
): Promise<TableFingerprint> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(
      "SET TimeZone = 'UTC'; SET extra_float_digits = 3; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'",
    );
    const result = await client.query<{ rows: string; md5: string | null }>(
      `SELECT count(*) AS rows, md5(string_agg(t::text, E'\\n' ORDER BY ${orderBy})) AS md5 FROM ${table} AS t`,
    );
    const row = result.rows[0];
    return { rows: Number(row?.rows ?? 0), md5: row?.md5 ?? null };
  } finally {
    await client.end();
  }
}

export async function waitForEqual(
  sourceUrl: string,
  targetUrl: string,
  tables: { name: string; orderBy: string }[],
  timeoutMs: number,
): Promise<Map<string, TableFingerprint>> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const result = new Map<string, TableFingerprint>();
    const diffs: string[] = [];
    for (const t of tables) {
      const source = await tableFingerprint(sourceUrl, t.name, t.orderBy);
      const target = await tableFingerprint(targetUrl, t.name, t.orderBy).catch((e: Error) => ({
        rows: -1,
        md5: e.message,
      }));
      result.set(t.name, source);
      if (source.rows !== target.rows || source.md5 !== target.md5) {
        diffs.push(
          `${t.name}: source ${source.rows} rows ${source.md5}, target ${target.rows} rows ${target.md5}`,
        );
      }
    }
    if (diffs.length === 0) return result;
    last = diffs.join('\n');
    if (Date.now() > deadline) throw new Error(`target did not converge to source:\n${last}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

// A source table's replica identity, for `pgferry run` to refuse a table without a primary key
// unless the source logs its whole old row (REPLICA IDENTITY FULL): only then can the target
// apply its updates and deletes by full-row match. Read through the read-only SOURCE_DB_* role
// (pg_class needs no privilege), one short session per question: asked once per table version.
import type { PostgresSettings } from './config.js';
import { RetriableError } from './errors.js';
import { connectPg } from './pg-connection.js';

/** pg_class.relreplident: d = default (the primary key), f = full, i = an index, n = nothing. */
export type ReplicaIdentity = 'd' | 'f' | 'i' | 'n';

export async function readReplicaIdentity(
  settings: PostgresSettings,
  table: { schema: string; name: string },
): Promise<ReplicaIdentity | undefined> {
  let client: Awaited<ReturnType<typeof connectPg>> | undefined;
  try {
    client = await connectPg(settings, 'pgferry-replica-identity');
    const result = await client.query<{ identity: ReplicaIdentity }>(
      `SELECT c.relreplident AS identity
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = $2`,
      [table.schema, table.name],
    );
    return result.rows[0]?.identity;
  } catch (error) {
    throw new RetriableError(
      `cannot read the replica identity of ${table.schema}.${table.name} on the source (SOURCE_DB_HOST ${settings.host}): ${(error as Error).message}`,
      { cause: error },
    );
  } finally {
    await client?.end().catch(() => undefined);
  }
}

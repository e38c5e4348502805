// Removes what a run made on the shared stack, found by its run id: its connectors on the shared
// Connect worker, replication slots (always: a slot left behind retains WAL) and publications,
// and unless kept, its target databases, source tables (and the copy phase's schema), topics and
// consumer groups. Runs at the end of every run and when a run is interrupted.
import { quoteIdent } from '../core/sql-identifier.js';
import type { StackEnv } from '../test/support/stack-env.js';
import { dropSourceDataset } from './copy-dataset.js';
import { createBenchKafka } from './kafka-topics.js';
import { PACED_TABLE } from './paced-workload.js';
import { withClient } from './source-workload.js';

/**
 * Drops the run's replication slots. A slot whose connector was just deleted can still be active
 * for a few seconds (its task stopping): it is waited for, up to 30 s, rather than left behind
 * (an interrupted run once left one, holding WAL on the shared source).
 */
async function dropSlots(url: string, runId: string): Promise<void> {
  await withClient(url, async (client) => {
    for (let attempt = 0; attempt < 30; attempt++) {
      await client.query(
        'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE starts_with(slot_name, $1) AND NOT active',
        [runId],
      );
      const left = await client.query(
        'SELECT 1 FROM pg_replication_slots WHERE starts_with(slot_name, $1)',
        [runId],
      );
      if (left.rowCount === 0) return;
      await new Promise((r) => setTimeout(r, 1000));
    }
  });
}

export async function cleanupBenchRun(
  stack: StackEnv,
  runId: string,
  keepData: boolean,
  /** The run made no topic (BENCH_PHASES=copy): the topic phases' source tables are not its own. */
  madeTopic = true,
  /** The run wrote the paced table (its name is not the run's: another run's may be in use). */
  ranPaced = madeTopic,
): Promise<void> {
  const connectors = (await fetch(`${stack.connectUrl}/connectors`)
    .then((r) => r.json())
    .catch(() => [])) as string[];
  for (const name of connectors.filter((n) => n.startsWith(runId))) {
    await fetch(`${stack.connectUrl}/connectors/${encodeURIComponent(name)}`, {
      method: 'DELETE',
    }).catch(() => undefined);
  }
  if (connectors.some((n) => n.startsWith(runId))) await new Promise((r) => setTimeout(r, 3000));
  await dropSlots(stack.sourceDatabaseUrl, runId).catch(() => undefined);
  await dropSlots(stack.targetDatabaseUrl, runId).catch(() => undefined);
  // The copy phase's publications, and its source schema unless kept.
  await dropSourceDataset(stack.sourceDatabaseUrl, runId, keepData).catch(() => undefined);
  if (keepData) return;
  await withClient(stack.targetDatabaseUrl, async (client) => {
    const dbs = await client.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE starts_with(datname, $1)',
      [runId],
    );
    for (const { datname } of dbs.rows) {
      await client
        .query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`)
        .catch(() => undefined);
    }
  }).catch(() => undefined);
  // The run's own source tables are named after it (`<run id><mix code>_<table>`); a reused
  // topic's tables are another run's and stay (they are that topic's expected result).
  if (madeTopic)
    await withClient(stack.sourceDatabaseUrl, async (client) => {
      const own = await client.query<{ tablename: string }>(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND starts_with(tablename, $1)",
        [runId],
      );
      for (const name of [
        ...own.rows.map((r) => r.tablename),
        ...(ranPaced ? [PACED_TABLE] : []),
      ]) {
        await client.query(`DROP TABLE IF EXISTS public.${quoteIdent(name)}`);
      }
    }).catch(() => undefined);
  const admin = createBenchKafka(stack.kafkaBootstrap, 'pgferry-bench-cleanup').admin();
  try {
    await admin.connect();
    const topics = (await admin.listTopics()).filter((name) => name.includes(runId));
    if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => undefined);
    const groups = (await admin.listGroups()).groups
      .map((g) => g.groupId)
      .filter((id) => id.includes(runId));
    if (groups.length > 0) await admin.deleteGroups(groups).catch(() => undefined);
  } catch {
    // Kafka unreachable (a fault test on the shared stack): the topics stay; they are named after the run.
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

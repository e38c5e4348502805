// CPU seconds the target PostgreSQL spent for a phase: the backends connected to the phase's own
// target database, read from /proc (the stack's clusters run on this machine). Read before the
// phase closes its connections; backends that already exited are not counted.
import pg from 'pg';
import type { StackEnv } from '../test/support/stack-env.js';
import { readProcessStats } from './process-stats.js';

export async function readTargetBackendCpu(stack: StackEnv, database: string): Promise<number> {
  const client = new pg.Client({ connectionString: stack.targetDatabaseUrl });
  await client.connect();
  try {
    const backends = await client.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'",
      [database],
    );
    return backends.rows.reduce(
      (sum, { pid }) => sum + (readProcessStats(pid)?.cpuSeconds ?? 0),
      0,
    );
  } finally {
    await client.end();
  }
}

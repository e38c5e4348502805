// What `pgferry copy --restart` empties and forgets before it copies again: printed before it
// acts, confirmed with --yes or on a terminal (migrate/confirm-destructive.ts).
import { type DestructivePlan, describeDatabase, describeTable } from '../destructive-plan.js';

export function planCopyRestart(
  target: { host: string; port: number; database: string },
  tables: readonly { schema: string; name: string }[],
): DestructivePlan {
  return {
    command: 'pgferry copy --restart',
    steps: [
      {
        action:
          'in one transaction: TRUNCATE these tables, forget their copy plans and progress (pgferry.copy_tables, copy_chunks) and their stream state (row positions and progress in pgferry.tables)',
        where: `target ${describeDatabase(target)}`,
        objects: tables.length > 0 ? tables.map(describeTable) : ['no table'],
      },
    ],
    notes: [
      'then it copies them afresh; stop `pgferry run` first (its changes to these tables would be lost)',
    ],
    confirmWord: target.database,
  };
}

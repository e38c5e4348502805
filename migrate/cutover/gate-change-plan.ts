// What `pgferry cutover` (and `pgferry rollback`, the same gates reversed) changes once its
// read-only gates pass: the new side's sequences raised (gate 4) and the report written (gate 5).
// Printed before the gates run, so the operator confirms exactly which database and which
// sequences; a --dry-run changes neither and asks nothing.
import { join } from 'node:path';
import type { PgferryConfig } from '../../core/config.js';
import { connectPg } from '../../core/pg-connection.js';
import { SchemaMapping } from '../../pipeline/routing/schema-mapping.js';
import { mapTargetTable } from '../../pipeline/routing/target-table-name.js';
import { requireSource } from '../command-context.js';
import {
  type DestructivePlan,
  describeDatabase,
  describeIdentifier,
  describeTable,
} from '../destructive-plan.js';
import { type MigrationTable, resolveMigrationTables } from '../migration-tables.js';
import { planCutoverObjects } from './cutover-objects.js';
import { readTableSequences } from './sequence-sync.js';

interface Database {
  host: string;
  port: number;
  database: string;
}

/** What the plan is made of: read from both databases before any gate runs. */
export interface GateChangeFacts {
  direction: 'cutover' | 'rollback';
  /** The side that takes no more writes (the old one). */
  from: Database;
  /** The side whose sequences are raised (the new one). */
  to: Database;
  /** The new side's tables the gates check. */
  tables: readonly string[];
  /** Every sequence those tables draw from on the new side, with the column that uses it. */
  sequences: readonly { sequence: string; column: string }[];
  /** Cutover: the triggers schema-sync left disabled and the materialized views to refresh. */
  objects?: {
    /** Deferred changes schema-sync recorded: `<object> (<kind>)`. */
    deferred?: readonly string[];
    triggers: readonly string[];
    materializedViews: readonly string[];
  };
  reportDir: string;
}

export function buildGateChangePlan(facts: GateChangeFacts): DestructivePlan {
  // Rollback runs on the mirrored config: its "to" side is the original source.
  const to = `${facts.direction === 'cutover' ? 'target' : 'source'} ${describeDatabase(facts.to)}`;
  return {
    command: `pgferry ${facts.direction}`,
    steps: [
      {
        action:
          'gate 4: raise these sequences past the values the old side handed out and the columns’ maxima (setval; never lowers one)',
        where: to,
        objects:
          facts.sequences.length > 0
            ? facts.sequences.map((s) => `${s.sequence} (${s.column})`)
            : ['no sequence: the tables use none'],
      },
      ...(facts.objects &&
      (facts.objects.deferred?.length ?? 0) +
        facts.objects.triggers.length +
        facts.objects.materializedViews.length >
        0
        ? [
            {
              action:
                'gate 4: apply what schema-sync deferred to cutover (foreign keys added and validated, GENERATED ALWAYS, FORCE ROW LEVEL SECURITY), enable the triggers it left disabled (as the source has them) and refresh the materialized views, in one transaction',
              where: to,
              objects: [
                ...(facts.objects.deferred ?? []),
                ...facts.objects.triggers.map((t) => `trigger ${t}`),
                ...facts.objects.materializedViews.map((v) => `materialized view ${v}`),
              ],
            },
          ]
        : []),
      {
        action: 'gate 5: write the report',
        where: `directory ${facts.reportDir}`,
        objects: ['.json', '.md'].map((ext) =>
          join(facts.reportDir, `${facts.direction}-<start time>${ext}`),
        ),
      },
    ],
    notes: [
      `gates 1 to 3 only read (${describeDatabase(facts.from)} takes no writes, caught up, verified) over ${facts.tables.length} table(s): ${facts.tables.join(', ') || 'none'}; the first gate that fails stops it before any change`,
      'the application is not switched: that stays yours, after READY',
    ],
    confirmWord: facts.to.database,
  };
}

/** The plan of a gate command run with `config` (the mirrored one for rollback). */
export async function readGateChangePlan(
  config: PgferryConfig,
  options: {
    direction: 'cutover' | 'rollback';
    tables?: MigrationTable[];
    reportDir: string;
  },
): Promise<DestructivePlan> {
  const sourceSettings = requireSource(config, options.direction);
  const source = await connectPg(sourceSettings, `pgferry-${options.direction}`);
  try {
    const tables = await resolveMigrationTables(source, {
      ...(options.tables ? { tables: options.tables } : {}),
      publication: config.replication.publication,
      selection: config.mapping,
    });
    const schemas = SchemaMapping.fromSettings(config.mapping);
    const targets = tables.map((t) => mapTargetTable(t, schemas));
    const target = await connectPg(config.target, `pgferry-${options.direction}`);
    try {
      const sequences = await readTableSequences(target, targets);
      const objects =
        options.direction === 'cutover' ? await planCutoverObjects(target, targets) : undefined;
      return buildGateChangePlan({
        direction: options.direction,
        from: sourceSettings,
        to: config.target,
        tables: targets.map(describeTable),
        sequences: sequences.map((s) => ({
          sequence: describeTable(s.sequence),
          column: `${describeTable(s.table)}.${describeIdentifier(s.column)}`,
        })),
        ...(objects
          ? {
              objects: {
                deferred: objects.statements.map((s) => `${s.kind} ${s.object}`),
                triggers: objects.triggers.map(
                  (t) =>
                    `${describeTable({ schema: t.schema, name: t.table })} ${describeIdentifier(t.trigger)}`,
                ),
                materializedViews: objects.materializedViews.map(describeTable),
              },
            }
          : {}),
        reportDir: options.reportDir,
      });
    } finally {
      await target.end().catch(() => undefined);
    }
  } finally {
    await source.end().catch(() => undefined);
  }
}

// The source PostgreSQL section of preflight: what Debezium needs to stream the source (wal_level,
// a free slot and WAL sender, a role with REPLICATION and SELECT, the publication, a key on every
// captured table), whether an existing slot is holding back WAL, and what `pgferry copy` needs
// (the slot's consistent point, SELECT for SOURCE_DB_USER). The checks live in source-*.ts.
import type { PostgresSettings } from '../../core/config.js';
import {
  type Check,
  type CheckVerdict,
  describeError,
  fail,
  type PreflightContext,
  type PreflightSection,
  pass,
  runChecks,
  type SourceFacts,
  skip,
} from './preflight-check.js';
import {
  checkLargeObjects,
  checkUncapturedTables,
  checkUncoveredSequences,
  checkUnloggedTables,
} from './source-capture-gap-checks.js';
import { checkCopyRole, checkCopySlot } from './source-copy-checks.js';
import { checkPartitionCapture } from './source-partition-checks.js';
import { checkPublication } from './source-publication-checks.js';
import { checkCapacity, checkSlot, checkWalLevel } from './source-replication-checks.js';
import { checkConnectorRole } from './source-role-checks.js';
import { checkPublicationSchemas } from './source-schema-checks.js';
import { checkCapturedTables, checkKeys } from './source-table-checks.js';
import { checkPgTransport } from './transport-checks.js';

const SECTION_TITLE = 'Source PostgreSQL';

export async function checkSource(context: PreflightContext): Promise<PreflightSection> {
  const { config, options } = context;
  const settings = config.source;
  const where = settings
    ? `${settings.host}:${settings.port}/${settings.database} as ${settings.user}`
    : 'not configured';
  const title = `${SECTION_TITLE} (${where})`;
  let facts: SourceFacts;
  try {
    facts = await context.source;
  } catch (error) {
    return {
      name: 'source',
      title,
      checks: [
        {
          id: 'source.reachable',
          title: 'reachable',
          ...fail(`cannot connect: ${describeError(error)}: check SOURCE_DB_* and the network`),
        },
        ...SOURCE_CHECKS.map(({ id, title: t }) => ({
          id,
          title: t,
          ...skip('not checked: the source is unreachable'),
        })),
      ],
    };
  }
  const checks: Check[] = [
    {
      id: 'source.reachable',
      title: 'reachable',
      run: async () => pass(`PostgreSQL ${facts.serverVersion}, connected as ${facts.user}`),
    },
    ...SOURCE_CHECKS.map(({ id, title: t, run }) => ({
      id,
      title: t,
      run: () => run(facts, context),
    })),
  ];
  return { name: 'source', title, checks: await runChecks(checks, options.checkTimeoutMs) };
}

interface SourceCheck {
  id: string;
  title: string;
  run: (facts: SourceFacts, context: PreflightContext) => Promise<CheckVerdict>;
}

const SOURCE_CHECKS: SourceCheck[] = [
  { id: 'source.tables', title: 'captured tables', run: checkCapturedTables },
  { id: 'source.wal_level', title: 'wal_level', run: checkWalLevel },
  { id: 'source.capacity', title: 'slots and WAL senders', run: checkCapacity },
  { id: 'source.connector_role', title: 'connector role', run: checkConnectorRole },
  { id: 'source.publication', title: 'publication', run: checkPublication },
  {
    id: 'source.partition_capture',
    title: 'partitioned tables captured through their root',
    run: checkPartitionCapture,
  },
  {
    id: 'source.publication_schemas',
    title: 'publication covers the source schemas',
    run: checkPublicationSchemas,
  },
  { id: 'source.keys', title: 'primary keys', run: checkKeys },
  { id: 'source.unlogged', title: 'unlogged tables', run: checkUnloggedTables },
  { id: 'source.large_objects', title: 'large objects', run: checkLargeObjects },
  { id: 'source.uncaptured', title: 'tables left out', run: checkUncapturedTables },
  { id: 'source.sequences', title: 'sequences cutover does not set', run: checkUncoveredSequences },
  { id: 'source.slot', title: 'replication slot', run: checkSlot },
  { id: 'source.copy_slot', title: 'slot for pgferry copy', run: checkCopySlot },
  { id: 'source.copy_role', title: 'copy role', run: checkCopyRole },
  {
    id: 'source.transport',
    title: 'encryption',
    run: (facts, context) =>
      // facts exist only when SOURCE_DB_* is set.
      checkPgTransport(facts.client, context.config.source as PostgresSettings, 'SOURCE'),
  },
];

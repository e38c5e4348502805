// The human screen of `pgferry status`: a headline ("caught up" or how far behind, with the
// reasons), then compact sections for the connector, the source slot, `pgferry copy` (only when
// the target has copy bookkeeping), the consumer lag per partition, the tables and the pgferry
// processes. Pure: the same status gives the same text.

import { formatCount, formatDuration, formatRate } from '../../ops/progress/progress-view.js';
import { isNothingRead, isSlotLost, SLOT_LOST_RUNBOOK } from './caught-up-judgement.js';
import type { MigrationStatus } from './migration-status-types.js';

export function formatMigrationStatus(status: MigrationStatus): string {
  const lines = [`pgferry status at ${status.at}: ${formatHeadline(status)}`];
  for (const reason of status.reasons) lines.push(`  - ${reason}`);
  lines.push('', ...formatConnector(status), ...formatSlot(status), '');
  if (status.copy !== undefined) lines.push(...formatCopy(status), '');
  lines.push(...formatConsumer(status), '', ...formatTables(status));
  if (status.pgferry !== undefined) lines.push('', ...formatPgferry(status));
  return lines.join('\n');
}

export function formatHeadline(status: MigrationStatus): string {
  if (status.caughtUp) return 'caught up';
  if (isNothingRead(status)) return 'nothing could be read';
  if (isSlotLost(status)) return `REPLICATION SLOT LOST: re-snapshot needed (${SLOT_LOST_RUNBOOK})`;
  const lag = status.consumer.totalLag;
  const messages =
    status.consumer.partitions.length > 0 ? `${lag} message${lag === 1 ? '' : 's'}` : '? messages';
  const bytes = status.slot.lagBytes === null ? '? bytes' : formatBytes(status.slot.lagBytes);
  return `behind by ${messages} / ${bytes} of WAL${formatCopyHeadline(status)}`;
}

/** "; copy not done: 1 of 3 tables copied" while a table's copy is not done, else nothing. */
function formatCopyHeadline({ copy }: MigrationStatus): string {
  if (copy === undefined) return '';
  if (copy.error !== undefined) return '; copy unknown';
  if (copy.tablesDone === copy.tables.length) return '';
  const failed = copy.tables.filter((t) => t.state === 'failed').length;
  return `; copy not done: ${copy.tablesDone} of ${copy.tables.length} tables copied${failed > 0 ? `, ${failed} FAILED` : ''}`;
}

/** 1536 -> "1.5 KiB"; exact below 1 KiB. */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} bytes` : `${value.toFixed(1)} ${units[unit]}`;
}

function formatConnector({ connector }: MigrationStatus): string[] {
  const head = `Connector    ${connector.name}: `;
  if (connector.error !== undefined) return [`${head}unknown (${connector.error})`];
  if (connector.state === null) return [`${head}not found`];
  const tasks =
    connector.tasks.length === 0
      ? 'no tasks'
      : connector.tasks.map((t) => `task ${t.id} ${t.state}`).join(', ');
  const lines = [`${head}${connector.state} (${tasks})`];
  for (const task of connector.tasks) {
    const first = task.state === 'FAILED' ? task.trace?.trim().split('\n')[0] : undefined;
    if (first) lines.push(`  task ${task.id}: ${first}`);
  }
  return lines;
}

function formatSlot({ slot }: MigrationStatus): string[] {
  const head = `Source slot  ${slot.name}: `;
  const lost =
    slot.lost === undefined
      ? []
      : [`  LOST: dropped on the source (seen by ${slot.lost.by} at ${slot.lost.at})`];
  if (slot.error !== undefined) return [`${head}unknown (${slot.error})`, ...lost];
  if (!slot.exists)
    return [`${head}does not exist (current LSN ${slot.currentLsn ?? '?'})`, ...lost];
  const lag = slot.lagBytes === null ? '?' : formatBytes(slot.lagBytes);
  return [
    `${head}${slot.active ? 'active' : 'INACTIVE'}, lag ${lag} (confirmed ${slot.confirmedFlushLsn ?? '-'}, current ${slot.currentLsn ?? '?'})`,
    ...lost,
  ];
}

function formatCopy({ copy }: MigrationStatus): string[] {
  if (copy === undefined) return [];
  const head = 'Copy         ';
  if (copy.error !== undefined) return [`${head}unknown (${copy.error})`];
  const { tables } = copy;
  const count = (state: string) => tables.filter((t) => t.state === state).length;
  const sum = (pick: (t: (typeof tables)[number]) => number) =>
    tables.reduce((n, t) => n + pick(t), 0);
  const states = [
    `${copy.tablesDone} of ${tables.length} table${tables.length === 1 ? '' : 's'} done`,
    ...(count('copying') > 0 ? [`${count('copying')} copying`] : []),
    ...(count('failed') > 0 ? [`${count('failed')} FAILED`] : []),
  ].join(', ');
  const eta =
    copy.tablesDone < tables.length && copy.etaSeconds !== null
      ? `, ETA ${formatDuration(copy.etaSeconds)}`
      : '';
  const lines = [
    `${head}${states}; ${sum((t) => t.chunksDone)}/${sum((t) => t.chunksTotal)} chunks, ${formatCount(sum((t) => t.rowsCopied))} rows, ${formatBytes(sum((t) => t.bytesCopied))} copied${eta}`,
  ];
  const rows = tables.map((t) => [
    t.table,
    t.state === 'failed' ? 'FAILED' : t.state,
    `${t.chunksDone}/${t.chunksTotal}`,
    formatCount(t.rowsCopied),
    formatBytes(t.bytesCopied),
    t.rowsPerSecond === null ? '-' : formatRate(t.rowsPerSecond),
    t.etaSeconds === null || t.state === 'done' ? '-' : formatDuration(t.etaSeconds),
    t.streamWaiting
      ? `waits for the copy${t.queuedMessages ? ` (${formatCount(t.queuedMessages)} changes held back)` : ''}`
      : 'streaming',
  ]);
  lines.push(
    ...alignColumns(
      ['TABLE', 'STATE', 'CHUNKS', 'ROWS', 'BYTES', 'ROWS/S', 'ETA', 'STREAM'],
      rows,
      [2, 3, 4, 5, 6],
    ),
  );
  for (const t of tables) {
    const why = t.state === 'failed' ? t.lastError?.trim().split('\n')[0] : undefined;
    if (why) lines.push(`  ${t.table}: ${why}`);
  }
  return lines;
}

function formatConsumer({ consumer }: MigrationStatus): string[] {
  const behind = consumer.partitions.length > 0 ? String(consumer.totalLag) : '?';
  const lines = [`Consumer     group ${consumer.groupId}: ${behind} behind`];
  if (consumer.error !== undefined) lines[0] += ` (${consumer.error})`;
  if (consumer.partitions.length === 0) {
    if (consumer.error === undefined) lines.push('  no topic matches KAFKA_TOPIC_PATTERN');
    return lines;
  }
  const rows = consumer.partitions.map((p) => [
    p.topic,
    String(p.partition),
    p.endOffset,
    p.appliedOffset ?? '-',
    p.committedOffset ?? '-',
    String(p.lag),
  ]);
  return [
    ...lines,
    ...alignColumns(['TOPIC', 'PART', 'END', 'APPLIED', 'COMMITTED', 'LAG'], rows, [1, 2, 3, 4, 5]),
  ];
}

function formatTables(status: MigrationStatus): string[] {
  const { tables, dlq } = status;
  const lines = ['Tables'];
  if (status.tablesError !== undefined) lines[0] += ` (${status.tablesError})`;
  if (dlq.error === undefined && dlq.sharedTopic !== null) {
    lines.push(`  dead letters in ${dlq.sharedTopic}: ${dlq.total}`);
  }
  if (tables.length === 0) return [...lines, '  none'];
  const rows = tables.map((t) => [
    t.table,
    String(t.changesApplied),
    t.lastSourceTs ?? '-',
    t.endToEndLagSeconds === null ? '-' : formatDuration(t.endToEndLagSeconds),
    dlq.sharedTopic === null && dlq.error === undefined ? String(t.dlqMessages) : '-',
  ]);
  return [
    ...lines,
    ...alignColumns(['TABLE', 'APPLIED', 'LAST SOURCE TS', 'E2E LAG', 'DLQ'], rows, [1, 3, 4]),
  ];
}

function formatPgferry({ pgferry = [] }: MigrationStatus): string[] {
  const lines = ['pgferry'];
  for (const p of pgferry) {
    if (p.error !== undefined) lines.push(`  ${p.url}: unreachable (${p.error})`);
    else
      lines.push(`  ${p.url}: ${p.state}${p.paused ? ', paused' : p.pausing ? ', pausing' : ''}`);
  }
  return lines;
}

/** Two-space indented columns; `right` = indexes of right-aligned (numeric) columns. */
function alignColumns(headers: string[], rows: string[][], right: number[]): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const render = (cells: string[]) =>
    `  ${cells
      .map((c, i) => (right.includes(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd()}`;
  return [render(headers), ...rows.map(render)];
}

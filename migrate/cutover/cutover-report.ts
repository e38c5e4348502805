// The cutover report a person files with the change ticket: when each gate ran and what it saw,
// the lags at the quiet point, per-table row counts and checksums, and the sequences set.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CutoverResult, GateResult, VerifyReading } from './cutover-result.js';
import type { SequenceSyncStep } from './sequence-sync.js';

const cell = (text: string | number | null | undefined): string =>
  String(text ?? '')
    .replace(/\|/g, '\\|')
    .replace(/\n/g, ' ');

export function renderCutoverMarkdown(result: CutoverResult): string {
  const title = result.direction === 'cutover' ? 'Cutover report' : 'Rollback report';
  const lines = [
    `# ${title}${result.dryRun ? ' (dry run)' : ''}`,
    '',
    `- Result: **${result.ok ? 'ready: every gate passed' : 'refused'}**`,
    `- Started: ${result.startedAt}`,
    `- Finished: ${result.finishedAt}`,
    `- From (source): \`${result.source}\``,
    `- To (target): \`${result.target}\``,
    `- Tables: ${result.tables.length}`,
    '',
    '## Gates',
    '',
    '| # | Gate | Status | Seconds | Summary |',
    '|---|------|--------|---------|---------|',
    ...result.gates.map(
      (g, i) => `| ${i + 1} | ${g.gate} | ${g.status} | ${g.seconds} | ${cell(g.summary)} |`,
    ),
  ];
  const caughtUp = findGate(result.gates, 'caught-up')?.details as
    | {
        slot?: {
          name: string;
          confirmedFlushLsn: string;
          quietLsn: string;
          watermarkLsn?: string;
          lagBytes: number;
        };
      }
    | undefined;
  if (caughtUp?.slot) {
    lines.push(
      '',
      '## Lag at the quiet point',
      '',
      `- Slot \`${caughtUp.slot.name}\`: confirmed ${caughtUp.slot.confirmedFlushLsn}, quiet point ${caughtUp.slot.quietLsn}, watermark ${caughtUp.slot.watermarkLsn ?? '-'}, ${caughtUp.slot.lagBytes} bytes of WAL behind`,
      '- Consumer lag: 0 messages',
    );
  }
  const verified = findGate(result.gates, 'verified')?.details as VerifyReading | undefined;
  if (verified) {
    lines.push(
      '',
      '## Tables',
      '',
      '| Table | Source rows | Target rows | Equal | Checksum |',
      '|-------|-------------|-------------|-------|----------|',
      ...verified.tables.map(
        (t) =>
          `| ${cell(t.target)} | ${t.sourceRows} | ${t.targetRows} | ${t.match ? 'yes' : 'NO'} | \`${cell(t.checksum)}\` |`,
      ),
    );
  }
  const sequences = findGate(result.gates, 'sequences')?.details as SequenceSyncStep[] | undefined;
  if (sequences && sequences.length > 0) {
    lines.push(
      '',
      '## Sequences',
      '',
      '| Column | Source last value | Target max | Set to |',
      '|--------|-------------------|------------|--------|',
      ...sequences.map(
        (s) =>
          `| ${cell(`${s.table}.${s.column}`)} | ${s.sourceLastValue ?? '-'} | ${s.targetMaxColumn ?? '-'} | ${s.setTo ?? 'unchanged'} |`,
      ),
    );
  }
  return `${lines.join('\n')}\n`;
}

const findGate = (gates: readonly GateResult[], name: GateResult['gate']) =>
  gates.find((g) => g.gate === name);

/** Writes `<direction>-<time>.md` and `.json` into the report directory; returns their paths. */
export async function writeCutoverReport(result: CutoverResult, dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const stamp = result.startedAt.replace(/[:.]/g, '-');
  const base = join(dir, `${result.direction}-${stamp}`);
  const files = [`${base}.json`, `${base}.md`];
  const final = { ...result, reportFiles: files, finishedAt: new Date().toISOString() };
  // The report gate itself is part of the report.
  final.gates = [
    ...result.gates,
    { gate: 'report', status: 'passed', seconds: 0, summary: `written to ${files.join(', ')}` },
  ];
  await writeFile(files[0] as string, `${JSON.stringify(final, null, 2)}\n`);
  await writeFile(files[1] as string, renderCutoverMarkdown(final));
  return files;
}

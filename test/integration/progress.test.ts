// `pgferry run`'s progress on the real stack: the summary log line every PROGRESS_LOG_SECONDS
// (--progress log) with its throughput and exact totals, and the live view forced onto a pipe
// (--progress tty) with the table's percentage of the source's row estimate. A connector of its
// own; each run in its own consumer group, so the second one applies everything again.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectClient } from '../../core/connect-client.js';
import type { ProgressLogFields } from '../../ops/progress/progress-log.js';
import { type PgferryProcess, startPgferry } from '../support/pgferry-process.js';
import { loadStackEnv } from '../support/stack-env.js';
import { waitForEqual } from '../support/table-checksum.js';
import { applyTestConnector, removeTestConnector } from '../support/test-connector.js';

const stack = loadStackEnv();
const run = Date.now().toString(36);
const prefix = `prog_${run}`;
const connectorName = `pgferry-prog-${run}`;
const slotName = `pgferry_prog_${run}`;
const ITEMS = `prog_items_${run}`;
const SNAPSHOT_ROWS = 2000;
const LIVE_ROWS = 3000;
const TOTAL = SNAPSHOT_ROWS + LIVE_ROWS;

const source = new pg.Client({ connectionString: stack.sourceDatabaseUrl });
const connect = new ConnectClient({ baseUrl: stack.connectUrl });
const started: PgferryProcess[] = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const pipelineEnv = (group: string): Record<string, string> => ({
  ...stack.vars,
  KAFKA_TOPIC_PATTERN: `^${prefix}\\.public\\..*`,
  KAFKA_GROUP_ID: `pgferry-prog-${group}-${run}`,
  SOURCE_SLOT_NAME: slotName,
  CONNECTOR_NAME: connectorName,
  TOPIC_REFRESH_SECONDS: '2',
  RETRY_MAX_DELAY_SECONDS: '2',
  BATCH_SIZE: '500',
  PROGRESS_LOG_SECONDS: '2',
  LOG_LEVEL: 'info',
});

async function start(group: string, runArgs: string[]): Promise<PgferryProcess> {
  const p = await startPgferry(pipelineEnv(group), undefined, runArgs);
  started.push(p);
  return p;
}

async function stop(p: PgferryProcess): Promise<number | string> {
  p.child.kill('SIGTERM');
  return p.exited;
}

async function waitFor(what: string, timeoutMs: number, done: () => boolean, p: PgferryProcess) {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}:\n${p.logs.slice(-30).join('\n')}`);
    }
    await sleep(250);
  }
}

function progressLines(p: PgferryProcess): ProgressLogFields[] {
  return p.logs
    .filter((l) => l.startsWith('{') && l.includes('"msg":"progress"'))
    .map((l) => JSON.parse(l) as ProgressLogFields);
}

describe.sequential('pgferry run progress', () => {
  beforeAll(async () => {
    await source.connect();
    await source.query(`CREATE TABLE ${ITEMS} (id integer PRIMARY KEY, note text)`);
    await source.query(
      `INSERT INTO ${ITEMS} SELECT g, 'snap ' || g FROM generate_series(1, ${SNAPSHOT_ROWS}) g`,
    );
    await applyTestConnector(connect, {
      name: connectorName,
      topicPrefix: prefix,
      slotName,
      tableIncludeList: `public\\.prog_.*_${run}`,
    });
  });

  afterAll(async () => {
    for (const p of started) {
      if (p.child.exitCode === null && p.child.signalCode === null) await stop(p);
    }
    await removeTestConnector(stack.connectUrl, connectorName, source, slotName);
    await source.end();
  });

  it('--progress log: a summary line every PROGRESS_LOG_SECONDS with rates and exact totals', async () => {
    const p = await start('log', ['--progress', 'log']);
    await source.query(
      `INSERT INTO ${ITEMS} SELECT g, 'live ' || g FROM generate_series(${SNAPSHOT_ROWS + 1}, ${TOTAL}) g`,
    );
    // The estimate the table lines are measured against: exact after ANALYZE.
    await source.query(`ANALYZE ${ITEMS}`);
    await waitForEqual(
      stack.sourceDatabaseUrl,
      stack.targetDatabaseUrl,
      [{ name: ITEMS, orderBy: 'id' }],
      120_000,
    );
    await waitFor(
      `a progress line with all ${TOTAL} changes`,
      30_000,
      () => progressLines(p).some((l) => l.appliedTotal === TOTAL),
      p,
    );
    // One more interval: the pipeline is idle now, lines keep coming (with nothing applied).
    const seen = progressLines(p).length;
    await waitFor('the next progress line', 15_000, () => progressLines(p).length > seen, p);
    expect(await stop(p)).toBe(0);

    const lines = progressLines(p);
    const regular = lines.filter((l) => l.final === undefined);
    expect(regular.length).toBeGreaterThanOrEqual(2);
    for (const l of regular) {
      expect(l.intervalSeconds).toBeGreaterThanOrEqual(1.9);
      expect(l.intervalSeconds).toBeLessThan(6);
      // Both are rounded to 0.1 in the line: within a few percent of each other.
      expect(Math.abs(l.rowsPerSecond * l.intervalSeconds - l.applied)).toBeLessThanOrEqual(
        l.applied * 0.05 + 1,
      );
    }
    const busy = lines.filter((l) => l.applied > 0);
    expect(busy.length).toBeGreaterThan(0);
    for (const l of busy) {
      expect(l.rowsPerSecond).toBeGreaterThan(0);
      expect(l.batches).toBeGreaterThan(0);
      expect(l.batchRows.mean).toBeGreaterThan(0);
      expect(l.batchRows.max).not.toBeNull();
      expect(l.applyMs.mean).toBeGreaterThan(0);
      expect(l.tables.map((t) => t.table)).toEqual([`public.${ITEMS}`]);
    }
    // The intervals tile the run: their changes add up to the total, snapshot reads and inserts.
    expect(lines.reduce((n, l) => n + l.applied, 0)).toBe(TOTAL);
    const last = lines[lines.length - 1] as ProgressLogFields;
    expect(last.final).toBe(true);
    expect(last.state).toBe('stopped');
    expect(last.appliedTotal).toBe(TOTAL);
    expect(last.appliedTotalByOp).toEqual({ r: SNAPSHOT_ROWS, c: LIVE_ROWS });
    expect(last.retriesTotal).toBe(0);
    expect(last.dlqTotal).toBe(0);
    expect(lines.some((l) => l.consumerLag !== null)).toBe(true);
    expect(lines.some((l) => l.endToEndLagSeconds !== null && l.endToEndLagSeconds >= 0)).toBe(
      true,
    );
    // No live view without --progress tty.
    expect(p.logs.some((l) => l.includes('pgferry run  '))).toBe(false);
  });

  it('--progress tty: the live view with the table against its estimate, then a last line', async () => {
    const p = await start('tty', ['--progress', 'tty']);
    const table = `public.${ITEMS}`;
    // Its own group: everything is applied again, up to the estimate (ANALYZE: 5,000 rows).
    const done = new RegExp(`^\\s*${table}\\s+5,000\\s+~5,000\\s+100\\.0%`);
    await waitFor('the table at 100.0% in the view', 120_000, () => viewHas(p, done), p);
    expect(p.logs.some((l) => l.includes('pgferry run  running  up '))).toBe(true);
    expect(
      p.logs.some((l) => /^applied {2}[\d.,]+ rows\/s \(last \d+s\) {2}total /.test(strip(l))),
    ).toBe(true);
    expect(
      p.logs.some((l) => /^ {2}TABLE +ROWS +ESTIMATE +DONE +ROWS\/S +ETA$/.test(strip(l))),
    ).toBe(true);
    // Redrawn in place: cursor up over the previous frame, erase to the end of the screen.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the escape is what is checked.
    expect(p.logs.some((l) => /\r\u001b\[\d+A\u001b\[J/.test(l))).toBe(true);
    expect(await stop(p)).toBe(0);
    const summary =
      /^pgferry run stopped after \S+: 5,000 changes applied \(r 2,000, c 3,000\), \d+ batches, 0 retries, 0 dead-lettered$/;
    expect(p.logs.some((l) => summary.test(strip(l)))).toBe(true);
    // The view does not replace the JSON logs on a separate stderr.
    expect(p.logs.some((l) => l.includes('"msg":"pgferry running"'))).toBe(true);
    expect(p.logs.some((l) => l.includes('"msg":"progress"'))).toBe(false);
  });
});

/** A line without the cursor movement that starts a redrawn frame. */
function strip(line: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escapes are what we remove.
  return line.replace(/\r|\u001b\[\d*[A-Za-z]/g, '');
}

function viewHas(p: PgferryProcess, pattern: RegExp): boolean {
  return p.logs.some((l) => pattern.test(strip(l)));
}

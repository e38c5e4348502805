// The README's main command as a newcomer runs it: `npm start` (stack/run-main.sh) on the running
// local stack builds pgferry, sets up the demo tables, syncs the target schema, applies the main
// connector without a snapshot, starts the demo load for a short while, loads the tables with
// `pgferry copy` (its progress and report before replication starts) and runs `pgferry run`; the
// target must converge to the source, and Ctrl-C (SIGINT to the process group, as a terminal
// sends it) must stop it all cleanly with exit 0. The demo tables have fixed names in public and
// may hold rows of earlier runs, so the test compares source and target after convergence, never
// absolute counts; their target side is reset first (as `pgferry copy --restart` does), so that
// the copy has the newcomer's empty target to load.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { resetForRestart } from '../../migrate/copy/copy-plan.js';
import { DEMO_SCHEMA, DEMO_TABLES } from '../../migrate/demo/demo-schema.js';
import { loadStackEnv, repoPath } from '../support/stack-env.js';
import { waitForEqual } from '../support/table-checksum.js';

const stack = loadStackEnv();
const MAIN_METRICS_PORT = Number(stack.vars.METRICS_PORT ?? 59464);
const DEMO_RATE = 40;
const DEMO_SECONDS = 15;
const demoLog = repoPath(`.stack/logs/demo-load-main-command-test-${Date.now()}.log`);

// pgferry settings a developer's shell may have exported: a newcomer's shell has none of them.
const PGFERRY_SETTING =
  /^(KAFKA_|TARGET_|SOURCE_|SCHEMA_REGISTRY|CONNECT|CONNECTOR_|METRICS_|COPY_|BATCH_|TOPIC_|DLQ_|RETRY_|PROGRESS_|LOG_LEVEL|ROLLBACK_|REVERSE_|PGFERRY_)/;

// Where the stack runs is not a pgferry setting: CI shifts the ports when another stack holds the
// defaults (.ci/run), and `npm start` must then find this stack, not the other one.
const STACK_LOCATION = /^PGFERRY_(\w+_PORT|STACK_DIR)$/;

function newcomerEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && (!PGFERRY_SETTING.test(name) || STACK_LOCATION.test(name)))
      env[name] = value;
  }
  return {
    ...env,
    PGFERRY_DEMO_RATE: String(DEMO_RATE),
    PGFERRY_DEMO_DURATION: String(DEMO_SECONDS),
    PGFERRY_DEMO_LOG: demoLog,
    // The periodic summary line of `pgferry run` without a terminal, often enough to see one.
    PROGRESS_LOG_SECONDS: '5',
    // Only the demo tables: the main connector also captures other tests' tables in public, and
    // their targets belong to those tests (their own pgferry writes them).
    KAFKA_TOPIC_PATTERN: `^cdc\\.public\\.(${DEMO_TABLES.map((t) => t.name).join('|')})$`,
  };
}

async function isPortFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Who holds `port` (listening or as a connection's local port), for the failure message. */
function portHolders(port: number): string {
  const ss = spawnSync('ss', ['-tanp', `( sport = :${port} )`], { encoding: 'utf8' });
  return ss.status === 0 ? ss.stdout : `(ss failed: ${ss.stderr || ss.error?.message})`;
}

async function waitFor(
  what: string,
  condition: () => boolean,
  timeoutMs: number,
  output: () => string,
  child: ChildProcess,
  poll?: () => Promise<void>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await poll?.();
    if (condition()) return;
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `npm start ended (${child.exitCode ?? child.signalCode}) before ${what}:\n${output().slice(-3000)}`,
      );
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}:\n${output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * The demo tables' target side as a newcomer's first `npm start` finds it: empty, no copy plan,
 * no stream state (what `pgferry copy --restart --yes` does before copying). An earlier run of
 * this test or of `npm start` left them copied or replicated, and the copy would just report them
 * ("already copied") or refuse them (loaded by an older `npm start`). As pgferry's own target role,
 * the owner of the tables and of its bookkeeping schema.
 */
async function resetDemoTargetTables(): Promise<void> {
  const v = stack.vars;
  const target = new pg.Client({
    host: v.TARGET_DB_HOST,
    port: Number(v.TARGET_DB_PORT),
    database: v.TARGET_DB_NAME,
    user: v.TARGET_DB_USER,
    password: v.TARGET_DB_PASSWORD,
  });
  await target.connect();
  try {
    await resetForRestart(
      target,
      DEMO_TABLES.map((t) => ({ schema: DEMO_SCHEMA, name: t.name })),
    );
  } finally {
    await target.end();
  }
}

/** Demo tables with applied rows in Prometheus (`sum by (table) (pgferry_changes_applied_total)`). */
async function queryAppliedTables(): Promise<string[]> {
  const query = 'sum by (table) (pgferry_changes_applied_total{job="pgferry"})';
  const response = await fetch(
    `${stack.prometheusUrl}/api/v1/query?query=${encodeURIComponent(query)}`,
  ).catch(() => undefined);
  if (!response?.ok) return [];
  const body = (await response.json()) as {
    data?: { result?: { metric: { table?: string }; value: [number, string] }[] };
  };
  const demo = new Set(DEMO_TABLES.map((t) => `public.${t.name}`));
  return (body.data?.result ?? [])
    .filter(
      (r) => r.metric.table !== undefined && demo.has(r.metric.table) && Number(r.value[1]) > 0,
    )
    .map((r) => r.metric.table as string);
}

const appliedTables = new Set<string>();
let main: ChildProcess | undefined;

afterAll(async () => {
  // Never leave the pipeline or the load behind, whatever failed.
  const running = main;
  if (running?.pid !== undefined && running.exitCode === null && running.signalCode === null) {
    const exited = once(running, 'exit');
    process.kill(-running.pid, 'SIGTERM');
    const timer = setTimeout(() => {
      if (running.pid !== undefined) process.kill(-running.pid, 'SIGKILL');
    }, 20_000);
    await exited;
    clearTimeout(timer);
  }
  rmSync(demoLog, { force: true });
});

describe('npm start (stack/run-main.sh)', () => {
  it('replicates the demo load to the target and stops cleanly on Ctrl-C', async () => {
    // A pgferry stopped by the test before can take a moment to let go of the port.
    const portDeadline = Date.now() + 30_000;
    let portFree = await isPortFree(MAIN_METRICS_PORT);
    while (!portFree && Date.now() < portDeadline) {
      await new Promise((r) => setTimeout(r, 1_000));
      portFree = await isPortFree(MAIN_METRICS_PORT);
    }
    expect(
      portFree,
      `port ${MAIN_METRICS_PORT} is in use: is \`npm start\` already running? Stop it first.\n${portHolders(MAIN_METRICS_PORT)}`,
    ).toBe(true);
    mkdirSync(repoPath('.stack/logs'), { recursive: true });
    await resetDemoTargetTables();

    const started = Date.now();
    let output = '';
    // detached: its own process group, like a command started from a terminal.
    const child = spawn('bash', [repoPath('stack/run-main.sh')], {
      cwd: repoPath(''),
      env: newcomerEnv(),
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    main = child;
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    const loadLog = () => (existsSync(demoLog) ? readFileSync(demoLog, 'utf8') : '');

    await waitFor(
      'pgferry run to start',
      () => output.includes('"msg":"pgferry running"'),
      240_000,
      () => output,
      child,
    );
    const runningAfterMs = Date.now() - started;
    await waitFor(
      'the demo load to finish',
      () => /^demo load: done/m.test(loadLog()),
      (DEMO_SECONDS + 60) * 1000,
      () => `${output}\n--- demo load log ---\n${loadLog()}`,
      child,
    );

    const fingerprints = await waitForEqual(
      stack.sourceDatabaseUrl,
      stack.targetDatabaseUrl,
      DEMO_TABLES.map((t) => ({ name: t.name, orderBy: t.orderBy })),
      // Generous: the copy is done, but the stream since the slot's start (the load) follows it.
      180_000,
    );
    const convergedAfterMs = Date.now() - started;
    for (const t of DEMO_TABLES) expect(fingerprints.get(t.name)?.rows, t.name).toBeGreaterThan(0);

    // The query the help block suggests shows the demo tables' applied rows in Prometheus.
    await waitFor(
      'Prometheus to have scraped the applied rows of the demo tables',
      () => appliedTables.size === DEMO_TABLES.length,
      60_000,
      () => `tables seen: ${[...appliedTables].join(', ')}`,
      child,
      async () => {
        for (const table of await queryAppliedTables()) appliedTables.add(table);
      },
    );

    // Ctrl-C: the terminal sends SIGINT to the whole foreground process group.
    process.kill(-(child.pid as number), 'SIGINT');
    const [code, signal] = await exited;
    main = undefined;
    console.info(
      `npm start: pgferry running after ${(runningAfterMs / 1000).toFixed(1)} s, target = source after ${(convergedAfterMs / 1000).toFixed(1)} s, stopped after ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    expect({ code, signal }, output.slice(-3000)).toEqual({ code: 0, signal: null });

    // Each step said what it did, and the help block says where to look.
    expect(output).toContain('[start] sample tables on the source: pgferry demo setup');
    expect(output).toMatch(/^demo schema ready/m);
    expect(output).toContain(
      '[start] target schema: pgferry schema-sync --tables users,products,orders,order_items',
    );
    expect(output).toContain(
      '[start] Debezium connector, no snapshot (pgferry copy loads the rows): pgferry connector apply --snapshot-mode no_data',
    );
    expect(output).toMatch(/^connector pgferry-source: connector RUNNING/m);

    // The initial load: planned, its progress lines (no terminal here), then its report, all
    // before pgferry run starts; every demo table copied now (the target was reset above).
    expect(output).toContain(
      '[start] initial load: pgferry copy --tables users,products,orders,order_items',
    );
    expect(output).not.toContain('pgferry copy refused');
    const copyPlanned = output.indexOf('"msg":"copy planned"');
    const copyProgress = output.indexOf('"msg":"copy progress"');
    const copyReport = /^copy: OK, 4 tables copied: (\d+) rows/m.exec(output);
    const running = output.indexOf('"msg":"pgferry running"');
    const copyOutput = output.slice(output.indexOf('[start] initial load'), running + 200);
    expect(copyPlanned, copyOutput).toBeGreaterThan(-1);
    expect(copyProgress, copyOutput).toBeGreaterThan(copyPlanned);
    expect(copyReport, copyOutput).not.toBeNull();
    const report = copyReport as RegExpExecArray;
    expect(report.index).toBeGreaterThan(copyProgress);
    expect(running).toBeGreaterThan(report.index);
    expect(Number(report[1])).toBeGreaterThan(0);
    for (const t of DEMO_TABLES) {
      expect(output).toMatch(
        new RegExp(
          `^public\\.${t.name}: DONE (\\d+)/\\1 chunks, [1-9]\\d* rows, .*, \\d+ chunks? copied now$`,
          'm',
        ),
      );
    }
    expect(output).toContain(`psql "$TARGET_DATABASE_URL" -c 'SELECT count(*) FROM orders'`);
    expect(output).toContain(`${stack.prometheusUrl}/graph?g0.expr=`);
    // pgferry run: its periodic summary lines, then a clean stop on the signal.
    expect(output).toMatch(/"msg":"progress"/);
    expect(output).toMatch(/"signal":"SIGINT","msg":"signal received"/);
    expect(output).toMatch(/"msg":"pgferry stopped"/);

    // The load: a progress line in its log, and its summary on the terminal at the end.
    const log = loadLog();
    expect(log).toMatch(
      new RegExp(`^demo load: started: ${DEMO_RATE}\\.0 rows/s for ${DEMO_SECONDS}\\.0 s`, 'm'),
    );
    expect(log).toMatch(/^demo load: \d+\.\d s: [\d,]+ rows/m);
    const summary =
      /^demo load: done \(duration reached\) after [\d.]+ s: ([\d,]+) rows .* in ([\d,]+) transactions, ([\d.]+) rows\/s/m.exec(
        output,
      );
    expect(summary, output.slice(-2000)).not.toBeNull();
    const [, rows, transactions, rate] = summary as RegExpExecArray;
    expect(Number(rows?.replaceAll(',', ''))).toBeGreaterThan(DEMO_RATE * DEMO_SECONDS * 0.8);
    expect(Number(transactions?.replaceAll(',', ''))).toBeGreaterThan(0);
    expect(Number(rate)).toBeGreaterThan(DEMO_RATE * 0.8);
    expect(Number(rate)).toBeLessThan(DEMO_RATE * 1.2);
  }, 480_000);
});

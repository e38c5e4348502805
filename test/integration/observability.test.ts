// Observability on the real stack: a dedicated Debezium connector and `pgferry run` on the port
// the stack's Prometheus scrapes (PGFERRY_METRICS_PORT), with traffic that exercises every metric
// (several tables, a schema change, a table without primary key, a poison message, a transient
// target fault). Then every Grafana panel query and every recording rule must return series from
// that Prometheus, and alerts must fire where they should: DLQ after the poison message, table
// stopped, and PgferryDown after pgferry stops. Then a slowed-down `pgferry copy` on the port the
// stack's Prometheus scrapes as job pgferry-copy (PGFERRY_COPY_METRICS_PORT), with one table the
// target refuses: every query of the dashboard's copy row returns this copy's series and
// PgferryCopyTableFailed fires for that table.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectClient } from '../../core/connect-client.js';
import { runPgferryCli } from '../support/cli-run.js';
import {
  allPanels,
  allRules,
  COPY_ROW_TITLE,
  labelValuesQuery,
  loadDashboard,
  RULES_DIR,
  rowPanels,
  substituteVariables,
  variableQuery,
  yamlFilesIn,
} from '../support/observability-files.js';
import { type PgferryProcess, startPgferry } from '../support/pgferry-process.js';
import { loadStackEnv, repoPath } from '../support/stack-env.js';
import { applyTestConnector, removeTestConnector } from '../support/test-connector.js';

const stack = loadStackEnv();
const run = Date.now().toString(36);
const prefix = `obs_${run}`;
const groupId = `pgferry-obs-${run}`;
const connectorName = `pgferry-obs-${run}`;
const slotName = `pgferry_obs_${run}`;
const t = (name: string) => `obs_${name}_${run}`;
const USERS = t('users');
const ORDERS = t('orders');
const NOPK = t('nopk');
const topicOf = (table: string) => `${prefix}.public.${table}`;
const metricsPort = Number(stack.vars.METRICS_PORT ?? '59464');
// `pgferry copy`'s tables: outside the connector's table.include.list (public\.obs_.*_<run>), so
// `pgferry run` never replicates them (the copy would refuse them). COPY_BAD sorts first, so its
// chunk is copied (and refused) first.
const COPY_BAD = `obscp_a_bad_${run}`;
const COPY_ROWS = `obscp_b_rows_${run}`;
const copyMetricsPort = Number(stack.vars.COPY_METRICS_PORT ?? '59465');

const kafka = new Kafka({
  brokers: [stack.kafkaBootstrap],
  clientId: 'pgferry-obs-test',
  logLevel: logLevel.NOTHING,
});
const source = new pg.Client({ connectionString: stack.sourceDatabaseUrl });
const target = new pg.Client({ connectionString: stack.targetDatabaseUrl });
const connect = new ConnectClient({ baseUrl: stack.connectUrl });
let pgferry: PgferryProcess | undefined;
let copy: ChildProcess | undefined;
let traffic: { stop: () => Promise<void> } | undefined;
let connected = false;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Series {
  metric: Record<string, string>;
  value: [number, string];
}

async function promQuery(query: string): Promise<Series[]> {
  const url = `${stack.prometheusUrl}/api/v1/query?query=${encodeURIComponent(query)}`;
  const response = await fetch(url);
  const body = (await response.json()) as {
    status: string;
    error?: string;
    data?: { resultType: string; result: Series[] };
  };
  if (body.status !== 'success') throw new Error(`Prometheus rejected ${query}: ${body.error}`);
  const data = body.data as { resultType: string; result: Series[] };
  if (data.resultType !== 'vector') throw new Error(`${query}: ${data.resultType}, not a vector`);
  return data.result;
}

/** Label values one series must carry, e.g. `{ table: 'public.t' }`. */
type Labels = Record<string, string>;

interface SeriesQuery {
  name: string;
  query: string;
  /**
   * Series the result must include, not just any series: Prometheus sees a table's series from
   * the first scrape after pgferry first counted it, and a rate() only from the second, so a
   * query can return another table's series (or a leftover of an earlier pgferry on the port)
   * before it returns the one a check is about.
   */
  want?: Labels[];
}

const hasLabels = (metric: Labels, labels: Labels) =>
  Object.entries(labels).every(([k, v]) => metric[k] === v);

/**
 * Polls until every query returns at least one series, and every series it `want`s; names the
 * ones that never did and what they returned last.
 */
async function waitForSeries(
  queries: SeriesQuery[],
  timeoutMs: number,
): Promise<Map<string, Series[]>> {
  const found = new Map<string, Series[]>();
  const last = new Map<string, Series[]>();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const q of queries) {
      if (found.has(q.name)) continue;
      const result = await promQuery(q.query);
      last.set(q.name, result);
      const complete = (q.want ?? []).every((w) => result.some((s) => hasLabels(s.metric, w)));
      if (result.length > 0 && complete) found.set(q.name, result);
    }
    const missing = queries.filter((q) => !found.has(q.name));
    if (missing.length === 0) return found;
    if (Date.now() > deadline)
      throw new Error(
        `no series (or not the wanted ones) after ${timeoutMs / 1000}s for:\n${missing
          .map(
            (q) =>
              `  ${q.name}: ${q.query}\n    wanted ${q.want ? JSON.stringify(q.want) : 'any series'}, last returned ${JSON.stringify((last.get(q.name) ?? []).map((s) => s.metric))}`,
          )
          .join('\n')}`,
      );
    await sleep(2000);
  }
}

/** The value of the sample of `metric` with `labels` in a /metrics text (the largest if several). */
function sampleValue(text: string, metric: string, labels: Labels): number | undefined {
  let value: number | undefined;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (m?.[1] !== metric) continue;
    const seen: Labels = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      seen[l[1] as string] = l[2] as string;
    if (hasLabels(seen, labels)) value = Math.max(value ?? -Infinity, Number(m[3]));
  }
  return value;
}

async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s: ${what}`);
    await sleep(1000);
  }
}

async function alertStates(selector: string): Promise<string[]> {
  return (await promQuery(`ALERTS{${selector}}`)).map((s) => s.metric.alertstate as string);
}

async function portIsFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function targetCount(table: string): Promise<number> {
  const result = await target
    .query(`SELECT count(*)::int AS n FROM public.${table}`)
    .catch(() => ({ rows: [{ n: 0 }] }));
  return Number(result.rows[0]?.n ?? 0);
}

/** A steady trickle of inserts and updates, so that rates over the last minute are not empty. */
function startTraffic(): { stop: () => Promise<void> } {
  const client = new pg.Client({ connectionString: stack.sourceDatabaseUrl });
  let running = true;
  const loop = (async () => {
    await client.connect();
    let i = 0;
    while (running) {
      i++;
      await client.query(`INSERT INTO ${USERS} (username, email) VALUES ($1, $2)`, [
        `steady${i}`,
        `steady${i}@example.com`,
      ]);
      await client.query(`UPDATE ${ORDERS} SET amount = amount + 1 WHERE id = $1`, [1 + (i % 20)]);
      await sleep(500);
    }
    await client.end();
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

describe.sequential('observability against the stack Prometheus', () => {
  beforeAll(async () => {
    // The stack's Prometheus must run the rules of this checkout (stack/lib/prometheus.sh copies
    // prometheus/ at `stack up`): otherwise this would test stale rules.
    const loaded = (await (await fetch(`${stack.prometheusUrl}/api/v1/rules`)).json()) as {
      data: { groups: { rules: { name: string; query: string }[] }[] };
    };
    const live = new Map(
      loaded.data.groups.flatMap((g) => g.rules.map((r) => [r.name, r.query] as const)),
    );
    const mine = allRules().map((r) => (r.alert ?? r.record) as string);
    expect(
      mine.filter((name) => !live.has(name)),
      'rules missing in the stack Prometheus: run `bash stack/stack.sh up` to copy prometheus/ and reload',
    ).toEqual([]);
    const stackDir = stack.vars.PGFERRY_STACK_DIR ?? repoPath('.stack');
    for (const file of yamlFilesIn(RULES_DIR)) {
      const copy = `${stackDir}/prometheus/config/rules/${file.slice(RULES_DIR.length + 1)}`;
      expect(
        existsSync(copy) && readFileSync(copy, 'utf8') === readFileSync(repoPath(file), 'utf8'),
        `${file} differs from the stack's copy: run \`bash stack/stack.sh up\` to copy prometheus/ and reload`,
      ).toBe(true);
    }
    if (!(await portIsFree(metricsPort)))
      throw new Error(
        `port ${metricsPort} (PGFERRY_METRICS_PORT, scraped by the stack's Prometheus) is taken: stop the pgferry using it (npm start?)`,
      );

    await source.connect();
    await target.connect();
    connected = true;
    await source.query(`CREATE TABLE ${USERS} (id serial PRIMARY KEY, username text, email text)`);
    await source.query(
      `CREATE TABLE ${ORDERS} (id integer PRIMARY KEY, user_id integer, amount numeric(12,2))`,
    );
    await source.query(`CREATE TABLE ${NOPK} (note text)`);
    await source.query(
      `INSERT INTO ${USERS} (username, email) SELECT 'snap' || g, 'snap' || g || '@example.com' FROM generate_series(1, 20) g`,
    );
    await source.query(
      `INSERT INTO ${ORDERS} SELECT g, 1 + g % 20, g * 1.5 FROM generate_series(1, 20) g`,
    );

    await applyTestConnector(connect, {
      name: connectorName,
      topicPrefix: prefix,
      slotName,
      tableIncludeList: `public\\.obs_.*_${run}`,
    });
    pgferry = await startPgferry(
      {
        ...stack.vars,
        KAFKA_TOPIC_PATTERN: `^${prefix}\\.public\\..*`,
        KAFKA_GROUP_ID: groupId,
        CONNECTOR_NAME: connectorName,
        TOPIC_REFRESH_SECONDS: '2',
        RETRY_MAX_DELAY_SECONDS: '2',
        LOG_LEVEL: 'info',
      },
      metricsPort,
    );
    traffic = startTraffic();
  });

  afterAll(async () => {
    // A client that never connected would queue the cleanup queries forever.
    if (!connected) return;
    await traffic?.stop().catch(() => undefined);
    if (copy && copy.exitCode === null && copy.signalCode === null) {
      copy.kill('SIGKILL');
      await once(copy, 'exit').catch(() => undefined);
    }
    if (pgferry) {
      const running = pgferry;
      running.child.kill('SIGTERM');
      const code = await Promise.race([running.exited, sleep(15_000).then(() => 'running')]);
      if (code === 'running') running.child.kill('SIGKILL');
    }
    await removeTestConnector(stack.connectUrl, connectorName, source, slotName);
    for (const table of [USERS, ORDERS, NOPK, COPY_BAD, COPY_ROWS])
      await source.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    for (const table of [COPY_BAD, COPY_ROWS])
      await target.query(`DROP TABLE IF EXISTS public.${table}`).catch(() => undefined);
    // Their copy rows too (a FAILED and an unfinished copy): left behind, they would make every
    // later `pgferry status` on this shared target report a copy not done (exit 3).
    await target
      .query('DELETE FROM pgferry.copy_tables WHERE table_name = ANY($1)', [[COPY_BAD, COPY_ROWS]])
      .catch(() => undefined);
    await source.end().catch(() => undefined);
    await target.end().catch(() => undefined);
  });

  it('replicates traffic with a schema change, a table without key, a poison message and a transient fault', async () => {
    await waitFor('snapshot rows in the target', 120_000, async () =>
      (await targetCount(USERS)) >= 20 && (await targetCount(ORDERS)) >= 20 ? true : undefined,
    );
    // A new column: a new schema version, applied as ADD COLUMN (pgferry_schema_changes_total).
    await source.query(`ALTER TABLE ${ORDERS} ADD COLUMN note text`);
    await source.query(
      `INSERT INTO ${ORDERS} SELECT g, 1, 0, 'after alter' FROM generate_series(21, 30) g`,
    );
    await source.query(`DELETE FROM ${ORDERS} WHERE id = 30`);
    // No primary key: that table stops (pgferry_table_stopped), the others go on.
    await source.query(`INSERT INTO ${NOPK} VALUES ('no key here')`);
    // Bytes that are not Avro: dead-lettered (pgferry_dlq_messages_total).
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: topicOf(USERS),
      messages: [{ partition: 0, key: null, value: Buffer.from('definitely not avro') }],
    });
    await producer.disconnect();

    // The new topic is subscribed (a rebalance) and its table stopped before the fault below, so
    // the reconnect after it does not coincide with a rebalance.
    await waitFor('the table without key stopped', 60_000, async () =>
      (await (pgferry as PgferryProcess).metrics()).includes(
        `pgferry_table_stopped{table="public.${NOPK}"} 1`,
      )
        ? true
        : undefined,
    );

    // A transient fault: hold a lock on a target table so that the sink blocks on it, then kill
    // the sink's session. pgferry retries the batch (pgferry_retries_total) and goes on.
    const locker = new pg.Client({ connectionString: stack.targetDatabaseUrl });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query(`LOCK TABLE public.${ORDERS} IN ACCESS EXCLUSIVE MODE`);
      await source.query(`UPDATE ${ORDERS} SET amount = amount + 100 WHERE id = 1`);
      const blocked = await waitFor('the sink waiting on the lock', 60_000, async () => {
        const r = await target.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity
            WHERE application_name = 'pgferry-sink' AND $1 = ANY(pg_blocking_pids(pid))`,
          [(await locker.query('SELECT pg_backend_pid() AS pid')).rows[0].pid],
        );
        return r.rows[0]?.pid;
      });
      await target.query('SELECT pg_terminate_backend($1)', [blocked]);
    } finally {
      await locker.query('ROLLBACK').catch(() => undefined);
      await locker.end();
    }
    await waitFor('the updated order applied after the retry', 60_000, async () => {
      const r = await target.query(`SELECT amount FROM public.${ORDERS} WHERE id = 1`);
      return Number(r.rows[0]?.amount) >= 100 ? true : undefined;
    });
    // 20 snapshot rows + 10 after the ALTER - 1 deleted.
    await waitFor('every order change applied', 60_000, async () =>
      (await targetCount(ORDERS)) === 29 ? true : undefined,
    );

    const metrics = await (pgferry as PgferryProcess).metrics();
    expect(metrics).toMatch(/pgferry_retries_total\{cause="RetriableError"\} [1-9]/);
    expect(metrics).toContain(`pgferry_table_stopped{table="public.${NOPK}"} 1`);
    expect(metrics).toMatch(
      new RegExp(
        `pgferry_schema_changes_total\\{table="public\\.${ORDERS}",kind="add_column"\\} 1`,
      ),
    );
  });

  it('fires the DLQ and table-stopped alerts for this run', async () => {
    await waitFor('PgferryDlqMessages pending or firing', 60_000, async () =>
      (await alertStates(`alertname="PgferryDlqMessages",topic="${topicOf(USERS)}"`)).length > 0
        ? true
        : undefined,
    );
    await waitFor('PgferryTableStopped pending or firing', 60_000, async () =>
      (await alertStates(`alertname="PgferryTableStopped",table="public.${NOPK}"`)).length > 0
        ? true
        : undefined,
    );
    // pgferry answers scrapes: its down alert is not active.
    await waitFor('PgferryDown inactive while pgferry runs', 30_000, async () =>
      (await alertStates('alertname="PgferryDown"')).length === 0 ? true : undefined,
    );
  });

  it('returns series for every dashboard panel query', async () => {
    // The series of this run each panel must show (not leftovers), with the pgferry metric behind
    // it and the least value pgferry must report there first.
    const expected: { panel: string; metric: string; labels: Labels; atLeast: number }[] = [
      ...[USERS, ORDERS].map((table) => ({
        panel: 'Changes applied by table and op',
        metric: 'pgferry_changes_applied_total',
        labels: { table: `public.${table}` },
        atLeast: 1,
      })),
      {
        panel: 'Replication slot lag',
        metric: 'pgferry_source_slot_lag_bytes',
        labels: { slot: slotName },
        atLeast: 0,
      },
      {
        panel: 'Connector state',
        metric: 'pgferry_connector_state',
        labels: { connector: connectorName, state: 'RUNNING' },
        atLeast: 1,
      },
      {
        panel: 'Stopped tables',
        metric: 'pgferry_table_stopped',
        labels: { table: `public.${NOPK}` },
        atLeast: 1,
      },
      {
        panel: 'Retries by cause',
        metric: 'pgferry_retries_total',
        labels: { cause: 'RetriableError' },
        atLeast: 1,
      },
    ];
    // First pgferry itself: a series missing there is pgferry's fault, not Prometheus's.
    const running = pgferry as PgferryProcess;
    let absent = expected;
    await waitFor("the expected series in pgferry's /metrics", 60_000, async () => {
      const text = await running.metrics();
      absent = expected.filter(
        (e) => !((sampleValue(text, e.metric, e.labels) ?? -1) >= e.atLeast),
      );
      return absent.length === 0 ? true : undefined;
    }).catch((error: Error) => {
      const list = absent.map((e) => `${e.metric}${JSON.stringify(e.labels)} >= ${e.atLeast}`);
      throw new Error(`${error.message}; absent or lower: ${list.join(', ')}`);
    });

    // Then Prometheus, until every panel returns them: a rate() panel only once two scrapes hold
    // the series, which can be a scrape later for one table than for another. The copy row shows
    // `pgferry copy`, which is not running now: the copy test below checks it.
    const dashboard = loadDashboard();
    const copyRow = new Set(rowPanels(dashboard, COPY_ROW_TITLE).map((p) => p.id));
    expect(copyRow.size).toBeGreaterThan(0);
    const queries = allPanels(dashboard)
      .filter((p) => !copyRow.has(p.id))
      .flatMap((p) =>
        (p.targets ?? []).map((target, i) => ({
          name: `${p.title} [${target.refId}]`,
          query: substituteVariables(target.expr ?? ''),
          // Checked on each panel's first query.
          want:
            i === 0 ? expected.filter((e) => e.panel === p.title).map((e) => e.labels) : undefined,
        })),
      );
    expect(queries.length).toBeGreaterThan(20);
    for (const panel of new Set(expected.map((e) => e.panel)))
      expect(
        queries.some((q) => q.name.startsWith(`${panel} [`)),
        `dashboard panel ${panel}`,
      ).toBe(true);
    const found = await waitForSeries(queries, 120_000);
    // What was waited for, as assertions: this run's series, not leftovers.
    const labels = (name: string, label: string) =>
      (found.get(name) ?? []).map((s) => s.metric[label]);
    const byTitle = (title: string) =>
      queries.filter((q) => q.name.startsWith(`${title} [`)).map((q) => q.name);
    expect(labels(byTitle('Changes applied by table and op')[0] as string, 'table')).toContain(
      `public.${USERS}`,
    );
    expect(labels(byTitle('Replication slot lag')[0] as string, 'slot')).toContain(slotName);
    expect(labels(byTitle('Connector state')[0] as string, 'connector')).toContain(connectorName);
    expect(labels(byTitle('Connector state')[0] as string, 'state')).toContain('RUNNING');
    expect(labels(byTitle('Stopped tables')[0] as string, 'table')).toContain(`public.${NOPK}`);
    expect(labels(byTitle('Retries by cause')[0] as string, 'cause')).toContain('RetriableError');

    // The table variable's values (label_values) include this run's tables.
    for (const variable of dashboard.templating.list.filter((v) => v.type === 'query')) {
      const lv = labelValuesQuery(variableQuery(variable));
      expect(lv, variable.name).toBeDefined();
      const { metric, label } = lv as { metric: string; label: string };
      const url = `${stack.prometheusUrl}/api/v1/label/${label}/values?match[]=${encodeURIComponent(metric)}`;
      const values = ((await (await fetch(url)).json()) as { data: string[] }).data;
      expect(values, variable.name).toContain(`public.${USERS}`);
    }
  });

  it('returns series for every recording rule', async () => {
    const records = allRules().flatMap((r) => (r.record ? [r.record] : []));
    expect(records.length).toBeGreaterThan(5);
    await waitForSeries(
      records.map((name) => ({ name, query: name })),
      120_000,
    );
  });

  it('shows a running pgferry copy in the copy row and fires PgferryCopyTableFailed', async () => {
    // The stack's Prometheus scrapes the copy port (stack/lib/prometheus.sh rewrites pgferry:9465).
    const targets = (await (
      await fetch(`${stack.prometheusUrl}/api/v1/targets?state=any`)
    ).json()) as { data: { activeTargets: { labels: Labels; scrapeUrl: string }[] } };
    expect(
      targets.data.activeTargets
        .filter((t) => t.labels.job === 'pgferry-copy')
        .map((t) => t.scrapeUrl),
      'the stack Prometheus scrapes job pgferry-copy: run `bash stack/stack.sh up` to copy prometheus/ and reload',
    ).toEqual([`http://127.0.0.1:${copyMetricsPort}/metrics`]);
    if (!(await portIsFree(copyMetricsPort)))
      throw new Error(
        `port ${copyMetricsPort} (PGFERRY_COPY_METRICS_PORT, scraped by the stack's Prometheus) is taken: stop the pgferry copy using it`,
      );

    const reader = stack.vars.SOURCE_DB_USER ?? 'pgferry_reader';
    await source.query(`
      CREATE TABLE ${COPY_BAD} (id int PRIMARY KEY, v text);
      INSERT INTO ${COPY_BAD} VALUES (1, 'refused by the target');
      CREATE TABLE ${COPY_ROWS} (id int PRIMARY KEY, v text);
      INSERT INTO ${COPY_ROWS} SELECT g, 'row ' || g FROM generate_series(1, 300) g;
      GRANT SELECT ON ${COPY_BAD}, ${COPY_ROWS} TO ${reader};
    `);
    const env: Record<string, string> = { ...stack.vars, SOURCE_SLOT_NAME: slotName };
    const synced = await runPgferryCli(
      ['schema-sync', '--tables', `${COPY_BAD},${COPY_ROWS}`],
      env,
    );
    expect(synced.code, synced.stderr + synced.stdout).toBe(0);
    // A constraint the source row breaks: the copy of that table fails, the other goes on.
    await target.query(
      `ALTER TABLE public.${COPY_BAD} ADD CONSTRAINT ${COPY_BAD}_refuse CHECK (v NOT LIKE 'refused%')`,
    );

    // 150 chunks, each delayed by 1 s, on 2 workers: a copy of over a minute, stopped once seen.
    const child = spawn(
      process.execPath,
      [
        repoPath('bin/pgferry.js'),
        'copy',
        ...['--tables', `${COPY_BAD},${COPY_ROWS}`, '--jobs', '2', '--chunk-rows', '2'],
        ...['--progress', 'off'],
      ],
      {
        env: {
          PATH: process.env.PATH ?? '',
          ...env,
          METRICS_HOST: '127.0.0.1',
          COPY_METRICS_PORT: String(copyMetricsPort),
          PGFERRY_FAULT_INJECTION: 'copy-chunk:delay=1000@*',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    copy = child;
    let output = '';
    child.stdout?.on('data', (c: Buffer) => {
      output += c.toString('utf8');
    });
    child.stderr?.on('data', (c: Buffer) => {
      output += c.toString('utf8');
    });
    const exited = once(child, 'exit').then(
      ([code, signal]) => (code ?? signal) as number | string,
    );

    const copyMetrics = () =>
      fetch(`http://127.0.0.1:${copyMetricsPort}/metrics`).then(
        (r) => (r.ok ? r.text() : undefined),
        () => undefined,
      );
    await waitFor('pgferry copy copying, its table failure counted', 60_000, async () => {
      if (child.exitCode !== null) throw new Error(`pgferry copy exited early:\n${output}`);
      const text = await copyMetrics();
      return text !== undefined &&
        sampleValue(text, 'pgferry_copy_running', {}) === 1 &&
        sampleValue(text, 'pgferry_copy_table_failed', { table: `public.${COPY_BAD}` }) === 1 &&
        (sampleValue(text, 'pgferry_copy_rows_total', { table: `public.${COPY_ROWS}` }) ?? 0) > 0
        ? true
        : undefined;
    });

    // Every query of the copy row, with this copy's tables where the panel is per table.
    const dashboard = loadDashboard();
    const perTable = [{ table: `public.${COPY_ROWS}` }];
    const want: Record<string, Labels[]> = {
      'Copy rows/s by table': perTable,
      'Copy MB/s by table': perTable,
      'Copy progress by table': perTable,
      'Copy chunks by table': [...perTable, { table: `public.${COPY_BAD}` }],
    };
    const panels = rowPanels(dashboard, COPY_ROW_TITLE);
    const queries: SeriesQuery[] = [
      ...panels.flatMap((p) =>
        (p.targets ?? []).map((t) => ({
          name: `${p.title} [${t.refId}]`,
          query: substituteVariables(t.expr ?? ''),
          want: want[p.title],
        })),
      ),
      { name: 'copy scraped', query: 'up{job="pgferry-copy"} == 1' },
    ];
    expect(panels.length).toBeGreaterThanOrEqual(8);
    for (const title of Object.keys(want))
      expect(
        panels.some((p) => p.title === title),
        `copy row panel ${title}`,
      ).toBe(true);
    await waitForSeries(queries, 60_000);

    await waitFor('PgferryCopyTableFailed firing for the refused table', 60_000, async () =>
      (await alertStates(`alertname="PgferryCopyTableFailed",table="public.${COPY_BAD}"`)).includes(
        'firing',
      )
        ? true
        : undefined,
    );
    // Chunks are committed all along: not stalled.
    expect(await alertStates('alertname="PgferryCopyStalled"')).toEqual([]);
    expect(child.exitCode, 'pgferry copy still copying after the checks').toBeNull();

    // Stopped: it finishes the chunks in flight and reports the refused table as failed (exit 1).
    child.kill('SIGTERM');
    const code = await Promise.race([exited, sleep(60_000).then(() => 'still running')]);
    expect(code, output).toBe(1);
    expect(output).toContain(`public.${COPY_BAD}: FAILED`);
    expect(output).toMatch(/copy: INTERRUPTED/);
  }, 240_000);

  it('raises PgferryDown once pgferry stops answering scrapes', async () => {
    await traffic?.stop();
    traffic = undefined;
    (pgferry as PgferryProcess).child.kill('SIGTERM');
    const stoppedAt = Date.now();
    const pending = await waitFor('PgferryDown pending or firing', 60_000, async () => {
      const states = await alertStates('alertname="PgferryDown"');
      return states.length > 0 ? states : undefined;
    });
    expect(['pending', 'firing']).toContain(pending[0]);
    // `for: 1m`: firing a minute (plus a scrape and an evaluation) after the first failed scrape.
    await waitFor('PgferryDown firing', 90_000, async () =>
      (await alertStates('alertname="PgferryDown"')).includes('firing') ? true : undefined,
    );
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(55_000);
  }, 200_000);

  it('has let pgferry exit 0 after SIGTERM', async () => {
    const running = pgferry as PgferryProcess;
    pgferry = undefined;
    const code = await Promise.race([running.exited, sleep(30_000).then(() => 'still running')]);
    if (code === 'still running') running.child.kill('SIGKILL');
    expect(
      code,
      'pgferry exits after SIGTERM (an open handle, e.g. a leaked connection, keeps it alive)',
    ).toBe(0);
  });
});

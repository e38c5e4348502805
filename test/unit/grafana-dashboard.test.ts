// grafana/: provisioning matches docker-compose's mounts, and the dashboard is valid for current
// Grafana: unique panel ids, a sane non-overlapping grid, every datasource reference resolvable,
// every variable defined, every metric registered by core/metrics.ts. (Grafana itself is not
// installable here; test/integration/observability.test.ts runs every query against Prometheus.)
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  allPanels,
  allRules,
  COPY_ROW_TITLE,
  DASHBOARD_FILE,
  type DashboardPanel,
  GRAFANA_BUILTIN_VARIABLES,
  labelValuesQuery,
  loadDashboard,
  registeredSeries,
  rowPanels,
  selectorProblems,
  variableQuery,
  variableReferences,
} from '../support/observability-files.js';
import { repoPath } from '../support/stack-env.js';

const PROVISIONED_UID = 'prometheus';
const PANEL_TYPES = new Set(['timeseries', 'stat', 'table', 'bargauge', 'row']);

const datasources = parse(
  readFileSync(repoPath('grafana/provisioning/datasources/prometheus.yml'), 'utf8'),
) as {
  apiVersion: number;
  datasources: { name: string; uid: string; type: string; url: string; access: string }[];
};
const providers = parse(
  readFileSync(repoPath('grafana/provisioning/dashboards/pgferry.yml'), 'utf8'),
) as {
  apiVersion: number;
  providers: { name: string; type: string; options: { path: string } }[];
};
const compose = parse(readFileSync(repoPath('docker-compose.yml'), 'utf8')) as {
  services: Record<string, { volumes?: string[]; environment?: Record<string, string> }>;
};
const dashboard = loadDashboard();
const panels = allPanels(dashboard);
const queryPanels = panels.filter((p) => p.type !== 'row');
const variables = dashboard.templating.list;
const known = registeredSeries();
const recorded = new Set(allRules().flatMap((r) => (r.record ? [r.record] : [])));

describe('grafana provisioning', () => {
  it('provisions the Prometheus datasource with uid prometheus at the compose address', () => {
    expect(datasources.apiVersion).toBe(1);
    expect(datasources.datasources).toHaveLength(1);
    expect(datasources.datasources[0]).toMatchObject({
      uid: PROVISIONED_UID,
      type: 'prometheus',
      access: 'proxy',
      url: 'http://prometheus:9090',
    });
  });

  it('loads dashboards from where docker-compose mounts grafana/dashboards, home dashboard included', () => {
    const grafana = compose.services.grafana;
    const mount = (grafana?.volumes ?? [])
      .map((v) => v.split(':'))
      .find(([source]) => source === './grafana/dashboards');
    expect(mount?.[1]).toBe('/var/lib/grafana/dashboards');
    expect(providers.apiVersion).toBe(1);
    expect(providers.providers).toHaveLength(1);
    expect(providers.providers[0]?.type).toBe('file');
    expect(providers.providers[0]?.options.path).toBe(mount?.[1]);
    const home = grafana?.environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH ?? '';
    expect(home.startsWith(`${mount?.[1]}/`)).toBe(true);
    const file = `grafana/dashboards/${home.slice((mount?.[1] ?? '').length + 1)}`;
    expect(file).toBe(DASHBOARD_FILE);
    expect(existsSync(repoPath(file))).toBe(true);
  });
});

describe('the pgferry overview dashboard', () => {
  it('is a current-schema dashboard with a stable uid', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(39);
    expect(dashboard.uid).toBe('pgferry-overview');
    expect(dashboard.uid.length).toBeLessThanOrEqual(40);
    expect(dashboard.title).toBe('pgferry overview');
    expect((dashboard as { id?: unknown }).id ?? null).toBeNull();
    // No legacy `rows` layout and no graph panels (removed in Grafana 11+).
    expect(dashboard).not.toHaveProperty('rows');
    for (const p of panels) expect(PANEL_TYPES, `${p.title}: ${p.type}`).toContain(p.type);
  });

  it('has the panels the issue asks for', () => {
    const text = JSON.stringify(queryPanels.map((p) => p.targets?.map((t) => t.expr)));
    for (const metric of [
      'pgferry_end_to_end_lag_seconds',
      'pgferry_consumer_lag_records',
      'pgferry_source_slot_lag_bytes',
      'pgferry_source_slot_active',
      'pgferry_changes_applied_total',
      'pgferry_stage_duration_seconds_bucket',
      'pgferry_batch_rows_bucket',
      'pgferry_dlq_messages_total',
      'pgferry_retries_total',
      'pgferry_connector_state',
      'pgferry_connector_tasks',
      'pgferry_table_stopped',
      'pgferry_process_resident_memory_bytes',
      'pgferry_nodejs_heap_size_used_bytes',
    ])
      expect(text, metric).toContain(metric);
  });

  it('has a row for the initial copy with its throughput, progress, latency and failures', () => {
    const row = dashboard.panels.find((p) => p.type === 'row' && p.title === COPY_ROW_TITLE);
    expect(row, `a row "${COPY_ROW_TITLE}"`).toBeDefined();
    expect(row?.gridPos).toMatchObject({ x: 0, w: 24, h: 1 });
    const copyPanels = rowPanels(dashboard, COPY_ROW_TITLE);
    expect(copyPanels.length).toBeGreaterThanOrEqual(8);
    const exprs = copyPanels.flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? ''));
    const text = JSON.stringify(exprs);
    for (const metric of [
      'pgferry_copy_rows_total',
      'pgferry_copy_bytes_total',
      'pgferry_copy_chunks_done',
      'pgferry_copy_chunks_total',
      'pgferry_copy_chunk_duration_seconds_bucket',
      'pgferry_copy_chunk_retries_total',
      'pgferry_copy_table_failed',
      'pgferry_copy_running',
    ])
      expect(text, metric).toContain(metric);
    // Rows/s and MB/s by table are rates of the counters; p50 and p95 of the chunk duration.
    expect(exprs).toContain('sum by (table) (rate(pgferry_copy_rows_total[$__rate_interval]))');
    expect(exprs).toContain('sum by (table) (rate(pgferry_copy_bytes_total[$__rate_interval]))');
    for (const q of ['0.5', '0.95'])
      expect(text).toContain(
        `histogram_quantile(${q}, sum by (le) (rate(pgferry_copy_chunk_duration_seconds_bucket`,
      );
    // Only pgferry copy's own metrics: its endpoint carries no pgferry run series.
    for (const e of exprs) expect(e, 'copy panel query').not.toMatch(/\bpgferry_(?!copy_)/);
    const units = Object.fromEntries(
      copyPanels.map((p) => [
        p.title,
        (p.fieldConfig as { defaults?: { unit?: string } } | undefined)?.defaults?.unit,
      ]),
    );
    expect(units['Copy rows/s by table']).toBe('rowsps');
    expect(units['Copy MB/s by table']).toBe('Bps');
  });

  it('gives every panel a unique id and a unique title', () => {
    const ids = panels.map((p) => p.id);
    for (const id of ids) expect(Number.isInteger(id) && id > 0).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    const titles = panels.map((p) => p.title.trim());
    for (const title of titles) expect(title.length).toBeGreaterThan(0);
    expect(new Set(titles).size).toBe(titles.length);
  });

  it('lays panels out on the 24-column grid without overlaps', () => {
    const cells = new Set<string>();
    for (const p of panels) {
      const { x, y, w, h } = p.gridPos;
      for (const n of [x, y, w, h]) expect(Number.isInteger(n), p.title).toBe(true);
      expect(x, p.title).toBeGreaterThanOrEqual(0);
      expect(y, p.title).toBeGreaterThanOrEqual(0);
      expect(w, p.title).toBeGreaterThan(0);
      expect(h, p.title).toBeGreaterThan(0);
      expect(x + w, p.title).toBeLessThanOrEqual(24);
      for (let i = x; i < x + w; i++)
        for (let j = y; j < y + h; j++) {
          const cell = `${i},${j}`;
          expect(cells.has(cell), `${p.title} overlaps another panel at ${cell}`).toBe(false);
          cells.add(cell);
        }
    }
  });

  it('defines a datasource variable for Prometheus and a table variable from label_values', () => {
    const names = variables.map((v) => v.name);
    expect(new Set(names).size).toBe(names.length);
    const ds = variables.find((v) => v.name === 'datasource');
    expect(ds?.type).toBe('datasource');
    expect(ds?.query).toBe('prometheus');
    const table = variables.find((v) => v.name === 'table');
    expect(table?.type).toBe('query');
    expect(labelValuesQuery(variableQuery(table as (typeof variables)[number]))).toEqual({
      metric: 'pgferry_changes_applied_total',
      label: 'table',
    });
  });

  it('resolves every datasource reference: the provisioned uid or the datasource variable', () => {
    const dsVariables = new Set(
      variables.filter((v) => v.type === 'datasource').map((v) => v.name),
    );
    const refs: { where: string; ref: { type?: string; uid?: string } | undefined }[] = [
      ...queryPanels.flatMap((p) => [
        { where: p.title, ref: p.datasource },
        ...(p.targets ?? []).map((t) => ({ where: `${p.title} ${t.refId}`, ref: t.datasource })),
      ]),
      ...variables
        .filter((v) => v.type === 'query')
        .map((v) => ({ where: `variable ${v.name}`, ref: v.datasource })),
    ];
    expect(refs.length).toBeGreaterThan(queryPanels.length);
    for (const { where, ref } of refs) {
      expect(ref?.type, where).toBe('prometheus');
      const uid = ref?.uid ?? '';
      const variable = /^\$\{(\w+)\}$|^\$(\w+)$/.exec(uid);
      if (variable)
        expect(dsVariables.has((variable[1] ?? variable[2]) as string), where).toBe(true);
      else expect(uid, where).toBe(PROVISIONED_UID);
    }
  });

  it('gives every panel queries with unique refIds', () => {
    for (const p of queryPanels) {
      const targets = p.targets ?? [];
      expect(targets.length, p.title).toBeGreaterThan(0);
      const refIds = targets.map((t) => t.refId);
      expect(new Set(refIds).size, p.title).toBe(refIds.length);
      for (const t of targets) expect(t.expr?.trim(), `${p.title} ${t.refId}`).toBeTruthy();
    }
  });

  it('references only variables it defines (or Grafana built-ins)', () => {
    const defined = new Set(variables.map((v) => v.name));
    const texts = [
      ...queryPanels.flatMap((p: DashboardPanel) =>
        (p.targets ?? []).map((t) => ({ where: `${p.title} ${t.refId}`, text: t.expr ?? '' })),
      ),
      ...variables.map((v) => ({ where: `variable ${v.name}`, text: variableQuery(v) })),
    ];
    for (const { where, text } of texts)
      for (const name of variableReferences(text))
        expect(defined.has(name) || GRAFANA_BUILTIN_VARIABLES.has(name), `${where}: $${name}`).toBe(
          true,
        );
  });

  it('queries only metrics core/metrics.ts registers (or recording rules), with their labels', () => {
    const problems = queryPanels.flatMap((p) =>
      (p.targets ?? []).flatMap((t) =>
        selectorProblems(t.expr ?? '', known, recorded).map((e) => `${p.title} ${t.refId}: ${e}`),
      ),
    );
    for (const v of variables.filter((v) => v.type === 'query')) {
      const lv = labelValuesQuery(variableQuery(v));
      if (!lv) {
        problems.push(`variable ${v.name}: not a label_values() query`);
        continue;
      }
      const labels = known.get(lv.metric)?.labels;
      if (!labels) problems.push(`variable ${v.name}: unknown metric ${lv.metric}`);
      else if (!labels.includes(lv.label))
        problems.push(`variable ${v.name}: ${lv.metric} has no label ${lv.label}`);
    }
    expect(problems).toEqual([]);
  });
});

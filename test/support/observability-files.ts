// The observability files as tests see them: alert/recording rules, the Grafana dashboard and its
// queries, the metric names core/metrics.ts really registers (`pgferry run`'s and `pgferry copy`'s),
// and the metric selectors of a PromQL expression (a small scanner: enough for the queries we
// write, not a full parser).
import { readdirSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { createCopyMetrics, createMetrics } from '../../core/metrics.js';
import { repoPath } from './stack-env.js';

export interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface RuleFile {
  file: string;
  groups: { name: string; interval?: string; rules: Rule[] }[];
}

export const RULES_DIR = 'prometheus/rules';
export const RULE_TESTS_DIR = 'prometheus/tests';
export const DASHBOARD_FILE = 'grafana/dashboards/pgferry-overview.json';

export function yamlFilesIn(dir: string): string[] {
  return readdirSync(repoPath(dir))
    .filter((f) => f.endsWith('.yml') || f.endsWith('.yaml'))
    .sort()
    .map((f) => `${dir}/${f}`);
}

export function loadRuleFiles(): RuleFile[] {
  return yamlFilesIn(RULES_DIR).map((file) => ({
    file,
    ...(parse(readFileSync(repoPath(file), 'utf8')) as Omit<RuleFile, 'file'>),
  }));
}

export function allRules(): Rule[] {
  return loadRuleFiles().flatMap((f) => f.groups.flatMap((g) => g.rules));
}

// --- the dashboard ---

export interface DashboardTarget {
  refId: string;
  expr?: string;
  datasource?: { type?: string; uid?: string };
  instant?: boolean;
  range?: boolean;
  [key: string]: unknown;
}

export interface DashboardPanel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type?: string; uid?: string };
  targets?: DashboardTarget[];
  panels?: DashboardPanel[];
  [key: string]: unknown;
}

export interface TemplateVariable {
  name: string;
  type: string;
  query?: string | { query?: string };
  definition?: string;
  datasource?: { type?: string; uid?: string };
  [key: string]: unknown;
}

export interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: DashboardPanel[];
  templating: { list: TemplateVariable[] };
  [key: string]: unknown;
}

export function loadDashboard(): Dashboard {
  return JSON.parse(readFileSync(repoPath(DASHBOARD_FILE), 'utf8')) as Dashboard;
}

/** Every panel, including those nested in collapsed rows. */
export function allPanels(dashboard: Dashboard): DashboardPanel[] {
  return dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

/** The row of the `pgferry copy` panels (the initial load). */
export const COPY_ROW_TITLE = 'Initial copy (pgferry copy)';

/**
 * The panels of the row titled `title`: nested in it when it is collapsed, otherwise the
 * top-level panels below it down to the next row.
 */
export function rowPanels(dashboard: Dashboard, title: string): DashboardPanel[] {
  const row = dashboard.panels.find((p) => p.type === 'row' && p.title === title);
  if (!row) return [];
  if ((row.panels ?? []).length > 0) return row.panels ?? [];
  const nextRowY = Math.min(
    ...dashboard.panels
      .filter((p) => p.type === 'row' && p.gridPos.y > row.gridPos.y)
      .map((p) => p.gridPos.y),
  );
  return dashboard.panels.filter(
    (p) => p.type !== 'row' && p.gridPos.y > row.gridPos.y && p.gridPos.y < nextRowY,
  );
}

export function variableQuery(variable: TemplateVariable): string {
  const q = variable.query;
  return typeof q === 'string' ? q : (q?.query ?? variable.definition ?? '');
}

/** Grafana's own variables: defined by Grafana, not by the dashboard. */
export const GRAFANA_BUILTIN_VARIABLES = new Set([
  '__rate_interval',
  '__interval',
  '__interval_ms',
  '__range',
  '__range_s',
  '__range_ms',
  '__dashboard',
  '__from',
  '__to',
]);

/** `$name`, `${name}`, `${name:format}` and `[[name]]` references in a string. */
export function variableReferences(text: string): string[] {
  const names = new Set<string>();
  for (const m of text.matchAll(/\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)(?::[^\]]*)?\]\]/g))
    names.add((m[1] ?? m[2] ?? m[3]) as string);
  return [...names];
}

/** A dashboard query as Prometheus can run it: the substitutions Grafana would make. */
export function substituteVariables(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__interval', '15s')
    .replaceAll('$__range', '1h')
    .replace(/\$\{table(?::[^}]*)?\}|\$table\b/g, '.*')
    .replace(/\$\{datasource\}|\$datasource\b/g, 'prometheus');
}

// --- metric names ---

export interface MetricInfo {
  name: string;
  type: string;
  labels: string[];
}

/**
 * What core/metrics.ts registers for `pgferry run` and for `pgferry copy` (default process metrics
 * included), expanded into the series names Prometheus stores: a histogram `x` is `x_bucket`
 * (with `le`), `x_sum` and `x_count`.
 */
export function registeredSeries(): Map<string, MetricInfo> {
  const metrics = [createMetrics(), createCopyMetrics()].flatMap((m) =>
    m.registry.getMetricsAsArray(),
  );
  const series = new Map<string, MetricInfo>();
  for (const metric of metrics) {
    const m = metric as unknown as { name: string; labelNames?: string[]; type: string };
    const type = m.type;
    const labels = [...(m.labelNames ?? [])];
    if (type === 'histogram') {
      series.set(`${m.name}_bucket`, { name: `${m.name}_bucket`, type, labels: [...labels, 'le'] });
      series.set(`${m.name}_sum`, { name: `${m.name}_sum`, type, labels });
      series.set(`${m.name}_count`, { name: `${m.name}_count`, type, labels });
    } else if (type === 'summary') {
      series.set(m.name, { name: m.name, type, labels: [...labels, 'quantile'] });
      series.set(`${m.name}_sum`, { name: `${m.name}_sum`, type, labels });
      series.set(`${m.name}_count`, { name: `${m.name}_count`, type, labels });
    } else {
      series.set(m.name, { name: m.name, type, labels });
    }
  }
  return series;
}

/** Series Prometheus itself creates: scrape health (`up`) and alert state (any labels). */
export const PROMETHEUS_SERIES: Record<string, string[] | 'any'> = {
  up: [],
  ALERTS: 'any',
  ALERTS_FOR_STATE: 'any',
};

/** Labels Prometheus attaches to every scraped series. */
export const TARGET_LABELS = ['instance', 'job'];

const PROMQL_KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
  'inf',
  'nan',
]);

export interface MetricSelector {
  name: string;
  labels: string[];
}

/** The metric selectors of a PromQL expression: names with the labels they match on. */
export function metricSelectors(expr: string): MetricSelector[] {
  const text = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ');
  const selectors: MetricSelector[] = [];
  const pattern = /(?<![\w:.$])([a-zA-Z_:][\w:]*)(?![\w:])(?:\s*\{([^}]*)\})?(?!\s*\()/g;
  for (const m of text.matchAll(pattern)) {
    const name = m[1] as string;
    if (PROMQL_KEYWORDS.has(name.toLowerCase())) continue;
    const labels = [...(m[2] ?? '').matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)].map(
      (l) => l[1] as string,
    );
    selectors.push({ name, labels });
  }
  return selectors;
}

/** `label_values(metric, label)` of a templating query. */
export function labelValuesQuery(query: string): { metric: string; label: string } | undefined {
  const m =
    /^\s*label_values\(\s*([a-zA-Z_:][\w:]*)(?:\{[^}]*\})?\s*,\s*([a-zA-Z_]\w*)\s*\)\s*$/.exec(
      query,
    );
  return m ? { metric: m[1] as string, label: m[2] as string } : undefined;
}

/**
 * Problems with the selectors of `expr`: unknown metric names and label matchers on labels the
 * metric does not have. `extra` are further known series (recording rules) with free labels.
 */
export function selectorProblems(
  expr: string,
  known: Map<string, MetricInfo>,
  extra: ReadonlySet<string> = new Set(),
): string[] {
  const problems: string[] = [];
  for (const s of metricSelectors(expr)) {
    if (extra.has(s.name)) continue;
    const builtin = PROMETHEUS_SERIES[s.name];
    if (builtin === 'any') continue;
    const labels = builtin ? [...builtin, ...TARGET_LABELS] : known.get(s.name)?.labels;
    if (!labels) {
      problems.push(`unknown metric ${s.name}`);
      continue;
    }
    for (const label of s.labels) {
      if (!labels.includes(label) && !TARGET_LABELS.includes(label))
        problems.push(`${s.name} has no label ${label}`);
    }
  }
  return problems;
}

// prometheus/: the config and rules pass promtool's checks, the rule unit tests pass and cover
// every rule (each alert firing and silent), and every rule uses only metrics core/metrics.ts
// registers, with labels those metrics have. promtool comes with the stack's Debian `prometheus`.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  allRules,
  loadRuleFiles,
  RULE_TESTS_DIR,
  RULES_DIR,
  registeredSeries,
  selectorProblems,
  yamlFilesIn,
} from '../support/observability-files.js';
import { repoPath } from '../support/stack-env.js';

function promtool(...args: string[]): { status: number | null; output: string } {
  const result = spawnSync('promtool', args, { cwd: repoPath(''), encoding: 'utf8' });
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT')
    throw new Error(
      'promtool is not installed: `npm run stack:up` installs it (Debian package `prometheus`)',
    );
  if (result.error) throw result.error;
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

interface RuleTestFile {
  rule_files: string[];
  tests: {
    name?: string;
    alert_rule_test?: { alertname: string; eval_time: string; exp_alerts?: unknown[] }[];
    promql_expr_test?: { expr: string; exp_samples?: unknown[] }[];
  }[];
}

const ruleTestFiles = yamlFilesIn(RULE_TESTS_DIR).map((file) => ({
  file,
  ...(parse(readFileSync(repoPath(file), 'utf8')) as RuleTestFile),
}));
const alerts = allRules().filter((r) => r.alert);
const records = allRules().filter((r) => r.record);

describe('promtool', () => {
  it('accepts prometheus/prometheus.yml (rule_files resolved relative to it)', () => {
    const { status, output } = promtool('check', 'config', 'prometheus/prometheus.yml');
    expect(output).toMatch(/SUCCESS/);
    expect(status, output).toBe(0);
  });

  it('accepts every rule file', () => {
    const files = yamlFilesIn(RULES_DIR);
    expect(files.length).toBeGreaterThan(0);
    const { status, output } = promtool('check', 'rules', ...files);
    expect(status, output).toBe(0);
  });

  it('passes the rule unit tests', () => {
    const files = yamlFilesIn(RULE_TESTS_DIR);
    expect(files.length).toBeGreaterThan(0);
    const { status, output } = promtool('test', 'rules', ...files);
    expect(status, output).toBe(0);
    expect(output).not.toMatch(/FAILED/);
  });
});

describe('prometheus.yml', () => {
  const config = parse(readFileSync(repoPath('prometheus/prometheus.yml'), 'utf8')) as {
    rule_files: string[];
    scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
  };

  it('scrapes pgferry, pgferry copy and itself at the compose host:ports the native stack rewrites', () => {
    const targets = Object.fromEntries(
      config.scrape_configs.map((c) => [c.job_name, c.static_configs.flatMap((s) => s.targets)]),
    );
    expect(targets.pgferry).toEqual(['pgferry:9464']);
    expect(targets['pgferry-copy']).toEqual(['pgferry:9465']);
    expect(targets.prometheus).toEqual(['prometheus:9090']);
    // stack/lib/prometheus.sh rewrites each of those host:ports to the stack's own port.
    const script = readFileSync(repoPath('stack/lib/prometheus.sh'), 'utf8');
    for (const [target, variable] of [
      ['pgferry:9464', 'PGFERRY_METRICS_PORT'],
      ['pgferry:9465', 'PGFERRY_COPY_METRICS_PORT'],
      ['prometheus:9090', 'PGFERRY_PROMETHEUS_PORT'],
    ])
      expect(script, target).toContain(`s#${target}#127.0.0.1:$${variable}#g`);
  });

  it('loads every rule file and no rule test file', () => {
    expect(config.rule_files).toEqual(['rules/*.yml']);
    expect(existsSync(repoPath(`prometheus/${dirname(config.rule_files[0] as string)}`))).toBe(
      true,
    );
  });
});

describe('rules', () => {
  const known = registeredSeries();
  const recorded = new Set(records.map((r) => r.record as string));

  it('use only metrics core/metrics.ts registers, with their labels', () => {
    expect(known.size).toBeGreaterThan(20);
    const problems = allRules().flatMap((r) =>
      selectorProblems(r.expr, known, recorded).map((p) => `${r.alert ?? r.record}: ${p}`),
    );
    expect(problems).toEqual([]);
  });

  it('include the alerts operators need', () => {
    expect(alerts.map((a) => a.alert).sort()).toEqual(
      expect.arrayContaining([
        'PgferryApplyErrors',
        'PgferryConnectorFailed',
        'PgferryConnectorTaskFailed',
        'PgferryConnectorRestartsExhausted',
        'PgferryConsumerLagGrowing',
        'PgferryCopyStalled',
        'PgferryCopyTableFailed',
        'PgferryDlqMessages',
        'PgferryDown',
        'PgferryEndToEndLagHigh',
        'PgferrySlotInactive',
        'PgferrySlotLagHigh',
        'PgferrySourceSlotLost',
        'PgferryTableStopped',
      ]),
    );
    const down = alerts.find((a) => a.alert === 'PgferryDown');
    expect(down?.expr.trim()).toBe('up{job="pgferry"} == 0');
    expect(down?.for).toBe('1m');
    // `pgferry copy` is a one-shot: its scrape job is down whenever no copy runs, so no alert may
    // watch `up` without naming a job other than pgferry-copy.
    for (const a of alerts)
      for (const m of a.expr.matchAll(/\bup\s*(\{[^}]*\})?/g))
        expect(m[1] ?? '', `${a.alert}: ${m[0]}`).toMatch(/job\s*=\s*"(?!pgferry-copy")[^"]+"/);
  });

  it('watch a running copy only: stalled while running, a failed table', () => {
    const stalled = alerts.find((a) => a.alert === 'PgferryCopyStalled');
    expect(stalled?.expr).toContain('pgferry_copy_running');
    expect(stalled?.expr).toContain('pgferry_copy_last_progress_timestamp_seconds');
    expect(stalled?.for).toBe('5m');
    const failed = alerts.find((a) => a.alert === 'PgferryCopyTableFailed');
    expect(failed?.expr.trim()).toBe('max by (table) (pgferry_copy_table_failed) == 1');
  });

  it('name recording rules level:metric:operation, each once', () => {
    for (const r of records) expect(r.record).toMatch(/^pgferry:[a-z0-9_]+:[a-z0-9_]+$/);
    expect(recorded.size).toBe(records.length);
  });

  it('give every alert a severity, a summary and a runbook that points at its docs section', () => {
    const docs = readFileSync(repoPath('docs/observability.md'), 'utf8');
    const anchors = new Set(
      [...docs.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) =>
        (m[1] as string)
          .trim()
          .toLowerCase()
          .replace(/[^\w\- ]/g, '')
          .replace(/ /g, '-'),
      ),
    );
    expect(new Set(alerts.map((a) => a.alert)).size).toBe(alerts.length);
    for (const a of alerts) {
      expect(['critical', 'warning'], `${a.alert} severity`).toContain(a.labels?.severity);
      expect(a.annotations?.summary, `${a.alert} summary`).toBeTruthy();
      const runbook = a.annotations?.runbook ?? '';
      expect(runbook.length, `${a.alert} runbook`).toBeGreaterThan(40);
      const anchor = /docs\/observability\.md#([\w-]+)/.exec(runbook)?.[1];
      expect(anchor, `${a.alert} runbook links its section`).toBe(
        (a.alert as string).toLowerCase(),
      );
      expect(anchors.has(anchor as string), `docs/observability.md has #${anchor}`).toBe(true);
    }
  });
});

describe('rule unit tests', () => {
  it('load every rule file', () => {
    const loaded = new Set(
      ruleTestFiles.flatMap((t) =>
        t.rule_files.map((f) => relative(repoPath(''), join(repoPath(dirname(t.file)), f))),
      ),
    );
    expect([...loaded].sort()).toEqual(loadRuleFiles().map((f) => f.file));
  });

  it('test every alert both firing and silent', () => {
    const cases = ruleTestFiles.flatMap((f) => f.tests.flatMap((t) => t.alert_rule_test ?? []));
    for (const a of alerts) {
      const mine = cases.filter((c) => c.alertname === a.alert);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length > 0),
        `${a.alert} fires in a test`,
      ).toBe(true);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length === 0),
        `${a.alert} stays silent in a test`,
      ).toBe(true);
    }
  });

  it('test every recording rule against expected samples', () => {
    const exprs = ruleTestFiles.flatMap((f) =>
      f.tests.flatMap((t) => (t.promql_expr_test ?? []).filter((e) => e.exp_samples?.length)),
    );
    for (const r of records)
      expect(
        exprs.some((e) => e.expr.trim() === r.record),
        `${r.record} has a promql_expr_test`,
      ).toBe(true);
  });
});

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { EvosyncMetrics } from '../../src/metrics/registry.js';

/**
 * The Grafana dashboard and the Prometheus rules name metrics and labels as strings; nothing else
 * ties them to src/metrics/registry.ts. Renaming a metric must fail here, not silently blank a
 * panel or disarm an alert in production.
 */
const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');

const FUNCTIONS = new Set(['rate', 'irate', 'increase', 'sum', 'min', 'max', 'avg', 'count', 'histogram_quantile', 'vector', 'abs', 'clamp_min', 'delta', 'deriv', 'absent', 'time', 'topk', 'bottomk']);
const KEYWORDS = new Set(['and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset']);
/** Series Prometheus makes itself, not the target. */
const PROMETHEUS_SERIES = new Set(['up']);

/** Every metric the registry exports, with its label names (histograms with their series suffixes). */
function exported(): Map<string, Set<string>> {
  const m = new EvosyncMetrics();
  const out = new Map<string, Set<string>>();
  for (const metric of m.registry.getMetricsAsArray()) {
    const { name, labelNames, type } = metric as unknown as { name: string; labelNames: string[]; type: string };
    out.set(name, new Set(labelNames));
    if (type === 'histogram') {
      out.set(`${name}_bucket`, new Set([...labelNames, 'le']));
      out.set(`${name}_sum`, new Set(labelNames));
      out.set(`${name}_count`, new Set(labelNames));
    }
  }
  return out;
}

interface Reference {
  metric: string;
  labels: string[];
}

/** The metric names and matcher label names a PromQL expression refers to, and any unknown word. */
function references(expr: string): { refs: Reference[]; unknown: string[] } {
  const refs: Reference[] = [];
  const unknown: string[] = [];
  let rest = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\[[^\]]*\]/g, '');
  rest = rest.replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, ' ');
  rest = rest.replace(/([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^}]*)\}/g, (_all, name: string | undefined, matchers: string) => {
    const labels = [...matchers.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((m) => m[1]!);
    if (name) refs.push({ metric: name, labels });
    else unknown.push(`{${matchers}} without a metric name`);
    return ' ';
  });
  for (const m of rest.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const word = m[1]!;
    const call = m[2] !== undefined;
    const prev = rest[m.index - 1];
    if (prev !== undefined && /[0-9.]/.test(prev)) continue; // exponent of a number, e.g. 1e3
    if (call) {
      if (!FUNCTIONS.has(word)) unknown.push(`${word}()`);
    } else if (!KEYWORDS.has(word)) {
      refs.push({ metric: word, labels: [] });
    }
  }
  return { refs, unknown };
}

function dashboardExprs(): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'expr' && typeof x === 'string') out.push(x);
        else walk(x);
      }
    }
  };
  walk(JSON.parse(read('deploy/grafana/evosync-dashboard.json')));
  return out;
}

function ruleExprs(): string[] {
  const doc = parse(read('deploy/prometheus/alerts.yml')) as { groups: { rules: { alert?: string; record?: string; expr: string }[] }[] };
  return doc.groups.flatMap((g) => g.rules.map((r) => String(r.expr)));
}

function problems(exprs: string[]): string[] {
  const known = exported();
  const out: string[] = [];
  for (const expr of exprs) {
    const { refs, unknown } = references(expr);
    for (const u of unknown) out.push(`${expr}: unknown ${u}`);
    for (const r of refs) {
      if (PROMETHEUS_SERIES.has(r.metric)) continue;
      const labels = known.get(r.metric);
      if (!labels) {
        out.push(`${expr}: metric ${r.metric} is not exported`);
        continue;
      }
      for (const l of r.labels) if (!labels.has(l)) out.push(`${expr}: ${r.metric} has no label ${l}`);
    }
  }
  return out;
}

describe('deploy files reference only exported metrics', () => {
  it('the expression reader finds metrics and labels, and flags what it does not know', () => {
    expect(references('sum by (le) (rate(evosync_x_bucket{direction="to_chatwoot", outcome=~"a|b"}[5m])) > 0 and up == 0')).toEqual({
      refs: [{ metric: 'evosync_x_bucket', labels: ['direction', 'outcome'] }, { metric: 'up', labels: [] }],
      unknown: [],
    });
    expect(references('rated(evosync_y[1m]) > 1e3').unknown).toEqual(['rated()']);
    // A renamed metric or a label typo is caught.
    expect(problems(['evosync_messagez', 'evosync_messages{stat="pending"}'])).toEqual([
      'evosync_messagez: metric evosync_messagez is not exported',
      'evosync_messages{stat="pending"}: evosync_messages has no label stat',
    ]);
  });

  it('every Grafana panel query', () => {
    const exprs = dashboardExprs();
    expect(exprs.length).toBeGreaterThan(20);
    expect(problems(exprs)).toEqual([]);
  });

  it('every Prometheus alerting rule', () => {
    const doc = parse(read('deploy/prometheus/alerts.yml')) as { groups: { rules: { alert: string; expr: unknown; labels?: { severity?: string }; annotations?: { summary?: string } }[] }[] };
    const rules = doc.groups.flatMap((g) => g.rules);
    expect(rules.length).toBeGreaterThan(5);
    for (const r of rules) {
      expect(typeof r.expr, r.alert).toBe('string');
      expect(r.labels?.severity, r.alert).toMatch(/^(critical|warning)$/);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
    }
    expect(problems(ruleExprs())).toEqual([]);
  });

  it('every evosync_* metric the registry exports is on the dashboard', () => {
    const used = new Set(dashboardExprs().flatMap((e) => references(e).refs.map((r) => r.metric.replace(/_(bucket|sum|count)$/, ''))));
    const missing = [...exported().keys()].filter((n) => n.startsWith('evosync_') && !/_(bucket|sum|count)$/.test(n) && !used.has(n));
    expect(missing).toEqual([]);
  });
});

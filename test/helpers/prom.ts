/**
 * Reads Prometheus text exposition the way a scraper would. `value` sums every series of `name`
 * whose labels include `labels` (0 when none does), so a test can ask for one series or a total.
 */
export function value(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const s of series(text, name)) {
    if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  }
  return sum;
}

/** Whether any series of `name` with these labels is exposed at all. */
export function has(text: string, name: string, labels: Record<string, string> = {}): boolean {
  return series(text, name).some((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

export function series(text: string, name: string): { labels: Record<string, string>; value: number }[] {
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ labels, value: Number(m[3]) });
  }
  return out;
}

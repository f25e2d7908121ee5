import { afterEach } from 'vitest';

/**
 * Things a test started (servers, simulators, evosync itself), stopped after each test in the
 * reverse order they were started, whatever the test's outcome.
 */
export function cleanups(): (() => Promise<void>)[] {
  const list: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const fn of list.splice(0).reverse()) {
      // A stop that hangs fails the hook's timeout without saying which one: named here, before.
      const slow = setTimeout(() => console.warn(`cleanup still running after 10 s: ${fn.toString()}`), 10_000);
      await fn()
        .catch(() => {})
        .finally(() => clearTimeout(slow));
    }
  });
  return list;
}

/** Polls `fn` until it yields something truthy (returned), or fails naming what never happened. */
export async function until<T>(what: string, fn: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 20_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

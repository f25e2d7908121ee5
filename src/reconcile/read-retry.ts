import type { FailureKind } from '../chatwoot/classify.js';
import type { Result } from '../chatwoot/http.js';

/** Failures a read may simply be repeated after: nothing is written, so no look-up is needed. */
const TRANSIENT: ReadonlySet<FailureKind> = new Set(['unreachable', 'ambiguous', 'rate_limited', 'server']);

/**
 * Repeats a read that failed transiently, a few times with a growing pause. A reconcile reads one
 * page per conversation; giving up the whole run on the first 5xx meant that at a 10% error rate
 * a run over 200 conversations (0.9^200) practically never finished, so what only a reconcile can
 * repair never was. A fault that outlasts the attempts still ends the run (the next one retries).
 */
export async function readWithRetry<T>(read: () => Promise<Result<T>>, opts: { attempts?: number; baseMs?: number; sleep?: (ms: number) => Promise<void> } = {}): Promise<Result<T>> {
  const attempts = opts.attempts ?? 4;
  const baseMs = opts.baseMs ?? 250;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let attempt = 1; ; attempt++) {
    const r = await read();
    if (r.ok || attempt >= attempts || !TRANSIENT.has(r.failure.kind)) return r;
    await sleep(baseMs * 2 ** (attempt - 1));
  }
}

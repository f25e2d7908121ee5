import { setMaxListeners } from 'node:events';

/**
 * A sleep that can be cut short: the dispatcher sleeps until the next lane is due, but new work
 * (`wake()`) or shutdown must interrupt it at once rather than wait out the timer.
 */
export class Wakeable {
  #wake: (() => void) | null = null;
  #pending = false;

  /** Resolves after `ms`, or earlier when `wake()` is called. A wake with no sleeper is remembered. */
  sleep(ms: number): Promise<void> {
    if (this.#pending) {
      this.#pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        if (this.#wake === done) this.#wake = null;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      timer.unref?.();
      this.#wake = done;
    });
  }

  wake(): void {
    const w = this.#wake;
    if (w) {
      this.#wake = null;
      w();
    } else {
      this.#pending = true;
    }
  }
}

/**
 * An AbortController whose signal may have any number of listeners: every in-flight wait or
 * request of a component listens on its one shutdown signal, and Node's default warning at 11
 * listeners would only be noise.
 */
export function shutdownController(): AbortController {
  const c = new AbortController();
  setMaxListeners(0, c.signal);
  return c;
}

export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(finish, ms);
    function finish(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', finish);
      resolve();
    }
    signal?.addEventListener('abort', finish, { once: true });
  });
}

import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

const BIN = resolve(import.meta.dirname, '../../dist/src/bin/evosync.js');

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? res(addr.port) : rej(new Error('no port'))));
    });
  });
}

/** The operator API token a test process gets unless its env names one. */
export const TEST_API_TOKEN = 'test-operator-api-token';

/**
 * The real service as a child process (the built `evosync start`), so tests can SIGKILL it at any
 * moment and start it again on the same ledger — the only honest way to test crash safety.
 */
export class EvosyncProcess {
  #child: ChildProcess | null = null;
  readonly env: Record<string, string>;
  readonly port: number;
  output = '';

  constructor(env: Record<string, string>, port: number) {
    this.env = env;
    this.port = port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(process.execPath, [BIN, 'start'], {
      env: { PATH: process.env['PATH'] ?? '', EVOSYNC_API_TOKEN: TEST_API_TOKEN, ...this.env, EVOSYNC_HOST: '127.0.0.1', EVOSYNC_PORT: String(this.port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    const keep = (d: Buffer) => {
      this.output = (this.output + d.toString()).slice(-20_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`evosync exited with ${child.exitCode}:\n${this.output}`);
      try {
        const r = await fetch(`${this.url}/healthz`);
        if (r.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`evosync did not start:\n${this.output}`);
  }

  kill9(): Promise<void> {
    return this.#exit('SIGKILL');
  }

  stop(): Promise<void> {
    return this.#exit('SIGTERM');
  }

  /** Headers of an operator API call (/api/stats included, which is not open). */
  get apiHeaders(): Record<string, string> {
    return { authorization: `Bearer ${this.env['EVOSYNC_API_TOKEN'] ?? TEST_API_TOKEN}` };
  }

  async stats(): Promise<{ ledger: { pending: number; delivered: number; dead: number; skipped: number } }> {
    const r = await fetch(`${this.url}/api/stats`, { headers: this.apiHeaders });
    return (await r.json()) as { ledger: { pending: number; delivered: number; dead: number; skipped: number } };
  }

  /** Sends the signals one after another and resolves with the exit code (or signal). */
  async signal(signals: NodeJS.Signals[], gapMs = 50): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
    const child = this.#child;
    if (!child) throw new Error('not started');
    const started = Date.now();
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>((res) =>
      child.once('exit', (code, sig) => res({ code, signal: sig, ms: Date.now() - started })),
    );
    for (const s of signals) {
      child.kill(s);
      await new Promise((r) => setTimeout(r, gapMs));
    }
    return exited;
  }

  #exit(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((res) => {
      child.once('exit', () => res());
      child.kill(signal);
    });
  }
}

import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

// Run from dist/chaos (npm run chaos) or from the sources (vitest): the binary is always the built one.
const here = import.meta.dirname;
const ROOT = here.endsWith('/dist/chaos') ? resolve(here, '../..') : resolve(here, '..');
export const EVOSYNC_BIN = resolve(ROOT, 'dist/src/bin/evosync.js');

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? res(addr.port) : rej(new Error('no port'))));
    });
  });
}

export interface LedgerStats {
  pending: number;
  delivered: number;
  dead: number;
  skipped: number;
}

/**
 * The built `evosync start` as a child process, so the run can SIGKILL it at any moment and start
 * it again on the same ledger (an in-process kill would not lose what a real crash loses).
 */
export class EvosyncChild {
  #child: ChildProcess | null = null;
  readonly env: Record<string, string>;
  readonly port: number;
  readonly apiToken: string;
  output = '';

  constructor(env: Record<string, string>, port: number, apiToken: string) {
    this.env = env;
    this.port = port;
    this.apiToken = apiToken;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get apiHeaders(): Record<string, string> {
    return { authorization: `Bearer ${this.apiToken}` };
  }

  async start(): Promise<void> {
    const child = spawn(process.execPath, [EVOSYNC_BIN, 'start'], {
      env: { PATH: process.env['PATH'] ?? '', ...this.env, EVOSYNC_API_TOKEN: this.apiToken, EVOSYNC_HOST: '127.0.0.1', EVOSYNC_PORT: String(this.port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    const keep = (d: Buffer) => {
      this.output = (this.output + d.toString()).slice(-20_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
      if (child.exitCode !== null) throw new Error(`evosync exited with ${child.exitCode}:\n${this.output}`);
      const ok = await fetch(`${this.url}/healthz`).then((r) => r.ok, () => false);
      if (ok) return;
    }
    throw new Error(`evosync did not start:\n${this.output}`);
  }

  kill9(): Promise<void> {
    return this.#exit('SIGKILL');
  }

  stop(): Promise<void> {
    return this.#exit('SIGTERM');
  }

  /** null while the process is down or busy restarting. */
  async stats(): Promise<{ ledger: LedgerStats; rabbitmq?: { state: string; unacked: number } } | null> {
    const r = await fetch(`${this.url}/api/stats`, { headers: this.apiHeaders }).catch(() => null);
    if (!r?.ok) return null;
    return (await r.json()) as { ledger: LedgerStats; rabbitmq?: { state: string; unacked: number } };
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

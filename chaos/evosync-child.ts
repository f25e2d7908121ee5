import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

// Run from dist/chaos (npm run chaos) or from the sources (vitest): the binary is always the built one.
const here = import.meta.dirname;
const ROOT = here.endsWith('/dist/chaos') ? resolve(here, '../..') : resolve(here, '..');
export const EVOSYNC_BIN = resolve(ROOT, 'dist/src/bin/evosync.js');

/** What a one-shot CLI command (`evosync check`, `evosync reconcile`, ...) printed, and its exit code. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the built CLI once as a child process (as an operator or a cron job would) with exactly the
 * given environment (plus PATH), and resolves when it exits, whatever its exit code.
 */
export function runEvosyncCli(args: readonly string[], env: Record<string, string>): Promise<CliResult> {
  const child = spawn(process.execPath, [EVOSYNC_BIN, ...args], { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((res, rej) => {
    child.once('error', rej);
    child.once('close', (code) => res({ code, stdout, stderr }));
  });
}

/** A TCP port free on 127.0.0.1 right now (the OS picks it; the caller binds it soon after). */
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

/** What `GET /api/stats` answers (the parts the runs look at). */
export interface ProcessStats {
  ledger: LedgerStats;
  rabbitmq?: { state: string; unacked: number };
}

/** How a stopped child ended, and how long it took after the first signal. */
export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  ms: number;
}

/**
 * A generous wait for `/healthz`: a loaded 2-core machine (benchmarks beside the tests) can take
 * seconds to start Node and open a large ledger.
 */
const DEFAULT_START_TIMEOUT_MS = 30_000;

/**
 * The built `evosync start` as a child process, so a run can SIGKILL it at any moment and start it
 * again on the same ledger (an in-process kill would not lose what a real crash loses), and so the
 * service has an event loop of its own, not the one the simulators driving it run on.
 * The one implementation: test/helpers/evosync-process.ts wraps it for the test suites.
 */
export class EvosyncChild {
  #child: ChildProcess | null = null;
  readonly env: Record<string, string>;
  readonly port: number;
  readonly apiToken: string;
  /** The last 20,000 characters of the child's stdout and stderr, across restarts (for diagnostics). */
  output = '';

  constructor(env: Record<string, string>, port: number, apiToken: string) {
    this.env = env;
    this.port = port;
    this.apiToken = apiToken;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Headers of an operator API call (/api/stats included, which is not open). */
  get apiHeaders(): Record<string, string> {
    return { authorization: `Bearer ${this.apiToken}` };
  }

  /** Spawns the process and resolves once `/healthz` answers; rejects if it exits first or never answers. */
  async start(startTimeoutMs = DEFAULT_START_TIMEOUT_MS): Promise<void> {
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
    for (const deadline = Date.now() + startTimeoutMs; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
      if (child.exitCode !== null) throw new Error(`evosync exited with ${child.exitCode}:\n${this.output}`);
      const ok = await fetch(`${this.url}/healthz`).then((r) => r.ok, () => false);
      if (ok) return;
    }
    throw new Error(`evosync did not start within ${startTimeoutMs} ms:\n${this.output}`);
  }

  /** A crash: nothing is drained, released or flushed. */
  kill9(): Promise<void> {
    return this.#exit('SIGKILL');
  }

  /** An operator's stop: the service drains and releases the ledger (see src/bin/evosync.ts). */
  stop(): Promise<void> {
    return this.#exit('SIGTERM');
  }

  /** null while the process is down or busy restarting. */
  async stats(): Promise<ProcessStats | null> {
    const r = await fetch(`${this.url}/api/stats`, { headers: this.apiHeaders }).catch(() => null);
    if (!r?.ok) return null;
    return (await r.json()) as ProcessStats;
  }

  /** Sends the signals one after another (gapMs apart) and resolves with the exit code (or signal). */
  async signal(signals: NodeJS.Signals[], gapMs = 50): Promise<ChildExit> {
    const child = this.#child;
    if (!child) throw new Error('not started');
    const started = Date.now();
    if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode, ms: 0 };
    const exited = new Promise<ChildExit>((res) => child.once('exit', (code, sig) => res({ code, signal: sig, ms: Date.now() - started })));
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

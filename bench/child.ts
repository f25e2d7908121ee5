import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
export { freePort } from '../chaos/evosync-child.js';
import { resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..', '..');

/** Starts a built script (relative to the repo root) and resolves with its first stdout line. */
export async function startChild(script: string, args: string[] = [], env: Record<string, string> = {}, waitFirstLine = true): Promise<{ child: ChildProcess; firstLine: string }> {
  // BENCH_CHILD_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=prof") profiles the measured processes.
  const nodeArgs = process.env['BENCH_CHILD_NODE_ARGS']?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, resolve(ROOT, script), ...args], {
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const rl = createInterface({ input: child.stdout! });
  if (!waitFirstLine) {
    rl.on('line', () => {});
    return { child, firstLine: '' };
  }
  const firstLine = await new Promise<string>((res, rej) => {
    rl.once('line', res);
    child.once('exit', (code) => rej(new Error(`${script} exited with ${code}`)));
  });
  rl.on('line', () => {});
  return { child, firstLine };
}

export function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((res) => {
    child.once('exit', () => res());
    child.kill(signal);
  });
}

export async function waitHttp(url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer`);
}

/** Peak resident set size of a process, from /proc (Linux), in MiB. */
export async function peakRssMiB(pid: number): Promise<number | null> {
  try {
    const { readFile } = await import('node:fs/promises');
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = /VmHWM:\s+(\d+) kB/.exec(status);
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}

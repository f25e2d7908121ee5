import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time of a process, per thread, from /proc (Linux): where a message's cost goes, which wall
 * clock rates on a shared two-core machine cannot show. A process's main thread has its pid as
 * thread id; its other threads are the SQLite writer, the checkpointer and V8's GC helpers.
 */
export interface CpuSample {
  mainMs: number;
  othersMs: number;
}

const TICK_MS = 10; // USER_HZ is 100 on Linux

export function cpuSample(pid: number | undefined): CpuSample | null {
  if (!pid) return null;
  try {
    let mainMs = 0;
    let othersMs = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      let stat: string;
      try {
        stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      } catch {
        continue; // the thread ended between the listing and the read
      }
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ms = (Number(fields[11]) + Number(fields[12])) * TICK_MS;
      if (tid === String(pid)) mainMs += ms;
      else othersMs += ms;
    }
    return { mainMs, othersMs };
  } catch {
    return null;
  }
}

/** Microseconds of CPU per message between two samples: [main thread, other threads]. */
export function cpuPerMessage(a: CpuSample | null, b: CpuSample | null, messages: number): { mainUs: number; othersUs: number } | null {
  if (!a || !b || messages <= 0) return null;
  return { mainUs: ((b.mainMs - a.mainMs) * 1000) / messages, othersUs: ((b.othersMs - a.othersMs) * 1000) / messages };
}

/** The RabbitMQ node's pid on this machine (its Erlang VM), for its share of a message's cost. */
export function brokerPid(): number | undefined {
  try {
    const pids = execFileSync('pgrep', ['-x', 'beam.smp']).toString().trim().split('\n').map(Number);
    return pids.length === 1 ? pids[0] : undefined;
  } catch {
    return undefined;
  }
}

export function formatCpu(c: { mainUs: number; othersUs: number } | null): string {
  return c ? `${Math.round(c.mainUs)} / ${Math.round(c.othersUs)}` : '–';
}

/**
 * CPU samples of some processes taken on a timer, so that a run's steady stretch can be chosen
 * afterwards from the ledger's own timestamps. Reading /proc costs the measured processes nothing;
 * finding the 10% and 90% marks while the run goes meant polling the ledger or evosync every few
 * milliseconds, and on two cores that polling took CPU from the very processes being measured (a
 * count of the pending rows every 25 ms was a PostgreSQL backend's busiest query).
 */
export class CpuTrace {
  readonly #pids: Record<string, number | undefined>;
  readonly #samples: { at: number; cpu: Record<string, CpuSample | null> }[] = [];
  readonly #timer: NodeJS.Timeout;

  constructor(pids: Record<string, number | undefined>, everyMs = 20) {
    this.#pids = pids;
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), everyMs);
  }

  #sample(): void {
    this.#samples.push({ at: Date.now(), cpu: Object.fromEntries(Object.entries(this.#pids).map(([k, pid]) => [k, cpuSample(pid)])) });
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#sample();
  }

  /** The last sample taken at or before `at` (epoch ms): its time and each process's CPU. */
  at(at: number): { at: number; cpu: Record<string, CpuSample | null> } | null {
    let found: { at: number; cpu: Record<string, CpuSample | null> } | null = null;
    for (const s of this.#samples) {
      if (s.at > at) break;
      found = s;
    }
    return found;
  }
}

/**
 * The steady stretch of a run from the times its messages were done (epoch ms, any order): from
 * the sample before the 10% mark to the sample before the 90% mark, the messages done in between,
 * and CPU per message of each traced process over it.
 */
export function steadyStretch(trace: CpuTrace, doneAt: number[]): { perSecond: number; cpu: Record<string, { mainUs: number; othersUs: number } | null> } | null {
  const times = [...doneAt].sort((a, b) => a - b);
  const n = times.length;
  const from = trace.at(times[Math.floor(n * 0.1)] ?? 0);
  const to = trace.at(times[Math.floor(n * 0.9)] ?? 0);
  if (!from || !to || to.at <= from.at) return null;
  const done = times.filter((t) => t > from.at && t <= to.at).length;
  const cpu = Object.fromEntries(Object.keys(from.cpu).map((k) => [k, cpuPerMessage(from.cpu[k] ?? null, to.cpu[k] ?? null, done)]));
  return { perSecond: done / ((to.at - from.at) / 1000), cpu };
}
